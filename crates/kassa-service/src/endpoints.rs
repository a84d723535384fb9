//! Webhook endpoints, events and manual redelivery.

use crate::Webhooks;
use kassa_core::events::{Event, EventType};
use kassa_core::ids::{new_id, prefix};
use kassa_core::scope::Scope;
use kassa_core::webhook_signature;
use kassa_store::{now_ms, Delivery, DeliveryAttempt, WebhookEndpoint};
use serde_json::{json, Value};

use crate::{Idem, Result, ServiceError};

#[derive(Debug, Clone, Default)]
pub struct EndpointParams {
    pub url: String,
    pub enabled_events: Vec<String>,
    pub description: Option<String>,
}

#[derive(Debug, Clone, Default)]
pub struct EndpointUpdate {
    pub url: Option<String>,
    pub enabled_events: Option<Vec<String>>,
    pub description: Option<String>,
    pub disabled: Option<bool>,
}

/// How long the old secret keeps signing after a rotation, unless the caller says otherwise.
pub const DEFAULT_ROTATION_GRACE_SECS: i64 = 24 * 3600;

fn check_url(url: &str) -> Result<String> {
    let parsed = url::Url::parse(url)
        .map_err(|_| ServiceError::invalid("url", "url must be an absolute http or https URL."))?;
    if !matches!(parsed.scheme(), "http" | "https")
        || parsed.host_str().is_none()
        || url.len() > 2048
    {
        return Err(ServiceError::invalid(
            "url",
            "url must be an absolute http or https URL.",
        ));
    }
    Ok(url.to_string())
}

fn check_events(events: &[String]) -> Result<Vec<String>> {
    if events.is_empty() {
        return Err(ServiceError::invalid(
            "enabled_events",
            "enabled_events must list at least one event type, or \"*\".",
        ));
    }
    for e in events {
        if e != "*" && EventType::parse(e).is_none() {
            return Err(ServiceError::invalid(
                "enabled_events",
                format!(
                    "Unknown event type '{}'.",
                    e.chars().take(80).collect::<String>()
                ),
            ));
        }
    }
    let mut out = events.to_vec();
    out.dedup();
    Ok(out)
}

pub fn endpoint_json(ep: &WebhookEndpoint) -> Value {
    json!({
        "id": ep.id,
        "object": "webhook_endpoint",
        "url": ep.url,
        "description": ep.description,
        "enabled_events": ep.enabled_events,
        "status": ep.status,
        "created": ep.created_at / 1000,
        "livemode": ep.livemode,
    })
}

