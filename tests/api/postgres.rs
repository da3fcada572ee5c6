//! PostgreSQL for the black-box tests: each test gets a fresh `zp_test_<random>` database on
//! the server at `ZEROPASS_TEST_POSTGRES_URL` (default `postgres://postgres@127.0.0.1:5432/postgres`),
//! hands its URL to the `zeropass` processes it starts, and drops it with `WITH (FORCE)` when
//! done, so tests run in parallel and leave nothing behind. Where no server answers, a test
//! either fails (`ZEROPASS_REQUIRE_POSTGRES=1`, as CI runs) or returns early after one notice
//! per test binary: `cargo test --workspace` passes on a machine without PostgreSQL.

use std::io::Write;
use std::sync::Once;
use std::time::Duration;
use tokio_postgres::{Client, Config, NoTls};

/// The maintenance database the tests create theirs from, unless overridden.
pub const DEFAULT_ADMIN_URL: &str = "postgres://postgres@127.0.0.1:5432/postgres";
/// The variable that points the tests at another server.
pub const ADMIN_URL_VARIABLE: &str = "ZEROPASS_TEST_POSTGRES_URL";
/// The variable that turns "no server" into a failure.
pub const REQUIRE_VARIABLE: &str = "ZEROPASS_REQUIRE_POSTGRES";
/// How long a test waits for the server to accept a connection.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(3);

static SKIP_NOTICE: Once = Once::new();

/// The maintenance URL the tests use.
pub fn admin_url() -> String {
    std::env::var(ADMIN_URL_VARIABLE)
        .ok()
        .filter(|url| !url.is_empty())
        .unwrap_or_else(|| DEFAULT_ADMIN_URL.to_owned())
}

fn required() -> bool {
    std::env::var(REQUIRE_VARIABLE).is_ok_and(|value| value == "1")
}

/// Connects to `url` (bounded by [`CONNECT_TIMEOUT`]) and drives the connection on the current
/// runtime.
pub async fn connect(url: &str) -> Result<Client, String> {
    let mut config: Config = url.parse().map_err(|error| format!("{error}"))?;
    config.connect_timeout(CONNECT_TIMEOUT);
    let connecting = config.connect(NoTls);
    let (client, connection) = tokio::time::timeout(CONNECT_TIMEOUT * 2, connecting)
        .await
        .map_err(|_| format!("no answer within {:?}", CONNECT_TIMEOUT * 2))?
        .map_err(|error| format!("{error}"))?;
    tokio::spawn(async move {
        let _ = connection.await;
    });
    Ok(client)
}

/// `url` with its database (the path) replaced by `database`.
fn with_database(url: &str, database: &str) -> String {
    let mut parsed = url::Url::parse(url)
        .unwrap_or_else(|error| panic!("{ADMIN_URL_VARIABLE} is not a postgres:// URL ({error})"));
    parsed.set_path(&format!("/{database}"));
    parsed.to_string()
}

/// A database of the test's own, dropped (with every connection to it) when this is dropped.
#[derive(Debug)]
pub struct TestDatabase {
    name: String,
    url: String,
    admin_url: String,
}

