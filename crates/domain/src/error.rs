//! The one error type the domain borrows from the outside world: an opaque, boxed source that
//! adapters attach to "unavailable" and "unexpected" variants so the full chain reaches the log
//! without infrastructure types leaking into the domain.

/// Any underlying error an adapter wants to keep as the `source` of a domain error.
pub type BoxError = Box<dyn std::error::Error + Send + Sync + 'static>;
