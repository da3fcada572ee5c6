//! Where the configuration's variables come from, and what zeropass says about names it does
//! not know. `.env` is read from the working directory only, as the contract says — never from
//! a parent directory, where whoever can write an ancestor folder could plant `JWT_SECRET` or
//! `ALLOWED_REDIRECT_URIS`. Variables already in the environment win over `.env`. Since a
//! typo such as `GOGLE_CLIENT_ID` would otherwise start a server with no provider and no word
//! about why, every name in `.env`, and every zeropass-looking name in the environment, that is
//! not in [`KNOWN_VARIABLES`] is reported with the nearest known name — never its value.

use crate::config::{ConfigError, KNOWN_VARIABLES};
use std::path::Path;

/// The file read, relative to the working directory.
const DOTENV: &str = ".env";

/// Prefixes of zeropass's variables: an environment name starting with one of them is meant
/// for zeropass, known or not. (Any name in `.env` is meant for zeropass.)
const OUR_PREFIXES: &[&str] = &[
    "ZEROPASS_",
    "GOOGLE_",
    "FACEBOOK_",
    "JWT_",
    "DATABASE_",
    "AUTH_RATE_LIMIT_",
    "CORS_",
    "METRICS_",
];

/// What was loaded: the names `.env` set, for the warnings once logging runs.
#[derive(Debug, Default)]
pub struct Environment {
    dotenv_names: Vec<String>,
}

/// A name zeropass does not know, where it was found, and the known name it most likely means.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UnknownName {
    name: String,
    in_dotenv: bool,
    suggestion: Option<&'static str>,
}

/// Loads `./.env` when there is one (variables already set win) and remembers its names.
///
/// # Errors
/// [`ConfigError`] naming `.env` when the file exists but cannot be read or parsed.
pub fn load() -> Result<Environment, ConfigError> {
    load_from(Path::new(DOTENV))
}

fn load_from(path: &Path) -> Result<Environment, ConfigError> {
    let pairs = match dotenvy::from_path_iter(path) {
        Ok(pairs) => pairs,
        Err(error) if error.not_found() => return Ok(Environment::default()),
        Err(error) => return Err(unreadable(&error, None)),
    };
    let mut names: Vec<String> = Vec::new();
    for pair in pairs {
        let (name, _value) = pair.map_err(|error| unreadable(&error, names.last()))?;
        names.push(name.trim_start_matches('\u{feff}').to_owned());
    }
    dotenvy::from_path(path).map_err(|error| unreadable(&error, None))?;
    Ok(Environment {
        dotenv_names: names,
    })
}

/// Why `.env` cannot be used. A line that does not parse is located by the last name read
/// before it, never quoted: it may hold a secret (dotenvy's own message repeats the line).
fn unreadable(error: &dotenvy::Error, after: Option<&String>) -> ConfigError {
    let problem = match (error, after) {
        (dotenvy::Error::LineParse(..), Some(name)) => {
            format!("cannot be parsed: the line after the one setting {name} is malformed")
        }
        (dotenvy::Error::LineParse(..), None) => {
            "cannot be parsed: a line before the first variable is malformed".to_owned()
        }
        (other, _) => format!("cannot be read ({other})"),
    };
    ConfigError::new(".env", problem)
}

impl Environment {
    /// Logs one warning per unknown name (call it once logging is set up).
    pub fn warn_about_unknown_names(&self) {
        let environment = std::env::vars_os().filter_map(|(name, _value)| name.into_string().ok());
        for unknown in unknown_names(&self.dotenv_names, environment) {
            let source = if unknown.in_dotenv {
                ".env"
            } else {
                "the environment"
            };
            match unknown.suggestion {
                Some(known) => tracing::warn!(
                    "{source} sets {}, which zeropass does not know; did you mean {known}?",
                    unknown.name
                ),
                None => tracing::warn!(
                    "{source} sets {}, which zeropass does not know (see the configuration table in the README)",
                    unknown.name
                ),
            }
        }
    }
}

/// Every name of `.env` that is not known, then every zeropass-looking name of the environment
/// (prefix, or within suggestion distance of a known name) that is not known and not from `.env`.
fn unknown_names(dotenv: &[String], environment: impl Iterator<Item = String>) -> Vec<UnknownName> {
    let mut unknown: Vec<UnknownName> = dotenv
        .iter()
        .filter(|name| !KNOWN_VARIABLES.contains(&name.as_str()))
        .map(|name| UnknownName {
            name: name.clone(),
            in_dotenv: true,
            suggestion: nearest_known(name),
        })
        .collect();
    unknown.dedup();
    let mut from_environment: Vec<UnknownName> = environment
        .filter(|name| !KNOWN_VARIABLES.contains(&name.as_str()) && !dotenv.contains(name))
        .filter_map(|name| {
            let suggestion = nearest_known(&name);
            let ours = OUR_PREFIXES
                .iter()
                .any(|prefix| name.to_ascii_uppercase().starts_with(prefix));
            (ours || suggestion.is_some()).then_some(UnknownName {
                name,
                in_dotenv: false,
                suggestion,
            })
        })
        .collect();
    from_environment.sort_by(|a, b| a.name.cmp(&b.name));
    unknown.extend(from_environment);
    unknown
}

