//! Paymob: the mode's profiles (a profile is test or live, and shows only in its own mode's
//! dashboard) and, for each, its integrations, its credentials ("Recreate", shown once), the
//! callback testing tool, the HMAC calculator and the checkout's look. Every change runs the
//! same `kassa-service` command as the native API, with the signed-in user as the audit actor.
//!
//! Who may do what: reading needs `Read`; changing integrations, the look and framing, and
//! sending a test callback need `ManageIntegrations`; anything that shows or replaces a secret
//! (creating a profile, "Recreate") needs `ManageKeys` and the password given in the last
//! minutes; the HMAC calculator signs whatever is pasted with the profile's secret, so it
//! needs `ManageKeys` too.

mod integrations;
mod keys;
mod look;
mod profiles;
mod tools;

use axum::http::StatusCode;
use axum::response::Response;
use axum::routing::{get, post};
use axum::Router;
use kassa_http::AppState;
use kassa_service::paymob::PmError;
use kassa_store::PmProfile;
use serde_json::Value;

use crate::ctx::Ctx;
use crate::view;

/// The logo upload, served with the larger body limit of [`crate::upload_routes`].
pub fn upload_routes() -> Router<AppState> {
    Router::new().route(
        "/dashboard/{mode}/paymob/{id}/look/logo",
        post(look::upload_logo),
    )
}

pub fn routes() -> Router<AppState> {
    Router::new()
        .route(
            "/dashboard/{mode}/paymob",
            get(profiles::list).post(profiles::create),
        )
        .route("/dashboard/{mode}/paymob/{id}", get(integrations::list))
        .route(
            "/dashboard/{mode}/paymob/{id}/integrations",
            post(integrations::add),
        )
        .route(
            "/dashboard/{mode}/paymob/{id}/integrations/{integration}",
            get(integrations::edit_page).post(integrations::update),
        )
        .route("/dashboard/{mode}/paymob/{id}/keys", get(keys::page))
        .route(
            "/dashboard/{mode}/paymob/{id}/keys/{which}/recreate",
            post(keys::recreate),
        )
        .route(
            "/dashboard/{mode}/paymob/{id}/callback-test",
            get(tools::callback_page).post(tools::callback_send),
        )
        .route(
            "/dashboard/{mode}/paymob/{id}/hmac",
            get(tools::hmac_page).post(tools::hmac_calculate),
        )
        .route(
            "/dashboard/{mode}/paymob/{id}/look",
            get(look::page).post(look::update_branding),
        )
        .route(
            "/dashboard/{mode}/paymob/{id}/look/logo.png",
            get(look::logo_png),
        )
        .route(
            "/dashboard/{mode}/paymob/{id}/look/logo/remove",
            post(look::remove_logo),
        )
        .route("/dashboard/{mode}/paymob/{id}/framing", post(look::framing))
}

/// What every profile page shows above its tab: which profile, the tabs, and a message.
pub struct Head {
    pub id: i64,
    pub name: String,
    pub country: String,
    pub live: bool,
    pub public_key: String,
    /// The tab shown: `integrations`, `keys`, `callback`, `hmac` or `look`.
    pub tab: &'static str,
    /// What just happened (after a change).
    pub flash: Option<String>,
    /// Why the form just sent was refused.
    pub error: Option<String>,
}

impl Head {
    pub fn new(p: &PmProfile, tab: &'static str) -> Head {
        Head {
            id: p.id,
            name: profile_name(p),
            country: p.country.to_ascii_uppercase(),
            live: p.live,
            public_key: p.public_key.clone(),
            tab,
            flash: None,
            error: None,
        }
    }

    pub fn with_error(mut self, error: Option<String>) -> Head {
        self.error = error;
        self
    }

    pub fn with_flash(mut self, flash: Option<&str>) -> Head {
        self.flash = flash.map(str::to_string);
        self
    }
}

