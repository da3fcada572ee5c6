//! One connection pool per thread. A tokio-postgres connection is driven by a task spawned on
//! the runtime that opened it, and each actix-web worker is a runtime of its own on its own
//! thread: with one pool shared by every worker, a query on a connection opened by another
//! worker is handed to that worker's thread and its answer handed back, two cross-thread
//! wake-ups per query. Measured on `/users/me` (3 December 2026, release, 2 cores): 48 µs of
//! zeropass CPU per request with one shared pool, against 27 µs when every query stays on its
//! thread (see docs/performance.md). So each thread that queries gets its own small pool, and
//! its connections are driven where they are used.
//!
//! The budget stays `DATABASE_POOL_SIZE` for the request path: it is split evenly between the
//! threads expected to serve requests (at least one connection each). A thread outside that
//! count (the main runtime's start-up and background work, a CLI command) gets a pool of the
//! same share, created only when it first queries.

use deadpool::Runtime;
use diesel_async::AsyncPgConnection;
use diesel_async::pooled_connection::deadpool::{Object, Pool};
use diesel_async::pooled_connection::{
    AsyncDieselConnectionManager, ManagerConfig, RecyclingMethod,
};
use std::time::Duration;
use thread_local::ThreadLocal;

use super::connection::Connector;
use super::errors::from_pool;
use zeropass_domain::RepositoryError;

/// The pools, one per querying thread, all opening connections the same way.
pub(crate) struct ThreadPools {
    connector: Connector,
    per_thread: usize,
    wait: Duration,
    pools: ThreadLocal<Pool<AsyncPgConnection>>,
}

/// What the pools hold right now, summed over threads.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct PoolsStatus {
    /// Connections open.
    pub(crate) size: usize,
    /// Of which idle.
    pub(crate) available: usize,
    /// The most one thread's pool may open.
    pub(crate) per_thread: usize,
}

impl ThreadPools {
    /// Pools of `ceil(total / threads)` connections each (at least one), each connection opened
    /// by `connector`, waits and openings bounded by `wait`. Builds this thread's pool at once,
    /// so that a configuration deadpool refuses is reported at start-up.
    pub(crate) fn new(
        connector: Connector,
        total: u32,
        threads: u32,
        wait: Duration,
    ) -> Result<Self, String> {
        let total = usize::try_from(total.max(1)).unwrap_or(usize::MAX);
        let threads = usize::try_from(threads.max(1)).unwrap_or(1);
        let pools = Self {
            connector,
            per_thread: total.div_ceil(threads),
            wait,
            pools: ThreadLocal::new(),
        };
        pools.pools.get_or_try(|| pools.build())?;
        Ok(pools)
    }

    /// The most connections one thread's pool may open.
    pub(crate) const fn per_thread(&self) -> usize {
        self.per_thread
    }

    /// A connection of this thread's pool (created on the thread's first query).
    pub(crate) async fn get(&self) -> Result<Object<AsyncPgConnection>, RepositoryError> {
        // `build` only fails on a configuration deadpool refuses, which `new` has already
        // checked with the same settings.
        let pool = self
            .pools
            .get_or_try(|| self.build())
            .map_err(|reason| RepositoryError::Unexpected(reason.into()))?;
        pool.get().await.map_err(from_pool)
    }

    /// Connections open and idle over every thread's pool. No I/O.
    pub(crate) fn status(&self) -> PoolsStatus {
        let (size, available) = self.pools.iter().fold((0, 0), |(size, idle), pool| {
            let status = pool.status();
            (size + status.size, idle + status.available)
        });
        PoolsStatus {
            size,
            available,
            per_thread: self.per_thread,
        }
    }

