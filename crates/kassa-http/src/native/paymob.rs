//! `/v1/paymob/…`: the merchant's side of the Paymob dialect. Profiles (keys, HMAC secret,
//! legacy API key, integrations), the sandbox's kiosk/cash settlement and the subscription test
//! clock.

use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::{Extension, Json};
use kassa_service::paymob::{IntegrationInput, PmError, ProfileInput, ProfileUpdate};
use serde::Deserialize;
use serde_json::{json, Value};
use utoipa::ToSchema;

use super::schemas::paymob::{
    PmIntegrationObject, PmProfileList, PmProfileObject, PmSubscriptionObject, PmTransactionObject,
};
use super::schemas::ErrorBody;
use super::Caller;
use crate::error::ApiError;
use crate::extract::ApiJson;
use crate::AppState;

pub(super) fn api_error(e: PmError) -> ApiError {
    let status = StatusCode::from_u16(e.status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    let message = e
        .body
        .get("detail")
        .or_else(|| e.body.get("message"))
        .and_then(Value::as_str)
        .map(str::to_string)
        .unwrap_or_else(|| e.body.to_string());
    let (kind, code) = match status.as_u16() {
        404 => ("invalid_request_error", "resource_missing"),
        400 | 422 => ("invalid_request_error", "parameter_invalid"),
        503 => ("api_error", "database_unavailable"),
        s if s >= 500 => ("api_error", "internal_error"),
        _ => ("invalid_request_error", "request_refused"),
    };
    let mut err = ApiError::new(status, kind, code, message);
    if status.is_client_error() && e.body.get("detail").is_none() && e.body.get("message").is_none()
    {
        err.body = Some(
            json!({"error": {"type": kind, "code": code, "message": "Invalid parameters.", "fields": e.body}}),
        );
    }
    err
}

/// An integration: what it takes payments with and where its callbacks go.
#[derive(Debug, Clone, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct IntegrationParams {
    /// `card`, `card_auth`, `moto`, `wallet`, `kiosk` or `cash` (required on create).
    pub kind: Option<String>,
    /// Name (Pixel and intentions may name it); defaults to the kind's (`card`, `card-auth`, …).
    pub name: Option<String>,
    /// EGP, SAR, AED, PKR or OMR; defaults to the profile country's.
    pub currency: Option<String>,
    /// Transaction processed callback (POST JSON with `?hmac=`).
    pub processed_callback_url: Option<String>,
    /// Transaction response callback (the customer's signed GET redirect).
    pub response_callback_url: Option<String>,
    /// Card integrations: require 3-D Secure (default on for `card` and `card_auth`).
    pub three_d_secure: Option<bool>,
}

impl From<IntegrationParams> for IntegrationInput {
    fn from(p: IntegrationParams) -> Self {
        IntegrationInput {
            kind: p.kind.unwrap_or_default(),
            name: p.name,
            currency: p.currency,
            processed_callback_url: p.processed_callback_url,
            response_callback_url: p.response_callback_url,
            three_d_secure: p.three_d_secure,
        }
    }
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ProfileParams {
    /// The company name customers see.
    pub name: Option<String>,
    /// `egy` (default), `are`, `sau`, `omn` or `pak`: the keys' prefix and the currency.
    pub country: Option<String>,
    /// Live keys (`_live_`): only with a live API key, whose mode the profile takes (the
    /// default); `false` with a live key, or `true` with a test key, is refused.
    pub live: Option<bool>,
    /// Integrations to create; by default one of each kind.
    pub integrations: Option<Vec<IntegrationParams>>,
    /// Where the profile's pages (unified checkout, Pixel's card frame, 3-D Secure and wallet
    /// pages, legacy iframe, payment status) may be framed: space-separated origins
    /// (`https://shop.example`, `https://*.shop.example`), `'self'` or `*`. Default `'none'`.
    pub frame_ancestors: Option<String>,
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ProfileUpdateParams {
    /// The company name customers see.
    pub name: Option<String>,
    /// Where the profile's pages may be framed (see create); `""` or `'none'`: nowhere.
    pub frame_ancestors: Option<String>,
}

/// Create a Paymob profile. The secret key, HMAC secret and legacy API key are shown once.
#[utoipa::path(post, path = "/v1/paymob/profiles", operation_id = "create_paymob_profile", request_body = ProfileParams,
    responses((status = 200, description = "The profile with its credentials", body = PmProfileObject),
        (status = 400, description = "Invalid parameters (field errors in `fields`)", body = ErrorBody)),
    security(("bearer" = [])), tag = "paymob")]
