//! Who is calling: the key directory. Keys come from the config file (held in
//! memory) and from the admin API (stored in SQLite as the SHA-256 of the
//! secret, never the secret). Every look-up hashes the presented key; stored
//! keys are cached in memory (moka, found and not found alike) and the entry is
//! dropped when a key is created or revoked, so a revoked key fails at once.
//!
//! Config keys have no stored id; theirs is `cfgkey_` and the first 16 hex
//! digits of the hash, stable across restarts, so the admin API can name them.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use sha2::{Digest, Sha256};
use uuid::Uuid;

use super::limits::RateLimits;
use crate::config::{Config, ConfigError};
use crate::coordination::Coordinator;
use crate::store::access::{AccessStore, KeyRow};
use crate::store::error::StoreResult;
use crate::wire::admin::KeyObject;

/// Where a key comes from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum KeySource {
    Config,
    Admin,
}

impl KeySource {
    /// `config` or `admin`.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Config => "config",
            Self::Admin => "admin",
        }
    }
}

/// A known key (no secret).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KnownKey {
    pub id: String,
    pub project: String,
    pub name: Option<String>,
    pub created_at: Option<i64>,
    pub revoked: bool,
    pub limits: RateLimits,
    pub source: KeySource,
}

impl From<KeyRow> for KnownKey {
    fn from(row: KeyRow) -> Self {
        Self {
            id: row.id,
            project: row.project,
            name: row.name,
            created_at: Some(row.created_at),
            revoked: row.revoked_at.is_some(),
            limits: RateLimits {
                requests_per_minute: row.requests_per_minute,
                tokens_per_minute: row.tokens_per_minute,
            },
            source: KeySource::Admin,
        }
    }
}

/// The SHA-256 of a secret, lowercase hex.
pub fn hash_secret(secret: &str) -> String {
    Sha256::digest(secret.as_bytes())
        .iter()
        .map(|byte| format!("{byte:02x}"))
        .collect()
}

/// A new secret: `sk-portico-` and 64 hex digits from two random v4 UUIDs
/// (244 random bits from the operating system's generator).
pub fn new_secret() -> String {
    format!(
        "sk-portico-{}{}",
        Uuid::new_v4().simple(),
        Uuid::new_v4().simple()
    )
}

/// The key directory (cheap to clone; clones share the cache).
#[derive(Debug, Clone)]
pub struct Keys {
    /// Config keys by the hash of their secret.
    config: Arc<HashMap<String, KnownKey>>,
    /// The admin key's hash, when the admin API is on.
    admin_hash: Option<Arc<str>>,
    /// Stored keys by the hash of their secret (`None`: no such key).
    cache: moka::future::Cache<String, Option<KnownKey>>,
    store: Arc<dyn AccessStore>,
    /// Where revocations are announced (every process drops its cached key).
    coordinator: Arc<dyn Coordinator>,
}

/// Drops the cached key of every revocation announced, until the announcer goes.
fn forget_revoked_keys(
    mut revocations: tokio::sync::broadcast::Receiver<String>,
    cache: moka::future::Cache<String, Option<KnownKey>>,
) {
    tokio::spawn(async move {
        use tokio::sync::broadcast::error::RecvError;
        loop {
            match revocations.recv().await {
                Ok(key_hash) => cache.invalidate(&key_hash).await,
                // Announcements were missed: forget every cached key.
                Err(RecvError::Lagged(_)) => cache.invalidate_all(),
                Err(RecvError::Closed) => return,
            }
        }
    });
}

impl Keys {
    /// The config's keys and admin key, over the store's keys.
    /// Revocations announced through `coordinator` (by any process) empty
    /// this process's cache of that key.
    pub fn from_config(
        config: &Config,
        store: Arc<dyn AccessStore>,
        coordinator: Arc<dyn Coordinator>,
    ) -> Result<Self, ConfigError> {
        let resolved = config.resolved_api_keys()?;
        let mut keys = HashMap::new();
        for ((secret, project), entry) in resolved.into_iter().zip(&config.api_keys) {
            let hash = hash_secret(&secret);
            let key = KnownKey {
                id: format!("cfgkey_{}", &hash[..16]),
                project,
                name: entry.name.clone(),
                created_at: None,
                revoked: false,
                limits: RateLimits {
                    requests_per_minute: entry.requests_per_minute,
                    tokens_per_minute: entry.tokens_per_minute,
                },
                source: KeySource::Config,
            };
            keys.insert(hash, key);
        }
        let admin_hash = config
            .resolved_admin_key()?
            .map(|secret| Arc::from(hash_secret(&secret)));
        let cache: moka::future::Cache<String, Option<KnownKey>> = moka::future::Cache::builder()
            .max_capacity(10_000)
            .time_to_live(Duration::from_secs(300))
            .build();
        forget_revoked_keys(coordinator.key_revocations(), cache.clone());
        Ok(Self {
            config: Arc::new(keys),
            admin_hash,
            cache,
            store,
            coordinator,
        })
    }

