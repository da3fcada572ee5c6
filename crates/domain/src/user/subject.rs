//! `Subject`: a provider's opaque, stable identifier for a person (Google's `sub`, Facebook's
//! app-scoped user id). zeropass stores it to recognise a returning person even when their
//! email changed, and never shows it outside the server.

use std::fmt;
use thiserror::Error;

/// Longest subject accepted, in bytes. OpenID Connect caps `sub` at 255 ASCII characters.
pub const MAX_SUBJECT_LENGTH: usize = 255;

/// A provider's subject for a person: 1 to 255 bytes of printable ASCII.
#[derive(Clone, PartialEq, Eq, Hash)]
pub struct Subject(String);

/// Why a string is not an acceptable subject.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum SubjectError {
    /// Empty.
    #[error("the subject is empty")]
    Empty,
    /// Longer than [`MAX_SUBJECT_LENGTH`] bytes.
    #[error("the subject is too long")]
    TooLong,
    /// Contains a character outside printable ASCII.
    #[error("the subject contains characters outside printable ASCII")]
    Malformed,
}

impl Subject {
    /// Parses a subject exactly as the provider sent it (no trimming: it is opaque).
    ///
    /// # Errors
    /// [`SubjectError`] when empty, too long, or not printable ASCII.
    pub fn parse(raw: &str) -> Result<Self, SubjectError> {
        if raw.is_empty() {
            return Err(SubjectError::Empty);
        }
        if raw.len() > MAX_SUBJECT_LENGTH {
            return Err(SubjectError::TooLong);
        }
        if !raw.bytes().all(|b| b.is_ascii_graphic()) {
            return Err(SubjectError::Malformed);
        }
        Ok(Self(raw.to_owned()))
    }

    /// The subject as stored.
    #[must_use]
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// Redacted: a subject identifies a person at a provider, so it stays out of logs.
impl fmt::Debug for Subject {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Subject(..)")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn provider_subjects_are_kept_verbatim() {
        assert_eq!(
            Subject::parse("10769150350006150715113082367")
                .unwrap()
                .as_str(),
            "10769150350006150715113082367"
        );
    }

    #[test]
    fn empty_long_or_non_printable_subjects_are_refused() {
        assert_eq!(Subject::parse(""), Err(SubjectError::Empty));
        assert_eq!(Subject::parse(&"1".repeat(256)), Err(SubjectError::TooLong));
        assert_eq!(Subject::parse(" 12"), Err(SubjectError::Malformed));
        assert_eq!(Subject::parse("1\n2"), Err(SubjectError::Malformed));
        assert_eq!(Subject::parse("é"), Err(SubjectError::Malformed));
    }

    #[test]
    fn debug_output_does_not_show_the_subject() {
        let shown = format!("{:?}", Subject::parse("secret-subject").unwrap());
        assert!(!shown.contains("secret-subject"));
    }
}
