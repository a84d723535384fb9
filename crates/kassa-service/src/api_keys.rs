//! API keys as the dashboard manages them: named keys shown once, rolled with an expiry window
//! (the old key keeps working until then, so a merchant can deploy the new one), revoked. Every
//! change is audited and forgets the key in this process's cache at once; other processes
//! forget it within [`crate::KEY_CACHE_TTL`].

use kassa_core::ids::random_token;
use kassa_core::secret::hash_api_key;
use kassa_store::{now_ms, ApiKeyRow};
use serde_json::json;

use crate::audit;
use crate::{Result, Scope, ServiceError, Services};

/// How long a rolled key may keep working, at most (7 days).
pub const MAX_ROLL_WINDOW_MS: i64 = 7 * 24 * 3600 * 1000;

/// A new key, shown once.
#[derive(Debug)]
pub struct CreatedKey {
    pub id: String,
    pub key: String,
    pub row: Option<ApiKeyRow>,
}

fn check_name(name: &str) -> Result<Option<String>> {
    let name = name.trim();
    if name.chars().count() > 100 || name.chars().any(char::is_control) {
        return Err(ServiceError::invalid(
            "name",
            "A key name has at most 100 characters.",
        ));
    }
    Ok(Some(name.to_string()).filter(|n| !n.is_empty()))
}

impl Services {
    /// The scope's keys, newest first (revoked and expired ones included, marked).
    pub async fn api_keys(&self, scope: &Scope) -> Result<Vec<ApiKeyRow>> {
        Ok(self.store.api_keys(scope).await?)
    }

    /// Creates a named key of `kind` (`secret` or `publishable`) in the scope's mode.
    pub async fn create_api_key(
        &self,
        scope: &Scope,
        kind: &str,
        name: &str,
    ) -> Result<CreatedKey> {
        self.check_mode(scope.mode())?;
        let name = check_name(name)?;
        let prefix = match kind {
            "secret" => "sk",
            "publishable" => "pk",
            _ => {
                return Err(ServiceError::invalid(
                    "kind",
                    "kind must be secret or publishable.",
                ))
            }
        };
        let mode = scope.mode().as_str();
        let key = format!("{prefix}_{mode}_{}", random_token(32));
        let display = if kind == "secret" {
            format!("{prefix}_{mode}_…{}", &key[key.len() - 4..])
        } else {
            key.clone()
        };
        let now = now_ms();
        let mut tx = self.store.begin().await?;
        let id = tx
            .insert_api_key(scope, &hash_api_key(&key), kind, &display, now)
            .await?;
        tx.set_api_key_name(&id, name.as_deref()).await?;
        audit::record(
            &mut tx,
            scope,
            "api_key.create",
            Some(&id),
            &json!({"kind": kind, "name": name, "display": display}),
        )
        .await?;
        tx.commit().await?;
        Ok(CreatedKey {
            row: self.store.api_key(scope, &id).await?,
            id,
            key,
        })
    }

    /// Replaces a key by a new one of the same kind and name; the old one stops working after
    /// `window_ms` (0: at once).
    pub async fn roll_api_key(
        &self,
        scope: &Scope,
        id: &str,
        window_ms: i64,
    ) -> Result<CreatedKey> {
        if !(0..=MAX_ROLL_WINDOW_MS).contains(&window_ms) {
            return Err(ServiceError::invalid(
                "expires_in",
                "A rolled key may keep working for at most 7 days.",
            ));
        }
        let old = self
            .store
            .api_key(scope, id)
            .await?
            .ok_or_else(|| ServiceError::not_found("api_key", id))?;
        let now = now_ms();
        if !old.is_active(now) {
            return Err(ServiceError::State(
                "This key is revoked or expired already.".into(),
            ));
        }
        let created = self
            .create_api_key(scope, &old.kind, old.name.as_deref().unwrap_or(""))
            .await?;
        let mut tx = self.store.begin().await?;
        if !tx.expire_api_key(scope, id, now + window_ms, now).await? {
            return Err(ServiceError::Conflict);
        }
        audit::record(
            &mut tx,
            scope,
            "api_key.roll",
            Some(id),
            &json!({"expires_at": now + window_ms, "replaced_by": created.id}),
        )
        .await?;
        tx.commit().await?;
        self.forget_key(&old.key_hash);
        Ok(created)
    }

    /// Revokes a key at once.
    pub async fn revoke_api_key(&self, scope: &Scope, id: &str) -> Result<()> {
        let old = self
            .store
            .api_key(scope, id)
            .await?
            .ok_or_else(|| ServiceError::not_found("api_key", id))?;
        let mut tx = self.store.begin().await?;
        if !tx.revoke_api_key(scope, id, now_ms()).await? {
            return Err(ServiceError::State("This key is revoked already.".into()));
        }
        audit::record(&mut tx, scope, "api_key.revoke", Some(id), &json!({})).await?;
        tx.commit().await?;
        self.forget_key(&old.key_hash);
        Ok(())
    }
}
