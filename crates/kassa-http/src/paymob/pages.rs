//! The Paymob face's payer pages: Unified Checkout and the legacy iframe page, Pixel's card
//! frame, the payment status page, the 3-D Secure / wallet page, and the scripts and styles
//! they load. Every page is sent with [`page_csp`] for its profile's `frame_ancestors`.

use askama::Template;
use axum::extract::{Path, Query, RawQuery, State};
use axum::http::header::{CACHE_CONTROL, CONTENT_TYPE};
use axum::http::{HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::get;
use axum::{Form, Router};
use kassa_service::paymob::{PageOwner, PmError, StatusRefusal, NO_FRAMING};
use serde::Deserialize;
use serde_json::json;

use super::lang::{keep_lang, lang_links, pair, query_pairs, script_table, LangLink, LangQuery};
use super::{answer, err, id_of, not_found};
use crate::checkout::view::Brand;
use crate::lang::{page_lang, Lang};
use crate::AppState;

/// The pages' routes (merged into the face's router).
pub(super) fn routes() -> Router<AppState> {
    Router::new()
        .route("/unifiedcheckout/", get(unified_page))
        .route("/unifiedcheckout", get(unified_page))
        .route("/unifiedcheckout/payment-status", get(status_page))
        .route("/unifiedcheckout/payment-status/", get(status_page))
        .route("/api/acceptance/iframes/{id}", get(iframe_page))
        .route("/api/acceptance/iframes/{id}/info", get(iframe_info))
        .route("/iframe-card-v2/", get(card_frame))
        .route("/iframe-card/", get(card_frame))
        .route("/pixel/main.js", get(pixel_js))
        .route("/pm/assets/{file}", get(pm_asset))
        .route(
            "/api/acceptance/challenge/{id}/{sig}",
            get(challenge_page).post(challenge_answer),
        )
}

/// Kassa-origin pages: no inline code; framed only where the profile's `frame_ancestors`
/// allows (merchants may frame the checkout, and Pixel frames the card form on the merchant's
/// page), nowhere (`'none'`) when the page cannot tell its profile.
fn page_csp(frame_ancestors: &str) -> HeaderValue {
    HeaderValue::from_str(&format!(
        "default-src 'self'; script-src 'self'; style-src 'self'; \
         img-src 'self' data:; connect-src 'self'; form-action 'self' http: https:; \
         base-uri 'none'; frame-ancestors {frame_ancestors}"
    ))
    .unwrap_or_else(|_| page_csp(NO_FRAMING))
}

macro_rules! assets {
    ($($name:literal => $ty:literal),* $(,)?) => {
        fn asset_body(name: &str) -> Option<(&'static str, &'static str)> {
            match name {
                $($name => Some(($ty, include_str!(concat!("../../static/pm/", $name)))),)*
                _ => None,
            }
        }
    };
}

assets! {
    "unified.js" => "text/javascript; charset=utf-8",
    "card-frame.js" => "text/javascript; charset=utf-8",
    "common.js" => "text/javascript; charset=utf-8",
    "checkout.css" => "text/css; charset=utf-8",
    "pixel.js" => "text/javascript; charset=utf-8",
}

/// A page (`text/html`) with the page CSP for `frame_ancestors`, never cached.
fn html(status: StatusCode, body: impl IntoResponse, frame_ancestors: &str) -> Response {
    let mut resp = (
        status,
        [
            (CONTENT_TYPE, "text/html; charset=utf-8"),
            (CACHE_CONTROL, "no-store"),
        ],
        body,
    )
        .into_response();
    let h = resp.headers_mut();
    h.insert("content-security-policy", page_csp(frame_ancestors));
    h.insert("referrer-policy", HeaderValue::from_static("no-referrer"));
    resp
}

/// A rendered page template, or a 500 logged with what failed.
fn render(status: StatusCode, t: &impl Template, frame_ancestors: &str, what: &str) -> Response {
    match t.render() {
        Ok(body) => html(status, body, frame_ancestors),
        Err(e) => {
            tracing::error!(error = %e, page = what, "page failed to render");
            StatusCode::INTERNAL_SERVER_ERROR.into_response()
        }
    }
}

/// The look a page wears: its profile's display name, logo and accent theme, each from the
/// profile's branding else the merchant's.
#[derive(Debug, Default)]
struct Look {
    name: Option<String>,
    brand: Brand,
}

/// The look of a page of `owner`'s; the plain page for a page that cannot tell its profile, or
/// when the branding cannot be read (logged).
async fn look(st: &AppState, owner: Option<&PageOwner>, page: &str) -> Look {
    let Some(owner) = owner else {
        return Look::default();
    };
    match st
        .svc
        .branding()
        .page_branding(&owner.merchant_id, &owner.scope())
        .await
    {
        Ok(b) => Look {
            name: b.display_name,
            brand: Brand {
                logo: b.logo_path,
                theme: b.accent_color.map(crate::native::branding::theme_href),
            },
        },
        Err(e) => {
            tracing::warn!(error = %e, page, "could not load the branding for a Paymob page");
            Look::default()
        }
    }
}

/// Unified Checkout (and the legacy iframe page): the words of the page's language rendered
/// in, the scripts' word table inline, and the profile's look (the display name, which the
/// script prefers to the intention's merchant name, the logo and the theme).
#[derive(Template)]
#[template(path = "pm/unified.html")]
struct UnifiedTemplate {
    lang: Lang,
    table: String,
    langs: Vec<LangLink>,
    display_name: Option<String>,
    brand: Brand,
}

fn unified(headers: &HeaderMap, pairs: &[(String, String)], fa: &str, look: Look) -> Response {
    let lang = page_lang(headers, pair(pairs, "lang"));
    let t = UnifiedTemplate {
        lang,
        table: script_table(lang, None),
        langs: lang_links(pairs, lang),
        display_name: look.name,
        brand: look.brand,
    };
    render(StatusCode::OK, &t, fa, "unified checkout")
}

/// `?publicKey=&clientSecret=[&lang=]`: framed where the intention's profile allows.
async fn unified_page(
    State(st): State<AppState>,
    headers: HeaderMap,
    RawQuery(raw): RawQuery,
) -> Response {
    let pairs = query_pairs(raw.as_deref());
    let page = st
        .svc
        .paymob()
        .checkout_framing(pair(&pairs, "publicKey"), pair(&pairs, "clientSecret"))
        .await;
    let look = look(&st, page.owner.as_ref(), "unified checkout").await;
    unified(&headers, &pairs, &page.frame_ancestors, look)
}

#[derive(Template)]
#[template(path = "pm/card_frame.html")]
struct CardFrameTemplate {
    lang: Lang,
    table: String,
    /// The accent theme only: the frame sits inside the merchant's own page.
    theme: Option<String>,
}

/// Pixel's card frame (`?publicKey=[&lang=]`): framed by the merchant pages the profile allows,
/// in the profile's accent colour.
async fn card_frame(
    State(st): State<AppState>,
    headers: HeaderMap,
    RawQuery(raw): RawQuery,
) -> Response {
    let pairs = query_pairs(raw.as_deref());
    let page = st
        .svc
        .paymob()
        .card_frame_framing(pair(&pairs, "publicKey"))
        .await;
    let look = look(&st, page.owner.as_ref(), "card frame").await;
    let lang = page_lang(&headers, pair(&pairs, "lang"));
    let t = CardFrameTemplate {
        lang,
        table: script_table(lang, None),
        theme: look.brand.theme,
    };
    render(StatusCode::OK, &t, &page.frame_ancestors, "card frame")
}

async fn iframe_page(
    State(st): State<AppState>,
    headers: HeaderMap,
    Path(id): Path<String>,
    RawQuery(raw): RawQuery,
) -> Response {
    let Some(id) = id_of(&id) else {
        return not_found();
    };
    let pairs = query_pairs(raw.as_deref());
    match st
        .svc
        .paymob()
        .iframe_framing(id, pair(&pairs, "payment_token"))
        .await
    {
        Ok(Some(page)) => {
            let look = look(&st, page.owner.as_ref(), "iframe checkout").await;
            unified(&headers, &pairs, &page.frame_ancestors, look)
        }
        Ok(None) => not_found(),
        Err(e) => err(e),
    }
}

#[derive(Template)]
#[template(path = "pm/status.html")]
struct StatusTemplate {
    lang: Lang,
    /// `success`, `pending`, `declined` or `unverified`.
    status: &'static str,
    title: &'static str,
    text: &'static str,
    /// The decline reason in the page's language (empty on success).
    message: String,
    amount_cents: String,
    currency: String,
    transaction: String,
    order: String,
    reference: String,
    card: String,
    /// (label, value, left-to-right): numbers and references read left to right everywhere.
    rows: Vec<(&'static str, String, bool)>,
    /// "Try again": the same checkout while the intention can be paid.
    retry_url: Option<String>,
    /// "Return to the store": the intention's redirection URL.
    merchant_url: Option<String>,
    langs: Vec<LangLink>,
    /// The profile's look; none on the unverified page, which reveals nothing.
    display_name: Option<String>,
    brand: Brand,
}

/// Kassa's own payment status page (the redirect when no response callback URL is set). It
/// shows a result only when the query is signed with the transaction's profile's HMAC secret;
/// anything else is "we could not verify this payment result" (400 unsigned, 403 forged).
/// Written in the flow's language (`lang=`, else Accept-Language).
async fn status_page(
    State(st): State<AppState>,
    headers: HeaderMap,
    RawQuery(raw): RawQuery,
) -> Response {
    let pairs = query_pairs(raw.as_deref());
    let explicit = pair(&pairs, "lang").and_then(Lang::from_tag);
    let lang = page_lang(&headers, pair(&pairs, "lang"));
    let (status, t, fa) = match st.svc.paymob().payment_status(&pairs).await {
        Ok(v) => {
            let (title, text) = match v.status {
                "success" => ("pm.result_success", "pm.success_default"),
                "pending" => ("pm.result_pending", "pm.pending_default"),
                _ => ("pm.result_declined", "pm.declined_default"),
            };
            let amount = v
                .amount_cents
                .map(|a| lang.money(a, &v.currency))
                .unwrap_or_default();
            let state = match v.status {
                "success" => lang.text("common.status.succeeded"),
                "pending" => lang.text("common.status.pending"),
                _ => lang.text("common.status.failed"),
            };
            let rows = [
                (lang.text("pm.status_state"), state.to_string(), false),
                (lang.text("pm.status_amount"), amount, false),
                (
                    lang.text("pm.status_transaction"),
                    v.transaction_id.to_string(),
                    true,
                ),
                (lang.text("pm.status_order"), v.order_id.clone(), true),
                (
                    lang.text("pm.status_reference"),
                    v.merchant_order_id.clone(),
                    true,
                ),
                (lang.text("pm.status_card"), v.card.clone(), true),
            ]
            .into_iter()
            .filter(|(_, value, _)| !value.trim().is_empty())
            .collect();
            let message = match v.status {
                "success" => String::new(),
                "pending" => v.message.clone(),
                _ => match v.decline_code.as_deref() {
                    Some(code) => lang.decline(code, v.decline_subcode.as_deref(), &v.message),
                    None if lang == Lang::En => v.message.clone(),
                    None => String::new(),
                },
            };
            let look = look(&st, Some(&v.owner), "payment status").await;
            let t = StatusTemplate {
                lang,
                status: v.status,
                title: lang.text(title),
                text: lang.text(text),
                message,
                amount_cents: v.amount_cents.map(|a| a.to_string()).unwrap_or_default(),
                currency: v.currency,
                transaction: v.transaction_id.to_string(),
                order: v.order_id,
                reference: v.merchant_order_id,
                card: v.card,
                rows,
                retry_url: v
                    .retry_url
                    .map(|u| keep_lang(&st, &u, explicit.or(Some(lang)))),
                merchant_url: v.merchant_url,
                langs: lang_links(&pairs, lang),
                display_name: look.name,
                brand: look.brand,
            };
            (StatusCode::OK, t, v.frame_ancestors)
        }
        Err(refusal) => {
            let t = StatusTemplate {
                lang,
                status: "unverified",
                title: lang.text("pm.result_unverified"),
                text: lang.text("pm.unverified_default"),
                message: String::new(),
                amount_cents: String::new(),
                currency: String::new(),
                transaction: String::new(),
                order: String::new(),
                reference: String::new(),
                card: String::new(),
                rows: Vec::new(),
                retry_url: None,
                merchant_url: None,
                // Nothing of an unverified query is repeated, not even in the links.
                langs: lang_links(&[], lang),
                display_name: None,
                brand: Brand::default(),
            };
            let status = match refusal {
                StatusRefusal::Unsigned => StatusCode::BAD_REQUEST,
                StatusRefusal::Forged => StatusCode::FORBIDDEN,
            };
            (status, t, NO_FRAMING.to_string())
        }
    };
    render(status, &t, &fa, "payment status")
}

#[derive(Deserialize)]
struct TokenQuery {
    payment_token: Option<String>,
}

async fn iframe_info(
    State(st): State<AppState>,
    Path(id): Path<String>,
    Query(q): Query<TokenQuery>,
) -> Response {
    let Some(id) = id_of(&id) else {
        return not_found();
    };
    let Some(token) = q.payment_token.filter(|t| !t.is_empty()) else {
        return err(PmError::new(
            400,
            json!({"detail": "payment_token is required.", "msg": "payment_token is required."}),
        ));
    };
    answer(
        st.svc.paymob().iframe_info(id, &token).await,
        StatusCode::OK,
    )
}

async fn pixel_js() -> Response {
    pm_asset(Path("pixel.js".to_string())).await
}

async fn pm_asset(Path(file): Path<String>) -> Response {
    match asset_body(&file) {
        Some((ty, body)) if !file.ends_with(".html") => {
            let mut resp = (
                [(CONTENT_TYPE, ty), (CACHE_CONTROL, "public, max-age=300")],
                body,
            )
                .into_response();
            if file == "pixel.js" {
                // Merchants load Pixel from their own pages.
                resp.headers_mut()
                    .insert("access-control-allow-origin", HeaderValue::from_static("*"));
                resp.headers_mut().insert(
                    "cross-origin-resource-policy",
                    HeaderValue::from_static("cross-origin"),
                );
            }
            resp
        }
        _ => StatusCode::NOT_FOUND.into_response(),
    }
}

#[derive(Template)]
#[template(path = "pm/challenge.html")]
struct ChallengeTemplate {
    lang: Lang,
    wallet: bool,
    /// The profile's display name (else its company name), logo and theme.
    merchant: String,
    brand: Brand,
    amount: String,
    method: String,
    action: String,
}

/// The 3-D Secure or wallet page, in the flow's language (`?lang=`, else Accept-Language); its
/// answer and every redirect from it keep that language.
async fn challenge_page(
    State(st): State<AppState>,
    headers: HeaderMap,
    Path((id, sig)): Path<(String, String)>,
    Query(q): Query<LangQuery>,
) -> Response {
    let Some(id) = id_of(&id) else {
        return not_found();
    };
    let explicit = q.lang.as_deref().and_then(Lang::from_tag);
    let lang = page_lang(&headers, q.lang.as_deref());
    match st.svc.paymob().challenge_view(id, &sig).await {
        Ok(v) => {
            if let Some(url) = v.done_url {
                return Redirect::to(&keep_lang(&st, &url, explicit)).into_response();
            }
            let look = look(&st, Some(&v.owner), "challenge").await;
            let t = ChallengeTemplate {
                lang,
                wallet: v.kind == "wallet",
                merchant: look.name.unwrap_or(v.merchant_name),
                brand: look.brand,
                amount: lang.money(v.amount_cents, &v.currency),
                method: v.method,
                action: format!("/api/acceptance/challenge/{id}/{sig}?lang={}", lang.code()),
            };
            render(StatusCode::OK, &t, &v.frame_ancestors, "challenge")
        }
        Err(e) => err(e),
    }
}

#[derive(Deserialize)]
struct ChallengeForm {
    action: Option<String>,
    mpin: Option<String>,
    otp: Option<String>,
}

/// The sandbox wallet's PIN.
const WALLET_MPIN: &str = "123456";

async fn challenge_answer(
    State(st): State<AppState>,
    Path((id, sig)): Path<(String, String)>,
    Query(q): Query<LangQuery>,
    Form(f): Form<ChallengeForm>,
) -> Response {
    let lang = q.lang.as_deref().and_then(Lang::from_tag);
    let Some(id) = id_of(&id) else {
        return not_found();
    };
    let mut approve = f.action.as_deref() == Some("approve");
    if f.mpin.is_some() && f.mpin.as_deref().map(str::trim) != Some(WALLET_MPIN) {
        approve = false;
    }
    let otp = f.otp.map(|o| o.trim().to_string());
    match st
        .svc
        .paymob()
        .answer_challenge(id, &sig, approve, otp)
        .await
    {
        Ok(url) => Redirect::to(&keep_lang(&st, &url, lang)).into_response(),
        Err(e) => err(e),
    }
}
