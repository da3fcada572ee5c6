//! Where the database lives, parsed from the contract's `DATABASE_URL` forms:
//! `sqlite://PATH` (a file, relative to the working directory unless absolute) or
//! `sqlite://:memory:` (one in-memory database for the whole process).

use std::path::PathBuf;
use thiserror::Error;

const SCHEME: &str = "sqlite://";
const MEMORY: &str = ":memory:";

/// A database the repository can open.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DatabaseLocation {
    /// A database file, created on first open. A relative path is relative to the working
    /// directory at the time the repository is opened.
    File(PathBuf),
    /// One in-memory database shared by the whole process and lost when it exits.
    Memory,
}

/// Why a `DATABASE_URL` is not one the SQLite adapter accepts. The messages never repeat the
/// URL itself, which might carry credentials meant for another kind of database.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum InvalidDatabaseUrl {
    /// The URL does not start with `sqlite://`.
    #[error("not a SQLite URL: expected sqlite://PATH or sqlite://:memory:")]
    NotSqlite,
    /// Nothing follows `sqlite://`.
    #[error("the path is empty: expected sqlite://PATH or sqlite://:memory:")]
    EmptyPath,
    /// The path carries `?` options, which this adapter does not interpret.
    #[error("options after '?' are not supported: expected sqlite://PATH or sqlite://:memory:")]
    OptionsNotSupported,
}

impl DatabaseLocation {
    /// Parses `sqlite://PATH` or `sqlite://:memory:`, exactly (no trimming, no options).
    ///
    /// # Errors
    /// [`InvalidDatabaseUrl`] for another scheme, an empty path, or a path with `?` options.
    pub fn parse(url: &str) -> Result<Self, InvalidDatabaseUrl> {
        let path = url
            .strip_prefix(SCHEME)
            .ok_or(InvalidDatabaseUrl::NotSqlite)?;
        if path.is_empty() {
            return Err(InvalidDatabaseUrl::EmptyPath);
        }
        if path.contains('?') {
            return Err(InvalidDatabaseUrl::OptionsNotSupported);
        }
        if path == MEMORY {
            return Ok(Self::Memory);
        }
        Ok(Self::File(PathBuf::from(path)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_sqlite_url_names_a_file_relative_to_the_working_directory() {
        assert_eq!(
            DatabaseLocation::parse("sqlite://zeropass.db"),
            Ok(DatabaseLocation::File(PathBuf::from("zeropass.db")))
        );
        assert_eq!(
            DatabaseLocation::parse("sqlite://data/users.db"),
            Ok(DatabaseLocation::File(PathBuf::from("data/users.db")))
        );
    }

    #[test]
    fn a_third_slash_makes_the_path_absolute() {
        assert_eq!(
            DatabaseLocation::parse("sqlite:///var/lib/zeropass.db"),
            Ok(DatabaseLocation::File(PathBuf::from(
                "/var/lib/zeropass.db"
            )))
        );
    }

    #[test]
    fn memory_is_the_shared_in_memory_database() {
        assert_eq!(
            DatabaseLocation::parse("sqlite://:memory:"),
            Ok(DatabaseLocation::Memory)
        );
    }

    #[test]
    fn other_schemes_and_shapes_are_refused() {
        for url in [
            "",
            "zeropass.db",
            ":memory:",
            "sqlite:zeropass.db",
            "sqlite::memory:",
            "SQLITE://zeropass.db",
            "file://zeropass.db",
            "postgres://user:secret@localhost/zeropass",
            " sqlite://zeropass.db",
        ] {
            assert_eq!(
                DatabaseLocation::parse(url),
                Err(InvalidDatabaseUrl::NotSqlite),
                "{url:?}"
            );
        }
    }

    #[test]
    fn an_empty_path_is_refused() {
        assert_eq!(
            DatabaseLocation::parse("sqlite://"),
            Err(InvalidDatabaseUrl::EmptyPath)
        );
    }

    #[test]
    fn url_options_are_refused_rather_than_taken_as_part_of_the_file_name() {
        for url in [
            "sqlite://zeropass.db?mode=rwc",
            "sqlite://:memory:?cache=shared",
        ] {
            assert_eq!(
                DatabaseLocation::parse(url),
                Err(InvalidDatabaseUrl::OptionsNotSupported),
                "{url:?}"
            );
        }
    }

    #[test]
    fn error_messages_do_not_repeat_the_url() {
        let error = DatabaseLocation::parse("postgres://user:secret@localhost/db").unwrap_err();
        assert!(!error.to_string().contains("secret"));
    }
}
