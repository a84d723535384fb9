//! What `/v1/webhook_endpoints` and `/v1/events` answer: endpoints, events and deliveries.

use serde::Deserialize;
use serde_json::Value;
use utoipa::ToSchema;

use super::ListObject;

/// A webhook endpoint as the API answers it.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct WebhookEndpointObject {
    /// `we_…`
    pub id: String,
    /// Always `webhook_endpoint`.
    pub object: String,
    pub url: String,
    #[schema(required = true)]
    pub description: Option<String>,
    /// Event types, or `*` for all.
    pub enabled_events: Vec<String>,
    pub status: EndpointStatus,
    /// Unix seconds.
    pub created: i64,
    /// True for an endpoint of live mode (made with a live key): it receives live events only.
    pub livemode: bool,
    /// The signing secret (`whsec_…`): only in the answers of create and rotate_secret.
    pub secret: Option<String>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum EndpointStatus {
    /// Events are delivered.
    Enabled,
    /// Switched off by the merchant (`disabled: true`); nothing is delivered.
    Disabled,
    /// Deleted; kept so its deliveries can still be read.
    Deleted,
}

/// Every webhook endpoint of the account.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct WebhookEndpointList {
    pub object: ListObject,
    /// `/v1/webhook_endpoints`
    pub url: String,
    /// Always false: the list is complete.
    pub has_more: bool,
    pub data: Vec<WebhookEndpointObject>,
}

/// What deleting an endpoint answers.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct DeletedWebhookEndpoint {
    pub id: String,
    /// Always `webhook_endpoint`.
    pub object: String,
    /// Always true.
    pub deleted: bool,
}

/// An event: an immutable record of a change, also the body of its webhook deliveries.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct EventObject {
    /// `evt_…`
    pub id: String,
    /// Always `event`.
    pub object: String,
    #[serde(rename = "type")]
    pub kind: EventKind,
    /// Unix seconds.
    pub created: i64,
    /// True for live-mode data (made with a live key), false for test data.
    pub livemode: bool,
    pub data: EventData,
}

/// What changed.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct EventData {
    /// The object after the change, as its own endpoint answers it: a `payment_intent`
    /// (`payment_intent.*`), a `refund` (`refund.*`), a `customer` (`customer.*`), a
    /// `payment_method` (`payment_method.*`), a `subscription` (`customer.subscription.*`), an
    /// `invoice` (`invoice.*`), or a Paymentwall or Paymob subscription (`subscription.*`).
    #[schema(value_type = Object)]
    pub object: Value,
}

/// An event's type.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, ToSchema)]
pub enum EventKind {
    #[serde(rename = "payment_intent.created")]
    PaymentIntentCreated,
    #[serde(rename = "payment_intent.requires_action")]
    PaymentIntentRequiresAction,
    #[serde(rename = "payment_intent.succeeded")]
    PaymentIntentSucceeded,
    #[serde(rename = "payment_intent.payment_failed")]
    PaymentIntentPaymentFailed,
    #[serde(rename = "payment_intent.canceled")]
    PaymentIntentCanceled,
    #[serde(rename = "payment_intent.amount_capturable_updated")]
    PaymentIntentAmountCapturableUpdated,
    #[serde(rename = "refund.created")]
    RefundCreated,
    #[serde(rename = "refund.succeeded")]
    RefundSucceeded,
    #[serde(rename = "subscription.created")]
    SubscriptionCreated,
    #[serde(rename = "subscription.renewed")]
    SubscriptionRenewed,
    #[serde(rename = "subscription.canceled")]
    SubscriptionCanceled,
    #[serde(rename = "subscription.expired")]
    SubscriptionExpired,
    #[serde(rename = "subscription.payment_failed")]
    SubscriptionPaymentFailed,
    #[serde(rename = "customer.created")]
    CustomerCreated,
    #[serde(rename = "customer.updated")]
    CustomerUpdated,
    #[serde(rename = "customer.deleted")]
    CustomerDeleted,
    #[serde(rename = "payment_method.attached")]
    PaymentMethodAttached,
    #[serde(rename = "payment_method.detached")]
    PaymentMethodDetached,
    #[serde(rename = "customer.subscription.created")]
    CustomerSubscriptionCreated,
    #[serde(rename = "customer.subscription.updated")]
    CustomerSubscriptionUpdated,
    #[serde(rename = "customer.subscription.deleted")]
    CustomerSubscriptionDeleted,
    #[serde(rename = "customer.subscription.trial_will_end")]
    CustomerSubscriptionTrialWillEnd,
    #[serde(rename = "invoice.created")]
    InvoiceCreated,
    #[serde(rename = "invoice.paid")]
    InvoicePaid,
    #[serde(rename = "invoice.payment_failed")]
    InvoicePaymentFailed,
}

