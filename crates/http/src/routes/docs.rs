//! The API's own documentation pages: `GET /docs`, a Swagger UI whose assets are compiled into
//! the binary (no CDN: it works on a machine without internet) and which reads the document
//! `crate::openapi` serves at `/openapi.json`; and `GET /`, which sends a visitor there.

use actix_web::http::header;
use actix_web::{HttpResponse, web};
use std::sync::{Arc, OnceLock};
use utoipa_swagger_ui::{Config, SwaggerUi};

/// Where the UI's assets are served.
const DOCS_ASSETS: &str = "/docs/{_:.*}";
/// Where the UI finds the OpenAPI document (served by `crate::openapi::openapi_json`).
pub(crate) const OPENAPI_JSON: &str = "/openapi.json";

/// Nothing lives at `/`: someone who opens the server's address lands on the documentation.
#[utoipa::path(
    get,
    path = "/",
    tag = "operations",
    responses((status = 302, description = "To the interactive documentation at `/docs`.", headers(("Location" = String, description = "`/docs`"))))
)]
pub async fn root() -> HttpResponse {
    HttpResponse::Found()
        .insert_header((header::LOCATION, "/docs"))
        .finish()
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
    Config::new([OPENAPI_JSON])
}

/// The UI's assets.
pub fn swagger_assets() -> SwaggerUi {
    SwaggerUi::new(DOCS_ASSETS).config(swagger_config())
}

/// Registers `/`, `/docs` and the UI's assets (`/openapi.json` is `crate::openapi`'s).
pub fn configure(config: &mut web::ServiceConfig) {
    config
        .service(web::resource("/").get(root))
        .service(web::resource(["/docs", "/docs/"]).get(docs_page))
        .service(swagger_assets());
}
