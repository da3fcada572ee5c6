//! Logging: `tracing` events to stderr, filtered by `RUST_LOG`, as text (colours only on a
//! terminal, so captured logs stay plain) or as one JSON object per line (`LOG_FORMAT=json`).
//! A line written while a request is being served names it: `request_id`, `method` and `path`
//! from the HTTP layer's [`RequestContext`], appended to a text line or added to the JSON
//! object (a line written in such a request is formatted without colours). actix-server's own
//! start-up chatter ("Actix runtime found…", "starting N workers") is kept to warnings unless
//! `RUST_LOG` names `actix_server`: zeropass's own start-up lines say what an operator needs.

use crate::config::LogFormat;
use std::fmt;
use std::io::IsTerminal;
use tracing::{Event, Subscriber};
use tracing_subscriber::EnvFilter;
use tracing_subscriber::fmt::format::Writer;
use tracing_subscriber::fmt::{FmtContext, FormatEvent, FormatFields};
use tracing_subscriber::registry::LookupSpan;
use zeropass_http::RequestContext;

/// Installs the global subscriber.
///
/// # Errors
/// A message when the filter does not parse (the caller names `RUST_LOG`).
pub fn init(filter: &str, format: LogFormat) -> Result<(), String> {
    let filter = EnvFilter::try_new(with_quiet_actix_server(filter))
        .map_err(|error| format!("'{filter}' is not a valid log filter ({error})"))?;
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr);
    let installed = match format {
        LogFormat::Text => {
            let ansi = std::io::stderr().is_terminal();
            let text = tracing_subscriber::fmt::format().with_ansi(ansi);
            builder
                .with_ansi(ansi)
                .event_format(WithRequest::text(text))
                .try_init()
        }
        LogFormat::Json => {
            let json = tracing_subscriber::fmt::format()
                .json()
                .with_current_span(false)
                .with_span_list(true);
            builder
                .json()
                .event_format(WithRequest::json(json))
                .try_init()
        }
    };
    installed.map_err(|error| error.to_string())
}

/// `filter` plus `actix_server=warn`, unless it already says something about `actix_server`.
fn with_quiet_actix_server(filter: &str) -> String {
    if filter.contains(ACTIX_SERVER) {
        filter.to_owned()
    } else if filter.trim().is_empty() {
        format!("{ACTIX_SERVER}=warn")
    } else {
        format!("{filter},{ACTIX_SERVER}=warn")
    }
}

/// The target of actix-server's log lines.
const ACTIX_SERVER: &str = "actix_server";

/// An event format that adds the current request, if any, to another one's lines.
struct WithRequest<F> {
    inner: F,
    json: bool,
}

impl<F> WithRequest<F> {
    fn text(inner: F) -> Self {
        Self { inner, json: false }
    }

    fn json(inner: F) -> Self {
        Self { inner, json: true }
    }
}

impl<S, N, F> FormatEvent<S, N> for WithRequest<F>
where
    S: Subscriber + for<'a> LookupSpan<'a>,
    N: for<'a> FormatFields<'a> + 'static,
    F: FormatEvent<S, N>,
{
    fn format_event(
        &self,
        ctx: &FmtContext<'_, S, N>,
        mut writer: Writer<'_>,
        event: &Event<'_>,
    ) -> fmt::Result {
        let Some(request) = RequestContext::with_current(|request| {
            if self.json {
                json_members(request)
            } else {
                request.to_string()
            }
        }) else {
            return self.inner.format_event(ctx, writer, event);
        };
        let mut line = String::new();
        self.inner
            .format_event(ctx, Writer::new(&mut line), event)?;
        writer.write_str(&with_request(&line, &request, self.json))
    }
}

/// `"request_id":…,"method":…,"path":…` with JSON escaping (method and path come from the
/// client).
fn json_members(request: &RequestContext) -> String {
    let quoted = |text: &str| serde_json::to_string(text).unwrap_or_else(|_| "\"\"".into());
    format!(
        "\"request_id\":{},\"method\":{},\"path\":{}",
        quoted(request.id()),
        quoted(request.method()),
        quoted(request.path())
    )
}

/// The formatted `line` with the request added: as members right after the opening brace of
/// a JSON object, or at the end of a text line (before its newline).
fn with_request(line: &str, request: &str, json: bool) -> String {
    if json {
        if let Some(rest) = line.strip_prefix('{') {
            let separator = if rest.trim_start().starts_with('}') {
                ""
            } else {
                ","
            };
            return format!("{{{request}{separator}{rest}");
        }
        return line.to_owned();
    }
    let (body, newline) = line
        .strip_suffix('\n')
        .map_or((line, ""), |body| (body, "\n"));
    format!("{body} {request}{newline}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn actix_servers_chatter_is_quiet_unless_the_filter_names_it() {
        assert_eq!(with_quiet_actix_server("info"), "info,actix_server=warn");
        assert_eq!(with_quiet_actix_server(""), "actix_server=warn");
        assert_eq!(
            with_quiet_actix_server("debug,actix_server=info"),
            "debug,actix_server=info"
        );
        assert!(EnvFilter::try_new(with_quiet_actix_server("zeropass=debug,info")).is_ok());
    }

    #[test]
    fn the_request_goes_first_into_a_json_object_and_last_onto_a_text_line() {
        let members = r#""request_id":"r1","method":"GET","path":"/users/me""#;
        let json = with_request("{\"level\":\"INFO\"}\n", members, true);
        let parsed: serde_json::Value = serde_json::from_str(&json).unwrap();
        assert_eq!(parsed["request_id"], "r1");
        assert_eq!(parsed["level"], "INFO");
        assert!(json.ends_with('\n'));
        let empty = with_request("{}\n", members, true);
        assert!(
            serde_json::from_str::<serde_json::Value>(&empty).is_ok(),
            "{empty}"
        );

        let text = with_request("INFO x: user deleted\n", "request_id=r1", false);
        assert_eq!(text, "INFO x: user deleted request_id=r1\n");
    }
}
