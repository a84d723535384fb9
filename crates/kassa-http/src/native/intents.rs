//! `/v1/payment_intents`.

use axum::extract::{Path, State};
use axum::{Extension, Json};
use kassa_core::card::{CardNumber, Expiry};
use kassa_core::intent::{CaptureMethod, Metadata};
use kassa_core::money::Currency;
use kassa_core::payment_method::SetupFutureUsage;
use kassa_processor::PaymentMethodInput;
use kassa_service::{ConfirmParams, CreateIntentParams, Idem, KeyKind, PayWith, SaveChoice};
use serde::Deserialize;
use serde_json::Value;
use utoipa::ToSchema;

use super::schemas::intents::{PaymentIntentList, PaymentIntentObject};
use super::schemas::{CurrencyCode, ErrorBody};
use super::{cursor_not_found, list_body, Caller, ListParams};
use crate::error::ApiError;
use crate::extract::{ApiJson, ApiQuery};
use crate::AppState;

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreatePaymentIntent {
    /// Amount in the currency's smallest unit (cents for USD, yen for JPY, baisa for OMR).
    #[schema(minimum = 1, maximum = 99_999_999_999_i64, example = 1000)]
    pub amount: i64,
    /// ISO 4217 code, e.g. `usd`.
    #[schema(value_type = CurrencyCode, example = "usd")]
    pub currency: String,
    /// At most 1000 characters.
    #[schema(max_length = 1000)]
    pub description: Option<String>,
    /// Up to 50 keys of your own (keys 1 to 40 characters, values at most 500).
    #[schema(value_type = Option<BTreeMap<String, String>>)]
    pub metadata: Option<Metadata>,
    pub capture_method: Option<CaptureMethod>,
    /// Where the hosted checkout sends the customer after paying: an absolute http(s) URL
    /// without credentials, at most 2048 characters.
    #[schema(
        format = "uri",
        max_length = 2048,
        example = "https://shop.example/done"
    )]
    pub return_url: Option<String>,
    /// The customer's email.
    #[serde(alias = "customer_email")]
    #[schema(format = Email)]
    pub receipt_email: Option<String>,
    /// The paying customer (`cus_…`): a card this payment saves is attached to them, and only
    /// their saved cards may pay it.
    pub customer: Option<String>,
    /// Save the card this payment is paid with for the customer: `off_session` (the merchant
    /// may charge it later without the customer) or `on_session`. Needs `customer`.
    pub setup_future_usage: Option<SetupFutureUsage>,
    /// With `confirm: true`: a saved payment method of the customer (`pm_…`) or a test
    /// payment method such as `pm_card_visa`.
    #[schema(example = "pm_card_visa")]
    pub payment_method: Option<String>,
    /// Pay the intent in the same request (needs `payment_method`).
    pub confirm: Option<bool>,
    /// With `confirm: true` and a saved method: the customer is not present (a renewal, an
    /// instalment). A card that insists on authentication then declines with
    /// `authentication_required`.
    pub off_session: Option<bool>,
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ConfirmPaymentIntent {
    /// A saved payment method of the intent's customer (`pm_…`) or a test payment method
    /// such as `pm_card_visa` or `pm_card_threeDSecureRequired`.
    #[schema(example = "pm_card_visa")]
    pub payment_method: Option<String>,
    /// Raw card data (sandbox only).
    pub payment_method_data: Option<PaymentMethodData>,
    pub return_url: Option<String>,
    /// Required with a publishable key.
    pub client_secret: Option<String>,
    /// Save the card for the intent's customer (`off_session` or `on_session`).
    pub setup_future_usage: Option<SetupFutureUsage>,
    /// With a saved `payment_method`: the customer is not present.
    pub off_session: Option<bool>,
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct PaymentMethodData {
    /// Always `card`.
    #[serde(rename = "type")]
    pub kind: String,
    pub card: CardData,
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CardData {
    pub number: String,
    pub exp_month: u32,
    pub exp_year: u32,
    pub cvc: String,
    pub name: Option<String>,
}

impl std::fmt::Debug for CardData {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("CardData(***)")
    }
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CapturePaymentIntent {
    /// Defaults to the whole authorized amount.
    #[schema(minimum = 1)]
    pub amount_to_capture: Option<i64>,
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CancelPaymentIntent {
    /// `duplicate`, `fraudulent`, `requested_by_customer` or `abandoned`.
    pub cancellation_reason: Option<String>,
}

#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub struct RetrieveParams {
    /// Required with a publishable key.
    pub client_secret: Option<String>,
}

fn check_id(id: &str) -> Result<(), ApiError> {
    if kassa_core::ids::is_valid_id(id, kassa_core::ids::prefix::PAYMENT_INTENT) {
        Ok(())
    } else {
        Err(ApiError::not_found(format!(
            "No such payment_intent: '{}'",
            id.chars().take(100).collect::<String>()
        )))
    }
}

fn check_client_secret(
    caller: &Caller,
    given: Option<&str>,
    intent: &kassa_core::intent::PaymentIntent,
) -> Result<(), ApiError> {
    if caller.kind == KeyKind::Secret {
        return Ok(());
    }
    match given {
        Some(s)
            if kassa_core::secret::constant_time_eq(
                s.as_bytes(),
                intent.client_secret.as_bytes(),
            ) =>
        {
            Ok(())
        }
        _ => Err(ApiError::not_found(format!(
            "No such payment_intent: '{}'",
            intent.id
        ))),
    }
}

/// Create a payment intent.
#[utoipa::path(post, path = "/v1/payment_intents", operation_id = "create_payment_intent", request_body = CreatePaymentIntent,
    responses((status = 200, description = "The new intent (with `confirm: true`: paid, authorized or waiting for 3-D Secure)", body = PaymentIntentObject),
        (status = 400, description = "Invalid parameters (an unknown customer among them)", body = ErrorBody),
        (status = 402, description = "With `confirm: true`: declined; the error carries the intent", body = ErrorBody),
        (status = 404, description = "With `confirm: true`: no such saved payment method", body = ErrorBody)),
    security(("bearer" = [])), tag = "payment_intents")]
