//! actix-web's own errors, made to speak problem+json. Extractor failures (JSON body, path,
//! query) are translated into [`ApiError`] with a detail that names what is wrong without
//! echoing what the client sent; anything else actix answers by itself with a bare body (an
//! unknown route, a wrong method, a router-level 4xx) is rewritten by a last-line middleware,
//! so no client ever sees a plain-text error.

use crate::problem::{ApiError, PROBLEM_JSON};
use actix_web::body::{BoxBody, MessageBody};
use actix_web::dev::ServiceResponse;
use actix_web::error::{JsonPayloadError, PathError, QueryPayloadError, UrlencodedError};
use actix_web::http::{StatusCode, header};
use actix_web::middleware::{ErrorHandlerResponse, ErrorHandlers};
use actix_web::{HttpRequest, HttpResponse, ResponseError, web};

/// Largest JSON body accepted, in bytes: a Google id_token is about 1 KiB, a Facebook access
/// token a few hundred bytes; nothing zeropass accepts comes near this.
pub const MAX_JSON_BODY_BYTES: usize = 16 * 1024;

/// JSON extractor configuration: bounded size, `application/json` required, problem+json errors.
pub fn json_config() -> web::JsonConfig {
    web::JsonConfig::default()
        .limit(MAX_JSON_BODY_BYTES)
        .content_type_required(true)
        .error_handler(|error, _request: &HttpRequest| json_error(&error).into())
}

/// Path extractor configuration with problem+json errors.
pub fn path_config() -> web::PathConfig {
    web::PathConfig::default().error_handler(|error: PathError, _request: &HttpRequest| {
        ApiError::InvalidRequest(format!(
            "The path is not valid: {}.",
            describe_path_error(&error)
        ))
        .into()
    })
}

/// Query extractor configuration with problem+json errors.
pub fn query_config() -> web::QueryConfig {
    web::QueryConfig::default().error_handler(|error: QueryPayloadError, _request: &HttpRequest| {
        let QueryPayloadError::Deserialize(error) = &error else {
            return ApiError::InvalidRequest("The query string is not valid.".into()).into();
        };
        ApiError::InvalidRequest(format!(
            "The query string is not valid: {}.",
            field_level_message(&error.to_string())
        ))
        .into()
    })
}

fn json_error(error: &JsonPayloadError) -> ApiError {
    match error {
        JsonPayloadError::Overflow { .. } | JsonPayloadError::OverflowKnownLength { .. } => {
            ApiError::PayloadTooLarge
        }
        JsonPayloadError::ContentType => ApiError::UnsupportedMediaType,
        JsonPayloadError::Deserialize(error) => {
            ApiError::InvalidRequest(describe_json_error(error))
        }
        _ => ApiError::InvalidRequest("The request body could not be read.".into()),
    }
}

/// A form-encoded body's failure, described as [`json_error`] describes a JSON one.
pub(crate) fn form_error(error: &UrlencodedError) -> ApiError {
    match error {
        UrlencodedError::Overflow { .. } => ApiError::PayloadTooLarge,
        UrlencodedError::ContentType => ApiError::UnsupportedMediaType,
        UrlencodedError::Parse(error) => ApiError::InvalidRequest(format!(
            "The form-encoded body does not match the expected shape: {}.",
            field_level_message(&error.to_string())
        )),
        _ => ApiError::InvalidRequest("The request body could not be read.".into()),
    }
}

/// Describes a JSON parse failure by position and field name only: serde's messages for wrong
/// types quote the offending value, which may be a token the client meant to send elsewhere.
fn describe_json_error(error: &serde_json::Error) -> String {
    use serde_json::error::Category;
    let at = format!("line {}, column {}", error.line(), error.column());
    match error.classify() {
        Category::Syntax | Category::Eof | Category::Io => {
            format!("The request body is not valid JSON ({at}).")
        }
        Category::Data => format!(
            "The request body does not match the expected shape: {} ({at}).",
            field_level_message(&error.to_string())
        ),
    }
}

