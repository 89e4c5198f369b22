//! `v1`: HMAC-SHA256 with shared secrets, compared in constant time.

use subtle::ConstantTimeEq;

use super::secret::SigningSecret;

/// Whether any candidate MAC equals the MAC under any secret. Each secret's MAC is computed once,
/// however many entries the header holds; every comparison is constant-time.
pub(super) fn any_matches<'a>(
    secrets: &[SigningSecret],
    id: &str,
    timestamp: &str,
    body: &[u8],
    candidates: impl Iterator<Item = &'a [u8; 32]> + Clone,
) -> bool {
    if candidates.clone().next().is_none() {
        return false;
    }
    secrets.iter().any(|secret| {
        let expected = secret.mac(id, timestamp, body);
        // Fold with `|` rather than short-circuit, so timing does not reveal which entry matched.
        candidates.clone().fold(subtle::Choice::from(0), |found, candidate| {
            found | expected[..].ct_eq(&candidate[..])
        })
        .into()
    })
}
