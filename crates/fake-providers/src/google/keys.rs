//! The fake Google's signing keys: the fixed public test keys in `keys/` (never generated at
//! run time, which is slow in debug builds), their JWKs, and RS256 signing of arbitrary JWS
//! headers and claims — hostile tests need headers that `jsonwebtoken::encode` would refuse.
//! Signing uses `ring` (about three times faster than the pure-Rust `rsa` crate behind
//! jsonwebtoken here), so the benchmark can mint a million id_tokens in minutes.

use std::io;

use base64::Engine as _;
use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use jsonwebtoken::jwk::{AlgorithmParameters, Jwk};
use jsonwebtoken::{Algorithm, EncodingKey};
use ring::rand::SystemRandom;
use ring::signature::{RSA_PKCS1_SHA256, RsaKeyPair};
use serde_json::{Map, Value, json};

/// The PKCS#1 PEM files shipped in `keys/`, with the `kid` each one is published under.
const PEMS: [(&str, &str); 3] = [
    (
        "fake-google-test-key-1",
        include_str!("../../keys/test-key-1.pem"),
    ),
    (
        "fake-google-test-key-2",
        include_str!("../../keys/test-key-2.pem"),
    ),
    (
        "fake-google-test-key-3",
        include_str!("../../keys/test-key-3.pem"),
    ),
];

/// Index into [`Keys::all`] of the key that is never published in the JWKS.
pub(crate) const UNPUBLISHED: usize = 2;

/// How many keys take turns as the current (published) key: all but the unpublished one.
pub(crate) const ROTATING: usize = 2;

/// One RSA test key pair.
pub(crate) struct SigningKey {
    pub(crate) kid: &'static str,
    key_pair: RsaKeyPair,
    /// The public half as Google publishes it: `kty`, `alg`, `use`, `kid`, `n`, `e`.
    pub(crate) jwk: Value,
}

/// The three test keys, loaded once per fake.
pub(crate) struct Keys {
    pub(crate) all: Vec<SigningKey>,
}

impl Keys {
    /// Decodes the shipped PEM files.
    ///
    /// # Errors
    /// `InvalidData` if a shipped key does not parse (a corrupted checkout).
    pub(crate) fn load() -> io::Result<Self> {
        let all = PEMS.iter().map(|(kid, pem)| SigningKey::from_pem(kid, pem));
        Ok(Self {
            all: all.collect::<io::Result<_>>()?,
        })
    }
}

impl SigningKey {
    fn from_pem(kid: &'static str, pem: &str) -> io::Result<Self> {
        let invalid =
            |what: &str| io::Error::new(io::ErrorKind::InvalidData, format!("{kid}: {what}"));
        // PEM is base64 of the DER between the BEGIN and END lines; that is all we need of it.
        let body: String = pem
            .lines()
            .filter(|line| !line.starts_with("-----"))
            .collect();
        let der = STANDARD
            .decode(body.trim())
            .map_err(|_| invalid("not base64 PEM"))?;
        let key_pair = RsaKeyPair::from_der(&der).map_err(|_| invalid("not a PKCS#1 RSA key"))?;
        let public = Jwk::from_encoding_key(&EncodingKey::from_rsa_der(&der), Algorithm::RS256)
            .map_err(|error| invalid(&error.to_string()))?;
        let AlgorithmParameters::RSA(rsa) = public.algorithm else {
            return Err(invalid("not an RSA key"));
        };
        let jwk =
            json!({"kty": "RSA", "alg": "RS256", "use": "sig", "kid": kid, "n": rsa.n, "e": rsa.e});
        Ok(Self { kid, key_pair, jwk })
    }

    /// Signs `claims` under `header` with RS256, whatever the header says. `alg` and `kid`
    /// default to `RS256` and this key's kid when the header lacks them; a header that is not
    /// an object counts as empty.
    pub(crate) fn sign(
        &self,
        header: Value,
        claims: &Value,
    ) -> Result<String, ring::error::Unspecified> {
        let mut header = match header {
            Value::Object(fields) => fields,
            _ => Map::new(),
        };
        header.entry("alg").or_insert_with(|| json!("RS256"));
        header.entry("kid").or_insert_with(|| json!(self.kid));
        let message = format!(
            "{}.{}",
            URL_SAFE_NO_PAD.encode(Value::Object(header).to_string()),
            URL_SAFE_NO_PAD.encode(claims.to_string())
        );
        let mut signature = vec![0; self.key_pair.public().modulus_len()];
        self.key_pair.sign(
            &RSA_PKCS1_SHA256,
            &SystemRandom::new(),
            message.as_bytes(),
            &mut signature,
        )?;
        Ok(format!("{message}.{}", URL_SAFE_NO_PAD.encode(signature)))
    }
}
