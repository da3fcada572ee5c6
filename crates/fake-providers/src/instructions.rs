//! What `fake-providers` prints for the person who started it: the environment that points
//! zeropass at the running fakes, as `export NAME=value` lines (values shell-quoted when they
//! need it) between `#` comments, so that pasting the whole output into a shell works, and the
//! next command (`cargo run --release`) sees the variables.

use crate::{FakeFacebook, FakeGoogle};

/// The variables that point zeropass at these fakes, both providers.
#[must_use]
pub fn zeropass_environment(
    google: &FakeGoogle,
    facebook: &FakeFacebook,
) -> Vec<(&'static str, String)> {
    vec![
        ("GOOGLE_ISSUER_URL", google.issuer()),
        ("GOOGLE_CLIENT_ID", FakeGoogle::CLIENT_ID.to_owned()),
        ("GOOGLE_CLIENT_SECRET", FakeGoogle::CLIENT_SECRET.to_owned()),
        ("FACEBOOK_GRAPH_URL", facebook.graph_url()),
        ("FACEBOOK_DIALOG_URL", facebook.dialog_url()),
        ("FACEBOOK_APP_ID", FakeFacebook::APP_ID.to_owned()),
        ("FACEBOOK_APP_SECRET", FakeFacebook::APP_SECRET.to_owned()),
    ]
}

/// The whole text `fake-providers` prints: comments and `export` lines only.
#[must_use]
pub fn instructions(google: &FakeGoogle, facebook: &FakeFacebook) -> String {
    let mut text = format!(
        "# Fake Google is listening at {}, fake Facebook at {} (test keys only; every sign-in succeeds).\n\
         # Paste these lines into the shell that will run zeropass:\n",
        google.issuer(),
        facebook.graph_url()
    );
    for (name, value) in zeropass_environment(google, facebook) {
        text.push_str(&format!("export {name}={}\n", shell_quoted(&value)));
    }
    text.push_str(
        "# then, in that shell: cargo run --release\n\
         # and open http://127.0.0.1:8080/auth/google/start (or /auth/facebook/start) in a browser.\n\
         # Ctrl-C stops the fakes.\n",
    );
    text
}

/// `value` as one shell word: as is when it holds only characters no shell treats specially,
/// else in single quotes (a `'` inside written as `'\''`).
fn shell_quoted(value: &str) -> String {
    let plain = !value.is_empty()
        && value
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "_-.,/:@%+=".contains(c));
    if plain {
        value.to_owned()
    } else {
        format!("'{}'", value.replace('\'', r"'\''"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_values_with_shell_characters_are_quoted() {
        assert_eq!(
            shell_quoted("http://127.0.0.1:9001"),
            "http://127.0.0.1:9001"
        );
        assert_eq!(shell_quoted("a b"), "'a b'");
        assert_eq!(shell_quoted("$HOME"), "'$HOME'");
        assert_eq!(shell_quoted("it's"), r"'it'\''s'");
        assert_eq!(shell_quoted(""), "''");
    }
}
