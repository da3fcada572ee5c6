//! `zeropass check`: the pre-deploy check. One line per finding — the configuration, the
//! database (reachable and migrated; a missing file is reported, never created, and nothing is
//! migrated), each configured provider's discovery or Graph endpoint (with a short timeout),
//! and `PUBLIC_URL`'s scheme against the flow cookie's `Secure` attribute. Exit 0 when every
//! line is `ok`, 2 otherwise.

use super::Failure;
use super::database::postgres_status;
use crate::config::{Config, ConfigError, is_loopback};
use std::future::Future;
use std::time::Duration;
use url::Url;
use zeropass_domain::IdentityError;
use zeropass_facebook::FacebookIdentityProvider;
use zeropass_google::GoogleIdentityProvider;
use zeropass_store::{DatabaseLocation, DatabaseUrl, MaintenanceError, schema_status};

/// How long each provider may take to answer the check.
const PROVIDER_TIMEOUT: Duration = Duration::from_secs(5);

/// The findings so far, printed as they are made.
#[derive(Debug, Default)]
struct Report {
    problems: usize,
}

impl Report {
    fn ok(&mut self, subject: &str, finding: &str) {
        println!("ok    {subject}: {finding}");
    }

    fn fail(&mut self, subject: &str, finding: &str) {
        self.problems += 1;
        println!("FAIL  {subject}: {finding}");
    }

    fn finish(self) -> Result<(), Failure> {
        match self.problems {
            0 => Ok(()),
            1 => Err(Failure::Usage("1 problem found".into())),
            n => Err(Failure::Usage(format!("{n} problems found"))),
        }
    }
}

pub(crate) async fn run(config: Result<Config, ConfigError>) -> Result<(), Failure> {
    let mut report = Report::default();
    match config {
        Ok(config) => {
            report.ok("configuration", "valid");
            database(&config, &mut report).await;
            providers(&config, &mut report).await;
            cookies(&config, &mut report);
        }
        Err(error) => report.fail("configuration", &error.to_string()),
    }
    report.finish()
}

async fn database(config: &Config, report: &mut Report) {
    const SUBJECT: &str = "database";
    let location = match &config.database_url {
        DatabaseUrl::Sqlite(location) => location,
        DatabaseUrl::Postgres(url) => {
            return match postgres_status(config, url).await {
                Ok(status) if status.is_up_to_date() => report.ok(
                    SUBJECT,
                    &format!(
                        "{url} reachable, schema up to date ({} migration(s) applied)",
                        status.applied
                    ),
                ),
                Ok(status) => report.fail(
                    SUBJECT,
                    &format!(
                        "{url} reachable, {} pending migration(s): {} (run `zeropass migrate`)",
                        status.pending.len(),
                        status.pending.join(", ")
                    ),
                ),
                Err(error) => report.fail(SUBJECT, &error),
            };
        }
    };
    if *location == DatabaseLocation::Memory {
        return report.ok(
            SUBJECT,
            "in memory: every process creates and migrates its own, lost when it exits",
        );
    }
    match schema_status(location) {
        Ok(status) if status.is_up_to_date() => report.ok(
            SUBJECT,
            &format!(
                "reachable, schema up to date ({} migration(s) applied)",
                status.applied
            ),
        ),
        Ok(status) => report.fail(
            SUBJECT,
            &format!(
                "reachable, {} pending migration(s): {} (run `zeropass migrate`)",
                status.pending.len(),
                status.pending.join(", ")
            ),
        ),
        Err(MaintenanceError::Missing(path)) => report.fail(
            SUBJECT,
            &format!(
                "file '{path}' does not exist (check does not create it; `zeropass migrate` does)"
            ),
        ),
        Err(error) => report.fail(SUBJECT, &error.to_string()),
    }
}

async fn providers(config: &Config, report: &mut Report) {
    if let Some(google) = &config.google {
        let endpoint = format!(
            "discovery {}/.well-known/openid-configuration",
            google.issuer_url.as_str().trim_end_matches('/')
        );
        let outcome = match GoogleIdentityProvider::new(google.clone()) {
            Ok(adapter) => reached(adapter.check_reachable()).await,
            Err(error) => Err(error.to_string()),
        };
        finding(report, "google", &endpoint, outcome);
    }
    if let Some(facebook) = &config.facebook {
        let endpoint = format!("Graph API {}", facebook.graph_url);
        let outcome = match FacebookIdentityProvider::new(facebook.clone()) {
            Ok(adapter) => reached(adapter.check_reachable()).await,
            Err(error) => Err(error.to_string()),
        };
        finding(report, "facebook", &endpoint, outcome);
    }
    if config.google.is_none() && config.facebook.is_none() {
        report.ok("providers", "none configured (every sign-in answers 503)");
    }
}

async fn reached(probe: impl Future<Output = Result<(), IdentityError>>) -> Result<(), String> {
    match tokio::time::timeout(PROVIDER_TIMEOUT, probe).await {
        Ok(Ok(())) => Ok(()),
        Ok(Err(IdentityError::Unavailable(cause))) => Err(cause.to_string()),
        Ok(Err(other)) => Err(other.to_string()),
        Err(_) => Err(format!("no answer within {} s", PROVIDER_TIMEOUT.as_secs())),
    }
}

fn finding(report: &mut Report, subject: &str, endpoint: &str, outcome: Result<(), String>) {
    match outcome {
        Ok(()) => report.ok(subject, &format!("{endpoint} reachable")),
        Err(cause) => report.fail(subject, &format!("{endpoint} unreachable: {cause}")),
    }
}

fn cookies(config: &Config, report: &mut Report) {
    const SUBJECT: &str = "cookies";
    let Ok(url) = Url::parse(&config.public_url) else {
        return report.fail(SUBJECT, "PUBLIC_URL does not parse");
    };
    let loopback = url.host().is_some_and(|host| is_loopback(&host));
    match (url.scheme(), loopback) {
        ("https", _) => report.ok(SUBJECT, "PUBLIC_URL is https: the flow cookie is Secure"),
        (_, true) => report.ok(
            SUBJECT,
            "PUBLIC_URL is http on a loopback host: the flow cookie is not Secure (development only)",
        ),
        _ => report.fail(
            SUBJECT,
            "PUBLIC_URL is http on a public host: the flow cookie would travel without Secure; use https",
        ),
    }
}
