use super::*;
use std::io::{Read, Write};
use std::net::TcpListener;

/// Serves one connection: reads the request head, answers 200, then streams `body_bytes`
/// bytes of padding in HTTP/1.1 chunks (no Content-Length) until done or the client hangs up.
/// Returns the server's URL and how many body bytes it managed to send.
fn chunked_server(body_bytes: usize) -> (Url, std::thread::JoinHandle<usize>) {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("http://{}/big", listener.local_addr().unwrap());
    let server = std::thread::spawn(move || {
        let (mut stream, _) = listener.accept().unwrap();
        let mut head = [0_u8; 4096];
        let _ = stream.read(&mut head).unwrap();
        let start = "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\n";
        stream.write_all(start.as_bytes()).unwrap();
        let chunk = vec![b'a'; 64 * 1024];
        let mut sent = 0;
        while sent < body_bytes {
            let size = chunk.len().min(body_bytes - sent);
            let frame = [format!("{size:x}\r\n").as_bytes(), &chunk[..size], b"\r\n"].concat();
            if stream.write_all(&frame).is_err() {
                return sent;
            }
            sent += size;
        }
        let _ = stream.write_all(b"0\r\n\r\n");
        sent
    });
    (Url::parse(&url).unwrap(), server)
}

/// Serves one connection with `answer` (a whole HTTP/1.1 response) and returns the request
/// head it read.
fn one_answer_server(answer: &'static str) -> (Url, std::thread::JoinHandle<String>) {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("http://{}/start", listener.local_addr().unwrap());
    let server = std::thread::spawn(move || {
        let (mut stream, _) = listener.accept().unwrap();
        let mut head = [0_u8; 4096];
        let read = stream.read(&mut head).unwrap();
        stream.write_all(answer.as_bytes()).unwrap();
        String::from_utf8_lossy(&head[..read]).into_owned()
    });
    (Url::parse(&url).unwrap(), server)
}

fn client(total_timeout: Duration, urls: UrlsInErrors) -> BoundedClient {
    let limits = Limits {
        total_timeout,
        ..Limits::default()
    };
    let loopback = Url::parse("http://127.0.0.1/").unwrap();
    BoundedClient::new(&limits, &loopback, urls).unwrap()
}

#[tokio::test]
async fn a_streamed_body_past_the_cap_is_abandoned_not_buffered() {
    // Far more than socket buffers can absorb, so `sent` shows where the client hung up.
    let endless = 64 * 1024 * 1024;
    let (url, server) = chunked_server(endless);
    let client = client(Duration::from_secs(5), UrlsInErrors::Quoted);
    let result = client.get_json(url).await;
    assert!(matches!(result, Err(HttpError::TooLarge(_))), "{result:?}");
    drop(client);
    // Joined off the runtime: the connection task must run to hang up on the server.
    let sent = tokio::task::spawn_blocking(move || server.join().unwrap())
        .await
        .unwrap();
    assert!(
        sent < endless,
        "the client read the whole body ({sent} bytes)"
    );
}

#[tokio::test]
async fn a_streamed_body_under_the_cap_is_read_whole() {
    let size = MAX_RESPONSE_BYTES - 1;
    let (url, server) = chunked_server(size);
    let response = client(Duration::from_secs(5), UrlsInErrors::Quoted)
        .get_json(url)
        .await
        .unwrap();
    assert_eq!(response.status, StatusCode::OK);
    assert_eq!(response.body.len(), size);
    let sent = tokio::task::spawn_blocking(move || server.join().unwrap())
        .await
        .unwrap();
    assert_eq!(sent, size);
}

#[tokio::test]
async fn a_declared_length_past_the_cap_is_refused_before_the_body_is_read() {
    let (url, server) = one_answer_server(
        "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: 1048577\r\n\r\n",
    );
    let result = client(Duration::from_secs(5), UrlsInErrors::Quoted)
        .get_json(url)
        .await;
    assert!(matches!(result, Err(HttpError::TooLarge(_))), "{result:?}");
    tokio::task::spawn_blocking(move || server.join().unwrap())
        .await
        .unwrap();
}

