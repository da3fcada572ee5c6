//! `/health`.

use crate::harness::{TestServer, client};
use serde_json::Value;

#[tokio::test]
async fn health_is_ok_when_the_database_answers() {
    let server = TestServer::start();
    let response = client().get(server.url("/health")).send().await.unwrap();
    assert_eq!(response.status(), 200);
    let body: Value = response.json().await.unwrap();
    assert_eq!(body["status"], "ok");
    assert_eq!(body["database"], "ok");
    assert_eq!(body["providers"], serde_json::json!({}));
}

#[tokio::test]
async fn an_in_memory_database_serves_too() {
    let server = TestServer::start_with(&[("DATABASE_URL", "sqlite://:memory:")]);
    let response = client().get(server.url("/health")).send().await.unwrap();
    assert_eq!(response.status(), 200);
}

#[tokio::test]
async fn the_health_report_and_the_start_up_line_name_the_version() {
    let server = TestServer::start();
    let body: Value = client()
        .get(server.url("/health"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(body["version"], env!("CARGO_PKG_VERSION"));
    let starting = format!("zeropass {} starting", env!("CARGO_PKG_VERSION"));
    assert!(server.logs().contains(&starting), "{}", server.logs());
}
