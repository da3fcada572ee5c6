//! `zeropass keys ...`: the signing keys of `JWT_ALGORITHM` `ES256` or `EdDSA`, through the
//! same [`SigningKeys`] use case the serving instances run, so the states printed are the ones
//! they apply. A rotation or a revocation is written to the database at once; every instance
//! picks it up at its next reload (`JWT_KEY_RELOAD_SECONDS`). Each change is logged (by the use
//! case) with the `kid` and the action — a `kid` is public, and nothing else about a key is
//! ever printed.
//! Under HS256 there are no stored keys and every `keys` command is a configuration error.

use super::{Failure, KeysCommand, database};
use crate::config::{Config, ConfigError, KeySettings};
use crate::signing_keys;
use chrono::{DateTime, SecondsFormat, Utc};
use serde::Serialize;
use std::io::{self, Write};
use zeropass_domain::{KeyRing, KeyStatus, SigningKeyError, SigningKeys};

pub(crate) async fn run(config: &Config, command: KeysCommand) -> Result<(), Failure> {
    // Refused before the database is opened: HS256 keeps no keys to show or change.
    let settings = key_settings(config)?;
    let secret = config.jwt_secret.as_ref().ok_or_else(|| {
        ConfigError::new(
            "JWT_SECRET",
            "must be set: it encrypts the stored signing keys",
        )
    })?;
    let database = database::open_for_users(config).await?;
    let keys = signing_keys::use_case(&database, secret, settings, config.jwt_ttl_seconds);
    match command {
        KeysCommand::List { json } => {
            let ring = keys.list().await.map_err(|error| failure(&error))?;
            let format = if json { Format::Json } else { Format::Table };
            write_keys(&mut io::stdout().lock(), &ring, format).map_err(output_failed)
        }
        KeysCommand::Rotate { now } => rotate(&keys, now).await,
        KeysCommand::Revoke { kid } => {
            if !keys.revoke(&kid).await.map_err(|error| failure(&error))? {
                return Err(Failure::NotFound(format!(
                    "no such key (or revoked already): {kid}"
                )));
            }
            println!("key {kid} revoked: instances stop accepting its tokens at their next reload");
            Ok(())
        }
    }
}

/// The key settings, or the one line saying that keys need an asymmetric algorithm.
fn key_settings(config: &Config) -> Result<&KeySettings, Failure> {
    config.signing.keys().ok_or_else(|| {
        Failure::Usage(
            "signing keys are kept only with JWT_ALGORITHM=ES256 or JWT_ALGORITHM=EdDSA (the algorithm is HS256)"
                .into(),
        )
    })
}

async fn rotate(keys: &SigningKeys, now: bool) -> Result<(), Failure> {
    let made = keys.rotate(now).await.map_err(|error| failure(&error))?;
    let kid = &made.key.kid;
    let activates_at = rfc3339(made.key.activates_at);
    if now {
        println!("key {kid} made: it signs now (instances switch at their next reload)");
    } else {
        println!("key {kid} made: published now, it signs from {activates_at}");
    }
    Ok(())
}

fn failure(error: &SigningKeyError) -> Failure {
    // The full chain goes to the log; the line names the variable, as configuration errors do.
    tracing::error!(error = ?error, "the signing keys could not be read or changed");
    signing_keys::store_failure(error).into()
}

fn output_failed(error: io::Error) -> Failure {
    Failure::Usage(format!("cannot write the output: {error}"))
}

/// Table for people, JSON for scripts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Format {
    Table,
    Json,
}

/// A key as `keys list --json` prints it (the contract's shape).
#[derive(Debug, Serialize)]
struct KeyRow {
    kid: String,
    alg: &'static str,
    state: &'static str,
    created_at: String,
    activates_at: String,
    expires_at: Option<String>,
}

impl From<&KeyStatus> for KeyRow {
    fn from(status: &KeyStatus) -> Self {
        Self {
            kid: status.key.kid.to_string(),
            alg: status.key.algorithm.as_str(),
            state: status.state.as_str(),
            created_at: rfc3339(status.key.created_at),
            activates_at: rfc3339(status.key.activates_at),
            expires_at: status.expires_at.map(rfc3339),
        }
    }
}

fn rfc3339(at: DateTime<Utc>) -> String {
    at.to_rfc3339_opts(SecondsFormat::Secs, true)
}

const TABLE_HEADER: &str =
    "KID                     ALG    STATE    CREATED               ACTIVATES             EXPIRES";

