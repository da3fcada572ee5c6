//! Reading who the user is with `{graph}/me?fields=id,email`, authenticated with their user
//! access token and its `appsecret_proof`. The app-scoped `id` becomes the subject and must be
//! the user `/debug_token` vouched for; the email is required, since zeropass identifies
//! accounts by it (a person may decline the permission, or have only a phone number).

use crate::graph::{Endpoint, Graph};
use secrecy::{ExposeSecret, SecretString};
use serde_json::{Map, Value};
use zeropass_domain::{Email, IdentityError, Provider, Subject, VerifiedIdentity};
use zeropass_outbound_http::unavailable_because;

/// The fields zeropass asks `/me` for.
const FIELDS: &str = "id,email";
/// The Graph error code of an invalid, expired or revoked access token.
const INVALID_ACCESS_TOKEN: i64 = 190;

/// Reads `/me` with `user_token` and returns the identity, provided it is `expected_user_id`.
///
/// # Errors
/// [`IdentityError::InvalidAccessToken`] when the Graph API refuses the token (error 190) or
/// `/me` names another user; [`IdentityError::EmailRequired`] when there is no usable email;
/// [`IdentityError::Unavailable`] for any other Graph error, 5xx, garbage or a timeout.
pub(crate) async fn identity_of(
    graph: &Graph,
    user_token: &str,
    proof: &SecretString,
    expected_user_id: &str,
) -> Result<VerifiedIdentity, IdentityError> {
    let me = graph
        .get::<Map<String, Value>>(
            Endpoint::Me,
            &[
                ("fields", FIELDS),
                ("access_token", user_token),
                ("appsecret_proof", proof.expose_secret()),
            ],
        )
        .await?
        .map_err(|error| {
            if error.status.is_client_error() && error.code == Some(INVALID_ACCESS_TOKEN) {
                IdentityError::InvalidAccessToken("Facebook refused the token".to_owned())
            } else {
                error.unavailable(Endpoint::Me)
            }
        })?;
    identity(&me, expected_user_id)
}

/// Turns `/me`'s answer into the identity.
///
/// # Errors
/// [`IdentityError::Unavailable`] when the answer has no usable `id`;
/// [`IdentityError::InvalidAccessToken`] when the `id` is not `expected_user_id`;
/// [`IdentityError::EmailRequired`] when the email is absent, empty or not an address.
pub(crate) fn identity(
    me: &Map<String, Value>,
    expected_user_id: &str,
) -> Result<VerifiedIdentity, IdentityError> {
    let id = match me.get("id") {
        Some(Value::String(id)) => id.clone(),
        Some(Value::Number(id)) => id.to_string(),
        _ => return Err(unavailable_because("/me answered without an id")),
    };
    if id != expected_user_id {
        return Err(IdentityError::InvalidAccessToken(
            "the token's user is not the one /me describes".to_owned(),
        ));
    }
    let subject =
        Subject::parse(&id).map_err(|_| unavailable_because("/me answered an unusable id"))?;
    let email = me
        .get("email")
        .and_then(Value::as_str)
        .and_then(|raw| Email::parse(raw).ok())
        .ok_or(IdentityError::EmailRequired)?;
    Ok(VerifiedIdentity {
        provider: Provider::Facebook,
        subject,
        email,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn me(value: Value) -> Map<String, Value> {
        value.as_object().unwrap().clone()
    }

    #[test]
    fn the_app_scoped_id_is_the_subject_and_the_email_is_lower_cased() {
        let identity = identity(
            &me(json!({"id": "10158000000000001", "email": "Alice@Example.COM"})),
            "10158000000000001",
        )
        .unwrap();
        assert_eq!(identity.provider, Provider::Facebook);
        assert_eq!(identity.subject.as_str(), "10158000000000001");
        assert_eq!(identity.email.as_str(), "alice@example.com");
    }

    #[test]
    fn another_user_than_the_tokens_is_an_invalid_access_token() {
        let result = identity(&me(json!({"id": "2", "email": "a@b.co"})), "1");
        assert!(
            matches!(result, Err(IdentityError::InvalidAccessToken(_))),
            "{result:?}"
        );
    }

    #[test]
    fn an_absent_empty_or_unparsable_email_is_required() {
        for body in [
            json!({"id": "1"}),
            json!({"id": "1", "email": null}),
            json!({"id": "1", "email": ""}),
            json!({"id": "1", "email": "   "}),
            json!({"id": "1", "email": "not-an-address"}),
            json!({"id": "1", "email": 42}),
        ] {
            let result = identity(&me(body.clone()), "1");
            assert!(
                matches!(result, Err(IdentityError::EmailRequired)),
                "{body}: {result:?}"
            );
        }
    }

    #[test]
    fn an_answer_without_a_usable_id_is_unavailable() {
        for body in [json!({"email": "a@b.co"}), json!({"id": true})] {
            let result = identity(&me(body), "1");
            assert!(
                matches!(result, Err(IdentityError::Unavailable(_))),
                "{result:?}"
            );
        }
        let result = identity(&me(json!({"id": "1 2", "email": "a@b.co"})), "1 2");
        assert!(
            matches!(result, Err(IdentityError::Unavailable(_))),
            "{result:?}"
        );
    }
}