pub async fn create(
    State(state): State<AppState>,
    Extension(caller): Extension<Caller>,
    idem: Option<Extension<Idem>>,
    ApiJson(req): ApiJson<CreatePaymentIntent>,
) -> Result<Json<Value>, ApiError> {
    caller.require_secret()?;
    let currency = Currency::parse(&req.currency)
        .map_err(|e| ApiError::invalid(Some("currency"), e.to_string()))?;
    let confirm = req.confirm.unwrap_or(false);
    if req.off_session.is_some() && !confirm {
        return Err(ApiError::invalid(
            Some("off_session"),
            "off_session can only be given with confirm: true.",
        ));
    }
    if req.payment_method.is_some() && !confirm {
        return Err(ApiError::invalid(
            Some("payment_method"),
            "payment_method is given with confirm: true here, or to /confirm later.",
        ));
    }
    let params = CreateIntentParams {
        amount: req.amount,
        currency: Some(currency),
        description: req.description,
        metadata: req.metadata.unwrap_or_default(),
        capture_method: req.capture_method,
        return_url: req.return_url.clone(),
        receipt_email: req.receipt_email,
        capture_window_ms: None,
        review_delay_ms: None,
        voucher_window_ms: None,
        order_key: None,
        customer: req.customer,
        setup_future_usage: req.setup_future_usage,
    };
    let idem = idem.as_ref().map(|e| &e.0);
    let pi = if confirm {
        let with = pay_with(
            req.payment_method,
            None,
            req.return_url,
            SaveChoice::AsAsked,
        )?;
        state
            .svc
            .payments()
            .create_and_confirm(&caller.scope, params, with, idem)
            .await?
    } else {
        state
            .svc
            .payments()
            .create_intent(&caller.scope, params, idem)
            .await?
    };
    Ok(Json(pi.to_json(&state.svc.base_url)))
}

/// Retrieve a payment intent.
#[utoipa::path(get, path = "/v1/payment_intents/{id}", operation_id = "retrieve_payment_intent", params(("id" = String, Path), RetrieveParams),
    responses((status = 200, description = "The intent", body = PaymentIntentObject),
        (status = 400, description = "An unknown query parameter", body = ErrorBody),
        (status = 404, description = "No such intent (or, with a publishable key, not its client_secret)", body = ErrorBody)),
    security(("bearer" = [])), tag = "payment_intents")]
