//! Response schemas of the native API that are too large to sit beside their handlers, and the
//! error body every operation shares. Each struct describes, for the OpenAPI document, the JSON a
//! handler answers; the unit tests deserialize the objects the handlers really build into them
//! (unknown fields refused, required ones checked), so the document cannot drift from the wire.
//! The black-box tests pin the objects only a running service can build the same way.

pub mod audit;
pub mod billing;
pub mod branding;
pub mod intents;
pub mod paymentwall;
pub mod paymob;
pub mod processors;
pub mod refunds;
pub mod webhooks;

use serde::Deserialize;
use serde_json::Value;
use utoipa::ToSchema;

use intents::PaymentIntentObject;

/// What every error answers: `{"error": {…}}`.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ErrorBody {
    pub error: ErrorDetail,
}

/// The error's kind.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum ErrorType {
    /// The request cannot succeed as sent (a field, a state, an unknown id).
    InvalidRequestError,
    /// No API key, or not a valid one.
    AuthenticationError,
    /// The card was declined (HTTP 402).
    CardError,
    /// Kassa, its database or its processor failed; retry later.
    ApiError,
    /// An `Idempotency-Key` was reused for another request, or its first request still runs.
    IdempotencyError,
    /// Too many requests with this key (HTTP 429, with `Retry-After`).
    RateLimitError,
}

/// Why the request failed.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ErrorDetail {
    /// `invalid_request_error` (400, 403, 404, 409), `authentication_error` (401), `card_error`
    /// (402), `idempotency_error` (409, 422), `rate_limit_error` (429) or `api_error` (5xx; a
    /// 402 whose processor failed).
    #[serde(rename = "type")]
    pub kind: ErrorType,
    /// A stable code, e.g. `parameter_invalid`, `resource_missing`, `unexpected_state`,
    /// `url_refused`, `secret_key_required`, `api_key_invalid`, `card_declined`,
    /// `authentication_required`, `rate_limited`.
    pub code: String,
    /// What went wrong, in plain words (never a refused value).
    pub message: String,
    /// The request field at fault, in bracket form (`payment_method_data[card][number]`);
    /// null when no one field is. Paymob operations' field errors carry `fields` instead.
    pub param: Option<String>,
    /// Declines only: the issuer's reason, e.g. `insufficient_funds`.
    pub decline_code: Option<String>,
    /// Declines only (402): the payment intent, back in `requires_payment_method` with its
    /// `last_payment_error`.
    pub payment_intent: Option<Box<PaymentIntentObject>>,
    /// Paymob operations: every refused field with its messages, e.g.
    /// `{"currency": ["\"XYZ\" is not a valid choice."]}`.
    #[schema(value_type = Option<Object>)]
    pub fields: Option<Value>,
}

/// A currency Kassa supports: its lower-case ISO 4217 code (requests may use upper case).
pub struct CurrencyCode;

impl utoipa::PartialSchema for CurrencyCode {
    fn schema() -> utoipa::openapi::RefOr<utoipa::openapi::schema::Schema> {
        let codes: Vec<String> = kassa_core::money::Currency::all()
            .map(|c| c.code().to_ascii_lowercase())
            .collect();
        utoipa::openapi::schema::ObjectBuilder::new()
            .schema_type(utoipa::openapi::schema::Type::String)
            .description(Some(
                "A currency Kassa supports: its lower-case ISO 4217 code (requests may use \
                 upper case).",
            ))
            .enum_values(Some(codes))
            .into()
    }
}

impl ToSchema for CurrencyCode {}

/// A list's `object`: always `list`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum ListObject {
    List,
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use crate::error::ApiError;
    use axum::http::StatusCode;
    use kassa_core::intent::PaymentError;
    use serde::de::DeserializeOwned;
    use utoipa::openapi::{RefOr, Schema};
    use utoipa::PartialSchema;

    /// `value` read as `T`: no field `T` does not document, and every field its schema marks
    /// required present (`serde` alone lets a missing `Option` pass).
    pub(crate) fn pinned<T: DeserializeOwned + ToSchema>(value: &Value) -> T {
        if let RefOr::T(Schema::Object(o)) = T::schema() {
            for name in &o.required {
                assert!(
                    value.get(name).is_some(),
                    "{} lacks the required `{name}`: {value}",
                    T::name()
                );
            }
        }
        match serde_json::from_value(value.clone()) {
            Ok(t) => t,
            Err(e) => panic!("{} does not describe {value}: {e}", T::name()),
        }
    }

    fn body_of(e: ApiError) -> (StatusCode, Value) {
        (e.status, e.body())
    }

    /// The documented error body is what `ApiError` sends, a decline's included.
    #[test]
    fn every_currency_is_documented_as_answered() {
        let RefOr::T(Schema::Object(o)) = CurrencyCode::schema() else {
            panic!("an inline schema")
        };
        let codes = o.enum_values.expect("the codes");
        for c in kassa_core::money::Currency::all() {
            assert!(
                codes.contains(&serde_json::to_value(c).unwrap()),
                "{}",
                c.code()
            );
        }
    }

    #[test]
    fn schemas_match_the_objects() {
        let (status, b) = body_of(ApiError::invalid(Some("amount"), "bad"));
        assert_eq!(status, StatusCode::BAD_REQUEST);
        let e: ErrorBody = pinned(&b);
        assert_eq!(e.error.kind, ErrorType::InvalidRequestError);
        assert_eq!(e.error.param.as_deref(), Some("amount"));
        let e: ErrorBody = pinned(&body_of(ApiError::not_found("No such thing")).1);
        assert_eq!(e.error.code, "resource_missing");

        let error = PaymentError {
            kind: "card_error".into(),
            code: "card_declined".into(),
            decline_code: Some("insufficient_funds".into()),
            message: "Your card has insufficient funds.".into(),
        };
        let mut pi = intents::tests::intent();
        pi.last_payment_error = Some(error.clone());
        let intent = pi.to_json("http://kassa.test");
        let declined = kassa_service::ServiceError::Declined {
            error: Box::new(error),
            intent: Box::new(intent),
        };
        let (status, b) = body_of(declined.into());
        assert_eq!(status, StatusCode::PAYMENT_REQUIRED);
        let e: ErrorBody = pinned(&b);
        assert_eq!(e.error.kind, ErrorType::CardError);
        assert_eq!(e.error.decline_code.as_deref(), Some("insufficient_funds"));
        let pi = e.error.payment_intent.expect("the intent");
        assert_eq!(pi.last_payment_error.unwrap().code, "card_declined");

        for (kind, code) in [
            ("authentication_error", "api_key_invalid"),
            ("idempotency_error", "idempotency_key_in_use"),
            ("rate_limit_error", "rate_limited"),
            ("api_error", "internal_error"),
        ] {
            let e = ApiError::new(StatusCode::BAD_REQUEST, kind, code, "m");
            let _: ErrorBody = pinned(&body_of(e).1);
        }
    }
}
