//! `v1`: HMAC-SHA256 with shared secrets, compared in constant time.

use subtle::{Choice, ConstantTimeEq};

use super::secret::SigningSecret;

/// Whether any candidate MAC equals the MAC under any secret. `candidates` yields the header's `v1`
/// entries afresh for each secret; each secret's MAC is computed at most once (not at all when there is
/// no candidate), however many entries there are, and every comparison is constant-time.
pub(super) fn any_matches<I: Iterator<Item = [u8; 32]>>(
    secrets: &[SigningSecret],
    id: &str,
    timestamp: &str,
    body: &[u8],
    candidates: impl Fn() -> I,
) -> bool {
    secrets.iter().any(|secret| {
        let mut expected = None;
        // Fold with `|` rather than short-circuit, so timing does not reveal which entry matched.
        candidates()
            .fold(Choice::from(0), |found, candidate| {
                let expected = expected.get_or_insert_with(|| secret.mac(id, timestamp, body));
                found | ct_eq_32(expected, &candidate)
            })
            .into()
    })
}

/// Constant-time equality of two MACs, a word at a time.
fn ct_eq_32(a: &[u8; 32], b: &[u8; 32]) -> Choice {
    a.chunks_exact(8).zip(b.chunks_exact(8)).fold(Choice::from(1), |equal, (x, y)| {
        let word = |c: &[u8]| u64::from_le_bytes(c.try_into().unwrap_or_default());
        equal & word(x).ct_eq(&word(y))
    })
}

#[cfg(test)]
mod tests {
    use super::ct_eq_32;

    #[test]
    fn ct_eq_32_compares_every_byte() {
        let a = [7u8; 32];
        assert!(bool::from(ct_eq_32(&a, &a)));
        for i in 0..32 {
            let mut b = a;
            b[i] ^= 0x80;
            assert!(!bool::from(ct_eq_32(&a, &b)), "byte {i}");
        }
    }
}