pub async fn retrieve(
    State(state): State<AppState>,
    Extension(caller): Extension<Caller>,
    Path(id): Path<String>,
    ApiQuery(q): ApiQuery<RetrieveParams>,
) -> Result<Json<Value>, ApiError> {
    check_id(&id)?;
    let pi = state.svc.payments().intent(&caller.scope, &id).await?;
    check_client_secret(&caller, q.client_secret.as_deref(), &pi)?;
    Ok(Json(pi.to_json(&state.svc.base_url)))
}

/// List payment intents, newest first.
#[utoipa::path(get, path = "/v1/payment_intents", operation_id = "list_payment_intents", params(ListParams),
    responses((status = 200, description = "A page of intents", body = PaymentIntentList),
        (status = 400, description = "`limit` out of range or an unknown `starting_after`", body = ErrorBody)),
    security(("bearer" = [])), tag = "payment_intents")]
pub async fn list(
    State(state): State<AppState>,
    Extension(caller): Extension<Caller>,
    ApiQuery(q): ApiQuery<ListParams>,
) -> Result<Json<Value>, ApiError> {
    caller.require_secret()?;
    let limit = q.limit()?;
    let items = state
        .svc
        .store
        .list_intents(&caller.scope, limit + 1, q.starting_after.as_deref())
        .await
        .map_err(kassa_service::ServiceError::from)?
        .ok_or_else(|| cursor_not_found(q.starting_after.as_deref().unwrap_or_default()))?;
    let items = items
        .iter()
        .map(|pi| pi.to_json(&state.svc.base_url))
        .collect();
    Ok(Json(list_body("/v1/payment_intents", items, limit)))
}

/// Confirm a payment intent with a payment method.
#[utoipa::path(post, path = "/v1/payment_intents/{id}/confirm", operation_id = "confirm_payment_intent", params(("id" = String, Path)), request_body = ConfirmPaymentIntent,
    responses((status = 200, description = "Succeeded, requires_capture, requires_action, or processing (the processor's answer was lost; Kassa looks the payment up and settles it, with its events)", body = PaymentIntentObject),
        (status = 400, description = "Invalid parameters, the intent's status does not allow a confirmation, or a live payment with no processor account (`processor_account_missing`)", body = ErrorBody),
        (status = 402, description = "Declined; the error carries the intent", body = ErrorBody),
        (status = 404, description = "No such intent or saved payment method", body = ErrorBody)),
    security(("bearer" = [])), tag = "payment_intents")]
pub async fn confirm(
    State(state): State<AppState>,
    Extension(caller): Extension<Caller>,
    idem: Option<Extension<Idem>>,
    Path(id): Path<String>,
    ApiJson(req): ApiJson<ConfirmPaymentIntent>,
) -> Result<Json<Value>, ApiError> {
    check_id(&id)?;
    if caller.kind == KeyKind::Publishable {
        let pi = state.svc.payments().intent(&caller.scope, &id).await?;
        check_client_secret(&caller, req.client_secret.as_deref(), &pi)?;
    }
    if req.off_session == Some(true)
        && !req
            .payment_method
            .as_deref()
            .is_some_and(kassa_service::is_saved_method_id)
    {
        return Err(ApiError::invalid(
            Some("off_session"),
            "off_session needs a saved payment_method (pm_…) of the intent's customer.",
        ));
    }
    let save = match req.setup_future_usage {
        Some(usage) => SaveChoice::Asked(usage),
        None => SaveChoice::AsAsked,
    };
    let idem = idem.as_ref().map(|e| &e.0);
    let pi = match pay_with(
        req.payment_method,
        req.payment_method_data,
        req.return_url,
        save,
    )? {
        PayWith::Saved(method) => {
            state
                .svc
                .payments()
                .confirm_with_saved_method(&caller.scope, &id, &method, idem)
                .await?
        }
        PayWith::Method(params) => {
            state
                .svc
                .payments()
                .confirm_intent(&caller.scope, &id, params, idem)
                .await?
        }
    };
    Ok(Json(pi.to_json(&state.svc.base_url)))
}

