//! The API's own documentation: `GET /openapi.json` (generated from the handlers' annotations)
//! and `GET /docs`, a Swagger UI whose assets are compiled into the binary (no CDN: it works on
//! a machine without internet).

use crate::openapi::ApiDoc;
use actix_web::http::header;
use actix_web::{HttpResponse, web};
use std::sync::{Arc, OnceLock};
use utoipa::OpenApi;
use utoipa_swagger_ui::{Config, SwaggerUi};

/// Where the UI's assets are served.
const DOCS_ASSETS: &str = "/docs/{_:.*}";

/// The OpenAPI document of this API.
#[utoipa::path(
    get,
    path = "/openapi.json",
    tag = "operations",
    responses((status = 200, description = "OpenAPI 3 document.", content_type = "application/json", body = Object))
)]
pub async fn openapi_json() -> HttpResponse {
    static DOCUMENT: OnceLock<String> = OnceLock::new();
    let document = DOCUMENT.get_or_init(|| ApiDoc::openapi().to_json().unwrap_or_default());
    HttpResponse::Ok()
        .content_type("application/json")
        .body(document.as_str())
}

/// Interactive API documentation.
#[utoipa::path(
    get,
    path = "/docs",
    tag = "operations",
    responses((status = 200, description = "Swagger UI.", content_type = "text/html", body = String))
)]
pub async fn docs_page() -> HttpResponse {
    static PAGE: OnceLock<Option<String>> = OnceLock::new();
    match PAGE.get_or_init(docs_index) {
        Some(page) => HttpResponse::Ok()
            .insert_header((header::CONTENT_TYPE, "text/html; charset=utf-8"))
            .body(page.as_str()),
        None => HttpResponse::InternalServerError().finish(),
    }
}

/// Swagger UI's index with a `<base>` so its relative asset paths resolve under `/docs/`, and
/// `/docs` (without the trailing slash the bundled page expects) works as well as `/docs/`.
fn docs_index() -> Option<String> {
    let file = utoipa_swagger_ui::serve("index.html", Arc::new(swagger_config()))
        .ok()
        .flatten()?;
    let page = String::from_utf8(file.bytes.to_vec()).ok()?;
    page.contains("<head>")
        .then(|| page.replacen("<head>", "<head>\n    <base href=\"/docs/\">", 1))
}

fn swagger_config() -> Config<'static> {
    Config::new(["/openapi.json"])
}

/// The UI's assets.
pub fn swagger_assets() -> SwaggerUi {
    SwaggerUi::new(DOCS_ASSETS).config(swagger_config())
}

/// Registers `/openapi.json`, `/docs` and the UI's assets.
pub fn configure(config: &mut web::ServiceConfig) {
    config
        .service(web::resource("/openapi.json").get(openapi_json))
        .service(web::resource(["/docs", "/docs/"]).get(docs_page))
        .service(swagger_assets());
}
