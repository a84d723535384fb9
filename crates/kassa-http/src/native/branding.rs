//! `/v1/branding` (the merchant's look) and the same for one Paymentwall project
//! (`/v1/paymentwall/projects/{id}/branding`) or Paymob profile
//! (`/v1/paymob/profiles/{id}/branding`): display name, accent colour, logo. Plus the two public
//! resources the payer pages load: `/branding/logos/{id}` and `/branding/theme.css`.

use axum::body::Bytes;
use axum::extract::{Path, Query, State};
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Extension, Json, Router};
use kassa_core::branding::{Color, MIN_CONTRAST};
use kassa_service::branding::{BrandScope, Branding, BrandingUpdate, MAX_LOGO_BYTES};
use serde::Deserialize;
use tower_http::limit::RequestBodyLimitLayer;
use utoipa::ToSchema;

use super::schemas::branding::BrandingObject;
use super::schemas::ErrorBody;
use super::Caller;
use crate::error::ApiError;
use crate::extract::ApiJson;
use crate::AppState;

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct UpdateBranding {
    /// Name shown at the top of the payer pages (1–60 characters); `""` removes it (a project
    /// or profile then shows the merchant's).
    pub display_name: Option<String>,
    /// `#rrggbb`, with at least 4.5:1 contrast against white (the Pay button's text); `""`
    /// removes it.
    pub accent_color: Option<String>,
}

fn update_of(req: UpdateBranding) -> BrandingUpdate {
    let field = |v: Option<String>| v.map(|s| (!s.trim().is_empty()).then_some(s));
    BrandingUpdate {
        display_name: field(req.display_name),
        accent_color: field(req.accent_color),
    }
}

fn pw(id: String) -> BrandScope {
    BrandScope::PwProject(id)
}

fn pm(id: &str) -> Result<BrandScope, ApiError> {
    id.parse::<i64>().map(BrandScope::PmProfile).map_err(|_| {
        ApiError::not_found(format!(
            "No such paymob profile: '{}'",
            id.chars().take(40).collect::<String>()
        ))
    })
}

async fn read(
    state: &AppState,
    caller: &Caller,
    scope: BrandScope,
) -> Result<Json<Branding>, ApiError> {
    caller.require_secret()?;
    Ok(Json(
        state
            .svc
            .branding()
            .get_branding(&caller.merchant.id, &scope)
            .await?,
    ))
}

async fn update(
    state: &AppState,
    caller: &Caller,
    scope: BrandScope,
    req: UpdateBranding,
) -> Result<Json<Branding>, ApiError> {
    caller.require_secret()?;
    Ok(Json(
        state
            .svc
            .branding()
            .update_branding(&caller.merchant.id, &scope, update_of(req))
            .await?,
    ))
}

async fn upload(
    state: &AppState,
    caller: &Caller,
    scope: BrandScope,
    headers: &HeaderMap,
    body: &[u8],
) -> Result<Json<Branding>, ApiError> {
    caller.require_secret()?;
    let content_type = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("");
    Ok(Json(
        state
            .svc
            .branding()
            .upload_logo(&caller.merchant.id, &scope, content_type, body)
            .await?,
    ))
}

async fn remove(
    state: &AppState,
    caller: &Caller,
    scope: BrandScope,
) -> Result<Json<Branding>, ApiError> {
    caller.require_secret()?;
    Ok(Json(
        state
            .svc
            .branding()
            .remove_logo(&caller.merchant.id, &scope)
            .await?,
    ))
}

/// The merchant's branding.
#[utoipa::path(get, path = "/v1/branding", operation_id = "retrieve_branding",
    responses((status = 200, description = "The merchant's own branding", body = BrandingObject)),
    security(("bearer" = [])), tag = "branding")]
pub async fn retrieve(
    State(s): State<AppState>,
    Extension(c): Extension<Caller>,
) -> Result<Json<Branding>, ApiError> {
    read(&s, &c, BrandScope::Merchant).await
}

/// Change the merchant's display name or accent colour.
#[utoipa::path(post, path = "/v1/branding", operation_id = "update_branding", request_body = UpdateBranding,
    responses((status = 200, description = "The updated branding", body = BrandingObject),
        (status = 400, description = "A value is refused (e.g. `accent_color` below 4.5:1 contrast)", body = ErrorBody)),
    security(("bearer" = [])), tag = "branding")]
pub async fn modify(
    State(s): State<AppState>,
    Extension(c): Extension<Caller>,
    ApiJson(req): ApiJson<UpdateBranding>,
) -> Result<Json<Branding>, ApiError> {
    update(&s, &c, BrandScope::Merchant, req).await
}

