//! Rendering: the layout's navigation, message pages, redirects, and how amounts and times are
//! shown.

use askama::Template;
use axum::http::header::{CONTENT_TYPE, LOCATION, SET_COOKIE};
use axum::http::{HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use kassa_core::money::Currency;
use kassa_core::roles::Permission;
use kassa_service::ServiceError;

use crate::ctx::Ctx;

/// What the layout needs: where the user is, who they are, and the mode switch.
pub struct Nav {
    pub mode: &'static str,
    pub live: bool,
    pub section: &'static str,
    pub email: String,
    pub role: String,
    pub merchant: String,
    pub csrf: String,
    /// The same page in the other mode.
    pub switch_to: String,
    pub can_keys: bool,
    /// May change webhook endpoints, Paymentwall projects, Paymob profiles, brandings.
    pub can_integrate: bool,
    /// May move money (refund, capture, cancel, resend).
    pub can_move_money: bool,
}

impl Nav {
    pub fn new(ctx: &Ctx, section: &'static str) -> Nav {
        let other = if ctx.mode.is_live() { "test" } else { "live" };
        let rest = ctx
            .path
            .strip_prefix(&format!("/dashboard/{}", ctx.mode.as_str()))
            .unwrap_or("");
        // Objects do not exist in the other mode: the switch goes to the section's list.
        let section_path = match rest.split('/').nth(1) {
            Some(s) if !s.is_empty() => {
                let mut parts = rest.trim_start_matches('/').split('/');
                let first = parts.next().unwrap_or("");
                if first == "developers" || first == "account" {
                    format!("/{first}/{}", parts.next().unwrap_or(""))
                } else {
                    format!("/{first}")
                }
            }
            _ => String::new(),
        };
        Nav {
            mode: ctx.mode.as_str(),
            live: ctx.mode.is_live(),
            section,
            email: ctx.user.email.clone(),
            role: ctx.role.to_string(),
            merchant: ctx.merchant.name.clone(),
            csrf: ctx.csrf.clone(),
            switch_to: format!("/dashboard/{other}{section_path}"),
            can_keys: ctx.role.allows(Permission::ManageKeys),
            can_integrate: ctx.role.allows(Permission::ManageIntegrations),
            can_move_money: ctx.role.allows(Permission::MoveMoney),
        }
    }
}

/// A page with a heading, a sentence and maybe a link onward.
#[derive(Template)]
#[template(path = "dash/message.html")]
pub struct MessagePage<'a> {
    pub title: &'a str,
    pub text: &'a str,
    pub link: Option<(&'a str, &'a str)>,
}

pub fn html(status: StatusCode, page: &impl Template) -> Response {
    match page.render() {
        Ok(body) => (status, [(CONTENT_TYPE, "text/html; charset=utf-8")], body).into_response(),
        Err(e) => {
            tracing::error!(error = %e, "dashboard template failed to render");
            (StatusCode::INTERNAL_SERVER_ERROR, "Internal error").into_response()
        }
    }
}

pub fn page(page: &impl Template) -> Response {
    html(StatusCode::OK, page)
}

pub fn message(
    status: StatusCode,
    title: &str,
    text: &str,
    link: Option<(&str, &str)>,
) -> Response {
    html(status, &MessagePage { title, text, link })
}

pub fn not_found() -> Response {
    message(
        StatusCode::NOT_FOUND,
        "Not found",
        "There is nothing here, or it belongs to another account or mode.",
        Some(("/dashboard", "Go to the dashboard")),
    )
}

pub fn bad_request(text: &str) -> Response {
    message(StatusCode::BAD_REQUEST, "That did not work", text, None)
}

pub fn forbidden_csrf() -> Response {
    message(
        StatusCode::FORBIDDEN,
        "The form has expired",
        "The form was not sent from this dashboard session. Reload the page and try again.",
        Some(("/dashboard", "Go to the dashboard")),
    )
}

pub fn forbidden_cross_site() -> Response {
    message(
        StatusCode::FORBIDDEN,
        "Refused",
        "A form may only be sent from the dashboard's own pages.",
        Some(("/dashboard", "Go to the dashboard")),
    )
}

