//! The signed payment-page links (`/api/subscription`, `/api/ps`, `/api/cart`, `/api/`): the
//! link is checked, the order opened and the payer sent to its page, or the refusal shown.

use axum::extract::{RawQuery, Request, State};
use axum::http::StatusCode;
use axum::response::Response;
use kassa_paymentwall::geo::resolve_country;
use kassa_paymentwall::parse_query;
use kassa_service::paymentwall::{LinkError, LinkPath};

use super::view::{self, ErrorPage};
use super::{error_page, error_page_with, internal, see_other};
use crate::lang::{page_lang, Lang};
use crate::AppState;

pub(super) async fn link_subscription(st: State<AppState>, q: RawQuery, req: Request) -> Response {
    open_link(st, LinkPath::Subscription, q, req).await
}
pub(super) async fn link_ps(st: State<AppState>, q: RawQuery, req: Request) -> Response {
    open_link(st, LinkPath::Ps, q, req).await
}
pub(super) async fn link_cart(st: State<AppState>, q: RawQuery, req: Request) -> Response {
    open_link(st, LinkPath::Cart, q, req).await
}
pub(super) async fn link_any(st: State<AppState>, q: RawQuery, req: Request) -> Response {
    open_link(st, LinkPath::Any, q, req).await
}

/// The customer's country: `country_code` on the link, else the configured IP database.
fn customer_country(st: &AppState, raw_query: &str, req: &Request) -> Option<String> {
    let param = parse_query(raw_query).ok().and_then(|p| {
        p.iter()
            .find(|(k, _)| k == "country_code")
            .map(|(_, v)| v.clone())
    });
    let ip = crate::guards::client_addr(st, req);
    resolve_country(param.as_deref(), ip, st.country_db.as_deref())
}

async fn open_link(
    State(st): State<AppState>,
    path: LinkPath,
    RawQuery(q): RawQuery,
    req: Request,
) -> Response {
    let raw = q.unwrap_or_default();
    // The link's own `lang` speaks even when the link is refused (its signature is not needed
    // to choose the words of the refusal), else the browser's languages.
    let lang = page_lang(req.headers(), link_lang(&raw).as_deref());
    if raw.len() > 16 * 1024 {
        return error_page(
            StatusCode::URI_TOO_LONG,
            lang,
            "pw.error.too_long_title",
            "pw.error.too_long",
        );
    }
    let country = customer_country(&st, &raw, &req);
    match st.svc.paymentwall().open_link(path, &raw, country).await {
        Ok(Ok(order)) => see_other(&format!("/pw/orders/{}", order.id)),
        Ok(Err(e)) => link_error(&st, lang, e),
        Err(e) => internal(lang, &e),
    }
}

/// The `lang` parameter of a link's query, whether or not the link is valid.
fn link_lang(raw_query: &str) -> Option<String> {
    let params = parse_query(raw_query).ok()?;
    params
        .into_iter()
        .find(|(k, _)| k == "lang")
        .map(|(_, v)| v)
}

fn link_error(st: &AppState, lang: Lang, e: LinkError) -> Response {
    let page = |message: String, detail: Option<String>| ErrorPage {
        brand: Default::default(),
        lang,
        heading: lang.text("pw.error.title").to_string(),
        message,
        detail,
        retry_href: None,
        diagnosis: None,
    };
    match e {
        LinkError::MissingKeyOrUid => error_page_with(
            StatusCode::BAD_REQUEST,
            page(lang.text("pw.error.missing_key").to_string(), None),
        ),
        LinkError::NotAuthorized(why) => {
            // Paymentwall's own words first; then, for a test (or unknown) key, what the
            // developer needs to fix the link (no secret: it is never part of the base).
            tracing::warn!(check = %why.check(), "paymentwall link refused");
            let mut p = page(lang.text("pw.error.not_authorized").to_string(), None);
            p.diagnosis = Some(view::LinkDiagnosis::of(&why));
            error_page_with(StatusCode::FORBIDDEN, p)
        }
        LinkError::NotAuthorizedLive(why) => {
            // A live key's link: Paymentwall's words only; the check goes to the log.
            tracing::warn!(check = %why.check(), mode = "live", "paymentwall link refused");
            error_page_with(
                StatusCode::FORBIDDEN,
                page(lang.text("pw.error.not_authorized").to_string(), None),
            )
        }
        LinkError::LiveModeOff { code, message } => {
            // A live key on a server where live mode cannot run: Paymentwall's page, saying
            // why (the operator's to fix, not the payer's), with the code for the developer.
            tracing::warn!(code, "paymentwall live link refused: live mode is off here");
            let message = if lang == Lang::En {
                format!("Live payments are not available on this server. {message}")
            } else {
                lang.text("pw.error.invalid_link").to_string()
            };
            error_page_with(StatusCode::FORBIDDEN, page(message, Some(code.to_string())))
        }
        LinkError::WrongPath { api } => error_page_with(
            StatusCode::BAD_REQUEST,
            page(
                lang.fmt(
                    "pw.error.wrong_path",
                    &[
                        ("api", api.display_name()),
                        ("url", &format!("{}{}", st.svc.base_url, api.path())),
                    ],
                ),
                None,
            ),
        ),
        LinkError::Invalid(m) => {
            let detail = (lang != Lang::En).then(|| m.clone());
            let message = if lang == Lang::En {
                m
            } else {
                lang.text("pw.error.invalid_link").to_string()
            };
            error_page_with(StatusCode::BAD_REQUEST, page(message, detail))
        }
    }
}
