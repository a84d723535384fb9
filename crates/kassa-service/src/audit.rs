//! Who is acting, and the audit records commands write in their own transaction.
//!
//! Each entry point says who acts once, around the work it runs ([`with_actor`]): the native
//! API for the key that called, the dashboard for the signed-in user, the CLI for the operator.
//! A command that changes configuration or moves money calls [`record`] with its transaction,
//! so the record commits or rolls back with the change. Work with no actor set (the scheduler,
//! processor webhooks) is recorded as `system`.

use std::future::Future;

use kassa_core::ids::{new_id, prefix};
use kassa_store::{now_ms, AuditRecord, Tx};
use serde_json::Value;

use crate::{Result, Scope};

/// Who acts, and from where.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Actor {
    /// `user`, `api_key`, `cli` or `system`.
    pub kind: &'static str,
    /// The user's or key's id, when known.
    pub id: Option<String>,
    /// What a person reads: the e-mail, or the key as shown (`sk_test_…abcd`).
    pub label: Option<String>,
    pub ip: Option<String>,
    pub user_agent: Option<String>,
    pub request_id: Option<String>,
}

impl Actor {
    pub fn system() -> Actor {
        Actor {
            kind: "system",
            ..Default::default()
        }
    }

    /// The operator at the command line (`user` is the OS user, when known).
    pub fn cli() -> Actor {
        Actor {
            kind: "cli",
            label: std::env::var("USER").ok().filter(|u| !u.is_empty()),
            ..Default::default()
        }
    }
}

tokio::task_local! {
    static ACTOR: Actor;
}

/// Runs `work` with `actor` as the one every audit record it writes names.
pub async fn with_actor<F: Future>(actor: Actor, work: F) -> F::Output {
    ACTOR.scope(actor, work).await
}

/// The actor of the running work (`system` when none was set).
pub fn current_actor() -> Actor {
    ACTOR
        .try_with(Actor::clone)
        .unwrap_or_else(|_| Actor::system())
}

/// Field names whose values are never written to the audit log, at any depth.
const SECRET_FIELDS: &[&str] = &[
    "secret",
    "secret_key",
    "password",
    "hmac_secret",
    "api_key",
    "private_key",
    "card_number",
    "number",
    "cvc",
    "token",
];

/// `changes` with every secret field replaced by `"[redacted]"`.
pub fn redact(changes: &Value) -> Value {
    match changes {
        Value::Object(map) => Value::Object(
            map.iter()
                .map(|(k, v)| {
                    let secret = SECRET_FIELDS.contains(&k.as_str())
                        || k.ends_with("_secret")
                        || k.ends_with("_key") && !k.ends_with("project_key");
                    let v = if secret && !v.is_null() {
                        Value::String("[redacted]".into())
                    } else {
                        redact(v)
                    };
                    (k.clone(), v)
                })
                .collect(),
        ),
        Value::Array(items) => Value::Array(items.iter().map(redact).collect()),
        other => other.clone(),
    }
}

/// Writes an audit record for `action` on `target` in the change's own transaction.
pub async fn record(
    tx: &mut Tx,
    scope: &Scope,
    action: &str,
    target: Option<&str>,
    changes: &Value,
) -> Result<()> {
    let actor = current_actor();
    tx.insert_audit(&AuditRecord {
        id: new_id(prefix::AUDIT),
        merchant_id: scope.merchant_id.clone(),
        livemode: scope.livemode,
        at: now_ms(),
        actor_type: actor.kind.to_string(),
        actor_id: actor.id,
        actor_label: actor.label,
        ip: actor.ip,
        user_agent: actor.user_agent.map(|ua| ua.chars().take(300).collect()),
        request_id: actor.request_id,
        action: action.to_string(),
        target: target.map(str::to_string),
        changes: redact(changes).to_string(),
    })
    .await?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn secrets_are_redacted_at_any_depth() {
        let v = redact(&json!({
            "url": "https://shop.example/hook",
            "secret": "whsec_abc",
            "credentials": {"secret_key": "sk_live_x", "account": "acct_1"},
            "items": [{"hmac_secret": "h"}],
            "project_key": "pk",
            "live_pingback_url": null,
        }));
        assert_eq!(v["url"], "https://shop.example/hook");
        assert_eq!(v["secret"], "[redacted]");
        assert_eq!(v["credentials"]["secret_key"], "[redacted]");
        assert_eq!(v["credentials"]["account"], "acct_1");
        assert_eq!(v["items"][0]["hmac_secret"], "[redacted]");
        assert_eq!(v["project_key"], "pk");
        assert!(v["live_pingback_url"].is_null());
    }

    #[tokio::test]
    async fn the_actor_is_the_one_set_around_the_work() {
        assert_eq!(current_actor().kind, "system");
        let a = Actor {
            kind: "user",
            label: Some("a@shop.example".into()),
            ..Default::default()
        };
        let seen = with_actor(a.clone(), async { current_actor() }).await;
        assert_eq!(seen, a);
    }
}
