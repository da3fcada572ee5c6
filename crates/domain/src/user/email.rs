//! `Email`: an address as zeropass stores and compares it — trimmed, lower-cased, and
//! syntactically plausible. Deliverability is the identity provider's business (it verified
//! the address); this type only guarantees a sane, bounded, comparable value.

use std::fmt;
use thiserror::Error;

/// Longest address accepted, in bytes (RFC 5321's path limit, less the angle brackets).
pub const MAX_EMAIL_LENGTH: usize = 254;
/// Longest local part (before the `@`), in bytes (RFC 5321).
const MAX_LOCAL_PART_LENGTH: usize = 64;
/// Longest DNS label, in bytes.
const MAX_LABEL_LENGTH: usize = 63;

/// A parsed email address: trimmed, lower-cased, `local@domain` with a dotted domain.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Email(String);

/// Why a string is not an acceptable email address.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum EmailError {
    /// Nothing but white space.
    #[error("the email address is empty")]
    Empty,
    /// Longer than [`MAX_EMAIL_LENGTH`] bytes, or a part longer than its limit.
    #[error("the email address is too long")]
    TooLong,
    /// Not of the form `local@domain.tld` with printable, non-space characters.
    #[error("the email address is malformed")]
    Malformed,
}

impl Email {
    /// Parses an address: trims surrounding white space, lower-cases it, and checks its shape.
    ///
    /// # Errors
    /// [`EmailError`] when the address is empty, too long, or malformed.
    pub fn parse(raw: &str) -> Result<Self, EmailError> {
        let trimmed = raw.trim();
        if trimmed.is_empty() {
            return Err(EmailError::Empty);
        }
        // Checked before lower-casing to bound the work on hostile input, and again after:
        // some letters grow when lower-cased (`Ⱥ` is 2 bytes, `ⱥ` is 3), and the stored value is
        // what must fit.
        if trimmed.len() > MAX_EMAIL_LENGTH {
            return Err(EmailError::TooLong);
        }
        let lowered = trimmed.to_lowercase();
        if lowered.len() > MAX_EMAIL_LENGTH {
            return Err(EmailError::TooLong);
        }
        let (local, domain) = lowered.split_once('@').ok_or(EmailError::Malformed)?;
        if local.len() > MAX_LOCAL_PART_LENGTH {
            return Err(EmailError::TooLong);
        }
        if !is_valid_local_part(local) || !is_valid_domain(domain) {
            return Err(EmailError::Malformed);
        }
        Ok(Self(lowered))
    }

    /// The address as stored.
    #[must_use]
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

fn is_valid_local_part(local: &str) -> bool {
    !local.is_empty()
        && !local.starts_with('.')
        && !local.ends_with('.')
        && !local.contains("..")
        && local
            .chars()
            .all(|c| !c.is_whitespace() && !c.is_control() && !"@<>()[]\\,;:\"".contains(c))
}

fn is_valid_domain(domain: &str) -> bool {
    let labels: Vec<&str> = domain.split('.').collect();
    labels.len() >= 2
        && labels.iter().all(|label| {
            !label.is_empty()
                && label.len() <= MAX_LABEL_LENGTH
                && !label.starts_with('-')
                && !label.ends_with('-')
                && label.chars().all(|c| c.is_alphanumeric() || c == '-')
        })
}

impl fmt::Display for Email {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl AsRef<str> for Email {
    fn as_ref(&self) -> &str {
        &self.0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_address_is_trimmed_and_lower_cased() {
        assert_eq!(
            Email::parse("  Ada.Lovelace@Example.COM \n")
                .unwrap()
                .as_str(),
            "ada.lovelace@example.com"
        );
    }

    #[test]
    fn plausible_addresses_are_accepted() {
        for ok in [
            "a@b.co",
            "first.last+tag@sub.example.org",
            "x_y-z@xn--bcher-kva.example",
            "élodie@exemple.fr",
        ] {
            assert!(Email::parse(ok).is_ok(), "{ok} should parse");
        }
    }

    #[test]
    fn malformed_addresses_are_refused() {
        for bad in [
            "plain",
            "@example.com",
            "a@",
            "a@localhost",
            "a@@b.co",
            "a b@c.co",
            "a@b c.co",
            ".a@b.co",
            "a.@b.co",
            "a..b@c.co",
            "a@-b.co",
            "a@b-.co",
            "a@b..co",
            "a@b.co.",
            "a\u{0}@b.co",
            "a@b.co@c.co",
            "<a@b.co>",
        ] {
            assert_eq!(
                Email::parse(bad),
                Err(EmailError::Malformed),
                "{bad:?} should be malformed"
            );
        }
    }

    #[test]
    fn empty_input_is_its_own_error() {
        assert_eq!(Email::parse("   "), Err(EmailError::Empty));
    }

    #[test]
    fn over_long_addresses_and_local_parts_are_refused() {
        let long_domain = format!("a@{}.com", "b".repeat(250));
        assert_eq!(Email::parse(&long_domain), Err(EmailError::TooLong));
        let long_local = format!("{}@b.co", "a".repeat(65));
        assert_eq!(Email::parse(&long_local), Err(EmailError::TooLong));
        let long_label = format!("a@{}.co", "b".repeat(64));
        assert_eq!(Email::parse(&long_label), Err(EmailError::Malformed));
    }

    #[test]
    fn an_address_that_grows_past_the_limit_when_lower_cased_is_refused() {
        let label = "Ⱥ".repeat(21);
        let address = format!("a@{label}.{label}.{label}.{label}");
        assert!(address.len() <= MAX_EMAIL_LENGTH);
        assert_eq!(Email::parse(&address), Err(EmailError::TooLong));
    }

    #[test]
    fn the_longest_allowed_address_is_accepted() {
        let domain = format!(
            "{}.{}.{}.co",
            "b".repeat(63),
            "c".repeat(63),
            "d".repeat(58)
        );
        let address = format!("{}@{domain}", "a".repeat(64));
        assert_eq!(address.len(), MAX_EMAIL_LENGTH);
        assert!(Email::parse(&address).is_ok());
    }
}
