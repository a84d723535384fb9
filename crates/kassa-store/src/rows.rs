//! Row types and the mapping between rows and core objects.

use kassa_core::events::{Event, EventType};
use kassa_core::intent::{
    AttemptStatus, CaptureMethod, IntentStatus, PaymentIntent, Refund, RefundKind, RefundStatus,
};
use kassa_core::money::Currency;
use kassa_core::payment_method::SetupFutureUsage;
use sqlx::any::{AnyArguments, AnyRow};
use sqlx::query::Query;
use sqlx::{Any, Row};

use crate::{from_json, opt_json, parse, to_json, Result, StoreError};

pub(crate) const INTENT_COLUMNS: &str =
    "id, merchant_id, amount, currency, status, capture_method, \
    amount_capturable, amount_received, amount_refunded, description, metadata, return_url, \
    receipt_email, client_secret, checkout_token, last_payment_error, payment_method, next_action, \
    processor_ref, canceled_at, cancellation_reason, created_at, updated_at, version, \
    capture_window_ms, capture_before, review_delay_ms, review_at, customer_id, setup_future_usage, \
    voucher_window_ms, pay_before, order_key, livemode, processor_account";

pub(crate) const ATTEMPT_COLUMNS: &str = "id, payment_intent_id, status, payment_method, \
    processor_ref, challenge_state, error, created_at, updated_at";

pub(crate) const REFUND_COLUMNS: &str = "id, merchant_id, payment_intent_id, amount, currency, \
    status, reason, metadata, processor_ref, created_at, kind, chargeback_reason, livemode";

pub(crate) const EVENT_COLUMNS: &str =
    "id, merchant_id, type, object_id, data, created_at, livemode";

pub(crate) const ENDPOINT_COLUMNS: &str = "id, merchant_id, url, description, enabled_events, \
    secret_enc, previous_secret_enc, previous_secret_expires_at, status, created_at, livemode";

pub(crate) const DELIVERY_COLUMNS: &str =
    "id, merchant_id, channel, endpoint_id, event_id, status, \
    attempt_count, next_attempt_at, lease_owner, lease_until, last_status_code, created_at, \
    updated_at, request_url, request_body, livemode";

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Merchant {
    pub id: String,
    pub name: String,
    pub created_at: i64,
}

impl Merchant {
    pub(crate) fn from_row(r: &AnyRow) -> Self {
        Merchant {
            id: r.get("id"),
            name: r.get("name"),
            created_at: r.get("created_at"),
        }
    }
}

/// One try at paying an intent. A 3-D Secure challenge keeps its attempt in `requires_action`
/// with the processor's opaque challenge state (never card data).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PaymentAttempt {
    pub id: String,
    pub payment_intent_id: String,
    pub status: AttemptStatus,
    pub payment_method: Option<String>,
    pub processor_ref: Option<String>,
    pub challenge_state: Option<String>,
    pub error: Option<String>,
    pub created_at: i64,
    pub updated_at: i64,
}

impl PaymentAttempt {
    pub(crate) fn from_row(r: &AnyRow) -> Result<Self> {
        let status: String = r.get("status");
        Ok(PaymentAttempt {
            id: r.get("id"),
            payment_intent_id: r.get("payment_intent_id"),
            status: AttemptStatus::parse(&status)
                .ok_or_else(|| StoreError::Corrupt(format!("bad attempt status {status}")))?,
            payment_method: r.get("payment_method"),
            processor_ref: r.get("processor_ref"),
            challenge_state: r.get("challenge_state"),
            error: r.get("error"),
            created_at: r.get("created_at"),
            updated_at: r.get("updated_at"),
        })
    }
}