/// A service error as a page: the message is the service's own (written for the merchant);
/// internal and database errors say only that something failed.
pub fn service_error(e: &ServiceError) -> Response {
    let status = match e {
        ServiceError::NotFound { .. } => return not_found(),
        ServiceError::Invalid { .. } | ServiceError::UrlRefused { .. } => StatusCode::BAD_REQUEST,
        ServiceError::State(_) | ServiceError::Conflict => StatusCode::CONFLICT,
        ServiceError::Declined { .. } => StatusCode::PAYMENT_REQUIRED,
        ServiceError::LiveMode { .. } | ServiceError::Forbidden(_) => StatusCode::FORBIDDEN,
        ServiceError::Unauthorized(_) => StatusCode::UNAUTHORIZED,
        ServiceError::RateLimited(_) => StatusCode::TOO_MANY_REQUESTS,
        ServiceError::Processor(_) => StatusCode::BAD_GATEWAY,
        ServiceError::Internal(_) | ServiceError::Store(_) => {
            tracing::error!(error = %e, "dashboard request failed");
            let status = if e.is_unavailable() {
                StatusCode::SERVICE_UNAVAILABLE
            } else {
                StatusCode::INTERNAL_SERVER_ERROR
            };
            return message(
                status,
                "Something went wrong",
                "Nothing was changed. It has been logged; try again in a moment.",
                None,
            );
        }
    };
    message(status, "That did not work", &e.to_string(), None)
}

pub fn see_other(location: &str) -> Response {
    let mut resp = StatusCode::SEE_OTHER.into_response();
    if let Ok(v) = HeaderValue::from_str(location) {
        resp.headers_mut().insert(LOCATION, v);
    }
    resp
}

pub fn with_cookie(mut resp: Response, cookie: &str) -> Response {
    if let Ok(v) = HeaderValue::from_str(cookie) {
        resp.headers_mut().append(SET_COOKIE, v);
    }
    resp
}

/// `12.50 USD`, from minor units.
pub fn money(amount: i64, currency: &Currency) -> String {
    let exp = currency.exponent();
    let code = currency.code().to_uppercase();
    if exp == 0 {
        return format!("{amount} {code}");
    }
    let div = 10i64.pow(exp);
    let sign = if amount < 0 { "-" } else { "" };
    let a = amount.unsigned_abs();
    let d = div as u64;
    format!(
        "{sign}{}.{:0width$} {code}",
        a / d,
        a % d,
        width = exp as usize
    )
}

/// `2026-12-03 11:38:23 UTC`, from milliseconds since the epoch.
pub fn time(ms: i64) -> String {
    let secs = ms.div_euclid(1000);
    let days = secs.div_euclid(86_400);
    let rem = secs.rem_euclid(86_400);
    let (y, m, d) = civil_from_days(days);
    format!(
        "{y:04}-{m:02}-{d:02} {:02}:{:02}:{:02} UTC",
        rem / 3600,
        rem % 3600 / 60,
        rem % 60
    )
}

/// Days since 1970-01-01 to (year, month, day) in the proleptic Gregorian calendar.
pub fn civil_from_days(z: i64) -> (i64, u32, u32) {
    let z = z + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let y = yoe + era * 400;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let m = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    (if m <= 2 { y + 1 } else { y }, m, d)
}

/// Milliseconds at the start of a `YYYY-MM-DD` day (UTC).
pub fn parse_date(s: &str) -> Option<i64> {
    let mut it = s.trim().splitn(3, '-');
    let y: i64 = it.next()?.parse().ok()?;
    let m: i64 = it.next()?.parse().ok()?;
    let d: i64 = it.next()?.parse().ok()?;
    if !(1970..=9999).contains(&y) || !(1..=12).contains(&m) || !(1..=31).contains(&d) {
        return None;
    }
    // Inverse of civil_from_days.
    let y2 = if m <= 2 { y - 1 } else { y };
    let era = y2.div_euclid(400);
    let yoe = y2 - era * 400;
    let mp = (m + 9) % 12;
    let doy = (153 * mp + 2) / 5 + d - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    let days = era * 146_097 + doe - 719_468;
    let (cy, cm, cd) = civil_from_days(days);
    (cy == y && i64::from(cm) == m && i64::from(cd) == d).then_some(days * 86_400_000)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn amounts_show_in_major_units() {
        let usd = Currency::parse("usd").unwrap();
        let jpy = Currency::parse("jpy").unwrap();
        assert_eq!(money(1050, &usd), "10.50 USD");
        assert_eq!(money(5, &usd), "0.05 USD");
        assert_eq!(money(500, &jpy), "500 JPY");
    }

    #[test]
    fn times_and_dates_round_trip() {
        assert_eq!(time(0), "1970-01-01 00:00:00 UTC");
        assert_eq!(time(1_796_297_903_000), "2026-12-03 11:38:23 UTC");
        assert_eq!(parse_date("2026-12-03"), Some(1_796_256_000_000));
        assert_eq!(
            parse_date("2024-02-29").map(time),
            Some("2024-02-29 00:00:00 UTC".into())
        );
        assert_eq!(parse_date("2023-02-29"), None);
        assert_eq!(parse_date("12/03/2026"), None);
    }
}
