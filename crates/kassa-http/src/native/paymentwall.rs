//! `/v1/paymentwall/…`: the merchant's side of the Paymentwall dialect. Projects (keys, API
//! type, pingback settings), the Test Pingback Tool, subscriptions with their test clock, and
//! paid orders with their delivery confirmations and a sandbox chargeback.

use std::collections::BTreeMap;
use std::time::Duration;

use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::{Extension, Json};
use kassa_paymentwall::{
    CountryMethods, TYPE_AUTHORIZATION_VOIDED, TYPE_GOODWILL, TYPE_NEGATIVE, TYPE_PAYMENT,
    TYPE_RISK_REVIEW_ACCEPTED, TYPE_RISK_REVIEW_DECLINED, TYPE_RISK_REVIEW_PENDING,
    TYPE_SUBSCRIPTION_CANCELLED, TYPE_SUBSCRIPTION_EXPIRED, TYPE_SUBSCRIPTION_PAYMENT_FAILED,
};
use kassa_service::paymentwall::{self as pw, ProjectInput, ProjectSettings};
use serde::Deserialize;
use serde_json::{json, Value};
use utoipa::ToSchema;

use super::schemas::paymentwall::{
    ProjectList, ProjectObject, ProjectSettingsFields, PwPaymentRecord, PwSubscriptionList,
    PwSubscriptionObject, TestPingbackReport,
};
use super::schemas::refunds::RefundObject;
use super::schemas::ErrorBody;
use super::{list_body, Caller};
use crate::error::ApiError;
use crate::extract::ApiJson;
use crate::AppState;

/// A project's fields. On create `name` and `api_type` are required; on update every field is
/// optional and an absent one keeps its value.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ProjectParams {
    pub name: Option<String>,
    /// `digital_goods`, `virtual_currency` or `cart`.
    pub api_type: Option<String>,
    /// Where pingbacks are sent (http or https). `""` clears it.
    pub pingback_url: Option<String>,
    /// Where live payments' pingbacks are sent instead of `pingback_url` (http or https); unset,
    /// they go to `pingback_url` as on Paymentwall. `""` clears it.
    pub live_pingback_url: Option<String>,
    /// Update only, with a live API key: `true` gives the project a live key pair when it has
    /// none (a project made before live keys existed), else a new live secret key for the same
    /// live project key (the old one stops working at once). The answer carries
    /// `live_secret_key`, shown this once.
    pub new_live_keys: Option<bool>,
    /// 1, 2 or 3 (default 3; Cart projects are always 2).
    pub pingback_sign_version: Option<i64>,
    /// Payment widget codes such as `p1_1`, `pw_1`, `m2_1`.
    pub widgets: Option<Vec<String>>,
    /// Payment system ids by country code (`"*"` for every other country).
    #[schema(value_type = Option<BTreeMap<String, Vec<String>>>)]
    pub payment_systems: Option<CountryMethods>,
    /// Offer the Test payment method on the payment page.
    pub test_method: Option<bool>,
    /// Extra pingback parameters: name → `OWN` (the link's own parameter) or a macro.
    pub custom_pingback: Option<BTreeMap<String, String>>,
    /// Origins allowed to frame the payment page. `""` clears it.
    pub frame_ancestors: Option<String>,
    /// `vc_name`, `vc_rate`, `risk_review_delay_seconds`, `renewal_retry_seconds`,
    /// `link_max_age_seconds`, `client_callbacks`.
    #[schema(value_type = Option<ProjectSettingsFields>)]
    pub settings: Option<ProjectSettings>,
}

