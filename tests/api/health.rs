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
