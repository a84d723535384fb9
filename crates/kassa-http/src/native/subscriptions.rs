//! `/v1/subscriptions` and `/v1/invoices`.

use axum::extract::{Path, State};
use axum::{Extension, Json};
use kassa_core::intent::Metadata;
use kassa_core::money::Currency;
use kassa_core::subscription::{FinalAction, Interval, RetryPolicy};
use kassa_service::{ItemParams, SubscriptionParams, SubscriptionUpdate};
use serde::Deserialize;
use serde_json::Value;
use utoipa::ToSchema;

use super::schemas::billing::{InvoiceList, InvoiceObject, SubscriptionList, SubscriptionObject};
use super::{cursor_not_found, list_body, page_limit, Caller};
use crate::error::ApiError;
use crate::extract::{ApiJson, ApiQuery};
use crate::AppState;

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateSubscription {
    /// The customer billed (`cus_…`); on a test clock, the subscription lives at its time.
    pub customer: String,
    /// A saved card of the customer (`pm_…`) that pays every invoice off-session. Without
    /// one, invoices fail until one is set (a trial gives time to set it).
    pub default_payment_method: Option<String>,
    /// 1 to 20 items, all in one currency and on one interval.
    pub items: Vec<ItemInput>,
    /// Days of free trial before the first invoice (0 to 730).
    pub trial_period_days: Option<i64>,
    /// End at the end of the current period (the trial's, if trialing) instead of renewing.
    pub cancel_at_period_end: Option<bool>,
    #[schema(value_type = Option<Object>)]
    pub metadata: Option<Metadata>,
    /// When a renewal fails: retries (days after each failure) and what happens after the last.
    /// Default: retries after 1, 3 and 5 days, then cancel.
    pub retry_policy: Option<RetryPolicyInput>,
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ItemInput {
    pub price_data: PriceData,
    /// Default 1.
    pub quantity: Option<i64>,
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct PriceData {
    /// ISO 4217 code, e.g. `usd`.
    pub currency: String,
    /// Per period and unit, in the currency's smallest unit.
    pub unit_amount: i64,
    pub recurring: RecurringInput,
    pub product_data: ProductData,
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RecurringInput {
    pub interval: Interval,
    /// Default 1 (at most 3 years' worth).
    pub interval_count: Option<i64>,
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ProductData {
    /// What the customer is billed for (invoice lines and payment descriptions).
    pub name: String,
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RetryPolicyInput {
    /// Days to wait after each failure before retrying (1 to 60 each, at most 8).
    pub retry_days: Vec<i64>,
    pub final_action: FinalAction,
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct UpdateSubscription {
    pub cancel_at_period_end: Option<bool>,
    pub default_payment_method: Option<String>,
    #[schema(value_type = Option<Object>)]
    pub metadata: Option<Metadata>,
}

/// `limit`, `starting_after` and a customer filter.
#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub struct SubscriptionListParams {
    /// 1 to 100, default 10.
    pub limit: Option<i64>,
    pub starting_after: Option<String>,
    /// Only this customer's subscriptions.
    pub customer: Option<String>,
}

/// `limit`, `starting_after` and a subscription or customer filter.
#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub struct InvoiceListParams {
    /// 1 to 100, default 10.
    pub limit: Option<i64>,
    pub starting_after: Option<String>,
    pub subscription: Option<String>,
    pub customer: Option<String>,
}

/// Create a subscription; without a trial its first period is billed at once.
#[utoipa::path(post, path = "/v1/subscriptions", operation_id = "create_subscription", request_body = CreateSubscription,
    responses((status = 200, description = "The subscription: active, trialing, or incomplete when the first payment failed", body = SubscriptionObject),
        (status = 400, description = "A field is not valid")),
    security(("bearer" = [])), tag = "subscriptions")]
pub async fn create(
    State(state): State<AppState>,
    Extension(caller): Extension<Caller>,
    ApiJson(req): ApiJson<CreateSubscription>,
) -> Result<Json<Value>, ApiError> {
    caller.require_secret()?;
    let mut items = Vec::with_capacity(req.items.len());
    for (n, it) in req.items.into_iter().enumerate() {
        let currency = Currency::parse(&it.price_data.currency).map_err(|e| {
            ApiError::invalid(
                Some(&format!("items[{n}][price_data][currency]")),
                e.to_string(),
            )
        })?;
        items.push(ItemParams {
            currency,
            unit_amount: it.price_data.unit_amount,
            interval: it.price_data.recurring.interval,
            interval_count: it.price_data.recurring.interval_count,
            product_name: it.price_data.product_data.name,
            quantity: it.quantity,
        });
    }
    let sub = state
        .svc
        .billing()
        .create_subscription(
            &caller.scope,
            SubscriptionParams {
                customer: req.customer,
                default_payment_method: req.default_payment_method,
                items,
                trial_period_days: req.trial_period_days,
                cancel_at_period_end: req.cancel_at_period_end.unwrap_or(false),
                metadata: req.metadata.unwrap_or_default(),
                retry_policy: req.retry_policy.map(|r| RetryPolicy {
                    retry_days: r.retry_days,
                    final_action: r.final_action,
                    retry_seconds: None,
                }),
            },
        )
        .await?;
    Ok(Json(sub.to_json()))
}

/// Retrieve a subscription.
#[utoipa::path(get, path = "/v1/subscriptions/{id}", operation_id = "retrieve_subscription", params(("id" = String, Path)),
    responses((status = 200, description = "The subscription", body = SubscriptionObject), (status = 404, description = "No such subscription")),
    security(("bearer" = [])), tag = "subscriptions")]