/// The known name closest to `name` (compared in upper case), if it is close enough to be a
/// typo of it: at most 2 edits, or a quarter of the name's length for long names.
pub fn nearest_known(name: &str) -> Option<&'static str> {
    let upper = name.to_ascii_uppercase();
    let allowed = (upper.chars().count() / 4).max(2);
    KNOWN_VARIABLES
        .iter()
        .map(|known| (edit_distance(&upper, known), *known))
        .filter(|(distance, _)| *distance <= allowed)
        .min_by_key(|(distance, _)| *distance)
        .map(|(_, known)| known)
}

/// Edits (insert, delete, substitute, swap two neighbours) turning `a` into `b`: the optimal
/// string alignment distance, so `JWT_SECERT` is one edit from `JWT_SECRET`.
fn edit_distance(a: &str, b: &str) -> usize {
    let a: Vec<char> = a.chars().collect();
    let b: Vec<char> = b.chars().collect();
    // Three rows of the dynamic-programming table: two back, one back, current.
    let mut before: Vec<usize> = vec![0; b.len() + 1];
    let mut previous: Vec<usize> = (0..=b.len()).collect();
    for i in 1..=a.len() {
        let mut current = vec![i; b.len() + 1];
        for j in 1..=b.len() {
            let substitution = usize::from(a[i - 1] != b[j - 1]);
            let mut best = (previous[j] + 1)
                .min(current[j - 1] + 1)
                .min(previous[j - 1] + substitution);
            if i > 1 && j > 1 && a[i - 1] == b[j - 2] && a[i - 2] == b[j - 1] {
                best = best.min(before[j - 2] + 1);
            }
            current[j] = best;
        }
        before = std::mem::replace(&mut previous, current);
    }
    previous[b.len()]
}

#[cfg(test)]
mod tests {
    use super::*;

    fn names(list: &[&str]) -> Vec<String> {
        list.iter().map(|name| (*name).to_owned()).collect()
    }

    #[test]
    fn edit_distance_counts_insertions_deletions_substitutions_and_swaps() {
        assert_eq!(edit_distance("JWT_SECRET", "JWT_SECRET"), 0);
        assert_eq!(edit_distance("GOGLE_CLIENT_ID", "GOOGLE_CLIENT_ID"), 1);
        assert_eq!(edit_distance("JWT_SECERT", "JWT_SECRET"), 1);
        assert_eq!(edit_distance("BIND_ADR", "BIND_ADDR"), 1);
        assert_eq!(edit_distance("PUBLIK_URL", "PUBLIC_URL"), 1);
        assert_eq!(edit_distance("", "ABC"), 3);
        assert_eq!(edit_distance("ABC", ""), 3);
        assert_eq!(edit_distance("KITTEN", "SITTING"), 3);
    }

    #[test]
    fn a_typo_is_answered_with_the_known_name_it_most_likely_means() {
        assert_eq!(nearest_known("GOGLE_CLIENT_ID"), Some("GOOGLE_CLIENT_ID"));
        assert_eq!(nearest_known("JWT_SECERT"), Some("JWT_SECRET"));
        assert_eq!(nearest_known("jwt_secret"), Some("JWT_SECRET"));
        assert_eq!(nearest_known("GOOGLE_CLIENT"), Some("GOOGLE_CLIENT_ID"));
        assert_eq!(
            nearest_known("FACEBOOK_APP_SECRETS"),
            Some("FACEBOOK_APP_SECRET")
        );
        assert_eq!(nearest_known("DATABASE"), None);
        assert_eq!(nearest_known("PATH"), None);
        assert_eq!(nearest_known("HOME"), None);
    }

    #[test]
    fn every_unknown_name_of_dotenv_is_reported_but_only_ours_from_the_environment() {
        let dotenv = names(&["GOGLE_CLIENT_ID", "JWT_SECRET", "GREETING", "JWT_SECERT"]);
        let environment = names(&[
            "PATH",
            "HOME",
            "JWT_SECERT",
            "GOOGLE_CLIENT_ID",
            "ZEROPASS_PORT",
            "BIND_ADR",
            "GREETING",
        ]);
        let reported = unknown_names(&dotenv, environment.into_iter());
        let shown: Vec<(&str, bool, Option<&str>)> = reported
            .iter()
            .map(|unknown| (unknown.name.as_str(), unknown.in_dotenv, unknown.suggestion))
            .collect();
        assert_eq!(
            shown,
            [
                ("GOGLE_CLIENT_ID", true, Some("GOOGLE_CLIENT_ID")),
                ("GREETING", true, None),
                ("JWT_SECERT", true, Some("JWT_SECRET")),
                ("BIND_ADR", false, Some("BIND_ADDR")),
                ("ZEROPASS_PORT", false, None),
            ]
        );
    }

    #[test]
    fn a_missing_dotenv_is_no_error_and_an_unparsable_one_names_the_file() {
        let directory = tempfile::tempdir().unwrap();
        let missing = load_from(&directory.path().join(".env")).unwrap();
        assert!(missing.dotenv_names.is_empty());

        let broken = directory.path().join(".env");
        std::fs::write(&broken, "BIND_ADDR=127.0.0.1:0\nJWT_SECRET='never closed\n").unwrap();
        let error = load_from(&broken).unwrap_err();
        assert_eq!(error.variable, ".env");
        let message = error.to_string();
        assert!(!message.contains("never closed"), "{message}");
        assert!(
            message.contains("after the one setting BIND_ADDR"),
            "{message}"
        );
    }
}
