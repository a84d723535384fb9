//! The checkout's answers: pages with their security headers and cookie, redirects, and the
//! message pages for what went wrong (in the payer's language, never with internal details).

use super::*;

/// The request's CSRF cookie secret, or a new one (`true`) to be set with the response.
pub(super) fn cookie_secret(headers: &HeaderMap) -> (String, bool) {
    match csrf::secret_from_cookies(headers) {
        Some(s) => (s, false),
        None => (csrf::new_secret(), true),
    }
}

pub(super) fn with_cookie(mut resp: Response, st: &AppState, secret: Option<&String>) -> Response {
    if let Some(secret) = secret {
        let secure = st.guards.secure_cookies || st.svc.base_url.starts_with("https://");
        if let Ok(v) = HeaderValue::from_str(&csrf::set_cookie_value(secret, secure)) {
            resp.headers_mut().append(SET_COOKIE, v);
        }
    }
    resp
}

/// Browsers that send Fetch Metadata tell us outright when a POST comes from another site;
/// refuse those before anything else (the CSRF token would refuse them anyway).
pub(super) fn is_cross_site(headers: &HeaderMap) -> bool {
    headers
        .get("sec-fetch-site")
        .is_some_and(|v| v.as_bytes().eq_ignore_ascii_case(b"cross-site"))
}

pub(super) fn html(status: StatusCode, page: &impl Template) -> Response {
    match page.render() {
        Ok(body) => (
            status,
            [
                (CONTENT_TYPE, "text/html; charset=utf-8"),
                // Without `?lang=` the words depend on the browser's languages.
                (VARY, "Accept-Language"),
            ],
            body,
        )
            .into_response(),
        Err(e) => {
            tracing::error!(error = %e, "checkout template failed to render");
            (StatusCode::INTERNAL_SERVER_ERROR, "Internal error").into_response()
        }
    }
}

pub(super) fn see_other(location: &str) -> Response {
    match HeaderValue::from_str(location) {
        Ok(v) => {
            let mut resp = StatusCode::SEE_OTHER.into_response();
            resp.headers_mut().insert(LOCATION, v);
            resp
        }
        Err(_) => internal(
            Lang::En,
            None,
            &"redirect target is not a valid header value",
        ),
    }
}

/// A message page: heading and sentence from the `checkout` catalog, and a way forward when
/// there is one (a link to `href` labelled by the catalog's `link_key`).
pub(super) fn message(
    lang: Lang,
    status: StatusCode,
    heading_key: &str,
    text_key: &str,
    link: Option<(&str, &str)>,
) -> Response {
    let heading = lang.text(heading_key).to_string();
    let page = MessagePage {
        brand: Brand::default(),
        lang,
        title: heading.clone(),
        refresh: None,
        heading,
        message: lang.text(text_key).to_string(),
        link: link.map(|(href, key)| (href.to_string(), lang.text(key).to_string())),
    };
    html(status, &page)
}

pub(super) fn not_found(lang: Lang) -> Response {
    message(
        lang,
        StatusCode::NOT_FOUND,
        "checkout.not_found_title",
        "checkout.not_found_text",
        None,
    )
}

pub(super) fn forbidden(lang: Lang, back: &str) -> Response {
    message(
        lang,
        StatusCode::FORBIDDEN,
        "checkout.expired_title",
        "checkout.expired_text",
        Some((back, "checkout.reload")),
    )
}

pub(super) fn bad_request(lang: Lang, back: &str) -> Response {
    message(
        lang,
        StatusCode::BAD_REQUEST,
        "checkout.bad_form_title",
        "checkout.bad_form_text",
        Some((back, "checkout.back_to_form")),
    )
}

/// A 503 (database unavailable) or 500 page; `retry` is the page to try again, when known.
pub(super) fn internal<E: std::fmt::Display + 'static>(
    lang: Lang,
    retry: Option<&str>,
    e: &E,
) -> Response {
    let link = retry.map(|href| (href, "common.try_again"));
    if kassa_service::is_unavailable(e) {
        tracing::warn!(error = %e, "checkout: database unavailable");
        return crate::unavailable(message(
            lang,
            StatusCode::SERVICE_UNAVAILABLE,
            "checkout.unavailable_title",
            "checkout.unavailable_text",
            link,
        ));
    }
    tracing::error!(error = %e, "checkout request failed");
    message(
        lang,
        StatusCode::INTERNAL_SERVER_ERROR,
        "common.something_went_wrong",
        "checkout.error_text",
        link,
    )
}