/// The company name a profile was given (its native API view's `name`).
fn profile_name(p: &PmProfile) -> String {
    serde_json::from_str::<Value>(&p.doc)
        .ok()
        .and_then(|d| d["name"].as_str().map(str::to_string))
        .unwrap_or_default()
}

/// The profile `raw` names, if it is this merchant's and of the page's mode; otherwise the
/// page is "not found", exactly as for another merchant's.
async fn profile_of(st: &AppState, ctx: &Ctx, raw: &str) -> Result<PmProfile, Response> {
    let Ok(id) = raw.parse::<i64>() else {
        return Err(view::not_found());
    };
    st.svc
        .paymob()
        .profile_in(&ctx.scope, id)
        .await
        .map_err(|e| pm_error(&e))
}

/// The profile of a page that needs `permission`: a 403 page without it, a 404 for another
/// merchant's or mode's profile.
async fn allowed_profile(
    st: &AppState,
    ctx: &Ctx,
    raw: &str,
    permission: kassa_core::roles::Permission,
) -> Result<PmProfile, Response> {
    ctx.require(permission)?;
    profile_of(st, ctx, raw).await
}

/// A Paymob-shaped error as one sentence: its `detail` or `message`, or each field's first
/// complaint (`Processed callback URL: Enter a valid URL.`).
pub fn pm_message(e: &PmError) -> String {
    for k in ["detail", "message"] {
        if let Some(m) = e.body.get(k).and_then(Value::as_str) {
            return m.to_string();
        }
    }
    let Some(fields) = e.body.as_object() else {
        return "That did not work.".into();
    };
    let parts: Vec<String> = fields
        .iter()
        .map(|(field, msgs)| {
            let msg = match msgs {
                Value::Array(a) => a.first().and_then(Value::as_str).unwrap_or("is not valid."),
                Value::String(s) => s.as_str(),
                _ => "is not valid.",
            };
            format!("{}: {msg}", field_label(field))
        })
        .collect();
    if parts.is_empty() {
        "That did not work.".into()
    } else {
        parts.join(" ")
    }
}

/// A field of the service's errors as its form labels it.
fn field_label(field: &str) -> String {
    match field {
        "processed_callback_url" => "Processed callback URL".into(),
        "response_callback_url" => "Response callback URL".into(),
        "frame_ancestors" => "Sites that may frame the pages".into(),
        "three_d_secure" => "3-D Secure".into(),
        other => {
            let mut s = other.replace('_', " ");
            if let Some(first) = s.get_mut(0..1) {
                first.make_ascii_uppercase();
            }
            s
        }
    }
}

/// A Paymob-shaped error as a page. Not found is the shared "not found" page; a server fault
/// says only that something failed (the service has logged it).
pub fn pm_error(e: &PmError) -> Response {
    let status = StatusCode::from_u16(e.status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    match status.as_u16() {
        404 => view::not_found(),
        s if s >= 500 => view::message(
            status,
            "Something went wrong",
            "Nothing was changed. It has been logged; try again in a moment.",
            None,
        ),
        _ => view::message(status, "That did not work", &pm_message(e), None),
    }
}

/// A refusal to show on the form again, with its status (a bad field, a conflict, live mode
/// off); `None` for "not found" and server faults, which get a page of their own
/// ([`pm_error`]).
fn form_refusal(e: &PmError) -> Option<(StatusCode, String)> {
    let status = StatusCode::from_u16(e.status).ok()?;
    (status.is_client_error() && status != StatusCode::NOT_FOUND).then(|| (status, pm_message(e)))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn service_errors_read_as_one_sentence() {
        let e = PmError::fields(json!({"processed_callback_url": ["Enter a valid URL."]}));
        assert_eq!(pm_message(&e), "Processed callback URL: Enter a valid URL.");
        let e = PmError::fields(json!({"name": ["Too long."]}));
        assert_eq!(pm_message(&e), "Name: Too long.");
        assert_eq!(
            pm_message(&PmError::detail(404, "Profile not found.")),
            "Profile not found."
        );
        assert_eq!(pm_message(&PmError::message(409, "Changed.")), "Changed.");
    }
}