pub async fn retrieve(
    State(state): State<AppState>,
    Extension(caller): Extension<Caller>,
    Path(id): Path<String>,
) -> Result<Json<Value>, ApiError> {
    caller.require_secret()?;
    let sub = state.svc.billing().subscription(&caller.scope, &id).await?;
    Ok(Json(sub.to_json()))
}

/// Update a subscription: its card, its metadata, whether it ends at the period's end.
#[utoipa::path(post, path = "/v1/subscriptions/{id}", operation_id = "update_subscription", params(("id" = String, Path)), request_body = UpdateSubscription,
    responses((status = 200, description = "The subscription", body = SubscriptionObject), (status = 400, description = "A field is not valid"), (status = 404, description = "No such subscription")),
    security(("bearer" = [])), tag = "subscriptions")]
pub async fn update(
    State(state): State<AppState>,
    Extension(caller): Extension<Caller>,
    Path(id): Path<String>,
    ApiJson(req): ApiJson<UpdateSubscription>,
) -> Result<Json<Value>, ApiError> {
    caller.require_secret()?;
    let sub = state
        .svc
        .billing()
        .update_subscription(
            &caller.scope,
            &id,
            SubscriptionUpdate {
                cancel_at_period_end: req.cancel_at_period_end,
                default_payment_method: req.default_payment_method,
                metadata: req.metadata,
            },
        )
        .await?;
    Ok(Json(sub.to_json()))
}

/// Cancel a subscription now.
#[utoipa::path(delete, path = "/v1/subscriptions/{id}", operation_id = "cancel_subscription", params(("id" = String, Path)),
    responses((status = 200, description = "The canceled subscription", body = SubscriptionObject), (status = 400, description = "Already ended"), (status = 404, description = "No such subscription")),
    security(("bearer" = [])), tag = "subscriptions")]
pub async fn cancel(
    State(state): State<AppState>,
    Extension(caller): Extension<Caller>,
    Path(id): Path<String>,
) -> Result<Json<Value>, ApiError> {
    caller.require_secret()?;
    let sub = state
        .svc
        .billing()
        .cancel_subscription(&caller.scope, &id)
        .await?;
    Ok(Json(sub.to_json()))
}

/// Pause a subscription: nothing is billed or retried until it resumes.
#[utoipa::path(post, path = "/v1/subscriptions/{id}/pause", operation_id = "pause_subscription", params(("id" = String, Path)),
    responses((status = 200, description = "The paused subscription", body = SubscriptionObject), (status = 400, description = "Not active, past due or trialing")),
    security(("bearer" = [])), tag = "subscriptions")]