pub async fn create_profile(
    State(state): State<AppState>,
    Extension(caller): Extension<Caller>,
    ApiJson(req): ApiJson<ProfileParams>,
) -> Result<Json<Value>, ApiError> {
    caller.require_secret()?;
    // The profile's mode is the key's: a test key makes test profiles, a live key live ones.
    if req.live.is_some_and(|l| l != caller.scope.livemode) {
        return Err(ApiError::invalid(
            Some("live"),
            "A profile's mode is the key's: create a live profile with a live key (sk_live_…) \
             and a test profile with a test key."
                .to_string(),
        ));
    }
    let input = ProfileInput {
        name: req.name,
        country: req.country,
        live: caller.scope.livemode,
        frame_ancestors: req.frame_ancestors,
        integrations: req
            .integrations
            .unwrap_or_default()
            .into_iter()
            .map(Into::into)
            .collect(),
    };
    let p = state
        .svc
        .paymob()
        .create_profile(&caller.merchant.id, input)
        .await
        .map_err(api_error)?;
    let mut body = state
        .svc
        .paymob()
        .profile_native_json(&p.profile, &p.integrations);
    body["secret_key"] = json!(p.secret_key);
    body["hmac_secret"] = json!(p.hmac_secret);
    body["api_key"] = json!(p.api_key);
    Ok(Json(body))
}

/// List Paymob profiles.
#[utoipa::path(get, path = "/v1/paymob/profiles", operation_id = "list_paymob_profiles",
    responses((status = 200, description = "The merchant's profiles (no secrets)", body = PmProfileList)),
    security(("bearer" = [])), tag = "paymob")]
pub async fn list_profiles(
    State(state): State<AppState>,
    Extension(caller): Extension<Caller>,
) -> Result<Json<Value>, ApiError> {
    caller.require_secret()?;
    let mut out = Vec::new();
    for p in state
        .svc
        .store
        .pm_profiles_of(&caller.merchant.id)
        .await
        .map_err(|e| api_error(e.into()))?
        .into_iter()
        .filter(|p| p.live == caller.scope.livemode)
    {
        let integrations = state
            .svc
            .paymob()
            .integrations(p.id)
            .await
            .map_err(api_error)?;
        out.push(state.svc.paymob().profile_native_json(&p, &integrations));
    }
    Ok(Json(
        json!({"object": "list", "data": out, "has_more": false}),
    ))
}

fn profile_id(raw: &str) -> Result<i64, ApiError> {
    raw.parse::<i64>().map_err(|_| {
        ApiError::not_found(format!(
            "No such paymob profile: '{}'",
            raw.chars().take(40).collect::<String>()
        ))
    })
}

/// Retrieve a Paymob profile.
#[utoipa::path(get, path = "/v1/paymob/profiles/{id}", operation_id = "retrieve_paymob_profile", params(("id" = i64, Path)),
    responses((status = 200, description = "The profile (no secrets)", body = PmProfileObject),
        (status = 404, description = "No such profile", body = ErrorBody)),
    security(("bearer" = [])), tag = "paymob")]
pub async fn retrieve_profile(
    State(state): State<AppState>,
    Extension(caller): Extension<Caller>,
    Path(id): Path<String>,
) -> Result<Json<Value>, ApiError> {
    caller.require_secret()?;
    let p = state
        .svc
        .paymob()
        .profile_in(&caller.scope, profile_id(&id)?)
        .await
        .map_err(api_error)?;
    let integrations = state
        .svc
        .paymob()
        .integrations(p.id)
        .await
        .map_err(api_error)?;
    Ok(Json(
        state.svc.paymob().profile_native_json(&p, &integrations),
    ))
}

/// Change a Paymob profile's name or `frame_ancestors`.
#[utoipa::path(post, path = "/v1/paymob/profiles/{id}", operation_id = "update_paymob_profile", params(("id" = i64, Path)), request_body = ProfileUpdateParams,
    responses((status = 200, description = "The profile (no secrets)", body = PmProfileObject),
        (status = 400, description = "Invalid parameters", body = ErrorBody),
        (status = 404, description = "No such profile", body = ErrorBody)),
    security(("bearer" = [])), tag = "paymob")]
pub async fn update_profile(
    State(state): State<AppState>,
    Extension(caller): Extension<Caller>,
    Path(id): Path<String>,
    ApiJson(req): ApiJson<ProfileUpdateParams>,
) -> Result<Json<Value>, ApiError> {
    caller.require_secret()?;
    let p = state
        .svc
        .paymob()
        .profile_in(&caller.scope, profile_id(&id)?)
        .await
        .map_err(api_error)?;
    let p = state
        .svc
        .paymob()
        .update_profile(
            &p,
            ProfileUpdate {
                name: req.name,
                frame_ancestors: req.frame_ancestors,
            },
        )
        .await
        .map_err(api_error)?;
    let integrations = state
        .svc
        .paymob()
        .integrations(p.id)
        .await
        .map_err(api_error)?;
    Ok(Json(
        state.svc.paymob().profile_native_json(&p, &integrations),
    ))
}

/// Add an integration to a profile.
#[utoipa::path(post, path = "/v1/paymob/profiles/{id}/integrations", operation_id = "add_paymob_integration", params(("id" = i64, Path)), request_body = IntegrationParams,
    responses((status = 200, description = "The integration", body = PmIntegrationObject),
        (status = 400, description = "Invalid parameters (field errors in `fields`)", body = ErrorBody),
        (status = 404, description = "No such profile", body = ErrorBody)),
    security(("bearer" = [])), tag = "paymob")]
