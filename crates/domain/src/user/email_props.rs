//! Property tests of `Email::parse`: whatever the input (any Unicode, up to 10,000 characters),
//! it returns a value or a typed error and never panics; and every value it returns is already
//! in its stored form — trimmed, lower-cased, at most `MAX_EMAIL_LENGTH` bytes — so parsing it
//! again gives it back unchanged.

use super::email::{Email, EmailError, MAX_EMAIL_LENGTH};
use proptest::prelude::*;

/// Any string at all, from empty to 10,000 characters of any Unicode scalar value.
fn any_text() -> impl Strategy<Value = String> {
    prop_oneof![
        any::<String>(),
        proptest::collection::vec(any::<char>(), 0..10_000).prop_map(String::from_iter),
    ]
}

/// Strings shaped like addresses, so that many of them parse: surrounding white space, mixed
/// case, non-ASCII letters (some of which change length when lower-cased), dots and dashes in
/// awkward places, and parts from tiny to over-long.
fn address_like() -> impl Strategy<Value = String> {
    let local = "[A-Za-z0-9ÀÉİßΣȺȾ._%+-]{1,70}";
    let label = "[A-Za-z0-9ÀÉİẞΣȺȾ-]{1,70}";
    (
        "[ \t\n]{0,2}",
        local,
        proptest::collection::vec(label, 1..5),
        "[ \t\n]{0,2}",
    )
        .prop_map(|(before, local, labels, after)| {
            format!("{before}{local}@{}{after}", labels.join("."))
        })
}

/// What every successfully parsed address must be.
fn assert_canonical(email: &Email) -> Result<(), TestCaseError> {
    let text = email.as_str();
    prop_assert_eq!(text, text.trim(), "not trimmed");
    prop_assert_eq!(text, &text.to_lowercase(), "not lower-case");
    prop_assert!(
        text.len() <= MAX_EMAIL_LENGTH,
        "{} bytes: {text:?}",
        text.len()
    );
    let again = Email::parse(text);
    prop_assert_eq!(again.as_ref(), Ok(email), "does not re-parse to itself");
    Ok(())
}

/// The errors `parse` may return (a new variant must be added here deliberately).
fn assert_typed(error: &EmailError) -> Result<(), TestCaseError> {
    prop_assert!(matches!(
        error,
        EmailError::Empty | EmailError::TooLong | EmailError::Malformed
    ));
    prop_assert!(!error.to_string().is_empty());
    Ok(())
}

fn check(raw: &str) -> Result<(), TestCaseError> {
    match Email::parse(raw) {
        Ok(email) => assert_canonical(&email),
        Err(error) => assert_typed(&error),
    }
}

/// Addresses whose domain is mostly letters that grow by a byte when lower-cased (`Ⱥ` and `Ⱦ`
/// are two bytes, `ⱥ` and `ⱦ` three), around the length limits.
fn growing_when_lower_cased() -> impl Strategy<Value = String> {
    (
        "[a-z]{1,10}",
        proptest::collection::vec("[ȺȾa]{15,31}", 2..8),
    )
        .prop_map(|(local, labels)| format!("{local}@{}", labels.join(".")))
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    #[test]
    fn parsing_any_text_never_panics_and_any_value_is_canonical(raw in any_text()) {
        check(&raw)?;
    }

    #[test]
    fn parsing_address_like_text_gives_canonical_values(raw in address_like()) {
        check(&raw)?;
    }

    #[test]
    fn letters_that_grow_when_lower_cased_never_exceed_the_limit(raw in growing_when_lower_cased()) {
        check(&raw)?;
    }

    #[test]
    fn a_valid_address_keeps_its_value_through_case_and_white_space(
        local in "[a-z0-9._+-]{1,30}",
        domain in "[a-z0-9]{1,20}\\.[a-z]{2,10}",
        before in "[ \t\n]{0,3}",
        after in "[ \t\n]{0,3}",
    ) {
        let plain = format!("{local}@{domain}");
        if let Ok(email) = Email::parse(&plain) {
            let shouted = format!("{before}{}{after}", plain.to_uppercase());
            prop_assert_eq!(Email::parse(&shouted), Ok(email));
        }
    }
}
