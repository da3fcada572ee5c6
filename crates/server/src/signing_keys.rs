//! The stored signing keys of `JWT_ALGORITHM` `ES256` or `EdDSA`, wired for the server and the
//! `keys` commands: the domain's [`SigningKeys`] use case over the database's key store, ring's
//! key generator and the host's clock, with the policy the configuration implies. A serving
//! instance loads the keys once before it listens (a failure stops the start, naming
//! `JWT_SECRET` when a key cannot be opened and `DATABASE_URL` when the store fails), then
//! reloads them every `JWT_KEY_RELOAD_SECONDS` in the background: a failed reload is one WARN
//! line and the previous keys stay in use, so a database hiccup never stops token signing.

use crate::config::{ConfigError, KeySettings};
use std::sync::Arc;
use std::time::Duration;
use zeropass_domain::{KeyId, KeyPolicy, KeyRing, SigningKeyError, SigningKeys, SystemClock};
use zeropass_http::JWKS_MAX_AGE_SECONDS;
use zeropass_jwt::{JwtSecret, KeyRingAccessTokens, LEEWAY_SECONDS, RingKeyGenerator};
use zeropass_store::Database;

/// The rules' settings: the configured algorithm and rotation, the JWKS `max-age` the HTTP
/// layer announces, and how long a token stays acceptable (its lifetime plus the leeway).
pub(crate) fn policy(settings: &KeySettings, ttl_seconds: u64) -> KeyPolicy {
    let lifetime = ttl_seconds.saturating_add(LEEWAY_SECONDS);
    KeyPolicy {
        algorithm: settings.algorithm,
        rotation: (settings.rotation_days > 0)
            .then(|| chrono::Duration::days(i64::from(settings.rotation_days))),
        jwks_max_age: chrono::Duration::seconds(i64::from(JWKS_MAX_AGE_SECONDS)),
        token_lifetime: chrono::Duration::seconds(i64::try_from(lifetime).unwrap_or(i64::MAX)),
    }
}

/// The use case over this database, sealing new keys under `secret`.
pub(crate) fn use_case(
    database: &Database,
    secret: &JwtSecret,
    settings: &KeySettings,
    ttl_seconds: u64,
) -> SigningKeys {
    SigningKeys::new(
        database.signing_keys(),
        Arc::new(RingKeyGenerator::new(secret)),
        Arc::new(SystemClock),
        policy(settings, ttl_seconds),
    )
}

/// What the start-up line says when the keys cannot be loaded: the variable at fault.
pub(crate) fn store_failure(error: &SigningKeyError) -> ConfigError {
    match error {
        SigningKeyError::Generation(_) => ConfigError::new(
            "JWT_SECRET",
            format!("cannot make a signing key: {}", with_causes(error)),
        ),
        SigningKeyError::Store(_) | SigningKeyError::Contended => ConfigError::new(
            "DATABASE_URL",
            format!(
                "cannot read or store the signing keys: {}",
                with_causes(error)
            ),
        ),
    }
}

/// An error and its causes on one line (none of them carries key material: the adapters'
/// errors name what failed, never a key's bytes).
pub(crate) fn with_causes(error: &dyn std::error::Error) -> String {
    let mut line = error.to_string();
    let mut cause = error.source();
    while let Some(error) = cause {
        line.push_str(": ");
        line.push_str(&error.to_string());
        cause = error.source();
    }
    line
}

/// Keeps a serving instance's keys up to date: the use case and the token adapter it installs
/// the keys into.
pub(crate) struct KeyReloader {
    keys: SigningKeys,
    tokens: Arc<KeyRingAccessTokens>,
    /// The key that signed after the last successful load, to log a change once.
    signing: std::sync::Mutex<Option<KeyId>>,
}

impl KeyReloader {
    pub(crate) fn new(keys: SigningKeys, tokens: Arc<KeyRingAccessTokens>) -> Self {
        Self {
            keys,
            tokens,
            signing: std::sync::Mutex::new(None),
        }
    }