impl From<ProjectParams> for ProjectInput {
    fn from(p: ProjectParams) -> Self {
        ProjectInput {
            name: p.name,
            api_type: p.api_type,
            pingback_url: p.pingback_url,
            live_pingback_url: p.live_pingback_url,
            pingback_sign_version: p.pingback_sign_version,
            widgets: p.widgets,
            payment_systems: p.payment_systems,
            test_method: p.test_method,
            custom_pingback: p.custom_pingback,
            frame_ancestors: p.frame_ancestors,
            settings: p.settings,
        }
    }
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct TestPingbackParams {
    /// Pingback type: 0, 1, 2, 12, 13, 14, 200, 201, 202 or 203.
    #[serde(rename = "type")]
    pub kind: u16,
    /// The user id to send.
    pub uid: String,
    /// The product id (default `test_product`); ignored by Virtual Currency projects.
    pub goodsid: Option<String>,
    /// The transaction reference (default `t<unix time>`).
    #[serde(rename = "ref")]
    pub reference: Option<String>,
    /// Chargeback reason 1 to 10; only with type 2.
    pub reason: Option<u8>,
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct AdvanceClock {
    /// How far to move the subscription's clock forward, in seconds.
    pub seconds: i64,
}

const PINGBACK_TYPES: [u16; 10] = [
    TYPE_PAYMENT,
    TYPE_GOODWILL,
    TYPE_NEGATIVE,
    TYPE_SUBSCRIPTION_CANCELLED,
    TYPE_SUBSCRIPTION_EXPIRED,
    TYPE_SUBSCRIPTION_PAYMENT_FAILED,
    TYPE_RISK_REVIEW_PENDING,
    TYPE_RISK_REVIEW_ACCEPTED,
    TYPE_RISK_REVIEW_DECLINED,
    TYPE_AUTHORIZATION_VOIDED,
];

/// How long the Test Pingback Tool waits for the merchant's answer.
const TEST_PINGBACK_TIMEOUT: Duration = Duration::from_secs(15);
/// Characters of the merchant's answer shown back.
const RESPONSE_EXCERPT_CHARS: usize = 1000;

/// Create a Paymentwall project with a test and a live key pair; the response carries its
/// `secret_key` and, to a live API key only, its `live_secret_key`, shown this once.
#[utoipa::path(post, path = "/v1/paymentwall/projects", operation_id = "create_paymentwall_project", request_body = ProjectParams,
    responses((status = 200, description = "The project with its secret key", body = ProjectObject), (status = 400, description = "Invalid parameters", body = ErrorBody)),
    security(("bearer" = [])), tag = "paymentwall")]
pub async fn create_project(
    State(state): State<AppState>,
    Extension(caller): Extension<Caller>,
    ApiJson(req): ApiJson<ProjectParams>,
) -> Result<Json<Value>, ApiError> {
    caller.require_secret()?;
    if req.new_live_keys.is_some() {
        return Err(ApiError::invalid(
            Some("new_live_keys"),
            "new_live_keys is for an update: a new project gets its live key pair anyway.",
        ));
    }
    live_settings_need_a_live_key(&caller, &req)?;
    let p = state
        .svc
        .paymentwall()
        .create_project(&caller.merchant.id, req.into())
        .await?;
    let mut body = p.to_json(true);
    if !caller.scope.livemode {
        // A live secret moves real money: a test key never sees one.
        if let Some(o) = body.as_object_mut() {
            o.remove("live_secret_key");
        }
    }
    Ok(Json(body))
}

/// A test API key changes nothing of a project's live side (its live keys and live pingback
/// URL): that takes a live key, as every live setting does.
fn live_settings_need_a_live_key(caller: &Caller, req: &ProjectParams) -> Result<(), ApiError> {
    if caller.scope.livemode {
        return Ok(());
    }
    for (set, param) in [
        (req.new_live_keys.is_some(), "new_live_keys"),
        (req.live_pingback_url.is_some(), "live_pingback_url"),
    ] {
        if set {
            return Err(ApiError::new(
                axum::http::StatusCode::FORBIDDEN,
                "invalid_request_error",
                "livemode_key_required",
                format!("{param} changes live payments: send it with a live key (sk_live_…)."),
            ));
        }
    }
    Ok(())
}

/// List Paymentwall projects.
#[utoipa::path(get, path = "/v1/paymentwall/projects", operation_id = "list_paymentwall_projects",
    responses((status = 200, description = "All projects (without secret keys)", body = ProjectList)),
    security(("bearer" = [])), tag = "paymentwall")]
