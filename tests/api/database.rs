//! The database that several servers and the operator's commands share in one test: a SQLite
//! file in a directory of the test's (several processes share it in WAL mode), or a fresh
//! PostgreSQL database. A scenario that must hold on both is written once, as
//! `async fn scenario(backend: Backend)`, and [`on_each_database!`] makes it two tests.

use tempfile::TempDir;
use zeropass_test_postgres::TestDatabase;

/// Which database a scenario runs on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    Sqlite,
    Postgres,
}

/// A database of the test's own, removed when dropped.
#[derive(Debug)]
pub enum SharedDatabase {
    Sqlite { url: String, _directory: TempDir },
    Postgres(TestDatabase),
}

impl SharedDatabase {
    /// A fresh, empty database. `None` for PostgreSQL when no server answers and the tests may
    /// skip (see [`TestDatabase::create`]): the scenario then returns.
    pub async fn create(backend: Backend) -> Option<Self> {
        match backend {
            Backend::Sqlite => {
                let directory = tempfile::tempdir().unwrap();
                let url = format!("sqlite://{}", directory.path().join("shared.db").display());
                Some(Self::Sqlite {
                    url,
                    _directory: directory,
                })
            }
            Backend::Postgres => TestDatabase::create().await.map(Self::Postgres),
        }
    }

    /// The `DATABASE_URL` of every process that shares it.
    pub fn url(&self) -> &str {
        match self {
            Self::Sqlite { url, .. } => url,
            Self::Postgres(database) => database.url(),
        }
    }

    /// The PostgreSQL database, for the test's own SQL.
    pub fn postgres(&self) -> Option<&TestDatabase> {
        match self {
            Self::Sqlite { .. } => None,
            Self::Postgres(database) => Some(database),
        }
    }
}

/// `on_each_database!(scenario);` turns `async fn scenario(backend: Backend)` into two tests,
/// `scenario::on_sqlite` and `scenario::on_postgres` (multi-threaded runtimes: scenarios run
/// concurrent clients).
macro_rules! on_each_database {
    ($scenario:ident) => {
        mod $scenario {
            #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
            async fn on_sqlite() {
                super::$scenario($crate::database::Backend::Sqlite).await;
            }

            #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
            async fn on_postgres() {
                super::$scenario($crate::database::Backend::Postgres).await;
            }
        }
    };
}
pub(crate) use on_each_database;