    /// Refreshes the keys (making the first or the next one when due) and installs them.
    ///
    /// # Errors
    /// [`ConfigError`] naming `DATABASE_URL` (the store) or `JWT_SECRET` (a key that cannot
    /// be made or opened: the secret is not the one that sealed it).
    pub(crate) async fn load(&self) -> Result<(), ConfigError> {
        let ring = self
            .keys
            .refresh()
            .await
            .map_err(|error| store_failure(&error))?;
        self.tokens.install(&ring).map_err(|error| {
            ConfigError::new(
                "JWT_SECRET",
                format!(
                    "cannot open the stored signing keys: {}",
                    with_causes(&error)
                ),
            )
        })?;
        self.note_signing_key(&ring);
        Ok(())
    }

    /// One INFO line when the signing key changes (its `kid` only).
    fn note_signing_key(&self, ring: &KeyRing) {
        let now = ring.signing().map(|key| key.kid.clone());
        let Ok(mut before) = self.signing.lock() else {
            return;
        };
        if *before != now {
            match &now {
                Some(kid) => tracing::info!(
                    %kid,
                    algorithm = %self.keys.policy().algorithm,
                    published = ring.published().count(),
                    "signing with key {kid}"
                ),
                None => tracing::warn!("no signing key is usable"),
            }
            before.clone_from(&now);
        }
    }

    /// Reloads every `interval` until dropped (the task is aborted when the server stops). A
    /// failure is one WARN line; the keys installed before stay in use.
    pub(crate) async fn reload_every(self: Arc<Self>, interval: Duration) {
        let mut ticks = tokio::time::interval(interval);
        ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        ticks.tick().await; // the first tick is immediate: the keys were just loaded
        loop {
            ticks.tick().await;
            if let Err(error) = self.load().await {
                tracing::warn!(
                    "the signing keys could not be reloaded, the previous ones stay in use: {error}"
                );
            }
        }
    }
}

/// The background reload of a serving instance; dropping it ends the task.
#[derive(Debug)]
pub(crate) struct ReloadingTask(actix_web::rt::task::JoinHandle<()>);

impl ReloadingTask {
    /// Reloads through `reloader` every `interval` on the current actix runtime.
    pub(crate) fn spawn(reloader: Arc<KeyReloader>, interval: Duration) -> Self {
        Self(actix_web::rt::spawn(reloader.reload_every(interval)))
    }
}