pub async fn list_projects(
    State(state): State<AppState>,
    Extension(caller): Extension<Caller>,
) -> Result<Json<Value>, ApiError> {
    caller.require_secret()?;
    let items: Vec<Value> = state
        .svc
        .paymentwall()
        .projects(&caller.merchant.id)
        .await?
        .iter()
        .map(|p| p.to_json(false))
        .collect();
    let n = items.len() as i64;
    Ok(Json(list_body("/v1/paymentwall/projects", items, n)))
}

/// Retrieve a Paymentwall project (without its secret key).
#[utoipa::path(get, path = "/v1/paymentwall/projects/{id}", operation_id = "retrieve_paymentwall_project", params(("id" = String, Path)),
    responses((status = 200, description = "The project", body = ProjectObject), (status = 404, description = "No such project", body = ErrorBody)),
    security(("bearer" = [])), tag = "paymentwall")]
pub async fn retrieve_project(
    State(state): State<AppState>,
    Extension(caller): Extension<Caller>,
    Path(id): Path<String>,
) -> Result<Json<Value>, ApiError> {
    caller.require_secret()?;
    let p = state
        .svc
        .paymentwall()
        .project(&caller.merchant.id, &id)
        .await?;
    Ok(Json(p.to_json(false)))
}

/// Update a Paymentwall project; absent fields keep their values. With `new_live_keys: true`
/// the answer carries the new `live_secret_key`, shown this once.
#[utoipa::path(post, path = "/v1/paymentwall/projects/{id}", operation_id = "update_paymentwall_project", params(("id" = String, Path)), request_body = ProjectParams,
    responses((status = 200, description = "The project", body = ProjectObject), (status = 400, description = "Invalid parameters", body = ErrorBody), (status = 404, description = "No such project", body = ErrorBody)),
    security(("bearer" = [])), tag = "paymentwall")]
pub async fn update_project(
    State(state): State<AppState>,
    Extension(caller): Extension<Caller>,
    Path(id): Path<String>,
    ApiJson(req): ApiJson<ProjectParams>,
) -> Result<Json<Value>, ApiError> {
    caller.require_secret()?;
    live_settings_need_a_live_key(&caller, &req)?;
    let new_live_keys = req.new_live_keys == Some(true);
    let p = state
        .svc
        .paymentwall()
        .update_project(&caller.merchant.id, &id, req.into())
        .await?;
    if new_live_keys {
        let p = state
            .svc
            .paymentwall()
            .new_live_keys(&caller.merchant.id, &id)
            .await?;
        return Ok(Json(p.to_json_with_live_secret()));
    }
    Ok(Json(p.to_json(false)))
}

/// The Test Pingback Tool: sends a signed test pingback (`is_test=1`) to the project's pingback
/// URL now and reports the query, the signature base string and the merchant's answer. With a
/// live key it goes to the live pingback URL (else `pingback_url`), signed with the live secret.
#[utoipa::path(post, path = "/v1/paymentwall/projects/{id}/test_pingback", operation_id = "send_paymentwall_test_pingback", params(("id" = String, Path)), request_body = TestPingbackParams,
    responses((status = 200, description = "What was sent and how the merchant answered (`success`: HTTP 200 with the body OK)", body = TestPingbackReport),
        (status = 400, description = "Invalid parameters, the project has no pingback URL, or (live key) no live keys yet", body = ErrorBody),
        (status = 404, description = "No such project", body = ErrorBody)),
    security(("bearer" = [])), tag = "paymentwall")]
