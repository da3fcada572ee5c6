//! The `Authorization: Bearer <token>` extractor. It only finds the token (scheme matched
//! case-insensitively, RFC 9110 §11.1); checking it is the `CurrentUser` use case's job.

use crate::problem::ApiError;
use actix_web::dev::Payload;
use actix_web::http::header;
use actix_web::{FromRequest, HttpRequest};
use std::future::{Ready, ready};

/// Longest `Authorization` header considered, in bytes. zeropass's own tokens are well under
/// 1 KiB; anything longer is refused without being parsed.
pub const MAX_AUTHORIZATION_HEADER_BYTES: usize = 2048;

/// A bearer token taken from the `Authorization` header, not yet verified.
pub struct BearerToken(String);

impl BearerToken {
    /// The raw token.
    #[must_use]
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// Redacted: it is a credential.
impl std::fmt::Debug for BearerToken {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("BearerToken([redacted])")
    }
}

impl FromRequest for BearerToken {
    type Error = ApiError;
    type Future = Ready<Result<Self, ApiError>>;

    fn from_request(request: &HttpRequest, _payload: &mut Payload) -> Self::Future {
        ready(bearer_token(request))
    }
}

fn bearer_token(request: &HttpRequest) -> Result<BearerToken, ApiError> {
    let mut values = request.headers().get_all(header::AUTHORIZATION);
    let value = values.next().ok_or(ApiError::MissingToken)?;
    if values.next().is_some() {
        return Err(ApiError::InvalidToken(
            "several Authorization headers".into(),
        ));
    }
    if value.len() > MAX_AUTHORIZATION_HEADER_BYTES {
        return Err(ApiError::InvalidToken(
            "Authorization header too long".into(),
        ));
    }
    // Byte by byte, once: this runs on every authenticated request (and `to_str` plus `trim`
    // and a whitespace scan made three passes over a ~300-byte header).
    let (scheme, credentials) = value
        .as_bytes()
        .trim_ascii()
        .split_once_at_space()
        .ok_or(ApiError::MissingToken)?;
    if !scheme.eq_ignore_ascii_case(b"bearer") {
        return Err(ApiError::MissingToken);
    }
    let token = credentials.trim_ascii();
    if let Some((repeated, _)) = token.split_once_at_space()
        && repeated.eq_ignore_ascii_case(b"bearer")
    {
        return Err(ApiError::RepeatedBearerScheme);
    }
    // token68 (RFC 9110 §11.2) is visible ASCII: no spaces, controls or bytes past 0x7e.
    if token.is_empty() || !token.iter().all(|b| (0x21..=0x7e).contains(b)) {
        return Err(ApiError::InvalidToken(
            "malformed bearer credentials".into(),
        ));
    }
    let token = std::str::from_utf8(token)
        .map_err(|_| ApiError::InvalidToken("malformed bearer credentials".into()))?;
    Ok(BearerToken(token.to_owned()))
}

/// `split_once(' ')` for bytes (slices have no stable one yet).
trait SplitOnceAtSpace {
    fn split_once_at_space(&self) -> Option<(&[u8], &[u8])>;
}

impl SplitOnceAtSpace for [u8] {
    fn split_once_at_space(&self) -> Option<(&[u8], &[u8])> {
        let space = self.iter().position(|&b| b == b' ')?;
        Some((&self[..space], &self[space + 1..]))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use actix_web::test::TestRequest;

    fn extract(value: Option<&str>) -> Result<String, &'static str> {
        let mut request = TestRequest::default();
        if let Some(value) = value {
            request = request.insert_header((header::AUTHORIZATION, value));
        }
        bearer_token(&request.to_http_request())
            .map(|token| token.as_str().to_owned())
            .map_err(|error| error.code())
    }

    #[test]
    fn the_scheme_is_matched_case_insensitively() {
        for value in [
            "Bearer abc.def.ghi",
            "bearer abc.def.ghi",
            "BEARER abc.def.ghi",
            "  Bearer   abc.def.ghi  ",
        ] {
            assert_eq!(extract(Some(value)), Ok("abc.def.ghi".into()), "{value:?}");
        }
    }

    #[test]
    fn no_header_or_another_scheme_is_a_missing_token() {
        assert_eq!(extract(None), Err("missing_token"));
        assert_eq!(extract(Some("Basic dXNlcjpwYXNz")), Err("missing_token"));
        assert_eq!(extract(Some("Bearer")), Err("missing_token"));
    }

    #[test]
    fn malformed_credentials_are_an_invalid_token() {
        assert_eq!(extract(Some("Bearer a b")), Err("invalid_token"));
        assert_eq!(extract(Some("Bearer a\tb")), Err("invalid_token"));
        assert_eq!(extract(Some("Bearer caf\u{e9}")), Err("invalid_token"));
        let too_long = format!("Bearer {}", "a".repeat(MAX_AUTHORIZATION_HEADER_BYTES));
        assert_eq!(extract(Some(&too_long)), Err("invalid_token"));
    }

    #[test]
    fn a_repeated_bearer_scheme_is_refused_with_its_own_explanation() {
        for value in ["Bearer Bearer abc.def.ghi", "bearer BEARER  abc.def.ghi"] {
            let request = TestRequest::default()
                .insert_header((header::AUTHORIZATION, value))
                .to_http_request();
            let error = bearer_token(&request).map(|_| ()).unwrap_err();
            assert_eq!(error.code(), "invalid_token", "{value}");
            assert!(
                error.problem().detail.contains("Bearer scheme twice"),
                "{value}: {}",
                error.problem().detail
            );
        }
        assert!(
            !ApiError::InvalidToken("x".into())
                .problem()
                .detail
                .contains("twice"),
            "only the repeated scheme is explained so"
        );
    }

    #[test]
    fn two_authorization_headers_are_refused() {
        let request = TestRequest::default()
            .append_header((header::AUTHORIZATION, "Bearer a"))
            .append_header((header::AUTHORIZATION, "Bearer b"))
            .to_http_request();
        assert_eq!(
            bearer_token(&request)
                .map(|_| ())
                .map_err(|error| error.code()),
            Err("invalid_token")
        );
    }
}