impl Drop for ReloadingTask {
    fn drop(&mut self) {
        self.0.abort();
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use base64::Engine;
    use std::sync::atomic::{AtomicBool, Ordering};
    use zeropass_domain::{
        AccessTokens, Email, MockSigningKeyStore, Provider, RepositoryError, SigningAlgorithm,
        SigningKeyGenerator, StoredSigningKey, Subject, User, UserId,
    };
    use zeropass_jwt::KeyRingConfig;

    fn secret(byte: u8) -> JwtSecret {
        JwtSecret::new(vec![byte; 32]).unwrap()
    }

    /// An EdDSA key made an hour ago, sealed under `sealed_with`.
    fn stored_key(sealed_with: &JwtSecret) -> StoredSigningKey {
        let kid = KeyId::random().unwrap();
        let generated = RingKeyGenerator::new(sealed_with)
            .generate(SigningAlgorithm::EdDsa, &kid)
            .unwrap();
        let an_hour_ago = chrono::Utc::now() - chrono::Duration::hours(1);
        StoredSigningKey {
            kid,
            algorithm: SigningAlgorithm::EdDsa,
            generation: 1,
            public_key: generated.public_key,
            sealed_private_key: generated.sealed_private_key,
            created_at: an_hour_ago,
            activates_at: an_hour_ago,
        }
    }

    /// A reloader under `secret` over a store holding `key`, which fails while `failing` is set.
    fn reloader(
        secret: &JwtSecret,
        key: StoredSigningKey,
        failing: Arc<AtomicBool>,
    ) -> (KeyReloader, Arc<KeyRingAccessTokens>) {
        let mut store = MockSigningKeyStore::new();
        store.expect_list_signing_keys().returning(move || {
            if failing.load(Ordering::SeqCst) {
                Err(RepositoryError::Unavailable("the database is down".into()))
            } else {
                Ok(vec![key.clone()])
            }
        });
        let keys = SigningKeys::new(
            Arc::new(store),
            Arc::new(RingKeyGenerator::new(secret)),
            Arc::new(SystemClock),
            policy(&settings(0), 60),
        );
        let tokens = Arc::new(KeyRingAccessTokens::new(
            secret,
            KeyRingConfig {
                algorithm: SigningAlgorithm::EdDsa,
                issuer: "http://zeropass.test".into(),
                ttl: Duration::from_secs(60),
            },
        ));
        (KeyReloader::new(keys, Arc::clone(&tokens)), tokens)
    }

    fn kid_of(token: &str) -> String {
        let header = token.split('.').next().unwrap();
        let header: serde_json::Value = serde_json::from_slice(
            &base64::engine::general_purpose::URL_SAFE_NO_PAD
                .decode(header)
                .unwrap(),
        )
        .unwrap();
        header["kid"].as_str().unwrap().to_owned()
    }

    #[tokio::test]
    async fn a_failed_reload_names_the_database_and_keeps_the_keys_in_use() {
        let secret = secret(7);
        let key = stored_key(&secret);
        let failing = Arc::new(AtomicBool::new(false));
        let (reloader, tokens) = reloader(&secret, key.clone(), Arc::clone(&failing));
        reloader.load().await.unwrap();
        let published = tokens.published_keys();
        assert_eq!(published.len(), 1);

        failing.store(true, Ordering::SeqCst);
        let error = reloader.load().await.unwrap_err();
        assert_eq!(error.variable, "DATABASE_URL");
        assert!(
            error.to_string().contains("the database is down"),
            "{error}"
        );
        assert_eq!(tokens.published_keys(), published);
        let ada = User {
            id: UserId::from_uuid(uuid::Uuid::from_u128(1)),
            email: Email::parse("ada@example.com").unwrap(),
            provider: Provider::Google,
            subject: Subject::parse("ada").unwrap(),
            is_active: true,
            created_at: chrono::Utc::now(),
        };
        let token = tokens.issue(&ada).unwrap().token;
        assert_eq!(kid_of(&token), key.kid.as_str());
    }

    #[tokio::test]
    async fn keys_sealed_under_another_secret_stop_the_start_naming_jwt_secret() {
        let key = stored_key(&secret(1));
        let (reloader, tokens) = reloader(&secret(2), key, Arc::new(AtomicBool::new(false)));
        let error = reloader.load().await.unwrap_err();
        assert_eq!(error.variable, "JWT_SECRET");
        assert!(tokens.published_keys().is_empty());
    }

    fn settings(rotation_days: u32) -> KeySettings {
        KeySettings {
            algorithm: SigningAlgorithm::EdDsa,
            rotation_days,
            reload_interval: Duration::from_secs(30),
        }
    }

    #[test]
    fn the_policy_takes_the_jwks_max_age_and_the_token_lifetime_with_its_leeway() {
        let policy = policy(&settings(30), 3600);
        assert_eq!(policy.algorithm, SigningAlgorithm::EdDsa);
        assert_eq!(policy.rotation, Some(chrono::Duration::days(30)));
        assert_eq!(policy.jwks_max_age, chrono::Duration::seconds(300));
        assert_eq!(
            policy.token_lifetime,
            chrono::Duration::seconds(3600 + i64::try_from(LEEWAY_SECONDS).unwrap())
        );
    }

    #[test]
    fn zero_rotation_days_means_never_automatically() {
        assert_eq!(policy(&settings(0), 60).rotation, None);
    }

    #[test]
    fn a_store_failure_names_database_url_and_a_generation_failure_jwt_secret() {
        let store =
            SigningKeyError::Store(zeropass_domain::RepositoryError::Unavailable("down".into()));
        assert_eq!(store_failure(&store).variable, "DATABASE_URL");
        assert_eq!(
            store_failure(&SigningKeyError::Contended).variable,
            "DATABASE_URL"
        );
        let generation = SigningKeyError::Generation("no randomness".into());
        assert_eq!(store_failure(&generation).variable, "JWT_SECRET");
    }
}