pub async fn test_pingback(
    State(state): State<AppState>,
    Extension(caller): Extension<Caller>,
    Path(id): Path<String>,
    ApiJson(req): ApiJson<TestPingbackParams>,
) -> Result<Json<Value>, ApiError> {
    caller.require_secret()?;
    if !PINGBACK_TYPES.contains(&req.kind) {
        return Err(ApiError::invalid(
            Some("type"),
            "type must be one of 0, 1, 2, 12, 13, 14, 200, 201, 202, 203.",
        ));
    }
    check_text("uid", &req.uid, 256)?;
    if let Some(g) = &req.goodsid {
        check_text("goodsid", g, 256)?;
    }
    if let Some(r) = &req.reference {
        check_text("ref", r, 64)?;
    }
    if let Some(reason) = req.reason {
        if req.kind != TYPE_NEGATIVE {
            return Err(ApiError::invalid(
                Some("reason"),
                "reason is only sent with type 2.",
            ));
        }
        if !(1..=10).contains(&reason) {
            return Err(ApiError::invalid(
                Some("reason"),
                "reason must be from 1 to 10.",
            ));
        }
    }
    let project = state
        .svc
        .paymentwall()
        .project_in(&caller.scope, &id)
        .await?;
    if caller.scope.livemode && project.live_secret.is_none() {
        return Err(ApiError::new(
            StatusCode::BAD_REQUEST,
            "invalid_request_error",
            "live_keys_missing",
            "This project has no live keys yet; update it with new_live_keys: true first.",
        ));
    }
    let Some(t) = pw::test_pingback(
        &project,
        req.kind,
        &req.uid,
        req.goodsid.as_deref().unwrap_or("test_product"),
        req.reference.as_deref(),
        req.reason,
    ) else {
        return Err(ApiError::new(
            StatusCode::BAD_REQUEST,
            "invalid_request_error",
            "pingback_url_missing",
            "This project has no pingback_url; set one first.",
        ));
    };
    let (response, error) = match send_test_get(state.svc.notifier.egress(), &t.url).await {
        Ok((status, body)) => {
            let error = if status != 200 {
                Some(format!(
                    "Pingback wasn't successful: the HTTP status code {status} is different from 200."
                ))
            } else if !is_ok_body(&body) {
                Some("Pingback wasn't successful: the response body is not OK.".to_string())
            } else {
                None
            };
            (Some((status, body)), error)
        }
        Err(e) => (None, Some(format!("Pingback wasn't successful: {e}."))),
    };
    Ok(Json(test_pingback_json(&t, response, error)))
}

/// The Test Pingback Tool's report: what was sent, the merchant's answer (status and body
/// excerpt) if one came, and why it was not a success.
pub(super) fn test_pingback_json(
    t: &pw::TestPingback,
    response: Option<(u16, String)>,
    error: Option<String>,
) -> Value {
    json!({
        "url": t.url,
        "query": t.query,
        "signature_base_string": t.base_string,
        "sign_version": t.sign_version.as_u8(),
        "success": error.is_none(),
        "response": response.map(|(status, body)| json!({"status": status, "body": body})),
        "error": error,
    })
}

fn check_text(param: &str, v: &str, max: usize) -> Result<(), ApiError> {
    if v.is_empty() || v.chars().count() > max {
        return Err(ApiError::invalid(
            Some(param),
            format!("{param} must be 1 to {max} characters."),
        ));
    }
    Ok(())
}

/// Paymentwall's rule for an accepted pingback: the body `OK`, whitespace, a BOM and case
/// tolerated (the worker in kassa-notify applies the same rule).
fn is_ok_body(body: &str) -> bool {
    body.trim_start_matches('\u{feff}')
        .trim()
        .eq_ignore_ascii_case("ok")
}

/// GETs `url` through the notifier's client, so under the same egress policy as every
/// pingback; the status and the first [`RESPONSE_EXCERPT_CHARS`] characters of the body, or why
/// nothing came back (a refused target: only `refused by egress policy`).
async fn send_test_get(
    client: &kassa_egress::EgressClient,
    url: &str,
) -> Result<(u16, String), String> {
    use kassa_egress::SendError;
    let mut resp = client
        .get(url)
        .header("user-agent", "Kassa Pingback")
        .timeout(TEST_PINGBACK_TIMEOUT)
        .send()
        .await
        .map_err(|e| match e {
            SendError::Refused => kassa_egress::REFUSED.to_string(),
            SendError::Timeout => {
                format!("no answer within {} s", TEST_PINGBACK_TIMEOUT.as_secs())
            }
            SendError::Connect => "could not connect to the pingback URL".to_string(),
            SendError::Other => "the request failed".to_string(),
        })?;
    let status = resp.status().as_u16();
    // A character is at most 4 bytes: this is enough for the excerpt.
    let max_bytes = RESPONSE_EXCERPT_CHARS * 4;
    let mut buf: Vec<u8> = Vec::new();
    while buf.len() < max_bytes {
        match resp.chunk().await {
            Ok(Some(chunk)) => buf.extend_from_slice(&chunk),
            _ => break,
        }
    }
    buf.truncate(max_bytes);
    let body: String = String::from_utf8_lossy(&buf)
        .chars()
        .take(RESPONSE_EXCERPT_CHARS)
        .collect();
    Ok((status, body))
}