#[derive(Clone, PartialEq, Eq)]
pub struct WebhookEndpoint {
    pub id: String,
    pub merchant_id: String,
    /// `true` for live-mode data.
    pub livemode: bool,
    pub url: String,
    pub description: Option<String>,
    pub enabled_events: Vec<String>,
    /// The signing secret, encrypted under the master key.
    pub secret_enc: String,
    /// The secret before the last rotation, still used to sign until it expires.
    pub previous_secret_enc: Option<String>,
    pub previous_secret_expires_at: Option<i64>,
    pub status: String,
    pub created_at: i64,
}

impl std::fmt::Debug for WebhookEndpoint {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("WebhookEndpoint")
            .field("id", &self.id)
            .field("url", &self.url)
            .field("status", &self.status)
            .finish_non_exhaustive()
    }
}

impl WebhookEndpoint {
    pub(crate) fn from_row(r: &AnyRow) -> Result<Self> {
        Ok(WebhookEndpoint {
            id: r.get("id"),
            merchant_id: r.get("merchant_id"),
            livemode: r.get::<i64, _>("livemode") != 0,
            url: r.get("url"),
            description: r.get("description"),
            enabled_events: from_json(&r.get::<String, _>("enabled_events"))?,
            secret_enc: r.get("secret_enc"),
            previous_secret_enc: r.get("previous_secret_enc"),
            previous_secret_expires_at: r.get("previous_secret_expires_at"),
            status: r.get("status"),
            created_at: r.get("created_at"),
        })
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Delivery {
    pub id: String,
    pub merchant_id: String,
    /// `true` for live-mode data.
    pub livemode: bool,
    pub channel: Channel,
    pub endpoint_id: String,
    pub event_id: String,
    pub status: String,
    pub attempt_count: i64,
    pub next_attempt_at: i64,
    pub lease_owner: Option<String>,
    pub lease_until: Option<i64>,
    pub last_status_code: Option<i64>,
    pub created_at: i64,
    pub updated_at: i64,
    /// The request rendered when the notification was queued (channels other than webhooks).
    pub request_url: Option<String>,
    /// The rendered request body (Paymob callbacks: JSON, POSTed to `request_url`).
    pub request_body: Option<String>,
}

/// How a notification reaches the merchant; each channel has its own request, retry schedule
/// and rule for what counts as delivered (`kassa-notify`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Channel {
    /// A native webhook: a signed JSON POST to an endpoint (Standard Webhooks).
    Webhook,
    /// A Paymentwall pingback: the signed GET rendered when it was queued.
    Pingback,
    /// A Paymob callback: the HMAC-signed JSON POST rendered when it was queued.
    PaymobCallback,
}

impl Channel {
    pub const ALL: [Channel; 3] = [Channel::Webhook, Channel::Pingback, Channel::PaymobCallback];

    /// The stored name.
    pub fn as_str(self) -> &'static str {
        match self {
            Channel::Webhook => "webhook",
            Channel::Pingback => "pingback",
            Channel::PaymobCallback => "paymob",
        }
    }

    pub fn parse(s: &str) -> Option<Channel> {
        Channel::ALL.into_iter().find(|c| c.as_str() == s)
    }
}