    /// Whether `/v1` needs a key: the config has keys, or an admin key (which can issue them).
    pub fn required(&self) -> bool {
        !self.config.is_empty() || self.admin_hash.is_some()
    }

    /// Whether the admin API is on.
    pub fn admin_enabled(&self) -> bool {
        self.admin_hash.is_some()
    }

    /// Whether `presented` is the admin key (hashes are compared, not secrets).
    pub fn is_admin(&self, presented: &str) -> bool {
        self.admin_hash
            .as_deref()
            .is_some_and(|hash| hash == hash_secret(presented))
    }

    /// The key a presented secret belongs to (revoked ones included).
    pub async fn find(&self, presented: &str) -> StoreResult<Option<KnownKey>> {
        let hash = hash_secret(presented);
        if let Some(key) = self.config.get(&hash) {
            return Ok(Some(key.clone()));
        }
        if let Some(cached) = self.cache.get(&hash).await {
            return Ok(cached);
        }
        let found = self
            .store
            .find_key_by_hash(&hash)
            .await?
            .map(KnownKey::from);
        self.cache.insert(hash, found.clone()).await;
        Ok(found)
    }

    /// Stores a new key and returns it with its secret (the only time it is seen).
    pub async fn create(
        &self,
        project: String,
        name: Option<String>,
        limits: RateLimits,
    ) -> StoreResult<(KnownKey, String)> {
        let secret = new_secret();
        let row = KeyRow {
            id: crate::wire::ids::new_id("key_"),
            key_hash: hash_secret(&secret),
            project,
            name,
            created_at: crate::wire::ids::unix_now(),
            revoked_at: None,
            requests_per_minute: limits.requests_per_minute,
            tokens_per_minute: limits.tokens_per_minute,
        };
        self.store.insert_key(&row).await?;
        self.cache.invalidate(&row.key_hash).await;
        Ok((KnownKey::from(row), secret))
    }

    /// Revokes a stored key; `None` when there is no stored key with this id.
    pub async fn revoke(&self, id: &str) -> StoreResult<Option<KnownKey>> {
        let row = self
            .store
            .revoke_key(id, crate::wire::ids::unix_now())
            .await?;
        if let Some(row) = &row {
            self.cache.invalidate(&row.key_hash).await;
            self.coordinator.publish_key_revoked(&row.key_hash);
        }
        Ok(row.map(KnownKey::from))
    }

    /// A key by id, from the config or the store.
    pub async fn by_id(&self, id: &str) -> StoreResult<Option<KnownKey>> {
        if let Some(key) = self.config.values().find(|key| key.id == id) {
            return Ok(Some(key.clone()));
        }
        Ok(self.store.get_key(id).await?.map(KnownKey::from))
    }

    /// Every key: the config's (in id order), then the stored ones, oldest first.
    pub async fn list(&self) -> StoreResult<Vec<KnownKey>> {
        let mut keys: Vec<KnownKey> = self.config.values().cloned().collect();
        keys.sort_by(|a, b| a.id.cmp(&b.id));
        keys.extend(
            self.store
                .list_keys()
                .await?
                .into_iter()
                .map(KnownKey::from),
        );
        Ok(keys)
    }
}

impl KeyObject {
    /// The wire form of a key.
    pub fn new(key: KnownKey, suspended: bool) -> Self {
        Self {
            object: "api_key",
            id: key.id,
            project: key.project,
            name: key.name,
            created_at: key.created_at,
            revoked: key.revoked,
            suspended,
            source: key.source.as_str(),
            requests_per_minute: key.limits.requests_per_minute,
            tokens_per_minute: key.limits.tokens_per_minute,
            key: None,
            cancelled: None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn secrets_are_long_random_and_hashed_as_sha256_hex() {
        let secret = new_secret();
        assert!(secret.starts_with("sk-portico-"));
        assert_eq!(secret.len(), "sk-portico-".len() + 64);
        assert_ne!(secret, new_secret());
        assert_eq!(
            hash_secret("abc"),
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
        );
    }
}
