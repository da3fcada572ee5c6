//! Test-only: a fresh PostgreSQL database for one test, created on the server of
//! `ZEROPASS_TEST_POSTGRES_URL` (default `postgres://postgres@127.0.0.1:5432/postgres`) as
//! `zp_test_<random>` and dropped (`WITH (FORCE)`) when the [`TestDatabase`] is dropped, so
//! tests run in parallel and leave nothing behind.
//!
//! When no server answers, [`TestDatabase::create`] returns `None` and says once on stderr that
//! the PostgreSQL tests were skipped and how to run them — unless `ZEROPASS_REQUIRE_POSTGRES=1`
//! (as in CI), where it panics instead, so that no test is skipped silently there.

use std::io::Write;
use std::sync::Once;
use std::time::Duration;

/// The server's administrative URL unless overridden.
pub const DEFAULT_ADMIN_URL: &str = "postgres://postgres@127.0.0.1:5432/postgres";

/// How long to wait for the server before deciding there is none.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(3);

static SKIPPED: Once = Once::new();

/// One test's own database.
#[derive(Debug)]
pub struct TestDatabase {
    admin_url: String,
    name: String,
    url: String,
}

impl TestDatabase {
    /// Creates `zp_test_<random>`; `None` when no PostgreSQL server answers and it is not
    /// required.
    ///
    /// # Panics
    /// When `ZEROPASS_REQUIRE_POSTGRES=1` and no server answers, or when the server answers but
    /// refuses to create the database.
    #[allow(clippy::panic, clippy::expect_used)] // test support: failing loudly is the point
    pub async fn create() -> Option<Self> {
        let admin_url = std::env::var("ZEROPASS_TEST_POSTGRES_URL")
            .unwrap_or_else(|_| DEFAULT_ADMIN_URL.into());
        let admin = match admin_client(&admin_url).await {
            Ok(client) => client,
            Err(error) => {
                if std::env::var("ZEROPASS_REQUIRE_POSTGRES").as_deref() == Ok("1") {
                    panic!(
                        "ZEROPASS_REQUIRE_POSTGRES=1 but no PostgreSQL server answers at the test URL: {error}"
                    );
                }
                SKIPPED.call_once(|| {
                    // Through the stderr handle, not `eprintln!`: the test harness captures the
                    // macros' output of passing tests, and this line must be seen.
                    let _shown = writeln!(
                        std::io::stderr(),
                        "PostgreSQL tests SKIPPED: no server answers ({error}). Start PostgreSQL on 127.0.0.1:5432 \
                         (or set ZEROPASS_TEST_POSTGRES_URL) to run them; ZEROPASS_REQUIRE_POSTGRES=1 makes them mandatory."
                    );
                });
                return None;
            }
        };
        let name = format!("zp_test_{}", random_suffix());
        admin
            .batch_execute(&format!("CREATE DATABASE {name}"))
            .await
            .expect("the test database can be created");
        let mut url = url::Url::parse(&admin_url).expect("ZEROPASS_TEST_POSTGRES_URL is a URL");
        url.set_path(&name);
        url.set_query(Some("sslmode=disable"));
        Some(Self {
            admin_url,
            name,
            url: url.to_string(),
        })
    }

    /// The database's URL, as `DATABASE_URL` takes it.
    #[must_use]
    pub fn url(&self) -> &str {
        &self.url
    }

    /// The server's administrative URL (another database than this one).
    #[must_use]
    pub fn admin_url(&self) -> &str {
        &self.admin_url
    }

    /// The database's name.
    #[must_use]
    pub fn name(&self) -> &str {
        &self.name
    }

    /// Runs SQL on the server's administrative database (e.g. `pg_terminate_backend` of this
    /// database's connections).
    ///
    /// # Panics
    /// When the server cannot be reached or refuses the SQL.
    #[allow(clippy::expect_used)]
    pub async fn admin_execute(&self, sql: &str) {
        admin_client(&self.admin_url)
            .await
            .expect("the admin database answers")
            .batch_execute(sql)
            .await
            .expect("the admin SQL runs");
    }