#[tokio::test]
async fn a_redirect_is_handed_back_not_followed_and_a_5xx_is_an_error() {
    let (url, server) = one_answer_server(
        "HTTP/1.1 302 Found\r\nLocation: http://127.0.0.1:9/elsewhere\r\nContent-Length: 0\r\n\r\n",
    );
    let client = client(Duration::from_secs(5), UrlsInErrors::Quoted);
    let response = client.get_json(url).await.unwrap();
    assert_eq!(response.status, StatusCode::FOUND);
    let head = tokio::task::spawn_blocking(move || server.join().unwrap())
        .await
        .unwrap();
    assert!(
        head.to_ascii_lowercase()
            .contains("accept: application/json"),
        "{head}"
    );
    assert!(head.contains("zeropass/"), "no user agent: {head}");

    let (url, server) =
        one_answer_server("HTTP/1.1 503 Service Unavailable\r\nContent-Length: 0\r\n\r\n");
    let result = client.get_json(url).await;
    assert!(
        matches!(
            result,
            Err(HttpError::ServerError(StatusCode::SERVICE_UNAVAILABLE))
        ),
        "{result:?}"
    );
    tokio::task::spawn_blocking(move || server.join().unwrap())
        .await
        .unwrap();
}

/// A URL whose connection hangs until the timeout, and one whose connection is refused, both
/// with a secret in the query. The listener must live as long as the first URL is used.
fn failing_urls() -> (TcpListener, [Url; 2]) {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    let slow = Url::parse(&format!(
        "http://127.0.0.1:{port}/me?access_token=user-token-value"
    ))
    .unwrap();
    let closed = {
        let unused = TcpListener::bind("127.0.0.1:0").unwrap();
        unused.local_addr().unwrap().port()
    };
    let refused = Url::parse(&format!(
        "http://127.0.0.1:{closed}/me?access_token=user-token-value"
    ))
    .unwrap();
    (listener, [slow, refused])
}

#[tokio::test]
async fn withheld_urls_never_reach_a_transport_error() {
    let (listener, urls) = failing_urls();
    let client = client(Duration::from_millis(300), UrlsInErrors::Withheld);
    for url in urls {
        let error = client.get_json(url).await.unwrap_err();
        let wrapped = unavailable("the call failed", &error);
        let shown = format!("{error} {error:?} {wrapped:?}");
        assert!(!shown.contains("user-token-value"), "{shown}");
        assert!(!shown.contains("access_token"), "{shown}");
    }
    drop(listener);
}

#[tokio::test]
async fn quoted_urls_name_the_endpoint_that_failed() {
    let (listener, [slow, refused]) = failing_urls();
    let client = client(Duration::from_millis(300), UrlsInErrors::Quoted);
    let timed_out = client.get_json(slow.clone()).await.unwrap_err();
    assert_eq!(
        timed_out.to_string(),
        format!("the request to {slow} timed out")
    );
    let not_connected = client.get_json(refused.clone()).await.unwrap_err();
    assert_eq!(
        not_connected.to_string(),
        format!("the request to {refused} could not connect")
    );
    drop(listener);
}

#[test]
fn an_unavailable_error_tells_the_whole_chain() {
    let error = HttpError::ServerError(StatusCode::BAD_GATEWAY);
    let IdentityError::Unavailable(source) = unavailable("fetching the keys failed", &error) else {
        panic!("not unavailable");
    };
    assert_eq!(
        source.to_string(),
        "fetching the keys failed: the server answered 502 Bad Gateway"
    );
}

#[test]
fn plain_http_is_refused_except_on_loopback() {
    let url = |raw: &str| Url::parse(raw).unwrap();
    for good in [
        "https://accounts.google.com",
        "http://localhost:9/v21.0",
        "http://LOCALHOST:9",
        "http://[::1]:9/v21.0",
        "http://127.1.2.3:9",
    ] {
        assert_eq!(check_scheme(&url(good)), Ok(()), "{good}");
    }
    assert_eq!(
        check_scheme(&url("http://graph.facebook.com/v21.0")),
        Err("plain http is accepted only for loopback hosts")
    );
    assert_eq!(
        check_scheme(&url("http://localhost.evil.example/v21.0")),
        Err("plain http is accepted only for loopback hosts")
    );
    assert_eq!(
        check_scheme(&url("ftp://graph.facebook.com/v21.0")),
        Err("the scheme must be https")
    );
    assert!(!is_loopback(&url("http://10.0.0.1")));
}

#[test]
fn debug_output_shows_neither_body_nor_headers() {
    let response = Response {
        status: StatusCode::OK,
        headers: HeaderMap::new(),
        body: b"{\"access_token\":\"EAAB-secret\"}".to_vec(),
    };
    assert!(!format!("{response:?}").contains("EAAB-secret"));
}
