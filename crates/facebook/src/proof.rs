//! `appsecret_proof`: the lowercase hex HMAC-SHA256 of an access token keyed with the app
//! secret. Facebook accepts a call carrying it only from someone who knows the secret, so a
//! user token stolen from a phone cannot be replayed against the Graph API in our app's name.

use hmac::{Hmac, Mac};
use secrecy::{ExposeSecret, SecretString};
use sha2::Sha256;

/// The proof of `access_token` under `app_secret`, as the Graph API expects it.
#[must_use]
pub(crate) fn appsecret_proof(app_secret: &SecretString, access_token: &str) -> SecretString {
    // HMAC takes keys of any length: `new_from_slice` cannot fail here, and if it ever did the
    // empty proof would simply be refused by Facebook.
    let digest = <Hmac<Sha256> as Mac>::new_from_slice(app_secret.expose_secret().as_bytes())
        .map(|mut mac| {
            mac.update(access_token.as_bytes());
            mac.finalize().into_bytes()
        })
        .map(|bytes| lower_hex(&bytes))
        .unwrap_or_default();
    SecretString::from(digest)
}

fn lower_hex(bytes: &[u8]) -> String {
    const DIGITS: &[u8; 16] = b"0123456789abcdef";
    let mut hex = String::with_capacity(bytes.len() * 2);
    for byte in bytes {
        hex.push(char::from(DIGITS[usize::from(byte >> 4)]));
        hex.push(char::from(DIGITS[usize::from(byte & 0x0f)]));
    }
    hex
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_proof_is_the_lowercase_hex_hmac_sha256_of_the_token() {
        // RFC 4231 test case 2: key "Jefe", data "what do ya want for nothing?".
        let proof = appsecret_proof(&SecretString::from("Jefe"), "what do ya want for nothing?");
        assert_eq!(
            proof.expose_secret(),
            "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843"
        );
    }

    #[test]
    fn the_proof_depends_on_the_secret_and_the_token() {
        let secret = SecretString::from("app-secret");
        let one = appsecret_proof(&secret, "token-1");
        assert_ne!(
            one.expose_secret(),
            appsecret_proof(&secret, "token-2").expose_secret()
        );
        assert_ne!(
            one.expose_secret(),
            appsecret_proof(&SecretString::from("other"), "token-1").expose_secret()
        );
    }
}