/// Upload the merchant's logo: the request body is the PNG or JPEG file (at most 512 KiB,
/// 4096×4096 px) with its `Content-Type`; Kassa stores a re-encoded PNG, scaled to fit 640×240.
#[utoipa::path(post, path = "/v1/branding/logo", operation_id = "upload_logo",
    request_body(content = Vec<u8>, content_type = "image/png", description = "PNG or JPEG bytes"),
    responses((status = 200, description = "The branding with its new logo", body = BrandingObject),
        (status = 400, description = "Not a PNG/JPEG, too large, or undecodable", body = ErrorBody),
        (status = 413, description = "Larger than 512 KiB")),
    security(("bearer" = [])), tag = "branding")]
pub async fn upload_logo(
    State(s): State<AppState>,
    Extension(c): Extension<Caller>,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Json<Branding>, ApiError> {
    upload(&s, &c, BrandScope::Merchant, &headers, &body).await
}

/// Remove the merchant's logo.
#[utoipa::path(delete, path = "/v1/branding/logo", operation_id = "delete_logo",
    responses((status = 200, description = "The branding without a logo", body = BrandingObject)),
    security(("bearer" = [])), tag = "branding")]
pub async fn delete_logo(
    State(s): State<AppState>,
    Extension(c): Extension<Caller>,
) -> Result<Json<Branding>, ApiError> {
    remove(&s, &c, BrandScope::Merchant).await
}

async fn pw_retrieve(
    State(s): State<AppState>,
    Extension(c): Extension<Caller>,
    Path(id): Path<String>,
) -> Result<Json<Branding>, ApiError> {
    read(&s, &c, pw(id)).await
}

async fn pw_modify(
    State(s): State<AppState>,
    Extension(c): Extension<Caller>,
    Path(id): Path<String>,
    ApiJson(req): ApiJson<UpdateBranding>,
) -> Result<Json<Branding>, ApiError> {
    update(&s, &c, pw(id), req).await
}

