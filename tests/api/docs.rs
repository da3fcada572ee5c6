//! `/openapi.json` and `/docs`: complete, and served entirely by zeropass itself.

use crate::harness::{TestServer, client};
use serde_json::Value;

#[tokio::test]
async fn the_openapi_document_lists_every_contract_endpoint() {
    let server = TestServer::start();
    let response = client()
        .get(server.url("/openapi.json"))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    let document: Value = response.json().await.unwrap();
    assert!(
        document["openapi"].as_str().unwrap().starts_with("3."),
        "{}",
        document["openapi"]
    );
    let expected = [
        ("/health", "get"),
        ("/.well-known/jwks.json", "get"),
        ("/auth/google/start", "get"),
        ("/auth/google/callback", "get"),
        ("/auth/google/token", "post"),
        ("/auth/facebook/start", "get"),
        ("/auth/facebook/callback", "get"),
        ("/auth/facebook/token", "post"),
        ("/users/me", "get"),
        ("/users/me", "delete"),
        ("/openapi.json", "get"),
        ("/docs", "get"),
        ("/", "get"),
    ];
    for (path, method) in expected {
        assert!(
            document["paths"][path][method].is_object(),
            "{method} {path} is not documented"
        );
    }
    let problem = &document["components"]["schemas"]["Problem"]["properties"];
    for member in ["type", "title", "status", "detail", "code"] {
        assert!(problem[member].is_object(), "Problem lacks {member}");
    }
    let me_401 = &document["paths"]["/users/me"]["get"]["responses"]["401"]["content"];
    assert!(
        me_401["application/problem+json"].is_object(),
        "401 of /users/me is not problem+json: {me_401}"
    );
}

#[tokio::test]
async fn the_docs_page_and_all_its_assets_are_served_locally() {
    let server = TestServer::start();
    for page in ["/docs", "/docs/"] {
        let response = client().get(server.url(page)).send().await.unwrap();
        assert_eq!(response.status(), 200, "{page}");
        assert!(
            response.headers()["content-type"]
                .to_str()
                .unwrap()
                .starts_with("text/html")
        );
        let html = response.text().await.unwrap();
        let assets: Vec<&str> = html
            .split(['"', '\''])
            .filter(|part| {
                part.ends_with(".js") || part.ends_with(".css") || part.ends_with(".png")
            })
            .collect();
        assert!(
            assets
                .iter()
                .any(|asset| asset.ends_with("swagger-ui-bundle.js")),
            "{html}"
        );
        assert!(html.contains(r#"<base href="/docs/">"#), "{html}");
        for asset in assets {
            assert!(
                !asset.contains("//"),
                "{page} loads {asset} from another host"
            );
            let local = format!(
                "/docs/{}",
                asset.trim_start_matches("./").trim_start_matches("/docs/")
            );
            let response = client().get(server.url(&local)).send().await.unwrap();
            assert_eq!(response.status(), 200, "{local}");
        }
    }
    let initializer = client()
        .get(server.url("/docs/swagger-initializer.js"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(initializer.contains("/openapi.json"), "{initializer}");
}

#[tokio::test]
async fn the_servers_root_sends_a_visitor_to_the_docs() {
    let server = TestServer::start();
    let response = client().get(server.url("/")).send().await.unwrap();
    assert_eq!(response.status(), 302);
    assert_eq!(response.headers()["location"], "/docs");
}