pub async fn add_integration(
    State(state): State<AppState>,
    Extension(caller): Extension<Caller>,
    Path(id): Path<String>,
    ApiJson(req): ApiJson<IntegrationParams>,
) -> Result<Json<Value>, ApiError> {
    caller.require_secret()?;
    let p = state
        .svc
        .paymob()
        .profile_in(&caller.scope, profile_id(&id)?)
        .await
        .map_err(api_error)?;
    let i = state
        .svc
        .paymob()
        .add_integration(&p, req.into())
        .await
        .map_err(api_error)?;
    Ok(Json(i.to_json()))
}

/// Change an integration's name, callback URLs or 3-D Secure setting.
#[utoipa::path(post, path = "/v1/paymob/profiles/{id}/integrations/{integration}", operation_id = "update_paymob_integration", params(("id" = i64, Path), ("integration" = i64, Path)), request_body = IntegrationParams,
    responses((status = 200, description = "The integration", body = PmIntegrationObject),
        (status = 400, description = "Invalid parameters (field errors in `fields`)", body = ErrorBody),
        (status = 404, description = "No such profile or integration", body = ErrorBody)),
    security(("bearer" = [])), tag = "paymob")]
pub async fn update_integration(
    State(state): State<AppState>,
    Extension(caller): Extension<Caller>,
    Path((id, integration)): Path<(String, String)>,
    ApiJson(req): ApiJson<IntegrationParams>,
) -> Result<Json<Value>, ApiError> {
    caller.require_secret()?;
    if req.kind.is_some() {
        return Err(ApiError::invalid(
            Some("kind"),
            "An integration's kind cannot change.",
        ));
    }
    let p = state
        .svc
        .paymob()
        .profile_in(&caller.scope, profile_id(&id)?)
        .await
        .map_err(api_error)?;
    let iid = integration
        .parse::<i64>()
        .map_err(|_| ApiError::not_found("No such integration."))?;
    let i = state
        .svc
        .paymob()
        .update_integration(&p, iid, req.into())
        .await
        .map_err(api_error)?;
    Ok(Json(i.to_json()))
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct SettleParams {
    /// `true`: the customer paid the kiosk reference / the courier collected the cash;
    /// `false`: it expired unpaid.
    pub paid: bool,
}

/// Sandbox: settle a pending kiosk or cash payment.
#[utoipa::path(post, path = "/v1/paymob/transactions/{id}/sandbox_settle", operation_id = "paymob_sandbox_settle", params(("id" = i64, Path)), request_body = SettleParams,
    responses((status = 200, description = "The transaction after settlement", body = PmTransactionObject),
        (status = 400, description = "Not a pending kiosk or cash payment", body = ErrorBody),
        (status = 404, description = "No such transaction", body = ErrorBody)),
    security(("bearer" = [])), tag = "paymob")]
pub async fn sandbox_settle(
    State(state): State<AppState>,
    Extension(caller): Extension<Caller>,
    Path(id): Path<String>,
    ApiJson(req): ApiJson<SettleParams>,
) -> Result<Json<Value>, ApiError> {
    caller.require_secret()?;
    let id = id
        .parse::<i64>()
        .map_err(|_| ApiError::not_found("No such transaction."))?;
    Ok(Json(
        state
            .svc
            .paymob()
            .sandbox_settle(&caller.scope, id, req.paid)
            .await
            .map_err(api_error)?,
    ))
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ClockParams {
    /// How far to move the subscription's clock forward.
    pub seconds: i64,
}

/// Move a test subscription's clock forward, running every renewal, retry and end it passes
/// (the first advance gives the subscription a native test clock of its own).
#[utoipa::path(post, path = "/v1/paymob/subscriptions/{id}/advance_clock", operation_id = "advance_paymob_subscription_clock", params(("id" = i64, Path)), request_body = ClockParams,
    responses((status = 200, description = "The subscription and its clock", body = PmSubscriptionObject),
        (status = 400, description = "`seconds` out of range, a live profile's subscription, or one that has ended", body = ErrorBody),
        (status = 404, description = "No such subscription", body = ErrorBody),
        (status = 409, description = "The subscription changed meanwhile; retry", body = ErrorBody)),
    security(("bearer" = [])), tag = "paymob")]
pub async fn advance_clock(
    State(state): State<AppState>,
    Extension(caller): Extension<Caller>,
    Path(id): Path<String>,
    ApiJson(req): ApiJson<ClockParams>,
) -> Result<Json<Value>, ApiError> {
    caller.require_secret()?;
    let id = id
        .parse::<i64>()
        .map_err(|_| ApiError::not_found("No such subscription."))?;
    Ok(Json(
        state
            .svc
            .paymob()
            .advance_clock(&caller.scope, id, req.seconds)
            .await
            .map_err(api_error)?,
    ))
}