pub async fn pause(
    State(state): State<AppState>,
    Extension(caller): Extension<Caller>,
    Path(id): Path<String>,
) -> Result<Json<Value>, ApiError> {
    caller.require_secret()?;
    let sub = state
        .svc
        .billing()
        .pause_subscription(&caller.scope, &id)
        .await?;
    Ok(Json(sub.to_json()))
}

/// Resume a paused subscription (a period that ended meanwhile starts again now and is billed).
#[utoipa::path(post, path = "/v1/subscriptions/{id}/resume", operation_id = "resume_subscription", params(("id" = String, Path)),
    responses((status = 200, description = "The resumed subscription", body = SubscriptionObject), (status = 400, description = "Not paused")),
    security(("bearer" = [])), tag = "subscriptions")]
pub async fn resume(
    State(state): State<AppState>,
    Extension(caller): Extension<Caller>,
    Path(id): Path<String>,
) -> Result<Json<Value>, ApiError> {
    caller.require_secret()?;
    let sub = state
        .svc
        .billing()
        .resume_subscription(&caller.scope, &id)
        .await?;
    Ok(Json(sub.to_json()))
}

/// List subscriptions, newest first.
#[utoipa::path(get, path = "/v1/subscriptions", operation_id = "list_subscriptions", params(SubscriptionListParams),
    responses((status = 200, description = "A page of subscriptions", body = SubscriptionList)),
    security(("bearer" = [])), tag = "subscriptions")]
pub async fn list(
    State(state): State<AppState>,
    Extension(caller): Extension<Caller>,
    ApiQuery(q): ApiQuery<SubscriptionListParams>,
) -> Result<Json<Value>, ApiError> {
    caller.require_secret()?;
    let limit = page_limit(q.limit)?;
    let items = state
        .svc
        .billing()
        .list_subscriptions(
            &caller.scope,
            q.customer.as_deref(),
            limit + 1,
            q.starting_after.as_deref(),
        )
        .await?
        .ok_or_else(|| cursor_not_found(q.starting_after.as_deref().unwrap_or_default()))?;
    let items = items.iter().map(|s| s.to_json()).collect();
    Ok(Json(list_body("/v1/subscriptions", items, limit)))
}

/// Retrieve an invoice.
#[utoipa::path(get, path = "/v1/invoices/{id}", operation_id = "retrieve_invoice", params(("id" = String, Path)),
    responses((status = 200, description = "The invoice", body = InvoiceObject), (status = 404, description = "No such invoice")),
    security(("bearer" = [])), tag = "invoices")]
pub async fn retrieve_invoice(
    State(state): State<AppState>,
    Extension(caller): Extension<Caller>,
    Path(id): Path<String>,
) -> Result<Json<Value>, ApiError> {
    caller.require_secret()?;
    let inv = state.svc.billing().invoice(&caller.scope, &id).await?;
    Ok(Json(inv.to_json()))
}

/// List invoices, newest first.
#[utoipa::path(get, path = "/v1/invoices", operation_id = "list_invoices", params(InvoiceListParams),
    responses((status = 200, description = "A page of invoices", body = InvoiceList), (status = 400, description = "Both filters given")),
    security(("bearer" = [])), tag = "invoices")]
pub async fn list_invoices(
    State(state): State<AppState>,
    Extension(caller): Extension<Caller>,
    ApiQuery(q): ApiQuery<InvoiceListParams>,
) -> Result<Json<Value>, ApiError> {
    caller.require_secret()?;
    let limit = page_limit(q.limit)?;
    let filter = match (q.subscription.as_deref(), q.customer.as_deref()) {
        (Some(s), None) => Some(("subscription", s)),
        (None, Some(c)) => Some(("customer", c)),
        (None, None) => None,
        (Some(_), Some(_)) => {
            return Err(ApiError::invalid(
                Some("subscription"),
                "Filter by subscription or by customer, not both.",
            ))
        }
    };
    let items = state
        .svc
        .billing()
        .list_invoices(
            &caller.scope,
            filter,
            limit + 1,
            q.starting_after.as_deref(),
        )
        .await?
        .ok_or_else(|| cursor_not_found(q.starting_after.as_deref().unwrap_or_default()))?;
    let items = items.iter().map(|i| i.to_json()).collect();
    Ok(Json(list_body("/v1/invoices", items, limit)))
}
