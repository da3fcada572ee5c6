//! A request body accepted as JSON or as an HTML form (`application/x-www-form-urlencoded`),
//! as OAuth 2.0 client libraries send token requests form-encoded (RFC 6749 §4.1.3) while
//! the rest of the API speaks JSON. The `Content-Type` decides; anything but a form goes to
//! actix's JSON extractor (so a missing or foreign type is a 415), and both kinds of failure
//! become the same problem documents with the same size limit (16 KiB).

use crate::bare_errors::form_error;
use actix_web::dev::Payload;
use actix_web::error::UrlencodedError;
use actix_web::http::header;
use actix_web::{FromRequest, HttpRequest, web};
use serde::de::DeserializeOwned;
use std::future::Future;
use std::pin::Pin;

const FORM: &str = "application/x-www-form-urlencoded";

/// The body, parsed from JSON or from a form.
#[derive(Debug)]
pub(crate) struct JsonOrForm<T>(pub(crate) T);

impl<T: DeserializeOwned + 'static> FromRequest for JsonOrForm<T> {
    type Error = actix_web::Error;
    type Future = Pin<Box<dyn Future<Output = Result<Self, Self::Error>>>>;

    fn from_request(request: &HttpRequest, payload: &mut Payload) -> Self::Future {
        if is_form(request) {
            let form = web::Form::<T>::from_request(request, payload);
            Box::pin(async move {
                form.await
                    .map(|form| Self(form.into_inner()))
                    .map_err(|error| match error.as_error::<UrlencodedError>() {
                        Some(error) => form_error(error).into(),
                        None => error,
                    })
            })
        } else {
            let json = web::Json::<T>::from_request(request, payload);
            Box::pin(async move { json.await.map(|json| Self(json.into_inner())) })
        }
    }
}

fn is_form(request: &HttpRequest) -> bool {
    request
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|value| value.to_str().ok())
        .and_then(|value| value.split(';').next())
        .is_some_and(|media_type| media_type.trim().eq_ignore_ascii_case(FORM))
}
