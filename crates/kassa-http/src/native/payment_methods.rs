//! `/v1/payment_methods` and `/v1/customers/{id}/payment_methods`: the cards customers saved.

use axum::extract::{Path, State};
use axum::{Extension, Json};
use kassa_service::Idem;
use serde::Deserialize;
use serde_json::Value;
use utoipa::ToSchema;

use super::{cursor_not_found, list_body, page_limit, Caller};
use crate::error::ApiError;
use crate::extract::ApiQuery;
use crate::AppState;

/// The card behind a saved payment method: what is safe to show, never the number.
// Describes the answer in the OpenAPI document; the unit test below pins it to the object
// the handler answers (the fields are read only there).
#[allow(dead_code)]
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct SavedCard {
    /// Lower-case brand, e.g. `visa`.
    pub brand: String,
    pub last4: String,
    pub exp_month: u32,
    pub exp_year: u32,
    /// Equal for the same card number under this Kassa installation.
    pub fingerprint: String,
}

/// A saved payment method.
#[allow(dead_code)]
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct PaymentMethodObject {
    /// `pm_…`
    pub id: String,
    /// Always `payment_method`.
    pub object: String,
    /// Always `card`.
    #[serde(rename = "type")]
    pub kind: String,
    pub card: SavedCard,
    /// The customer it is attached to; null once detached.
    pub customer: Option<String>,
    /// `always` when it was saved for off-session use, `limited` for on-session use only.
    pub allow_redisplay: String,
    /// Unix seconds.
    pub created: i64,
    /// True for live-mode data (made with a live key), false for test data.
    pub livemode: bool,
}

/// A page of saved payment methods.
#[allow(dead_code)]
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct PaymentMethodList {
    /// Always `list`.
    pub object: String,
    pub url: String,
    pub has_more: bool,
    pub data: Vec<PaymentMethodObject>,
}

/// `limit`, `starting_after` and a `type` filter.
#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub struct PaymentMethodListParams {
    /// 1 to 100, default 10.
    pub limit: Option<i64>,
    /// Id of the last payment method of the previous page.
    pub starting_after: Option<String>,
    /// Only `card` is saved, so `card` (or nothing) lists them all.
    #[serde(rename = "type")]
    pub kind: Option<String>,
}

fn check_method_id(id: &str) -> Result<(), ApiError> {
    if kassa_service::is_saved_method_id(id) {
        Ok(())
    } else {
        Err(ApiError::not_found(format!(
            "No such payment_method: '{}'",
            id.chars().take(100).collect::<String>()
        )))
    }
}

/// Retrieve a saved payment method.
#[utoipa::path(get, path = "/v1/payment_methods/{id}", params(("id" = String, Path)),
    responses((status = 200, description = "The payment method", body = PaymentMethodObject), (status = 404, description = "No such payment method")),
    security(("bearer" = [])), tag = "payment_methods")]
pub async fn retrieve(
    State(state): State<AppState>,
    Extension(caller): Extension<Caller>,
    Path(id): Path<String>,
) -> Result<Json<Value>, ApiError> {
    caller.require_secret()?;
    check_method_id(&id)?;
    let pm = state
        .svc
        .payments()
        .payment_method(&caller.scope, &id)
        .await?;
    Ok(Json(pm.to_json()))
}

/// Detach a payment method from its customer; it can never be used again.
#[utoipa::path(post, path = "/v1/payment_methods/{id}/detach", params(("id" = String, Path)),
    responses((status = 200, description = "The detached payment method", body = PaymentMethodObject),
        (status = 400, description = "Already detached"), (status = 404, description = "No such payment method")),
    security(("bearer" = [])), tag = "payment_methods")]
pub async fn detach(
    State(state): State<AppState>,
    Extension(caller): Extension<Caller>,
    idem: Option<Extension<Idem>>,
    Path(id): Path<String>,
) -> Result<Json<Value>, ApiError> {
    caller.require_secret()?;
    check_method_id(&id)?;
    let pm = state
        .svc
        .payments()
        .detach_payment_method(&caller.scope, &id, idem.as_ref().map(|e| &e.0))
        .await?;
    Ok(Json(pm.to_json()))
}

/// List a customer's saved payment methods, newest first.
#[utoipa::path(get, path = "/v1/customers/{id}/payment_methods", params(("id" = String, Path), PaymentMethodListParams),
    responses((status = 200, description = "A page of payment methods", body = PaymentMethodList), (status = 404, description = "No such customer")),
    security(("bearer" = [])), tag = "payment_methods")]
pub async fn list_for_customer(
    State(state): State<AppState>,
    Extension(caller): Extension<Caller>,
    Path(customer): Path<String>,
    ApiQuery(q): ApiQuery<PaymentMethodListParams>,
) -> Result<Json<Value>, ApiError> {
    caller.require_secret()?;
    let limit = page_limit(q.limit)?;
    let url = format!("/v1/customers/{customer}/payment_methods");
    if q.kind.as_deref().is_some_and(|k| k != "card") {
        // Only cards are ever saved.
        return Ok(Json(list_body(&url, Vec::new(), limit)));
    }
    let items = state
        .svc
        .payments()
        .customer_payment_methods(
            &caller.scope,
            &customer,
            limit + 1,
            q.starting_after.as_deref(),
        )
        .await?
        .ok_or_else(|| cursor_not_found(q.starting_after.as_deref().unwrap_or_default()))?;
    let items = items.iter().map(|m| m.to_json()).collect();
    Ok(Json(list_body(&url, items, limit)))
}

#[cfg(test)]
mod tests {
    use super::*;
    use kassa_core::payment_method::{PaymentMethod, SetupFutureUsage};
    use serde_json::json;

    /// The documented schemas are the objects the handlers answer (unknown fields refused).
    #[test]
    fn schemas_match_the_objects() {
        let pm = PaymentMethod {
            id: "pm_1".into(),
            merchant_id: "acct_1".into(),
            livemode: false,
            customer: Some("cus_1".into()),
            kind: "card".into(),
            details: serde_json::from_value(json!({"kind": "card", "brand": "visa",
                "bin": "424242", "last4": "4242", "exp_month": 12, "exp_year": 2034,
                "fingerprint": "abc"}))
            .unwrap(),
            processor_ref: "sbx_x".into(),
            source_payment: None,
            usage: SetupFutureUsage::OffSession,
            created: 1_700_000_000_000,
            detached_at: None,
        };
        let o: PaymentMethodObject = serde_json::from_value(pm.to_json()).unwrap();
        assert_eq!((o.card.last4.as_str(), o.created), ("4242", 1_700_000_000));
        let l: PaymentMethodList =
            serde_json::from_value(list_body("/v1/x", vec![pm.to_json()], 10)).unwrap();
        assert_eq!(l.data.len(), 1);
    }
}
