//! Paymob › profiles: the mode's profiles, and a new one (its credentials are shown once, on
//! the page the creation answers with).

use askama::Template;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::Response;
use kassa_core::roles::Permission;
use kassa_http::AppState;
use kassa_service::audit::with_actor;
use kassa_service::paymob::{IntegrationInput, ProfileInput};

use super::keys::{self, Revealed};
use super::{form_refusal, pm_error, profile_name};
use crate::ctx::{Ctx, Posted};
use crate::view::{self, Nav};

/// The countries a profile can be of: key prefix, name, currency.
pub const COUNTRIES: [(&str, &str, &str); 5] = [
    ("egy", "Egypt", "EGP"),
    ("are", "United Arab Emirates", "AED"),
    ("sau", "Saudi Arabia", "SAR"),
    ("omn", "Oman", "OMR"),
    ("pak", "Pakistan", "PKR"),
];

/// The integration kinds, as the service names them, with what they are.
pub const KINDS: [(&str, &str); 6] = [
    ("card", "Card, 3-D Secure"),
    ("card_auth", "Card, authorise now and capture later"),
    ("moto", "MOTO: saved or typed card, no 3-D Secure"),
    ("wallet", "Mobile wallet"),
    ("kiosk", "Kiosk (Aman, Masary): pay a reference in cash"),
    ("cash", "Cash on delivery"),
];

pub struct Choice {
    pub value: &'static str,
    pub label: String,
    pub checked: bool,
}

struct Row {
    id: i64,
    name: String,
    country: String,
    integrations: usize,
    public_key: String,
    created: String,
}

/// The create form as sent, to show again when it is refused.
struct Entered {
    name: String,
    processed: String,
    response: String,
    countries: Vec<Choice>,
    kinds: Vec<Choice>,
}

impl Entered {
    fn new(name: &str, country: &str, kinds: &[&str], processed: &str, response: &str) -> Self {
        Entered {
            name: name.to_string(),
            processed: processed.to_string(),
            response: response.to_string(),
            countries: COUNTRIES
                .iter()
                .map(|(code, name, currency)| Choice {
                    value: code,
                    label: format!("{name} ({currency})"),
                    checked: *code == country,
                })
                .collect(),
            kinds: KINDS
                .iter()
                .map(|(k, label)| Choice {
                    value: k,
                    label: label.to_string(),
                    checked: kinds.contains(k),
                })
                .collect(),
        }
    }
}

impl Default for Entered {
    fn default() -> Self {
        let all: Vec<&str> = KINDS.iter().map(|(k, _)| *k).collect();
        Entered::new("", "egy", &all, "", "")
    }
}

#[derive(Template)]
#[template(path = "dash/pm_list.html")]
struct ListPage {
    nav: Nav,
    rows: Vec<Row>,
    may_create: bool,
    form: Entered,
    error: Option<String>,
}

async fn render(
    st: &AppState,
    ctx: &Ctx,
    form: Entered,
    error: Option<(StatusCode, String)>,
) -> Response {
    let profiles = match st.svc.store.pm_profiles_of(&ctx.merchant.id).await {
        Ok(p) => p,
        Err(e) => return view::service_error(&e.into()),
    };
    let mut rows = Vec::new();
    // A profile belongs to one mode: the live dashboard lists live profiles only.
    for p in profiles
        .into_iter()
        .filter(|p| p.live == ctx.mode.is_live())
    {
        let integrations = match st.svc.paymob().integrations(p.id).await {
            Ok(i) => i.len(),
            Err(e) => return pm_error(&e),
        };
        rows.push(Row {
            id: p.id,
            name: profile_name(&p),
            country: p.country.to_ascii_uppercase(),
            integrations,
            public_key: p.public_key.clone(),
            created: view::time(p.created_at),
        });
    }
    let (status, error) = match error {
        Some((s, e)) => (s, Some(e)),
        None => (StatusCode::OK, None),
    };
    view::html(
        status,
        &ListPage {
            nav: Nav::new(ctx, "paymob"),
            rows,
            may_create: ctx.role.allows(Permission::ManageIntegrations)
                && ctx.role.allows(Permission::ManageKeys),
            form,
            error,
        },
    )
}

pub async fn list(State(st): State<AppState>, ctx: Ctx) -> Response {
    if let Err(resp) = ctx.require(Permission::Read) {
        return resp;
    }
    render(&st, &ctx, Entered::default(), None).await
}

/// Creates a profile of the page's mode with the integrations ticked, each calling back to the
/// URLs given (if any). The answer is the profile's keys page with the four credentials, which
/// are never shown again.
pub async fn create(State(st): State<AppState>, p: Posted<Vec<(String, String)>>) -> Response {
    let ctx = p.ctx;
    // The answer shows secrets: the same guard as "Recreate".
    for check in [
        ctx.require(Permission::ManageIntegrations),
        ctx.require(Permission::ManageKeys),
        ctx.require_recent_password(),
    ] {
        if let Err(resp) = check {
            return resp;
        }
    }
    let one = |k: &str| {
        p.form
            .iter()
            .find(|(n, _)| n == k)
            .map(|(_, v)| v.trim().to_string())
            .unwrap_or_default()
    };
    let (name, country, processed, response) = (
        one("name"),
        one("country"),
        one("processed_callback_url"),
        one("response_callback_url"),
    );
    let kinds: Vec<&str> = KINDS
        .iter()
        .map(|(k, _)| *k)
        .filter(|k| p.form.iter().any(|(n, v)| n == "kind" && v == k))
        .collect();
    let entered = || Entered::new(&name, &country, &kinds, &processed, &response);
    if kinds.is_empty() {
        let why = "Tick at least one kind of integration.".to_string();
        return render(&st, &ctx, entered(), Some((StatusCode::BAD_REQUEST, why))).await;
    }
    let url = |u: &str| Some(u.to_string()).filter(|u| !u.is_empty());
    let input = ProfileInput {
        name: Some(name.clone()),
        country: Some(country.clone()),
        live: ctx.mode.is_live(),
        integrations: kinds
            .iter()
            .map(|k| IntegrationInput {
                kind: k.to_string(),
                processed_callback_url: url(&processed),
                response_callback_url: url(&response),
                ..Default::default()
            })
            .collect(),
        frame_ancestors: None,
    };
    let created = with_actor(
        ctx.actor(),
        st.svc.paymob().create_profile(&ctx.merchant.id, input),
    )
    .await;
    match created {
        Ok(c) => {
            let revealed = vec![
                Revealed::new("secret_key", "Secret key", c.secret_key),
                Revealed::new("public_key", "Public key", c.profile.public_key.clone()),
                Revealed::new("api_key", "API key", c.api_key),
                Revealed::new("hmac_secret", "HMAC secret", c.hmac_secret),
            ];
            keys::render(
                &ctx,
                &c.profile,
                revealed,
                Some("Profile created. Copy its credentials now: they are not shown again."),
                None,
            )
        }
        Err(e) => match form_refusal(&e) {
            Some(refusal) => render(&st, &ctx, entered(), Some(refusal)).await,
            None => pm_error(&e),
        },
    }
}
