//! Checking a user access token with `{graph}/debug_token` before anything is read with it:
//! the call is authenticated with our app access token (`{app_id}|{app_secret}`) and its
//! `appsecret_proof`, and Facebook's verdict must say the token is valid, was issued to our app,
//! is a user token, has not expired, and belongs to a user. This is what stops a token that
//! another app obtained from signing its owner in here.
//!
//! Every refusal is [`IdentityError::InvalidAccessToken`] with a short fixed reason.

use crate::graph::{Endpoint, Graph};
use secrecy::{ExposeSecret, SecretString};
use serde::Deserialize;
use serde_json::{Map, Value};
use zeropass_domain::IdentityError;
use zeropass_outbound_http::unavailable_because;

fn refuse(reason: &str) -> IdentityError {
    IdentityError::InvalidAccessToken(reason.to_owned())
}

/// `/debug_token`'s answer: the verdict is under `data`.
#[derive(Debug, Deserialize)]
struct DebugTokenAnswer {
    data: Option<Map<String, Value>>,
}

/// Our app's own credentials for `/debug_token`.
pub(crate) struct AppCredentials<'a> {
    /// The app id the token must have been issued for.
    pub(crate) app_id: &'a str,
    /// `{app_id}|{app_secret}`.
    pub(crate) app_access_token: &'a SecretString,
    /// The `appsecret_proof` of the app access token.
    pub(crate) app_proof: &'a SecretString,
}

/// Asks Facebook about `user_token` and returns the id of the user it belongs to.
///
/// # Errors
/// [`IdentityError::InvalidAccessToken`] when Facebook's verdict does not hold up (see
/// [`check_verdict`]); [`IdentityError::Unavailable`] when there is no usable verdict (a Graph
/// error — which concerns our app's credentials, since Facebook reports a bad input token inside
/// `data` — 5xx, garbage, a timeout).
pub(crate) async fn user_id_of(
    graph: &Graph,
    app: &AppCredentials<'_>,
    user_token: &str,
    now: i64,
) -> Result<String, IdentityError> {
    let answer = graph
        .get::<DebugTokenAnswer>(
            Endpoint::DebugToken,
            &[
                ("input_token", user_token),
                ("access_token", app.app_access_token.expose_secret()),
                ("appsecret_proof", app.app_proof.expose_secret()),
            ],
        )
        .await?
        .map_err(|error| error.unavailable(Endpoint::DebugToken))?;
    let data = answer
        .data
        .ok_or_else(|| unavailable_because("/debug_token answered without data"))?;
    check_verdict(&data, app.app_id, now)
}

/// An id as the Graph API writes it: a string (numbers are accepted too).
fn id(value: Option<&Value>) -> Option<String> {
    match value? {
        Value::String(id) if !id.is_empty() => Some(id.clone()),
        Value::Number(id) => Some(id.to_string()),
        _ => None,
    }
}

/// Applies zeropass's rules to `/debug_token`'s `data` and returns the token's user id.
///
/// # Errors
/// [`IdentityError::InvalidAccessToken`] unless `is_valid` is `true`, `app_id` is ours, `type`
/// is `USER`, `expires_at` is absent, 0 (never expires) or after `now`, and `user_id` is set.
pub(crate) fn check_verdict(
    data: &Map<String, Value>,
    app_id: &str,
    now: i64,
) -> Result<String, IdentityError> {
    if data.get("is_valid") != Some(&Value::Bool(true)) {
        return Err(refuse("not valid"));
    }
    if id(data.get("app_id")).as_deref() != Some(app_id) {
        return Err(refuse("issued for another app"));
    }
    if data.get("type").and_then(Value::as_str) != Some("USER") {
        return Err(refuse("not a user token"));
    }
    match data.get("expires_at") {
        None | Some(Value::Null) => {}
        Some(expires_at) => match expires_at.as_i64() {
            Some(0) => {}
            Some(at) if at > now => {}
            Some(_) => return Err(refuse("expired")),
            None => return Err(refuse("malformed expiry")),
        },
    }
    id(data.get("user_id")).ok_or_else(|| refuse("no user id"))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    const APP: &str = "1234567890";
    const NOW: i64 = 1_800_000_000;

    fn verdict(overrides: Value) -> Map<String, Value> {
        let mut data = json!({
            "app_id": APP, "type": "USER", "application": "zeropass", "is_valid": true,
            "expires_at": NOW + 3600, "issued_at": NOW - 60, "scopes": ["email", "public_profile"],
            "user_id": "10158000000000001",
        });
        for (name, value) in overrides.as_object().unwrap() {
            if value.is_null() {
                data.as_object_mut().unwrap().remove(name);
            } else {
                data[name] = value.clone();
            }
        }
        data.as_object().unwrap().clone()
    }

    fn reason(result: Result<String, IdentityError>) -> String {
        match result {
            Err(IdentityError::InvalidAccessToken(reason)) => reason,
            other => panic!("expected InvalidAccessToken, got {other:?}"),
        }
    }

    #[test]
    fn a_valid_user_token_of_our_app_yields_its_user_id() {
        assert_eq!(
            check_verdict(&verdict(json!({})), APP, NOW).unwrap(),
            "10158000000000001"
        );
    }

    #[test]
    fn a_token_that_never_expires_is_accepted() {
        for never in [json!({"expires_at": 0}), json!({"expires_at": null})] {
            assert!(check_verdict(&verdict(never), APP, NOW).is_ok());
        }
    }

    #[test]
    fn numeric_ids_are_read_as_their_decimal_string() {
        let data = verdict(json!({"app_id": 1_234_567_890_u64, "user_id": 42}));
        assert_eq!(check_verdict(&data, APP, NOW).unwrap(), "42");
    }

    #[test]
    fn every_broken_rule_is_refused_with_its_reason() {
        let cases = [
            (json!({"is_valid": false}), "not valid"),
            (json!({"is_valid": "true"}), "not valid"),
            (json!({"is_valid": null}), "not valid"),
            (json!({"app_id": "999"}), "issued for another app"),
            (json!({"app_id": null}), "issued for another app"),
            (json!({"type": "PAGE"}), "not a user token"),
            (json!({"type": "APP"}), "not a user token"),
            (json!({"type": null}), "not a user token"),
            (json!({"expires_at": NOW}), "expired"),
            (json!({"expires_at": NOW - 1}), "expired"),
            (json!({"expires_at": "soon"}), "malformed expiry"),
            (json!({"user_id": null}), "no user id"),
            (json!({"user_id": ""}), "no user id"),
        ];
        for (overrides, expected) in cases {
            assert_eq!(
                reason(check_verdict(&verdict(overrides.clone()), APP, NOW)),
                expected,
                "{overrides}"
            );
        }
    }
}
