//! A small typed client for the part of Stripe's API the connector uses: form-encoded bodies,
//! `Authorization: Bearer sk_…`, a pinned `Stripe-Version`, an `Idempotency-Key` on every
//! request that moves money, and every request through [`EgressClient`].
//!
//! What a failed request means is classified here, once: nothing sent or a refusal
//! ([`CallError::Unavailable`]), an answer that may have been lost after Stripe acted
//! ([`CallError::Unknown`]), or Stripe's own error object ([`CallError::Api`]). Request bodies
//! (which may hold a card number) and the secret key never appear in `Debug` or error texts.

use std::fmt;
use std::time::Duration;

use kassa_egress::{EgressClient, SendError};
use serde::de::DeserializeOwned;

use crate::types::ApiError;

/// The API version every request pins, so Stripe's answers keep the shape parsed here.
pub const STRIPE_VERSION: &str = "2024-06-20";

/// A form body: ordered `key=value` pairs in Stripe's bracket notation. `Debug` shows keys only.
#[derive(Default, Clone)]
pub struct Form(Vec<(String, String)>);

impl Form {
    pub fn new() -> Self {
        Form::default()
    }

    pub fn set(mut self, key: &str, value: impl Into<String>) -> Self {
        self.0.push((key.to_string(), value.into()));
        self
    }

    pub fn set_opt(self, key: &str, value: Option<impl Into<String>>) -> Self {
        match value {
            Some(v) => self.set(key, v),
            None => self,
        }
    }

    pub fn encode(&self) -> String {
        let mut ser = url::form_urlencoded::Serializer::new(String::new());
        for (k, v) in &self.0 {
            ser.append_pair(k, v);
        }
        ser.finish()
    }

    pub fn keys(&self) -> impl Iterator<Item = &str> {
        self.0.iter().map(|(k, _)| k.as_str())
    }
}

impl fmt::Debug for Form {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_list().entries(self.keys()).finish()
    }
}

/// Why a call produced no usable answer.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CallError {
    /// Stripe did not act: the request was refused by the egress policy, could not connect,
    /// or Stripe said so (HTTP 429).
    #[error("stripe unavailable: {0}")]
    Unavailable(String),
    /// The request may have reached Stripe and taken effect, but no answer came back (a
    /// timeout, a connection lost, an HTTP 5xx, which Stripe documents as indeterminate).
    #[error("stripe outcome unknown: {0}")]
    Unknown(String),
    /// Stripe answered with its error object.
    #[error("stripe answered HTTP {status}: {}", .error.message)]
    Api { status: u16, error: ApiError },
    /// A 2xx answer that is not the expected object.
    #[error("stripe answer not understood: {0}")]
    Malformed(String),
}

/// Maps a transport failure to what it means for a request that may move money.
pub(crate) fn classify_send_error(e: SendError) -> CallError {
    match e {
        SendError::Refused => CallError::Unavailable(kassa_egress::REFUSED.to_string()),
        SendError::Connect => CallError::Unavailable("could not connect".into()),
        // Sent, or possibly sent: Stripe may have acted.
        SendError::Timeout => CallError::Unknown("timed out waiting for the answer".into()),
        SendError::Other => CallError::Unknown("the connection failed mid-request".into()),
    }
}

/// Stripe's API at one base URL with one secret key.
#[derive(Clone)]
pub struct StripeClient {
    egress: EgressClient,
    base_url: String,
    secret_key: String,
    timeout: Duration,
}

impl fmt::Debug for StripeClient {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("StripeClient")
            .field("base_url", &self.base_url)
            .field("secret_key", &"<redacted>")
            .field("timeout", &self.timeout)
            .finish()
    }
}

impl StripeClient {
    pub fn new(egress: EgressClient, base_url: &str, secret_key: &str, timeout: Duration) -> Self {
        StripeClient {
            egress,
            base_url: base_url.trim_end_matches('/').to_string(),
            secret_key: secret_key.to_string(),
            timeout,
        }
    }

    /// `POST {path}` with `form`; `idempotency_key` is sent as `Idempotency-Key`.
    pub async fn post<T: DeserializeOwned>(
        &self,
        path: &str,
        form: &Form,
        idempotency_key: Option<&str>,
    ) -> Result<T, CallError> {
        let mut req = self
            .egress
            .post(&format!("{}{path}", self.base_url))
            .header("Content-Type", "application/x-www-form-urlencoded")
            .body(form.encode());
        if let Some(key) = idempotency_key {
            req = req.header("Idempotency-Key", key);
        }
        self.send(req).await
    }