    fn build(&self) -> Result<Pool<AsyncPgConnection>, String> {
        let mut config = ManagerConfig::<AsyncPgConnection>::default();
        // `Fast`: no `SELECT 1` per checkout (it would double the round trips of `/users/me`).
        // A closed connection is still recognised (`is_broken` asks the client whether its
        // connection task has ended) and replaced; one that dies in use fails that one
        // operation as Unavailable, and is dropped when it comes back.
        config.recycling_method = RecyclingMethod::Fast;
        let connector = self.connector.clone();
        config.custom_setup = Box::new(move |_url| {
            let connector = connector.clone();
            Box::pin(async move { connector.connect().await })
        });
        let manager = AsyncDieselConnectionManager::<AsyncPgConnection>::new_with_config(
            "postgres://configured-by-custom-setup",
            config,
        );
        Pool::builder(manager)
            .max_size(self.per_thread)
            .runtime(Runtime::Tokio1)
            .wait_timeout(Some(self.wait))
            .create_timeout(Some(self.wait))
            .recycle_timeout(Some(self.wait))
            .build()
            .map_err(|error| error.to_string())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::postgres::PostgresUrl;
    use diesel_async::RunQueryDsl;
    use std::sync::{Arc, mpsc};
    use zeropass_test_postgres::TestDatabase;

    fn pools_for(url: &str, total: u32, threads: u32) -> ThreadPools {
        let url = PostgresUrl::parse(url).unwrap();
        let connector =
            Connector::new(&url, Duration::from_secs(2), Duration::from_secs(2)).unwrap();
        ThreadPools::new(connector, total, threads, Duration::from_secs(2)).unwrap()
    }

    #[test]
    fn the_budget_is_split_evenly_between_the_request_threads_with_one_connection_at_least() {
        let url = "postgres://zp@127.0.0.1:1/zp?sslmode=disable";
        for (total, threads, share) in [(8, 2, 4), (8, 3, 3), (1, 2, 1), (0, 0, 1), (5, 1, 5)] {
            assert_eq!(
                pools_for(url, total, threads).per_thread(),
                share,
                "{total}/{threads}"
            );
        }
    }

    /// Runs one query on a thread of its own with a runtime of its own, as an actix-web
    /// worker has, after `before` has been received; sends on `after` once done, then keeps
    /// the thread alive until `until` is received (a thread that ends gives its slot, and so
    /// its pool, to the next new thread).
    fn worker(
        pools: &Arc<ThreadPools>,
        before: mpsc::Receiver<()>,
        after: mpsc::Sender<()>,
        until: mpsc::Receiver<()>,
    ) -> std::thread::JoinHandle<()> {
        let pools = Arc::clone(pools);
        std::thread::spawn(move || {
            let runtime = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .unwrap();
            before.recv().unwrap();
            runtime.block_on(async {
                let mut conn = pools.get().await.unwrap();
                diesel::sql_query("SELECT 1")
                    .execute(&mut *conn)
                    .await
                    .unwrap();
            });
            after.send(()).unwrap();
            until.recv().unwrap();
        })
    }

    #[tokio::test]
    async fn each_request_thread_opens_and_drives_its_own_connections() {
        let Some(database) = TestDatabase::create().await else {
            return;
        };
        let pools = Arc::new(pools_for(database.url(), 4, 2));
        let (start_first, first_may_start) = mpsc::channel();
        let (first_done, second_may_start) = mpsc::channel();
        let (second_done, both_done) = mpsc::channel();
        let (end_first, first_may_end) = mpsc::channel();
        let (end_second, second_may_end) = mpsc::channel();
        let first = worker(&pools, first_may_start, first_done, first_may_end);
        let second = worker(&pools, second_may_start, second_done, second_may_end);
        start_first.send(()).unwrap();
        both_done.recv().unwrap();
        // One after the other: with one pool shared by every thread, the second query would
        // have reused the first thread's idle connection, driven by the first thread.
        assert_eq!((pools.status().size, pools.status().available), (2, 2));
        end_first.send(()).unwrap();
        end_second.send(()).unwrap();
        first.join().unwrap();
        second.join().unwrap();
    }
}