fn write_keys(out: &mut impl Write, ring: &KeyRing, format: Format) -> io::Result<()> {
    let rows: Vec<KeyRow> = ring.keys.iter().map(KeyRow::from).collect();
    match format {
        Format::Json => {
            serde_json::to_writer_pretty(&mut *out, &rows)?;
            writeln!(out)?;
        }
        Format::Table => {
            writeln!(out, "{TABLE_HEADER}")?;
            for row in &rows {
                writeln!(
                    out,
                    "{:<22}  {:<5}  {:<7}  {:<20}  {:<20}  {}",
                    row.kid,
                    row.alg,
                    row.state,
                    row.created_at,
                    row.activates_at,
                    row.expires_at.as_deref().unwrap_or("-")
                )?;
            }
        }
    }
    out.flush()
}

#[cfg(test)]
mod tests {
    use super::*;
    use zeropass_domain::{KeyId, KeyState, SealedPrivateKey, SigningAlgorithm, StoredSigningKey};

    fn at(seconds: i64) -> DateTime<Utc> {
        DateTime::from_timestamp(1_795_000_000 + seconds, 0).unwrap()
    }

    fn status(kid: &str, state: KeyState, expires_at: Option<DateTime<Utc>>) -> KeyStatus {
        KeyStatus {
            key: StoredSigningKey {
                kid: KeyId::parse(kid).unwrap(),
                algorithm: SigningAlgorithm::EdDsa,
                generation: 1,
                public_key: vec![7; 32],
                sealed_private_key: SealedPrivateKey(b"private-bytes".to_vec()),
                created_at: at(0),
                activates_at: at(360),
            },
            state,
            expires_at,
            published: true,
        }
    }

    fn ring() -> KeyRing {
        KeyRing {
            keys: vec![
                status("AAAAAAAAAAAAAAAAAAAAAA", KeyState::Retired, Some(at(7200))),
                status("BBBBBBBBBBBBBBBBBBBBBA", KeyState::Current, None),
            ],
        }
    }

    fn written(format: Format) -> String {
        let mut out = Vec::new();
        write_keys(&mut out, &ring(), format).unwrap();
        String::from_utf8(out).unwrap()
    }

    #[test]
    fn a_json_listing_is_an_array_of_keys_in_the_contract_shape() {
        let listed: serde_json::Value = serde_json::from_str(&written(Format::Json)).unwrap();
        assert_eq!(
            listed,
            serde_json::json!([
                {"kid": "AAAAAAAAAAAAAAAAAAAAAA", "alg": "EdDSA", "state": "retired",
                 "created_at": "2026-11-18T11:06:40Z", "activates_at": "2026-11-18T11:12:40Z",
                 "expires_at": "2026-11-18T13:06:40Z"},
                {"kid": "BBBBBBBBBBBBBBBBBBBBBA", "alg": "EdDSA", "state": "current",
                 "created_at": "2026-11-18T11:06:40Z", "activates_at": "2026-11-18T11:12:40Z",
                 "expires_at": null}
            ])
        );
    }

    #[test]
    fn a_table_lines_its_columns_up_under_the_header() {
        let text = written(Format::Table);
        let lines: Vec<&str> = text.lines().collect();
        assert_eq!(lines.len(), 3);
        assert_eq!(lines[0], TABLE_HEADER);
        assert_eq!(
            lines[2],
            "BBBBBBBBBBBBBBBBBBBBBA  EdDSA  current  2026-11-18T11:06:40Z  2026-11-18T11:12:40Z  -"
        );
        for column in ["ALG", "STATE", "CREATED", "ACTIVATES", "EXPIRES"] {
            let at_header = lines[0].find(column).unwrap();
            assert_eq!(
                lines[1].as_bytes()[at_header - 2..at_header],
                *b"  ",
                "{column} starts a column"
            );
        }
        assert!(lines[1].ends_with("2026-11-18T13:06:40Z"));
    }

    #[test]
    fn no_listing_shows_key_material() {
        for format in [Format::Json, Format::Table] {
            let text = written(format);
            assert!(!text.contains("private"), "{text}");
            assert!(!text.contains("BwcH"), "no public key bytes either: {text}");
        }
    }

    #[test]
    fn keys_under_hs256_are_a_usage_error_naming_the_algorithms() {
        let config = Config::from_lookup(|_| None).unwrap();
        let refused = key_settings(&config).unwrap_err();
        assert!(matches!(refused, Failure::Usage(_)));
        assert!(
            refused.to_string().contains("JWT_ALGORITHM=ES256"),
            "{refused}"
        );
    }
}