    /// Terminates every other session on this database (as a failover, a server restart or
    /// an administrator would); returns how many were ended.
    ///
    /// # Panics
    /// When the server cannot be reached or refuses the SQL.
    #[allow(clippy::expect_used)]
    pub async fn terminate_connections(&self) -> i64 {
        admin_client(&self.admin_url)
            .await
            .expect("the admin database answers")
            .query_one(
                "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity \
                 WHERE datname = $1 AND pid <> pg_backend_pid()",
                &[&self.name],
            )
            .await
            .expect("pg_terminate_backend runs")
            .get(0)
    }

    /// A client connected to this database, for a test's own SQL.
    ///
    /// # Panics
    /// When the database cannot be reached.
    #[allow(clippy::panic)]
    pub async fn client(&self) -> tokio_postgres::Client {
        admin_client(&self.url)
            .await
            .unwrap_or_else(|error| panic!("connecting to {}: {error}", self.name))
    }

    /// The one number a query returns (`SELECT count(*) ...`).
    ///
    /// # Panics
    /// When the database cannot be reached or the query fails.
    #[allow(clippy::panic)]
    pub async fn count(&self, sql: &str) -> i64 {
        self.client()
            .await
            .query_one(sql, &[])
            .await
            .unwrap_or_else(|error| panic!("{sql}: {error}"))
            .get(0)
    }

    /// The database's URL with another host and port: the same database reached through
    /// something in between (a test's TCP proxy).
    ///
    /// # Panics
    /// Never for the URLs [`Self::create`] makes.
    #[allow(clippy::expect_used)]
    #[must_use]
    pub fn url_through(&self, address: std::net::SocketAddr) -> String {
        let mut url = url::Url::parse(&self.url).expect("the test URL parses");
        url.set_ip_host(address.ip())
            .expect("a postgres URL has a host");
        url.set_port(Some(address.port()))
            .expect("a postgres URL has a port");
        url.to_string()
    }

    /// Where the server listens (`host:port`), for a proxy to forward to.
    #[must_use]
    pub fn server_address(&self) -> String {
        url::Url::parse(&self.url).map_or_else(
            |_| "127.0.0.1:5432".to_owned(),
            |url| {
                format!(
                    "{}:{}",
                    url.host_str().unwrap_or("127.0.0.1"),
                    url.port().unwrap_or(5432)
                )
            },
        )
    }
}

/// Drops the database on a thread of its own (with its own runtime): `Drop` cannot await,
/// and the test's runtime may be single-threaded.
impl Drop for TestDatabase {
    fn drop(&mut self) {
        let admin_url = self.admin_url.clone();
        let name = self.name.clone();
        let dropped = std::thread::spawn(move || {
            let runtime = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .ok()?;
            runtime.block_on(async {
                let admin = admin_client(&admin_url).await.ok()?;
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

async fn admin_client(admin_url: &str) -> Result<tokio_postgres::Client, String> {
    let mut config: tokio_postgres::Config =
        admin_url.parse().map_err(|error| format!("{error}"))?;
    config.connect_timeout(CONNECT_TIMEOUT);
    let (client, connection) =
        tokio::time::timeout(CONNECT_TIMEOUT, config.connect(tokio_postgres::NoTls))
            .await
            .map_err(|_| "no answer within 3 s".to_owned())?
            .map_err(|error| {
                let cause = std::error::Error::source(&error).map(ToString::to_string);
                format!(
                    "{error}{}",
                    cause.map(|c| format!(": {c}")).unwrap_or_default()
                )
            })?;
    tokio::spawn(async move {
        let _closed = connection.await;
    });
    Ok(client)
}

fn random_suffix() -> String {
    let mut bytes = [0u8; 8];
    // The clock's nanoseconds if the OS has no randomness to give (never on Linux).
    if getrandom::fill(&mut bytes).is_err() {
        let nanos = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |elapsed| elapsed.subsec_nanos());
        bytes[..4].copy_from_slice(&nanos.to_le_bytes());
    }
    bytes.iter().map(|byte| format!("{byte:02x}")).collect()
}