impl TestDatabase {
    /// Creates `zp_test_<random>`. `None` when no PostgreSQL server answers and
    /// `ZEROPASS_REQUIRE_POSTGRES` is not `1` (after one notice on stderr per test binary);
    /// the caller then returns: `let Some(database) = TestDatabase::create().await else { return };`
    ///
    /// # Panics
    /// When no server answers and `ZEROPASS_REQUIRE_POSTGRES=1`, or the server refuses to
    /// create the database.
    pub async fn create() -> Option<Self> {
        let admin_url = admin_url();
        let admin = match connect(&admin_url).await {
            Ok(client) => client,
            Err(error) => {
                let place = redacted(&admin_url);
                assert!(
                    !required(),
                    "{REQUIRE_VARIABLE}=1 but no PostgreSQL server answers at {place} ({error}); \
                     start one (bash .ci/postgres.sh) or point {ADMIN_URL_VARIABLE} at one"
                );
                // Straight to the process's stderr: the test harness captures `eprintln!` of
                // passing tests, and this must be seen in a plain `cargo test`.
                SKIP_NOTICE.call_once(|| {
                    let _ = writeln!(
                        std::io::stderr(),
                        "PostgreSQL tests skipped: no server at {place} — start one or set \
                         {ADMIN_URL_VARIABLE}; CI sets {REQUIRE_VARIABLE}=1"
                    );
                });
                return None;
            }
        };
        let name = format!("zp_test_{}", uuid::Uuid::new_v4().simple());
        admin
            .batch_execute(&format!("CREATE DATABASE {name}"))
            .await
            .unwrap_or_else(|error| panic!("CREATE DATABASE {name}: {error}"));
        Some(Self {
            url: with_database(&admin_url, &name),
            name,
            admin_url,
        })
    }

    /// The database's URL, for `DATABASE_URL`.
    pub fn url(&self) -> &str {
        &self.url
    }

    /// The database's URL with another host and port: the same database reached through
    /// something in between (a [`crate::proxy::Proxy`]).
    pub fn url_through(&self, address: std::net::SocketAddr) -> String {
        let mut parsed = url::Url::parse(&self.url).unwrap();
        parsed.set_ip_host(address.ip()).unwrap();
        parsed.set_port(Some(address.port())).unwrap();
        parsed.to_string()
    }

    /// Where the server listens (`host:port` of the URL), for a proxy to forward to.
    pub fn server_address(&self) -> String {
        let parsed = url::Url::parse(&self.url).unwrap();
        format!(
            "{}:{}",
            parsed.host_str().unwrap_or("127.0.0.1"),
            parsed.port().unwrap_or(5432)
        )
    }

    /// A client connected to this database, for the test's own SQL.
    pub async fn client(&self) -> Client {
        connect(&self.url)
            .await
            .unwrap_or_else(|error| panic!("connecting to {}: {error}", self.name))
    }

    /// One number a query returns (`SELECT count(*) ...`).
    pub async fn count(&self, sql: &str) -> i64 {
        let row = self
            .client()
            .await
            .query_one(sql, &[])
            .await
            .unwrap_or_else(|error| panic!("{sql}: {error}"));
        row.get(0)
    }

    /// Ends every other session on this database (`pg_terminate_backend`), as a failover or an
    /// administrator would; returns how many were ended.
    pub async fn terminate_connections(&self) -> i64 {
        connect(&self.admin_url)
            .await
            .unwrap()
            .query_one(
                "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity \
                 WHERE datname = $1 AND pid <> pg_backend_pid()",
                &[&self.name],
            )
            .await
            .unwrap()
            .get(0)
    }
}

impl Drop for TestDatabase {
    fn drop(&mut self) {
        // Drop runs inside the test's runtime, which cannot be blocked on: a thread of its own
        // with a runtime of its own drops the database.
        let (admin_url, name) = (self.admin_url.clone(), self.name.clone());
        let dropped = std::thread::spawn(move || {
            let runtime = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .ok()?;
            runtime.block_on(async {
                let admin = connect(&admin_url).await.ok()?;
                admin
                    .batch_execute(&format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)"))
                    .await
                    .ok()
            })
        })
        .join();
        if !matches!(dropped, Ok(Some(()))) {
            eprintln!("could not drop the test database {}", self.name);
        }
    }
}

/// `url` without its password, for messages.
pub fn redacted(url: &str) -> String {
    match url::Url::parse(url) {
        Ok(mut parsed) => {
            if parsed.password().is_some() {
                let _ = parsed.set_password(Some("***"));
            }
            parsed.to_string()
        }
        Err(_) => "(an unparsable URL)".to_owned(),
    }
}
