//! The signature schemes, and sets of them as configured by `ACCEPTED_SCHEMES`.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

/// A signature scheme.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Scheme {
    /// HMAC-SHA256 with a shared `whsec_` secret (static webhooks).
    V1,
    /// Ed25519 against the JWKS (dynamic webhooks).
    V1a,
    /// An RS256 JWT whose `kid` names a JWKS key (the documented dynamic form).
    Jwt,
    /// No signature: a tracked job's end read from the Gemini API by a reconciliation after its
    /// webhook did not come (the jobs ledger). Never accepted from the network, never configurable.
    Reconciled,
}

impl Scheme {
    /// Every scheme, in the order they are checked.
    pub const ALL: [Scheme; 3] = [Scheme::V1, Scheme::V1a, Scheme::Jwt];

    /// The lowercase name used in configuration, messages and logs.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::V1 => "v1",
            Self::V1a => "v1a",
            Self::Jwt => "jwt",
            Self::Reconciled => "reconciled",
        }
    }

    /// Whether a signature of this scheme covers the body and the `webhook-id` (`v1`, `v1a`), so that
    /// what was delivered is what Google sent. A JWT covers neither: it proves Google minted it for this
    /// endpoint within its lifetime, and the receiver holds each token to the first delivery it came
    /// with; a consumer that must know the body is Google's own can require this. A reconciled end is
    /// built from the API's answer, not delivered: signed by no one.
    pub fn signs_body(self) -> bool {
        matches!(self, Self::V1 | Self::V1a)
    }

    const fn bit(self) -> u8 {
        1 << self as u8
    }
}

impl fmt::Display for Scheme {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A scheme name that is not `v1`, `v1a` or `jwt`.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown signature scheme {0:?}; expected v1, v1a or jwt")]
pub struct UnknownScheme(pub String);

impl FromStr for Scheme {
    type Err = UnknownScheme;
    fn from_str(s: &str) -> Result<Self, UnknownScheme> {
        Scheme::ALL
            .into_iter()
            .find(|scheme| scheme.as_str().eq_ignore_ascii_case(s))
            .ok_or_else(|| UnknownScheme(s.to_owned()))
    }
}

/// A set of schemes.
#[derive(Clone, Copy, PartialEq, Eq, Default)]
pub struct Schemes(u8);

impl Schemes {
    /// All three schemes.
    pub const ALL: Schemes = Schemes(0b111);
    /// No scheme.
    pub const NONE: Schemes = Schemes(0);

    /// A set of one scheme.
    pub fn only(scheme: Scheme) -> Self {
        Self(scheme.bit())
    }

    /// This set plus `scheme`.
    pub const fn with(self, scheme: Scheme) -> Self {
        Self(self.0 | scheme.bit())
    }

    /// This set without `scheme`.
    pub fn without(self, scheme: Scheme) -> Self {
        Self(self.0 & !scheme.bit())
    }

    /// Whether `scheme` is in the set.
    pub fn contains(self, scheme: Scheme) -> bool {
        self.0 & scheme.bit() != 0
    }

    /// Whether the set is empty.
    pub fn is_empty(self) -> bool {
        self.0 == 0
    }

    /// The schemes in the set, in checking order.
    pub fn iter(self) -> impl Iterator<Item = Scheme> {
        Scheme::ALL.into_iter().filter(move |s| self.contains(*s))
    }
}

impl FromStr for Schemes {
    type Err = UnknownScheme;
    /// Parses a comma- or space-separated list such as `v1,v1a,jwt`.
    fn from_str(s: &str) -> Result<Self, UnknownScheme> {
        s.split([',', ' '])
            .map(str::trim)
            .filter(|part| !part.is_empty())
            .try_fold(Schemes::NONE, |set, part| Ok(set.with(part.parse()?)))
    }
}

impl fmt::Debug for Schemes {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_set().entries(self.iter()).finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_a_configured_list() {
        let set: Schemes = "v1, V1A".parse().unwrap();
        assert!(set.contains(Scheme::V1) && set.contains(Scheme::V1a) && !set.contains(Scheme::Jwt));
        assert_eq!("v1,v1a,jwt".parse::<Schemes>().unwrap(), Schemes::ALL);
        assert_eq!("v2".parse::<Schemes>().unwrap_err(), UnknownScheme("v2".into()));
    }
}