/// What pays: a saved method, a test token or card data.
fn pay_with(
    payment_method: Option<String>,
    payment_method_data: Option<PaymentMethodData>,
    return_url: Option<String>,
    save: SaveChoice,
) -> Result<PayWith, ApiError> {
    if let Some(id) = payment_method
        .as_deref()
        .filter(|m| kassa_service::is_saved_method_id(m))
    {
        if payment_method_data.is_some() {
            return Err(ApiError::invalid(
                Some("payment_method"),
                "Give payment_method or payment_method_data, not both.",
            ));
        }
        return Ok(PayWith::Saved(id.to_string()));
    }
    let method = match (payment_method, payment_method_data) {
        (Some(token), None) => PaymentMethodInput::TestToken(token),
        (None, Some(data)) => {
            if data.kind != "card" {
                return Err(ApiError::invalid(
                    Some("payment_method_data[type]"),
                    "Only `card` is supported.",
                ));
            }
            let c = data.card;
            let number = CardNumber::parse(&c.number).map_err(|_| {
                ApiError::invalid(
                    Some("payment_method_data[card][number]"),
                    "The card number is not a valid card number.",
                )
            })?;
            let expiry =
                Expiry::parse(&c.exp_month.to_string(), &c.exp_year.to_string()).map_err(|_| {
                    ApiError::invalid(
                        Some("payment_method_data[card][exp_month]"),
                        "The card's expiry date is invalid.",
                    )
                })?;
            PaymentMethodInput::Card {
                number,
                expiry,
                cvc: c.cvc,
                holder_name: c.name,
            }
        }
        (Some(_), Some(_)) => {
            return Err(ApiError::invalid(
                Some("payment_method"),
                "Give payment_method or payment_method_data, not both.",
            ))
        }
        (None, None) => return Err(ApiError::invalid(
            Some("payment_method"),
            "Missing required param: payment_method (e.g. pm_card_visa) or payment_method_data.",
        )),
    };
    Ok(PayWith::Method(ConfirmParams {
        method,
        return_url,
        three_d_secure: false,
        save,
    }))
}

/// Capture an authorized payment intent, in full or in part.
#[utoipa::path(post, path = "/v1/payment_intents/{id}/capture", operation_id = "capture_payment_intent", params(("id" = String, Path)), request_body = CapturePaymentIntent,
    responses((status = 200, description = "The captured intent", body = PaymentIntentObject),
        (status = 400, description = "Not `requires_capture`, or more than is capturable", body = ErrorBody),
        (status = 404, description = "No such intent", body = ErrorBody)),
    security(("bearer" = [])), tag = "payment_intents")]
pub async fn capture(
    State(state): State<AppState>,
    Extension(caller): Extension<Caller>,
    idem: Option<Extension<Idem>>,
    Path(id): Path<String>,
    ApiJson(req): ApiJson<CapturePaymentIntent>,
) -> Result<Json<Value>, ApiError> {
    caller.require_secret()?;
    check_id(&id)?;
    let pi = state
        .svc
        .payments()
        .capture_intent(
            &caller.scope,
            &id,
            req.amount_to_capture,
            idem.as_ref().map(|e| &e.0),
        )
        .await?;
    Ok(Json(pi.to_json(&state.svc.base_url)))
}

/// Cancel a payment intent that has not been captured.
#[utoipa::path(post, path = "/v1/payment_intents/{id}/cancel", operation_id = "cancel_payment_intent", params(("id" = String, Path)), request_body = CancelPaymentIntent,
    responses((status = 200, description = "The canceled intent", body = PaymentIntentObject),
        (status = 400, description = "An unknown reason, or the intent can no longer be canceled", body = ErrorBody),
        (status = 404, description = "No such intent", body = ErrorBody)),
    security(("bearer" = [])), tag = "payment_intents")]
pub async fn cancel(
    State(state): State<AppState>,
    Extension(caller): Extension<Caller>,
    idem: Option<Extension<Idem>>,
    Path(id): Path<String>,
    ApiJson(req): ApiJson<CancelPaymentIntent>,
) -> Result<Json<Value>, ApiError> {
    caller.require_secret()?;
    check_id(&id)?;
    let pi = state
        .svc
        .payments()
        .cancel_intent(
            &caller.scope,
            &id,
            req.cancellation_reason,
            idem.as_ref().map(|e| &e.0),
        )
        .await?;
    Ok(Json(pi.to_json(&state.svc.base_url)))
}
