//! What every test shares: signing keys with their JWKs, valid claims, a fake JWKS server
//! whose answers a test can change and whose fetches it can count, and a manual clock.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use jsonwebtoken::{Algorithm, EncodingKey, Header};
use ring::rand::SystemRandom;
use ring::signature::{ECDSA_P256_SHA256_FIXED_SIGNING, EcdsaKeyPair, Ed25519KeyPair, KeyPair};
use serde_json::{Value, json};
use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpListener;
use tokio::task::JoinHandle;
use zeropass_verify::{Clock, Verifier};

/// The `PUBLIC_URL` of the zeropass the tests pretend to be.
pub const ISSUER: &str = "https://auth.example.test";
/// Where the manual clock starts (November 2027).
pub const START: u64 = 1_827_000_000;

/// A private key, its `kid` and `alg`, and its public JWK as the contract shapes it.
pub struct SigningKey {
    pub kid: String,
    pub alg: Algorithm,
    encoding: EncodingKey,
    pub jwk: Value,
    /// The raw public key bytes (for the "public key as HMAC secret" attack).
    pub public: Vec<u8>,
}

/// A fresh P-256 key: `kty: EC, crv: P-256, x, y`.
pub fn es256(kid: &str) -> SigningKey {
    let rng = SystemRandom::new();
    let pkcs8 = EcdsaKeyPair::generate_pkcs8(&ECDSA_P256_SHA256_FIXED_SIGNING, &rng).unwrap();
    let pair =
        EcdsaKeyPair::from_pkcs8(&ECDSA_P256_SHA256_FIXED_SIGNING, pkcs8.as_ref(), &rng).unwrap();
    let public = pair.public_key().as_ref().to_vec(); // 0x04 || x || y
    let jwk = json!({
        "kty": "EC", "crv": "P-256",
        "x": URL_SAFE_NO_PAD.encode(&public[1..33]),
        "y": URL_SAFE_NO_PAD.encode(&public[33..65]),
        "kid": kid, "alg": "ES256", "use": "sig",
    });
    SigningKey {
        kid: kid.to_owned(),
        alg: Algorithm::ES256,
        encoding: EncodingKey::from_ec_der(pkcs8.as_ref()),
        jwk,
        public,
    }
}

/// A fresh Ed25519 key: `kty: OKP, crv: Ed25519, x`.
pub fn eddsa(kid: &str) -> SigningKey {
    let pkcs8 = Ed25519KeyPair::generate_pkcs8(&SystemRandom::new()).unwrap();
    let pair = Ed25519KeyPair::from_pkcs8(pkcs8.as_ref()).unwrap();
    let public = pair.public_key().as_ref().to_vec();
    let jwk = json!({
        "kty": "OKP", "crv": "Ed25519", "x": URL_SAFE_NO_PAD.encode(&public),
        "kid": kid, "alg": "EdDSA", "use": "sig",
    });
    SigningKey {
        kid: kid.to_owned(),
        alg: Algorithm::EdDSA,
        encoding: EncodingKey::from_ed_der(pkcs8.as_ref()),
        jwk,
        public,
    }
}

impl SigningKey {
    /// A token over `claims`, with this key's `alg` and `kid` in the header.
    pub fn sign(&self, claims: &Value) -> String {
        let mut header = Header::new(self.alg);
        header.kid = Some(self.kid.clone());
        jsonwebtoken::encode(&header, claims, &self.encoding).unwrap()
    }

    /// A properly signed token whose header marks an extension as critical.
    pub fn sign_with_crit(&self, claims: &Value) -> String {
        let mut header = Header::new(self.alg);
        header.kid = Some(self.kid.clone());
        header.crit = Some(vec!["exp".to_owned()]);
        jsonwebtoken::encode(&header, claims, &self.encoding).unwrap()
    }

    /// A token over `claims` whose header names no key.
    pub fn sign_without_kid(&self, claims: &Value) -> String {
        jsonwebtoken::encode(&Header::new(self.alg), claims, &self.encoding).unwrap()
    }
}

/// The claims zeropass issues, valid for 15 minutes from `now`.
pub fn claims_at(now: u64) -> Value {
    json!({
        "sub": "0b8f3c2e-4c1d-4a8e-9f3a-2d7c5e6b1a90",
        "email": "ada@example.com",
        "provider": "google",
        "iat": now,
        "exp": now + 900,
        "iss": ISSUER,
        "aud": "zeropass",
        "jti": "6f1e2d3c-4b5a-4978-8695-a4b3c2d1e0f9",
    })
}

/// The claims at the start of the manual clock.
pub fn claims() -> Value {
    claims_at(START)
}

/// `claims` with `field` replaced.
pub fn with(mut claims: Value, field: &str, value: Value) -> Value {
    claims[field] = value;
    claims
}

/// A clock the test moves by hand.
#[derive(Debug, Clone)]
pub struct ManualClock(Arc<AtomicU64>);

impl ManualClock {
    pub fn new() -> Self {
        Self(Arc::new(AtomicU64::new(START)))
    }