    /// `GET {path}?{query}`. A read never moves money, so a lost answer is only unavailable.
    pub async fn get<T: DeserializeOwned>(&self, path: &str, query: &Form) -> Result<T, CallError> {
        let mut url = format!("{}{path}", self.base_url);
        if query.keys().next().is_some() {
            url.push('?');
            url.push_str(&query.encode());
        }
        let req = self.egress.get(&url);
        self.send(req).await.map_err(|e| match e {
            CallError::Unknown(m) => CallError::Unavailable(m),
            other => other,
        })
    }

    async fn send<T: DeserializeOwned>(
        &self,
        req: kassa_egress::EgressRequest,
    ) -> Result<T, CallError> {
        let resp = req
            .header("Authorization", &format!("Bearer {}", self.secret_key))
            .header("Stripe-Version", STRIPE_VERSION)
            .timeout(self.timeout)
            .send()
            .await
            .map_err(classify_send_error)?;
        let status = resp.status().as_u16();
        let body = resp
            .bytes()
            .await
            .map_err(|_| CallError::Unknown("the answer was cut off".into()))?;
        read_answer(status, &body)
    }
}

/// Turns an HTTP status and body into the object or the classified error.
pub(crate) fn read_answer<T: DeserializeOwned>(status: u16, body: &[u8]) -> Result<T, CallError> {
    if (200..300).contains(&status) {
        return serde_json::from_slice(body).map_err(|e| CallError::Malformed(e.to_string()));
    }
    if status >= 500 {
        return Err(CallError::Unknown(format!("HTTP {status}")));
    }
    if status == 429 {
        return Err(CallError::Unavailable("rate limited (HTTP 429)".into()));
    }
    #[derive(serde::Deserialize)]
    struct Envelope {
        error: ApiError,
    }
    match serde_json::from_slice::<Envelope>(body) {
        Ok(env) => Err(CallError::Api {
            status,
            error: env.error,
        }),
        Err(_) => Err(CallError::Api {
            status,
            error: ApiError {
                message: format!("HTTP {status} without an error object"),
                ..ApiError::default()
            },
        }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::types::PaymentIntent;

    #[test]
    fn forms_encode_brackets_and_hide_values_in_debug() {
        let form = Form::new()
            .set("card[number]", "4242424242424242")
            .set("metadata[kassa_attempt_id]", "pa_1 2");
        assert_eq!(
            form.encode(),
            "card%5Bnumber%5D=4242424242424242&metadata%5Bkassa_attempt_id%5D=pa_1+2"
        );
        let shown = format!("{form:?}");
        assert!(!shown.contains("4242"), "{shown}");
        assert!(shown.contains("card[number]"));
    }

    #[test]
    fn the_client_debug_hides_the_secret_key() {
        let egress = EgressClient::new(
            kassa_egress::EgressPolicy::public_only(),
            Duration::from_secs(1),
            "t",
        )
        .unwrap();
        let c = StripeClient::new(
            egress,
            "https://api.stripe.com/",
            "sk_test_hidden",
            Duration::from_secs(1),
        );
        let shown = format!("{c:?}");
        assert!(!shown.contains("hidden"), "{shown}");
        assert!(shown.contains("https://api.stripe.com\""), "{shown}");
    }

    #[test]
    fn send_errors_are_unknown_once_the_request_may_have_left() {
        assert!(matches!(
            classify_send_error(SendError::Timeout),
            CallError::Unknown(_)
        ));
        assert!(matches!(
            classify_send_error(SendError::Other),
            CallError::Unknown(_)
        ));
        assert!(matches!(
            classify_send_error(SendError::Connect),
            CallError::Unavailable(_)
        ));
        assert!(matches!(
            classify_send_error(SendError::Refused),
            CallError::Unavailable(_)
        ));
    }

    #[test]
    fn answers_are_read_by_status() {
        let pi: PaymentIntent =
            read_answer(200, br#"{"id":"pi_1","status":"succeeded","metadata":{}}"#).unwrap();
        assert_eq!(pi.id, "pi_1");
        assert!(matches!(
            read_answer::<PaymentIntent>(500, b"oops"),
            Err(CallError::Unknown(_))
        ));
        assert!(matches!(
            read_answer::<PaymentIntent>(429, b"{}"),
            Err(CallError::Unavailable(_))
        ));
        let body = br#"{"error":{"type":"card_error","code":"card_declined","decline_code":"insufficient_funds","message":"Your card has insufficient funds."}}"#;
        match read_answer::<PaymentIntent>(402, body) {
            Err(CallError::Api { status: 402, error }) => {
                assert_eq!(error.code.as_deref(), Some("card_declined"));
                assert_eq!(error.decline_code.as_deref(), Some("insufficient_funds"));
            }
            other => panic!("{other:?}"),
        }
        assert!(matches!(
            read_answer::<PaymentIntent>(400, b"<html>"),
            Err(CallError::Api { status: 400, .. })
        ));
        assert!(matches!(
            read_answer::<PaymentIntent>(200, b"not json"),
            Err(CallError::Malformed(_))
        ));
    }
}
