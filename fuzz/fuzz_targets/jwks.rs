//! `KeySet::from_jwks` on arbitrary bytes: the JWKS document is fetched over the network on a cold
//! start and after every key rotation, and a bad one must leave the receiver refusing cleanly.
//!
//! Why: the parser decodes key material (Ed25519 points, RSA moduli and exponents) chosen by whoever
//! serves the document. Checked: a set that parses holds a usable key; a `v1a` delivery signed by the
//! fixture's Ed25519 key verifies against the set exactly when the set holds that public key; a JWT
//! signed by the fixture's RSA key is checked against whatever RSA keys the set holds without panicking.
#![no_main]

use std::sync::LazyLock;

use http::HeaderMap;
use libfuzzer_sys::fuzz_target;
use shared::keys::KeySet;
use shared::signature::sign::SignedHeaders;
use shared::signature::{Scheme, WEBHOOK_SIGNATURE};
use webhooks_fuzz::{BASE_NOW, FIXTURE};

const BODY: &[u8] = br#"{"type":"batch.succeeded","data":{"id":"batches/jwks"}}"#;

/// A `v1a` delivery and a JWT delivery, both signed by the fixture at [`BASE_NOW`].
static DELIVERIES: LazyLock<(HeaderMap, HeaderMap)> = LazyLock::new(|| {
    let fixture = &*FIXTURE;
    let v1a =
        SignedHeaders::v1a(&fixture.ed25519[0], "msg_jwks", BASE_NOW, BODY).to_header_map().expect("v1a");
    let mut jwt = v1a.clone();
    let token = fixture.jwt(&fixture.jwt_header(), &fixture.jwt_claims(BASE_NOW));
    jwt.insert(WEBHOOK_SIGNATURE, token.parse().expect("a JWT is a header value"));
    (v1a, jwt)
});

fuzz_target!(|data: &[u8]| {
    let Ok(set) = KeySet::from_jwks(data) else { return };
    assert!(!set.is_empty());
    assert!(set.len() >= set.ed25519_keys().len());

    let fixture = &*FIXTURE;
    let (v1a, jwt) = &*DELIVERIES;
    fixture.clock.set(BASE_NOW);
    let ours = fixture.keys.ed25519_keys()[0];
    let verdict = fixture.verifier.verify_with_keys(v1a, BODY, None, Some(&set));
    assert_eq!(
        verdict.as_ref().map(|v| v.scheme).ok(),
        set.ed25519_keys().contains(&ours).then_some(Scheme::V1a),
        "{verdict:?}"
    );
    let verdict = fixture.verifier.verify_with_keys(jwt, BODY, None, Some(&set));
    if verdict.is_ok() {
        assert!(rsa_count(&set) > 0, "a JWT verified without an RSA key");
    }
});

/// The RSA keys in the set: all it holds besides Ed25519 ones.
fn rsa_count(set: &KeySet) -> usize {
    set.len() - set.ed25519_keys().len()
}