    pub fn advance(&self, seconds: u64) {
        self.0.fetch_add(seconds, Ordering::SeqCst);
    }
}

impl Clock for ManualClock {
    fn now(&self) -> u64 {
        self.0.load(Ordering::SeqCst)
    }
}

/// What the fake server answers to the next fetches.
#[derive(Clone)]
struct Answer {
    status: u16,
    body: String,
    cache_control: Option<String>,
    /// Send `Content-Length` (otherwise the body ends when the connection closes).
    declare_length: bool,
    /// Read the request and never answer.
    hang: bool,
}

/// A JWKS endpoint on loopback that counts the fetches it serves.
pub struct FakeJwks {
    address: SocketAddr,
    answer: Arc<Mutex<Answer>>,
    fetches: Arc<AtomicUsize>,
    task: JoinHandle<()>,
}

impl FakeJwks {
    /// A server publishing `keys`, with `Cache-Control: public, max-age=300`.
    pub async fn publishing(keys: &[&SigningKey]) -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let address = listener.local_addr().unwrap();
        let answer = Arc::new(Mutex::new(Answer {
            status: 200,
            body: String::new(),
            cache_control: Some("public, max-age=300".to_owned()),
            declare_length: true,
            hang: false,
        }));
        let fetches = Arc::new(AtomicUsize::new(0));
        let task = tokio::spawn(serve(listener, Arc::clone(&answer), Arc::clone(&fetches)));
        let server = Self {
            address,
            answer,
            fetches,
            task,
        };
        server.publish(keys);
        server
    }

    pub fn url(&self) -> String {
        format!("http://{}/.well-known/jwks.json", self.address)
    }

    /// How many requests the server has received.
    pub fn fetches(&self) -> usize {
        self.fetches.load(Ordering::SeqCst)
    }

    /// From now on, answer 200 with these keys.
    pub fn publish(&self, keys: &[&SigningKey]) {
        let jwks: Vec<&Value> = keys.iter().map(|key| &key.jwk).collect();
        self.set_body(json!({ "keys": jwks }).to_string());
        self.answer.lock().unwrap().status = 200;
    }

    pub fn set_body(&self, body: String) {
        self.answer.lock().unwrap().body = body;
    }

    pub fn set_status(&self, status: u16) {
        self.answer.lock().unwrap().status = status;
    }

    pub fn set_cache_control(&self, value: Option<&str>) {
        self.answer.lock().unwrap().cache_control = value.map(str::to_owned);
    }

    pub fn set_declare_length(&self, declare: bool) {
        self.answer.lock().unwrap().declare_length = declare;
    }

    pub fn set_hang(&self, hang: bool) {
        self.answer.lock().unwrap().hang = hang;
    }

    /// A verifier of [`ISSUER`] fetching from this server, on `clock`.
    pub fn verifier(&self, clock: &ManualClock) -> Verifier {
        self.verifier_builder(clock).build().unwrap()
    }

    pub fn verifier_builder(&self, clock: &ManualClock) -> zeropass_verify::VerifierBuilder {
        Verifier::builder(ISSUER)
            .jwks_url(self.url())
            .clock(Arc::new(clock.clone()))
    }
}

impl Drop for FakeJwks {
    fn drop(&mut self) {
        self.task.abort();
    }
}

async fn serve(listener: TcpListener, answer: Arc<Mutex<Answer>>, fetches: Arc<AtomicUsize>) {
    loop {
        let Ok((mut socket, _)) = listener.accept().await else {
            return;
        };
        let answer = Arc::clone(&answer);
        let fetches = Arc::clone(&fetches);
        tokio::spawn(async move {
            let mut request = Vec::new();
            let mut buffer = [0_u8; 1024];
            while !request.windows(4).any(|window| window == b"\r\n\r\n") {
                match socket.read(&mut buffer).await {
                    Ok(0) | Err(_) => return,
                    Ok(read) => request.extend_from_slice(&buffer[..read]),
                }
            }
            fetches.fetch_add(1, Ordering::SeqCst);
            let answer = answer.lock().unwrap().clone();
            if answer.hang {
                // Hold the connection open without a byte until the client gives up.
                let _ = socket.read(&mut buffer).await;
                return;
            }
            let mut head = format!(
                "HTTP/1.1 {} X\r\nContent-Type: application/json\r\nConnection: close\r\n",
                answer.status
            );
            if let Some(value) = &answer.cache_control {
                head.push_str(&format!("Cache-Control: {value}\r\n"));
            }
            if answer.declare_length {
                head.push_str(&format!("Content-Length: {}\r\n", answer.body.len()));
            }
            head.push_str("\r\n");
            let _ = socket.write_all(head.as_bytes()).await;
            let _ = socket.write_all(answer.body.as_bytes()).await;
            let _ = socket.shutdown().await;
        });
    }
}

/// A bound for tests that must finish quickly: generous against a loaded machine, far below
/// anything that would mean "hung".
pub const QUICKLY: Duration = Duration::from_secs(3);
