//! Which request a log line belongs to: the request's id, method and path, held for the time
//! the request's future runs (a Tokio task-local) and read by the log formatter only when a
//! line is actually written.
//!
//! Why not a `tracing` span per request, the usual way: an INFO span on every request cost
//! 12-14% of `/users/me`'s throughput (registering it, formatting its fields, entering it at
//! every poll), to serve the few requests that log anything. A task-local costs a pointer swap
//! per poll. What it does not reach: code run on another thread for the request (the
//! database's blocking pool), whose lines carry no request id. See `docs/performance.md`.

use actix_web::http::{Method, Uri};
use std::fmt;
use std::future::Future;

tokio::task_local! {
    static CURRENT: RequestContext;
}

/// The request being served.
#[derive(Debug)]
pub struct RequestContext {
    id: String,
    method: Method,
    uri: Uri,
}

impl RequestContext {
    pub(crate) fn new(id: String, method: Method, uri: Uri) -> Self {
        Self { id, method, uri }
    }

    /// The request id (the caller's `X-Request-Id` when acceptable, else ours).
    #[must_use]
    pub fn id(&self) -> &str {
        &self.id
    }

    /// The request's method.
    #[must_use]
    pub fn method(&self) -> &str {
        self.method.as_str()
    }

    /// The request's path, without the query (which may carry codes and states).
    #[must_use]
    pub fn path(&self) -> &str {
        self.uri.path()
    }

    /// Runs `future` with `self` as the current request.
    pub(crate) async fn scope<F: Future>(self, future: F) -> F::Output {
        CURRENT.scope(self, future).await
    }

    /// Calls `read` with the request the current task is serving, if any.
    pub fn with_current<R>(read: impl FnOnce(&Self) -> R) -> Option<R> {
        CURRENT.try_with(read).ok()
    }
}

/// `request_id=… method=… path=…`, as the text log shows it.
impl fmt::Display for RequestContext {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "request_id={} method={} path={}",
            self.id(),
            self.method(),
            self.path()
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn the_context_is_current_inside_its_scope_only() {
        assert!(RequestContext::with_current(|_| ()).is_none());
        let context = RequestContext::new(
            "abc-1".into(),
            Method::DELETE,
            "/users/me?code=secret".parse().unwrap(),
        );
        let seen = context
            .scope(async {
                tokio::task::yield_now().await;
                RequestContext::with_current(ToString::to_string)
            })
            .await;
        assert_eq!(
            seen.as_deref(),
            Some("request_id=abc-1 method=DELETE path=/users/me")
        );
        assert!(RequestContext::with_current(|_| ()).is_none());
    }
}