/// List a project's subscriptions.
#[utoipa::path(get, path = "/v1/paymentwall/projects/{id}/subscriptions", operation_id = "list_paymentwall_subscriptions", params(("id" = String, Path)),
    responses((status = 200, description = "The project's subscriptions", body = PwSubscriptionList), (status = 404, description = "No such project", body = ErrorBody)),
    security(("bearer" = [])), tag = "paymentwall")]
pub async fn project_subscriptions(
    State(state): State<AppState>,
    Extension(caller): Extension<Caller>,
    Path(id): Path<String>,
) -> Result<Json<Value>, ApiError> {
    caller.require_secret()?;
    let mut items: Vec<Value> = Vec::new();
    for s in state
        .svc
        .paymentwall()
        .subscriptions_of_project(&caller.scope, &id)
        .await?
    {
        items.push(state.svc.paymentwall().subscription_view(&s).await?);
    }
    let n = items.len() as i64;
    Ok(Json(list_body(
        &format!("/v1/paymentwall/projects/{id}/subscriptions"),
        items,
        n,
    )))
}

/// Retrieve a subscription.
#[utoipa::path(get, path = "/v1/paymentwall/subscriptions/{id}", operation_id = "retrieve_paymentwall_subscription", params(("id" = String, Path)),
    responses((status = 200, description = "The subscription", body = PwSubscriptionObject), (status = 404, description = "No such subscription", body = ErrorBody)),
    security(("bearer" = [])), tag = "paymentwall")]
pub async fn retrieve_subscription(
    State(state): State<AppState>,
    Extension(caller): Extension<Caller>,
    Path(id): Path<String>,
) -> Result<Json<Value>, ApiError> {
    caller.require_secret()?;
    let s = state
        .svc
        .paymentwall()
        .subscription(&caller.scope, &id)
        .await?;
    Ok(Json(state.svc.paymentwall().subscription_view(&s).await?))
}

/// Cancel an active subscription: no more renewals; a type 12 pingback is sent now and the paid
/// period ends with type 13.
#[utoipa::path(post, path = "/v1/paymentwall/subscriptions/{id}/cancel", operation_id = "cancel_paymentwall_subscription", params(("id" = String, Path)),
    responses((status = 200, description = "The cancelled subscription", body = PwSubscriptionObject), (status = 400, description = "Not active", body = ErrorBody),
        (status = 404, description = "No such subscription", body = ErrorBody)),
    security(("bearer" = [])), tag = "paymentwall")]
pub async fn cancel_subscription(
    State(state): State<AppState>,
    Extension(caller): Extension<Caller>,
    Path(id): Path<String>,
) -> Result<Json<Value>, ApiError> {
    caller.require_secret()?;
    let s = state
        .svc
        .paymentwall()
        .cancel_subscription(&caller.scope, &id)
        .await?;
    Ok(Json(state.svc.paymentwall().subscription_view(&s).await?))
}

/// Test clock: moves a test subscription's clock forward, running every renewal, retry and
/// expiry it passes before it answers (the first advance gives the subscription a native test
/// clock of its own).
#[utoipa::path(post, path = "/v1/paymentwall/subscriptions/{id}/advance_clock", operation_id = "advance_paymentwall_subscription_clock", params(("id" = String, Path)), request_body = AdvanceClock,
    responses((status = 200, description = "The subscription after every renewal, retry and end the advance passed", body = PwSubscriptionObject), (status = 400, description = "Invalid seconds, not a test subscription, or one that no longer runs", body = ErrorBody),
        (status = 404, description = "No such subscription", body = ErrorBody)),
    security(("bearer" = [])), tag = "paymentwall")]
