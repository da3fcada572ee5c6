//! Reading the token out of an `Authorization` header, shared by the actix-web extractor and
//! the tower layer (and usable by any other middleware).

/// The token of an `Authorization: Bearer <token>` header value: the scheme is matched
/// without regard to case (RFC 7235 §2.1), surrounding spaces are dropped; `None` for any
/// other scheme or an empty token.
#[must_use]
pub fn bearer_token(header_value: &str) -> Option<&str> {
    let (scheme, token) = header_value.trim().split_once(' ')?;
    let token = token.trim();
    (scheme.eq_ignore_ascii_case("bearer") && !token.is_empty()).then_some(token)
}

#[cfg(test)]
mod tests {
    use super::bearer_token;

    #[test]
    fn the_token_follows_a_bearer_scheme_in_any_case() {
        assert_eq!(bearer_token("Bearer abc.def.ghi"), Some("abc.def.ghi"));
        assert_eq!(bearer_token("bearer  abc "), Some("abc"));
    }

    #[test]
    fn other_schemes_and_empty_tokens_yield_nothing() {
        assert_eq!(bearer_token("Basic dXNlcjpwYXNz"), None);
        assert_eq!(bearer_token("Bearer "), None);
        assert_eq!(bearer_token("Bearer"), None);
    }
}