/// A page of events, newest first.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct EventList {
    pub object: ListObject,
    /// `/v1/events`
    pub url: String,
    /// More come after the last one (`starting_after` its id).
    pub has_more: bool,
    pub data: Vec<EventObject>,
}

/// One event's way to one target (a webhook endpoint, a Paymentwall project's pingback URL or
/// a Paymob profile's callback URL), with every attempt.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct DeliveryObject {
    /// `msg_…`
    pub id: String,
    /// Always `webhook_delivery`.
    pub object: String,
    /// The event (`evt_…`).
    pub event: String,
    /// The target: a webhook endpoint (`we_…`), a Paymentwall project (`pwp_…`) or a Paymob
    /// profile (`pmp_…`).
    pub webhook_endpoint: String,
    pub status: DeliveryStatus,
    pub attempt_count: i64,
    /// Unix seconds of the next automatic attempt, while `pending`.
    #[schema(required = true)]
    pub next_attempt_at: Option<i64>,
    /// The HTTP status of the last answer, if any came.
    #[schema(required = true)]
    pub last_status_code: Option<i64>,
    /// Oldest first.
    pub attempts: Vec<DeliveryAttemptObject>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum DeliveryStatus {
    /// Waiting for its next automatic attempt.
    Pending,
    /// The target accepted it.
    Succeeded,
    /// Every automatic attempt failed.
    Failed,
    /// Its endpoint was deleted before it was delivered.
    Canceled,
    /// Made only to resend the event by hand.
    Manual,
}

/// One try to deliver.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct DeliveryAttemptObject {
    pub id: String,
    /// 1 for the first.
    pub attempt: i64,
    pub trigger: AttemptTrigger,
    /// Unix seconds.
    pub created: i64,
    /// The target's HTTP status; null when no answer came.
    #[schema(required = true)]
    pub status_code: Option<i64>,
    pub latency_ms: i64,
    /// The start of the target's answer.
    #[schema(required = true)]
    pub response_excerpt: Option<String>,
    /// Why no answer came (a timeout, a refused address).
    #[schema(required = true)]
    pub error: Option<String>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum AttemptTrigger {
    /// The delivery worker's schedule.
    Automatic,
    /// `POST /v1/events/{id}/resend`.
    Manual,
}

/// Every delivery of an event.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct DeliveryList {
    pub object: ListObject,
    /// Always false: the list is complete.
    pub has_more: bool,
    pub data: Vec<DeliveryObject>,
}

#[cfg(test)]
mod tests {
    use super::super::tests::pinned;
    use super::*;
    use crate::native::list_body;
    use kassa_core::events::{Event, EventType};
    use kassa_service::delivery_json;
    use kassa_service::endpoint_json;
    use kassa_store::{Delivery, DeliveryAttempt, WebhookEndpoint};
    use serde_json::json;