impl std::fmt::Display for Channel {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

impl Delivery {
    pub(crate) fn from_row(r: &AnyRow) -> Result<Self> {
        let channel: String = r.get("channel");
        Ok(Delivery {
            id: r.get("id"),
            merchant_id: r.get("merchant_id"),
            livemode: r.get::<i64, _>("livemode") != 0,
            channel: Channel::parse(&channel)
                .ok_or_else(|| StoreError::Corrupt(format!("bad delivery channel {channel}")))?,
            endpoint_id: r.get("endpoint_id"),
            event_id: r.get("event_id"),
            status: r.get("status"),
            attempt_count: r.get("attempt_count"),
            next_attempt_at: r.get("next_attempt_at"),
            lease_owner: r.get("lease_owner"),
            lease_until: r.get("lease_until"),
            last_status_code: r.get("last_status_code"),
            created_at: r.get("created_at"),
            updated_at: r.get("updated_at"),
            request_url: r.get("request_url"),
            request_body: r.get("request_body"),
        })
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DeliveryAttempt {
    pub id: String,
    pub delivery_id: String,
    pub attempt_number: i64,
    /// `automatic` or `manual`.
    pub trigger: String,
    pub started_at: i64,
    pub status_code: Option<i64>,
    pub latency_ms: i64,
    pub response_excerpt: Option<String>,
    pub error: Option<String>,
}

impl DeliveryAttempt {
    pub(crate) fn from_row(r: &AnyRow) -> Self {
        DeliveryAttempt {
            id: r.get("id"),
            delivery_id: r.get("delivery_id"),
            attempt_number: r.get("attempt_number"),
            trigger: r.get("trigger"),
            started_at: r.get("started_at"),
            status_code: r.get("status_code"),
            latency_ms: r.get("latency_ms"),
            response_excerpt: r.get("response_excerpt"),
            error: r.get("error"),
        }
    }
}

pub(crate) fn intent_from_row(r: &AnyRow) -> Result<PaymentIntent> {
    let status: String = r.get("status");
    let capture: String = r.get("capture_method");
    let currency: String = r.get("currency");
    Ok(PaymentIntent {
        id: r.get("id"),
        merchant_id: r.get("merchant_id"),
        livemode: r.get::<i64, _>("livemode") != 0,
        amount: r.get("amount"),
        currency: parse::<Currency>(&currency, "currency")?,
        status: IntentStatus::parse(&status)
            .ok_or_else(|| StoreError::Corrupt(format!("bad status {status}")))?,
        capture_method: CaptureMethod::parse(&capture)
            .ok_or_else(|| StoreError::Corrupt(format!("bad capture method {capture}")))?,
        amount_capturable: r.get("amount_capturable"),
        amount_received: r.get("amount_received"),
        amount_refunded: r.get("amount_refunded"),
        description: r.get("description"),
        metadata: from_json(&r.get::<String, _>("metadata"))?,
        return_url: r.get("return_url"),
        receipt_email: r.get("receipt_email"),
        client_secret: r.get("client_secret"),
        checkout_token: r.get("checkout_token"),
        last_payment_error: opt_from_json(r.get("last_payment_error"))?,
        payment_method: opt_from_json::<kassa_core::method_details::PaymentMethodDetails>(
            r.get("payment_method"),
        )?,
        next_action: opt_from_json(r.get("next_action"))?,
        processor_ref: r.get("processor_ref"),
        processor_account: r.get("processor_account"),
        canceled_at: r.get("canceled_at"),
        cancellation_reason: r.get("cancellation_reason"),
        capture_window_ms: r.get("capture_window_ms"),
        capture_before: r.get("capture_before"),
        review_delay_ms: r.get("review_delay_ms"),
        review_at: r.get("review_at"),
        voucher_window_ms: r.get("voucher_window_ms"),
        pay_before: r.get("pay_before"),
        order_key: r.get("order_key"),
        customer: r.get("customer_id"),
        setup_future_usage: match r.get::<Option<String>, _>("setup_future_usage") {
            None => None,
            Some(u) => Some(
                SetupFutureUsage::parse(&u)
                    .ok_or_else(|| StoreError::Corrupt(format!("bad setup_future_usage {u}")))?,
            ),
        },
        created: r.get("created_at"),
        updated: r.get("updated_at"),
        version: r.get("version"),
    })
}

fn opt_from_json<T: serde::de::DeserializeOwned>(s: Option<String>) -> Result<Option<T>> {
    s.as_deref().map(from_json).transpose()
}

pub(crate) fn bind_intent<'q>(
    q: Query<'q, Any, AnyArguments<'q>>,
    pi: &PaymentIntent,
) -> Result<Query<'q, Any, AnyArguments<'q>>> {
    Ok(q.bind(pi.id.clone())
        .bind(pi.merchant_id.clone())
        .bind(pi.amount)
        .bind(pi.currency.code())
        .bind(pi.status.as_str())
        .bind(pi.capture_method.as_str())
        .bind(pi.amount_capturable)
        .bind(pi.amount_received)
        .bind(pi.amount_refunded)
        .bind(pi.description.clone())
        .bind(to_json(&pi.metadata)?)
        .bind(pi.return_url.clone())
        .bind(pi.receipt_email.clone())
        .bind(pi.client_secret.clone())
        .bind(pi.checkout_token.clone())
        .bind(opt_json(&pi.last_payment_error)?)
        .bind(opt_json(&pi.payment_method)?)
        .bind(opt_json(&pi.next_action)?)
        .bind(pi.processor_ref.clone())
        .bind(pi.canceled_at)
        .bind(pi.cancellation_reason.clone())
        .bind(pi.created)
        .bind(pi.updated)
        .bind(pi.version)
        .bind(pi.capture_window_ms)
        .bind(pi.capture_before)
        .bind(pi.review_delay_ms)
        .bind(pi.review_at)
        .bind(pi.customer.clone())
        .bind(pi.setup_future_usage.map(|u| u.as_str()))
        .bind(pi.voucher_window_ms)
        .bind(pi.pay_before)
        .bind(pi.order_key.clone())
        .bind(i64::from(pi.livemode))
        .bind(pi.processor_account.clone()))
}

/// What the `card_last4` column holds for `pi`: the last four digits of the card or wallet that
/// paid, kept beside the `payment_method` JSON so the dashboard can search and index them.
pub(crate) fn card_last4(pi: &PaymentIntent) -> Option<String> {
    pi.payment_method
        .as_ref()
        .map(|m| m.last4.clone())
        .filter(|l| !l.is_empty())
}

pub(crate) fn refund_from_row(r: &AnyRow) -> Result<Refund> {
    let status: String = r.get("status");
    let currency: String = r.get("currency");
    let kind: String = r.get("kind");
    let chargeback_reason: Option<i64> = r.get("chargeback_reason");
    Ok(Refund {
        id: r.get("id"),
        merchant_id: r.get("merchant_id"),
        livemode: r.get::<i64, _>("livemode") != 0,
        payment_intent_id: r.get("payment_intent_id"),
        amount: r.get("amount"),
        currency: parse::<Currency>(&currency, "currency")?,
        status: RefundStatus::parse(&status)
            .ok_or_else(|| StoreError::Corrupt(format!("bad refund status {status}")))?,
        kind: RefundKind::from_parts(&kind, chargeback_reason).ok_or_else(|| {
            StoreError::Corrupt(format!("bad refund kind {kind} ({chargeback_reason:?})"))
        })?,
        reason: r.get("reason"),
        metadata: from_json(&r.get::<String, _>("metadata"))?,
        processor_ref: r.get("processor_ref"),
        created: r.get("created_at"),
    })
}

pub(crate) fn event_from_row(r: &AnyRow) -> Result<Event> {
    let ty: String = r.get("type");
    Ok(Event {
        id: r.get("id"),
        merchant_id: r.get("merchant_id"),
        livemode: r.get::<i64, _>("livemode") != 0,
        event_type: EventType::parse(&ty)
            .ok_or_else(|| StoreError::Corrupt(format!("bad event type {ty}")))?,
        object: from_json(&r.get::<String, _>("data"))?,
        created: r.get("created_at"),
    })
}

impl WebhookEndpoint {
    /// The merchant and mode this row belongs to.
    pub fn scope(&self) -> crate::Scope {
        crate::Scope {
            merchant_id: self.merchant_id.clone(),
            livemode: self.livemode,
        }
    }
}

impl Delivery {
    /// The merchant and mode this row belongs to.
    pub fn scope(&self) -> crate::Scope {
        crate::Scope {
            merchant_id: self.merchant_id.clone(),
            livemode: self.livemode,
        }
    }
}