async fn pw_upload(
    State(s): State<AppState>,
    Extension(c): Extension<Caller>,
    Path(id): Path<String>,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Json<Branding>, ApiError> {
    upload(&s, &c, pw(id), &headers, &body).await
}

async fn pw_remove(
    State(s): State<AppState>,
    Extension(c): Extension<Caller>,
    Path(id): Path<String>,
) -> Result<Json<Branding>, ApiError> {
    remove(&s, &c, pw(id)).await
}

async fn pm_retrieve(
    State(s): State<AppState>,
    Extension(c): Extension<Caller>,
    Path(id): Path<String>,
) -> Result<Json<Branding>, ApiError> {
    read(&s, &c, pm(&id)?).await
}

async fn pm_modify(
    State(s): State<AppState>,
    Extension(c): Extension<Caller>,
    Path(id): Path<String>,
    ApiJson(req): ApiJson<UpdateBranding>,
) -> Result<Json<Branding>, ApiError> {
    update(&s, &c, pm(&id)?, req).await
}

async fn pm_upload(
    State(s): State<AppState>,
    Extension(c): Extension<Caller>,
    Path(id): Path<String>,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Json<Branding>, ApiError> {
    upload(&s, &c, pm(&id)?, &headers, &body).await
}

async fn pm_remove(
    State(s): State<AppState>,
    Extension(c): Extension<Caller>,
    Path(id): Path<String>,
) -> Result<Json<Branding>, ApiError> {
    remove(&s, &c, pm(&id)?).await
}

/// Paths whose POST body is a logo file rather than a small JSON object.
pub fn is_logo_upload(path: &str) -> bool {
    path.trim_end_matches('/').ends_with("/branding/logo")
}

/// Largest request body of a logo upload (the file plus room for nothing else).
pub const UPLOAD_BODY_LIMIT: usize = MAX_LOGO_BYTES;

/// The authenticated branding routes that read and write small JSON bodies.
pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/v1/branding", get(retrieve).post(modify))
        .route(
            "/v1/paymentwall/projects/{id}/branding",
            get(pw_retrieve).post(pw_modify),
        )
        .route(
            "/v1/paymob/profiles/{id}/branding",
            get(pm_retrieve).post(pm_modify),
        )
}

/// The logo routes, with their own body limit (the API's 64 KiB is too small for an image).
pub fn upload_routes() -> Router<AppState> {
    Router::new()
        .route("/v1/branding/logo", post(upload_logo).delete(delete_logo))
        .route(
            "/v1/paymentwall/projects/{id}/branding/logo",
            post(pw_upload).delete(pw_remove),
        )
        .route(
            "/v1/paymob/profiles/{id}/branding/logo",
            post(pm_upload).delete(pm_remove),
        )
        .layer(RequestBodyLimitLayer::new(UPLOAD_BODY_LIMIT + 1))
}

/// The public resources payer pages load.
pub fn public_routes() -> Router<AppState> {
    Router::new()
        .route("/branding/logos/{id}", get(logo))
        .route("/branding/theme.css", get(theme))
}

/// A stored logo: PNG that Kassa itself encoded, never executable, cached for a year (a new
/// upload gets a new id).
async fn logo(State(s): State<AppState>, Path(id): Path<String>) -> Response {
    match s.svc.branding().logo_png(&id).await {
        Ok(Some(png)) => (
            [
                (header::CONTENT_TYPE, HeaderValue::from_static("image/png")),
                (
                    header::CACHE_CONTROL,
                    HeaderValue::from_static("public, max-age=31536000, immutable"),
                ),
                (
                    header::X_CONTENT_TYPE_OPTIONS,
                    HeaderValue::from_static("nosniff"),
                ),
                (
                    header::CONTENT_SECURITY_POLICY,
                    HeaderValue::from_static("default-src 'none'; sandbox"),
                ),
                (
                    header::CONTENT_DISPOSITION,
                    HeaderValue::from_static("inline; filename=\"logo.png\""),
                ),
            ],
            png,
        )
            .into_response(),
        Ok(None) => StatusCode::NOT_FOUND.into_response(),
        Err(e) if e.is_unavailable() => {
            crate::unavailable(StatusCode::SERVICE_UNAVAILABLE.into_response())
        }
        Err(e) => {
            tracing::error!(error = %e, "reading a logo failed");
            StatusCode::INTERNAL_SERVER_ERROR.into_response()
        }
    }
}

#[derive(Deserialize)]
struct ThemeQuery {
    accent: Option<String>,
}

/// The accent colour as CSS custom properties for the shared form rules:
/// `/branding/theme.css?accent=0a66c2`. Only a six-digit hex colour that passes the contrast
/// rule is written; anything else is a 404, so nothing but a colour can reach the stylesheet.
async fn theme(Query(q): Query<ThemeQuery>) -> Response {
    let color = q
        .accent
        .as_deref()
        .filter(|a| a.len() == 6)
        .and_then(Color::parse)
        .filter(|c| c.contrast(Color::WHITE) >= MIN_CONTRAST);
    let Some(c) = color else {
        return StatusCode::NOT_FOUND.into_response();
    };
    (
        [
            (
                header::CONTENT_TYPE,
                HeaderValue::from_static("text/css; charset=utf-8"),
            ),
            (
                header::CACHE_CONTROL,
                HeaderValue::from_static("public, max-age=31536000, immutable"),
            ),
            (
                header::X_CONTENT_TYPE_OPTIONS,
                HeaderValue::from_static("nosniff"),
            ),
        ],
        theme_css(c),
    )
        .into_response()
}

/// The stylesheet body for an accent colour: the custom properties every face's stylesheet and
/// the shared form rules read (`--accent` for the primary button and links, `--accent-hover`,
/// `--accent-soft` for tinted backgrounds, `--focus` for focus rings), loaded after them.
pub fn theme_css(c: Color) -> String {
    let soft = |v: u8| (f64::from(v) * 0.1 + 255.0 * 0.9).round() as u8;
    let tint = Color {
        r: soft(c.r),
        g: soft(c.g),
        b: soft(c.b),
    };
    format!(
        ":root {{\n  --accent: {c};\n  --accent-hover: {};\n  --accent-soft: {tint};\n  --focus: {c};\n}}\n",
        c.hover()
    )
}

/// The `<link>` target for a page whose branding has an accent colour.
pub fn theme_href(c: Color) -> String {
    format!("/branding/theme.css?accent={}", c.hex())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_theme_holds_the_colour_and_its_hover_shade_only() {
        let css = theme_css(Color::parse("#0a66c2").unwrap());
        assert!(css.contains("--accent: #0a66c2;"), "{css}");
        assert!(css.contains("--accent-hover: #0957a5;"), "{css}");
        assert!(css.contains("--accent-soft: #e7f0f9;"), "{css}");
        assert!(css.contains("--focus: #0a66c2;"), "{css}");
        assert_eq!(
            theme_href(Color::parse("#0A66C2").unwrap()),
            "/branding/theme.css?accent=0a66c2"
        );
    }

    #[test]
    fn logo_upload_paths_are_recognised() {
        assert!(is_logo_upload("/v1/branding/logo"));
        assert!(is_logo_upload("/v1/paymob/profiles/7/branding/logo/"));
        assert!(!is_logo_upload("/v1/branding"));
    }
}