/// Keeps serde messages that only name fields ("missing field `id_token`", "unknown field
/// `x`"); replaces any other (which could quote a value) with a generic phrase.
fn field_level_message(message: &str) -> String {
    let message = message.split(" at line ").next().unwrap_or(message);
    if message.starts_with("missing field") {
        return message.to_owned();
    }
    if let Some(rest) = message.strip_prefix("unknown field ") {
        let field = rest.split(',').next().unwrap_or(rest);
        return format!("unknown field {field}");
    }
    "a field has the wrong type or value".to_owned()
}

fn describe_path_error(error: &PathError) -> String {
    let PathError::Deserialize(error) = error else {
        return "unrecognised segment".to_owned();
    };
    field_level_message(&error.to_string())
}

/// The last line: rewrites any error response whose body is not JSON (actix's bare 404/405, a
/// handler-less 4xx, a plain-text 5xx from a dependency) into a problem document, keeping the
/// status and headers such as `Allow`. JSON error bodies are left alone: they are either
/// problems already or deliberate (the `/health` report).
pub fn problem_for_bare_errors<B: MessageBody + 'static>() -> ErrorHandlers<B> {
    ErrorHandlers::new().default_handler(|response: ServiceResponse<B>| {
        let is_json = response
            .headers()
            .get(header::CONTENT_TYPE)
            .is_some_and(|value| {
                let value = value.as_bytes();
                value.starts_with(PROBLEM_JSON.as_bytes()) || value.starts_with(b"application/json")
            });
        if is_json {
            return Ok(ErrorHandlerResponse::Response(
                response.map_into_left_body(),
            ));
        }
        let (request, original) = response.into_parts();
        let mut problem = problem_for_status(original.status());
        for (name, value) in original.headers() {
            if name != header::CONTENT_TYPE && name != header::CONTENT_LENGTH {
                problem.headers_mut().insert(name.clone(), value.clone());
            }
        }
        Ok(ErrorHandlerResponse::Response(
            ServiceResponse::new(request, problem).map_into_right_body(),
        ))
    })
}

fn problem_for_status(status: StatusCode) -> HttpResponse<BoxBody> {
    let error = match status {
        StatusCode::NOT_FOUND => ApiError::NotFound,
        StatusCode::METHOD_NOT_ALLOWED => ApiError::MethodNotAllowed,
        StatusCode::PAYLOAD_TOO_LARGE => ApiError::PayloadTooLarge,
        StatusCode::UNSUPPORTED_MEDIA_TYPE => ApiError::UnsupportedMediaType,
        status if status.is_client_error() => ApiError::InvalidRequest(
            status
                .canonical_reason()
                .unwrap_or("The request was refused")
                .to_owned()
                + ".",
        ),
        status => ApiError::Internal(format!("bare {status} response from the framework").into()),
    };
    let mut response = error.error_response();
    if error.status_code() != status {
        *response.status_mut() = status;
        let mut problem = error.problem();
        problem.status = status.as_u16();
        response = response.set_body(BoxBody::new(
            serde_json::to_vec(&problem).unwrap_or_default(),
        ));
    }
    response
}

/// `default_service` of the app: every unknown route is a problem+json 404.
pub async fn not_found() -> Result<HttpResponse, ApiError> {
    Err(ApiError::NotFound)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn messages_that_name_fields_are_kept() {
        assert_eq!(
            field_level_message("missing field `id_token` at line 1 column 2"),
            "missing field `id_token`"
        );
        assert_eq!(
            field_level_message("unknown field `x`, expected `id_token` or `nonce`"),
            "unknown field `x`"
        );
    }

    #[test]
    fn messages_that_could_quote_a_value_are_replaced() {
        let message =
            "invalid type: string \"eyJhbGciOi.secret\", expected u64 at line 1 column 20";
        assert_eq!(
            field_level_message(message),
            "a field has the wrong type or value"
        );
    }

    #[test]
    fn a_json_syntax_error_is_described_by_position_only() {
        let error =
            serde_json::from_str::<serde_json::Value>("{\"id_token\": \"secret").unwrap_err();
        let detail = describe_json_error(&error);
        assert!(
            detail.starts_with("The request body is not valid JSON"),
            "{detail}"
        );
        assert!(!detail.contains("secret"));
    }

    #[test]
    fn an_unusual_bare_status_keeps_its_status_in_the_problem() {
        let response = problem_for_status(StatusCode::URI_TOO_LONG);
        assert_eq!(response.status(), StatusCode::URI_TOO_LONG);
    }
}