impl Webhooks<'_> {
    /// Creates an endpoint; the returned JSON carries the signing secret, shown only here and on
    /// rotation.
    pub async fn create_endpoint(
        &self,
        scope: &Scope,
        p: EndpointParams,
        idem: Option<&Idem>,
    ) -> Result<Value> {
        let url = check_url(&p.url)?;
        self.check_egress("url", &url).await?;
        let enabled_events = check_events(&p.enabled_events)?;
        let secret = webhook_signature::new_secret();
        let ep = WebhookEndpoint {
            id: new_id(prefix::WEBHOOK_ENDPOINT),
            merchant_id: scope.merchant_id.clone(),
            livemode: scope.livemode,
            url,
            description: p.description,
            enabled_events,
            secret_enc: self.secrets.seal(&secret),
            previous_secret_enc: None,
            previous_secret_expires_at: None,
            status: "enabled".into(),
            created_at: now_ms(),
        };
        let mut body = endpoint_json(&ep);
        body["secret"] = Value::String(secret);
        let mut tx = self.store.begin().await?;
        if tx.count_endpoints(scope).await? >= self.max_webhook_endpoints {
            return Err(ServiceError::invalid(
                "url",
                format!(
                    "This account already has {} webhook endpoints, the most allowed. Delete one \
                     first, or ask the operator to raise max_webhook_endpoints.",
                    self.max_webhook_endpoints
                ),
            ));
        }
        tx.insert_endpoint(&ep).await?;
        crate::audit::record(
            &mut tx,
            scope,
            "webhook_endpoint.create",
            Some(&ep.id),
            &json!({"url": ep.url, "enabled_events": ep.enabled_events, "description": ep.description}),
        )
        .await?;
        if let Some(idem) = idem {
            tx.complete_idempotency(&idem.scope, &idem.key, 200, &body.to_string())
                .await?;
        }
        tx.commit().await?;
        Ok(body)
    }

    pub async fn endpoint(&self, scope: &Scope, id: &str) -> Result<WebhookEndpoint> {
        self.store
            .endpoint(scope, id)
            .await?
            .ok_or_else(|| ServiceError::not_found("webhook_endpoint", id))
    }

    pub async fn update_endpoint(
        &self,
        scope: &Scope,
        id: &str,
        u: EndpointUpdate,
    ) -> Result<WebhookEndpoint> {
        let mut ep = self.endpoint(scope, id).await?;
        if let Some(url) = u.url {
            ep.url = check_url(&url)?;
            self.check_egress("url", &ep.url).await?;
        }
        if let Some(ev) = u.enabled_events {
            ep.enabled_events = check_events(&ev)?;
        }
        if let Some(d) = u.description {
            ep.description = Some(d);
        }
        if let Some(disabled) = u.disabled {
            ep.status = if disabled { "disabled" } else { "enabled" }.into();
        }
        let mut tx = self.store.begin().await?;
        tx.update_endpoint(&ep).await?;
        crate::audit::record(
            &mut tx,
            scope,
            "webhook_endpoint.update",
            Some(&ep.id),
            &json!({"url": ep.url, "enabled_events": ep.enabled_events,
                    "description": ep.description, "status": ep.status}),
        )
        .await?;
        tx.commit().await?;
        Ok(ep)
    }

    pub async fn delete_endpoint(&self, scope: &Scope, id: &str) -> Result<Value> {
        let mut ep = self.endpoint(scope, id).await?;
        ep.status = "deleted".into();
        let mut tx = self.store.begin().await?;
        tx.update_endpoint(&ep).await?;
        tx.cancel_pending_deliveries(&ep.id, now_ms()).await?;
        crate::audit::record(
            &mut tx,
            scope,
            "webhook_endpoint.delete",
            Some(&ep.id),
            &json!({}),
        )
        .await?;
        tx.commit().await?;
        Ok(json!({"id": ep.id, "object": "webhook_endpoint", "deleted": true}))
    }

    /// Replaces the signing secret. The old one keeps signing (as a second signature) for
    /// `grace_secs` so receivers can switch without dropping a delivery.
    pub async fn rotate_endpoint_secret(
        &self,
        scope: &Scope,
        id: &str,
        grace_secs: Option<i64>,
        idem: Option<&Idem>,
    ) -> Result<Value> {
        let grace = grace_secs.unwrap_or(DEFAULT_ROTATION_GRACE_SECS);
        if !(0..=7 * 86400).contains(&grace) {
            return Err(ServiceError::invalid(
                "expires_in",
                "expires_in must be between 0 and 604800 seconds.",
            ));
        }
        let mut ep = self.endpoint(scope, id).await?;
        let secret = webhook_signature::new_secret();
        ep.previous_secret_enc = Some(ep.secret_enc.clone());
        ep.previous_secret_expires_at = Some(now_ms() + grace * 1000);
        ep.secret_enc = self.secrets.seal(&secret);
        let mut body = endpoint_json(&ep);
        body["secret"] = Value::String(secret);
        let mut tx = self.store.begin().await?;
        tx.update_endpoint(&ep).await?;
        crate::audit::record(
            &mut tx,
            scope,
            "webhook_endpoint.rotate_secret",
            Some(&ep.id),
            &json!({"previous_secret_expires_at": ep.previous_secret_expires_at}),
        )
        .await?;
        if let Some(idem) = idem {
            tx.complete_idempotency(&idem.scope, &idem.key, 200, &body.to_string())
                .await?;
        }
        tx.commit().await?;
        Ok(body)
    }

    pub async fn event(&self, scope: &Scope, id: &str) -> Result<Event> {
        self.store
            .event(scope, id)
            .await?
            .ok_or_else(|| ServiceError::not_found("event", id))
    }

    /// Deliveries of an event with every attempt, for the merchant's debugging.
    pub async fn event_deliveries(&self, scope: &Scope, id: &str) -> Result<Value> {
        self.event(scope, id).await?;
        let mut out = Vec::new();
        for d in self.store.deliveries_for_event(scope, id).await? {
            let attempts = self.store.delivery_attempts(&d.id).await?;
            out.push(delivery_json(&d, &attempts));
        }
        Ok(json!({"object": "list", "data": out, "has_more": false}))
    }

    /// Sends an event to one target now. Reuses the target's delivery of that event if there is
    /// one (its attempts stay together), otherwise creates it for a webhook endpoint.
    pub async fn resend_event(
        &self,
        scope: &Scope,
        event_id: &str,
        endpoint_id: &str,
    ) -> Result<Value> {
        self.event(scope, event_id).await?;
        let deliveries = self.store.deliveries_for_event(scope, event_id).await?;
        // This event's delivery to that target, on any channel: a face's notification
        // is resent exactly as it was rendered with its change (same query or body, same
        // signature). Deliveries are the merchant's own, so another merchant's target is not
        // found.
        let existing = deliveries
            .into_iter()
            .find(|d| d.endpoint_id == endpoint_id);
        let delivery_id = match existing {
            Some(d) => d.id,
            None => {
                let ep = self.endpoint(scope, endpoint_id).await?;
                let mut tx = self.store.begin().await?;
                // Created already finished-by-hand so the automatic worker leaves it alone.
                let id = tx
                    .insert_manual_delivery(
                        scope,
                        kassa_store::Channel::Webhook,
                        &ep.id,
                        event_id,
                        now_ms(),
                    )
                    .await?;
                tx.commit().await?;
                id
            }
        };
        self.notifier
            .resend(scope, &delivery_id)
            .await
            .map_err(|e| match e {
                kassa_notify::NotifyError::NotFound => {
                    ServiceError::not_found("delivery", &delivery_id)
                }
                kassa_notify::NotifyError::Store(s) => s.into(),
            })?;
        let d = self
            .store
            .delivery(scope, &delivery_id)
            .await?
            .ok_or_else(|| ServiceError::not_found("delivery", &delivery_id))?;
        let attempts = self.store.delivery_attempts(&d.id).await?;
        Ok(delivery_json(&d, &attempts))
    }
}

pub fn delivery_json(d: &Delivery, attempts: &[DeliveryAttempt]) -> Value {
    json!({
        "id": d.id,
        "object": "webhook_delivery",
        "event": d.event_id,
        "webhook_endpoint": d.endpoint_id,
        "status": d.status,
        "attempt_count": d.attempt_count,
        "next_attempt_at": if d.status == "pending" { Some(d.next_attempt_at / 1000) } else { None },
        "last_status_code": d.last_status_code,
        "attempts": attempts.iter().map(|a| json!({
            "id": a.id,
            "attempt": a.attempt_number,
            "trigger": a.trigger,
            "created": a.started_at / 1000,
            "status_code": a.status_code,
            "latency_ms": a.latency_ms,
            "response_excerpt": a.response_excerpt,
            "error": a.error,
        })).collect::<Vec<_>>(),
    })
}