pub async fn advance_clock(
    State(state): State<AppState>,
    Extension(caller): Extension<Caller>,
    Path(id): Path<String>,
    ApiJson(req): ApiJson<AdvanceClock>,
) -> Result<Json<Value>, ApiError> {
    caller.require_secret()?;
    let s = state
        .svc
        .paymentwall()
        .advance_clock(&caller.scope, &id, req.seconds)
        .await?;
    Ok(Json(state.svc.paymentwall().subscription_view(&s).await?))
}

/// A paid order by its `ref`: the Paymentwall payment object, the Kassa payment intent behind
/// it, and the delivery confirmations the merchant sent.
#[utoipa::path(get, path = "/v1/paymentwall/projects/{id}/payments/{ref}", operation_id = "retrieve_paymentwall_payment", params(("id" = String, Path), ("ref" = String, Path)),
    responses((status = 200, description = "`payment`, `payment_intent` and `delivery_confirmations`", body = PwPaymentRecord), (status = 404, description = "No such project or payment", body = ErrorBody)),
    security(("bearer" = [])), tag = "paymentwall")]
pub async fn retrieve_payment(
    State(state): State<AppState>,
    Extension(caller): Extension<Caller>,
    Path((id, reference)): Path<(String, String)>,
) -> Result<Json<Value>, ApiError> {
    caller.require_secret()?;
    let order = state
        .svc
        .paymentwall()
        .order_by_ref(&caller.scope, &id, &reference)
        .await?;
    let payment = state.svc.paymentwall().payment_object(&order).await?;
    let confirmations: Vec<Value> = state
        .svc
        .paymentwall()
        .delivery_confirmations(&caller.scope, &id, &reference)
        .await?
        .iter()
        .map(confirmation_json)
        .collect();
    Ok(Json(payment_record_json(
        payment,
        &order.payment_intent_id,
        confirmations,
    )))
}

/// A Delivery Confirmation API submission as the API shows it.
pub(super) fn confirmation_json(d: &kassa_store::PwDeliveryConfirmation) -> Value {
    json!({
        "id": d.id,
        "status": d.status,
        "payload": serde_json::from_str::<Value>(&d.payload).unwrap_or(Value::Null),
        "created": d.created_at / 1000,
    })
}

/// A paid order: its payment object, its intent's id and its delivery confirmations.
pub(super) fn payment_record_json(
    payment: Value,
    payment_intent: &str,
    confirmations: Vec<Value>,
) -> Value {
    json!({
        "payment": payment,
        "payment_intent": payment_intent,
        "delivery_confirmations": confirmations,
    })
}

/// Sandbox: the customer's bank takes a payment back. The payment is refunded in full and the
/// merchant gets a type 2 pingback with reason 1.
#[utoipa::path(post, path = "/v1/paymentwall/projects/{id}/payments/{ref}/chargeback", operation_id = "paymentwall_sandbox_chargeback", params(("id" = String, Path), ("ref" = String, Path)),
    responses((status = 200, description = "The refund", body = RefundObject), (status = 400, description = "Not refundable", body = ErrorBody), (status = 404, description = "No such project or payment", body = ErrorBody)),
    security(("bearer" = [])), tag = "paymentwall")]
pub async fn chargeback(
    State(state): State<AppState>,
    Extension(caller): Extension<Caller>,
    Path((id, reference)): Path<(String, String)>,
) -> Result<Json<Value>, ApiError> {
    caller.require_secret()?;
    Ok(Json(
        state
            .svc
            .paymentwall()
            .sandbox_chargeback(&caller.scope, &id, &reference)
            .await?,
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ok_bodies() {
        for ok in ["OK", "ok", " OK\n", "\u{feff}OK", "Ok"] {
            assert!(is_ok_body(ok), "{ok:?}");
        }
        for bad in ["", "OK thanks", "K", "NOT OK", "0"] {
            assert!(!is_ok_body(bad), "{bad:?}");
        }
    }
}