    fn endpoint(status: &str) -> WebhookEndpoint {
        WebhookEndpoint {
            id: "we_1".into(),
            merchant_id: "acct_1".into(),
            livemode: false,
            url: "https://shop.test/hook".into(),
            description: None,
            enabled_events: vec!["*".into()],
            secret_enc: "x".into(),
            previous_secret_enc: None,
            previous_secret_expires_at: None,
            status: status.into(),
            created_at: 1_700_000_000_000,
        }
    }

    fn delivery(status: &str) -> Delivery {
        Delivery {
            id: "msg_1".into(),
            merchant_id: "acct_1".into(),
            livemode: false,
            channel: kassa_store::Channel::Webhook,
            endpoint_id: "we_1".into(),
            event_id: "evt_1".into(),
            status: status.into(),
            attempt_count: 1,
            next_attempt_at: 1_700_000_060_000,
            lease_owner: None,
            lease_until: None,
            last_status_code: Some(500),
            created_at: 1_700_000_000_000,
            updated_at: 1_700_000_000_000,
            request_url: None,
            request_body: None,
        }
    }

    /// The documented schemas are the objects the handlers answer (unknown fields refused).
    #[test]
    fn schemas_match_the_objects() {
        for status in ["enabled", "disabled", "deleted"] {
            let o: WebhookEndpointObject = pinned(&endpoint_json(&endpoint(status)));
            assert!(o.secret.is_none());
        }
        // Create and rotate_secret add the secret to the same object.
        let mut with_secret = endpoint_json(&endpoint("enabled"));
        with_secret["secret"] = json!("whsec_x");
        let o: WebhookEndpointObject = pinned(&with_secret);
        assert_eq!(o.secret.as_deref(), Some("whsec_x"));
        let items = vec![endpoint_json(&endpoint("enabled"))];
        let l: WebhookEndpointList = pinned(&list_body("/v1/webhook_endpoints", items, 1));
        assert!(!l.has_more);
        // delete_endpoint's stub.
        let d: DeletedWebhookEndpoint =
            pinned(&json!({"id": "we_1", "object": "webhook_endpoint", "deleted": true}));
        assert!(d.deleted);

        // Every event type is documented.
        for ty in EventType::ALL {
            let e = Event {
                id: "evt_1".into(),
                merchant_id: "acct_1".into(),
                livemode: false,
                event_type: *ty,
                object: json!({"id": "pi_1", "object": "payment_intent"}),
                created: 1_700_000_000_000,
            };
            let o: EventObject = pinned(&e.to_json());
            assert_eq!(serde_json::to_value(ty).unwrap(), e.to_json()["type"]);
            assert_eq!(o.created, 1_700_000_000);
            let l: EventList = pinned(&list_body("/v1/events", vec![e.to_json()], 10));
            assert_eq!(l.data.len(), 1);
        }

        let attempts = [
            DeliveryAttempt {
                id: "atmpt_1".into(),
                delivery_id: "msg_1".into(),
                attempt_number: 1,
                trigger: "automatic".into(),
                started_at: 1_700_000_000_000,
                status_code: Some(500),
                latency_ms: 12,
                response_excerpt: Some("oops".into()),
                error: None,
            },
            DeliveryAttempt {
                id: "atmpt_2".into(),
                delivery_id: "msg_1".into(),
                attempt_number: 2,
                trigger: "manual".into(),
                started_at: 1_700_000_001_000,
                status_code: None,
                latency_ms: 15_000,
                response_excerpt: None,
                error: Some("timeout".into()),
            },
        ];
        for status in ["pending", "succeeded", "failed", "canceled", "manual"] {
            let o: DeliveryObject = pinned(&delivery_json(&delivery(status), &attempts));
            assert_eq!(o.next_attempt_at.is_some(), status == "pending");
            assert_eq!(o.attempts.len(), 2);
        }
        // event_deliveries' list (no `url`, unlike the other lists).
        let one = delivery_json(&delivery("succeeded"), &[]);
        let l: DeliveryList = pinned(&json!({"object": "list", "data": [one], "has_more": false}));
        assert_eq!(l.data.len(), 1);
    }
}
