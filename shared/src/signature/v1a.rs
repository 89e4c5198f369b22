//! `v1a`: Ed25519 over the signed content, against every Ed25519 key in the set (no key id is sent).

use ed25519_dalek::{Signature, VerifyingKey};

/// `id.timestamp.body` as one buffer: Ed25519 hashes its message twice, so it needs it contiguous.
pub(super) fn signed_content(id: &str, timestamp: &str, body: &[u8]) -> Vec<u8> {
    let mut content = Vec::with_capacity(id.len() + timestamp.len() + body.len() + 2);
    content.extend_from_slice(id.as_bytes());
    content.push(b'.');
    content.extend_from_slice(timestamp.as_bytes());
    content.push(b'.');
    content.extend_from_slice(body);
    content
}

/// Whether any key verifies the signature. `verify_strict` refuses malleable signatures and weak keys.
pub(super) fn any_key_verifies(keys: &[VerifyingKey], content: &[u8], signature: &[u8; 64]) -> bool {
    let signature = Signature::from_bytes(signature);
    keys.iter().any(|key| key.verify_strict(content, &signature).is_ok())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// C2SP/wycheproof's Ed25519 cases (`shared/tests/data/v1a/`: Apache-2.0): malleable signatures,
    /// small-order points, non-canonical encodings. What `v1a` checks with must agree with every one.
    #[test]
    fn ed25519_agrees_with_every_wycheproof_case() {
        let file: serde_json::Value =
            serde_json::from_str(include_str!("../../tests/data/v1a/wycheproof-ed25519.json")).unwrap();
        let mut checked = 0;
        for group in file["testGroups"].as_array().unwrap() {
            let public: [u8; 32] =
                hex::decode(group["publicKey"]["pk"].as_str().unwrap()).unwrap().try_into().unwrap();
            let key = VerifyingKey::from_bytes(&public);
            for case in group["tests"].as_array().unwrap() {
                let message = hex::decode(case["msg"].as_str().unwrap()).unwrap();
                let signature: Option<[u8; 64]> =
                    hex::decode(case["sig"].as_str().unwrap()).unwrap().try_into().ok();
                let verifies = match (&key, signature) {
                    (Ok(key), Some(signature)) => {
                        any_key_verifies(std::slice::from_ref(key), &message, &signature)
                    }
                    _ => false,
                };
                assert_eq!(verifies, case["result"] == "valid", "tcId {}: {}", case["tcId"], case["comment"]);
                checked += 1;
            }
        }
        assert_eq!(checked, file["numberOfTests"].as_u64().unwrap());
    }
}
