//! `Provider`: the identity providers zeropass can sign people in with. The names are part of
//! the external contract (`/auth/{provider}/...`, the `provider` field and claim).

use std::fmt;
use std::str::FromStr;
use thiserror::Error;

/// An identity provider zeropass knows.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Provider {
    /// Google, through OpenID Connect.
    Google,
    /// Facebook Login, through the Graph API.
    Facebook,
}

/// The name is not one of the providers zeropass knows.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
#[error("unknown identity provider")]
pub struct UnknownProvider;

impl Provider {
    /// Every provider, in a stable order.
    pub const ALL: [Self; 2] = [Self::Google, Self::Facebook];

    /// The contract name: `google` or `facebook`.
    #[must_use]
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::Google => "google",
            Self::Facebook => "facebook",
        }
    }
}

impl FromStr for Provider {
    type Err = UnknownProvider;

    /// Exact, lower-case names only: the contract's paths and claims are case-sensitive.
    fn from_str(name: &str) -> Result<Self, Self::Err> {
        Self::ALL
            .into_iter()
            .find(|provider| provider.as_str() == name)
            .ok_or(UnknownProvider)
    }
}

impl fmt::Display for Provider {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_provider_round_trips_through_its_name() {
        for provider in Provider::ALL {
            assert_eq!(provider.as_str().parse::<Provider>(), Ok(provider));
        }
    }

    #[test]
    fn unknown_or_differently_cased_names_are_refused() {
        for name in ["", "Google", "GOOGLE", "github", "google ", "face book"] {
            assert_eq!(name.parse::<Provider>(), Err(UnknownProvider), "{name:?}");
        }
    }
}
