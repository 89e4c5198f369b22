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
