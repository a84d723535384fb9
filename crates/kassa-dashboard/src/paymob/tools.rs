//! Profile › Callback testing (a signed sample processed callback sent now, with the
//! merchant's answer) and Profile › HMAC calculator (the message and HMAC of a pasted callback
//! or redirect, computed on the server: the secret is not shown).

use askama::Template;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::Response;
use kassa_core::roles::Permission;
use kassa_http::AppState;
use kassa_service::audit::with_actor;
use kassa_service::paymob::{CallbackTest, HmacCalculation};
use kassa_store::PmProfile;
use serde::Deserialize;

use super::integrations::{rows, Row};
use super::{allowed_profile, form_refusal, pm_error, profile_of, Head};
use crate::ctx::{Ctx, Posted};
use crate::view::{self, Nav};

/// The test's result as the page shows it.
struct Sent {
    url: String,
    message: String,
    hmac: String,
    body: String,
    /// `HTTP 200`, or why nothing came back.
    answer: String,
    /// A 2xx answer: the delivery would count as done.
    accepted: bool,
    excerpt: String,
    latency_ms: u64,
}

impl From<CallbackTest> for Sent {
    fn from(t: CallbackTest) -> Sent {
        let body = serde_json::from_str::<serde_json::Value>(&t.body)
            .and_then(|v| serde_json::to_string_pretty(&v))
            .unwrap_or(t.body);
        Sent {
            answer: match (t.status, &t.error) {
                (Some(s), _) => format!("HTTP {s}"),
                (None, Some(e)) => format!("No answer: {e}"),
                (None, None) => "No answer".into(),
            },
            accepted: t.status.is_some_and(|s| (200..300).contains(&s)),
            url: t.url,
            message: t.message,
            hmac: t.hmac,
            body,
            excerpt: t.excerpt,
            latency_ms: t.latency_ms,
        }
    }
}

#[derive(Template)]
#[template(path = "dash/pm_callback.html")]
struct CallbackPage {
    nav: Nav,
    head: Head,
    /// The integrations that have a processed callback URL.
    targets: Vec<Row>,
    chosen: i64,
    approved: bool,
    sent: Option<Sent>,
}

async fn render_callback(
    st: &AppState,
    ctx: &Ctx,
    p: &PmProfile,
    chosen: i64,
    approved: bool,
    sent: Option<Sent>,
    error: Option<(StatusCode, String)>,
) -> Response {
    let targets: Vec<Row> = match rows(st, p).await {
        Ok(r) => r.into_iter().filter(|r| !r.processed.is_empty()).collect(),
        Err(resp) => return resp,
    };
    let (status, error) = match error {
        Some((s, e)) => (s, Some(e)),
        None => (StatusCode::OK, None),
    };
    view::html(
        status,
        &CallbackPage {
            nav: Nav::new(ctx, "paymob"),
            head: Head::new(p, "callback").with_error(error),
            targets,
            chosen,
            approved,
            sent,
        },
    )
}

pub async fn callback_page(
    State(st): State<AppState>,
    Path((_, id)): Path<(String, String)>,
    ctx: Ctx,
) -> Response {
    if let Err(resp) = ctx.require(Permission::ManageIntegrations) {
        return resp;
    }
    match profile_of(&st, &ctx, &id).await {
        Ok(p) => render_callback(&st, &ctx, &p, 0, true, None, None).await,
        Err(resp) => resp,
    }
}

#[derive(Deserialize)]
pub struct CallbackForm {
    #[serde(default)]
    integration: String,
    #[serde(default)]
    outcome: String,
}

pub async fn callback_send(
    State(st): State<AppState>,
    Path((_, id)): Path<(String, String)>,
    p: Posted<CallbackForm>,
) -> Response {
    let (ctx, f) = (p.ctx, p.form);
    let profile = match allowed_profile(&st, &ctx, &id, Permission::ManageIntegrations).await {
        Ok(p) => p,
        Err(resp) => return resp,
    };
    let approved = f.outcome != "declined";
    let Ok(integration) = f.integration.parse::<i64>() else {
        let why = "Choose an integration with a processed callback URL.".to_string();
        return render_callback(
            &st,
            &ctx,
            &profile,
            0,
            approved,
            None,
            Some((StatusCode::BAD_REQUEST, why)),
        )
        .await;
    };
    match with_actor(
        ctx.actor(),
        st.svc
            .paymob()
            .test_callback(&profile, integration, approved),
    )
    .await
    {
        Ok(t) => {
            render_callback(
                &st,
                &ctx,
                &profile,
                integration,
                approved,
                Some(t.into()),
                None,
            )
            .await
        }
        Err(e) => match form_refusal(&e) {
            Some(refusal) => {
                render_callback(
                    &st,
                    &ctx,
                    &profile,
                    integration,
                    approved,
                    None,
                    Some(refusal),
                )
                .await
            }
            None => pm_error(&e),
        },
    }
}

#[derive(Template)]
#[template(path = "dash/pm_hmac.html")]
struct HmacPage {
    nav: Nav,
    head: Head,
    input: String,
    given: String,
    result: Option<HmacCalculation>,
}

fn render_hmac(
    ctx: &Ctx,
    p: &PmProfile,
    input: String,
    given: String,
    result: Option<HmacCalculation>,
    error: Option<(StatusCode, String)>,
) -> Response {
    let (status, error) = match error {
        Some((s, e)) => (s, Some(e)),
        None => (StatusCode::OK, None),
    };
    view::html(
        status,
        &HmacPage {
            nav: Nav::new(ctx, "paymob"),
            head: Head::new(p, "hmac").with_error(error),
            input,
            given,
            result,
        },
    )
}

/// The calculator signs anything pasted with the profile's secret, which would let its user
/// forge callbacks: it is for those who may see secrets.
pub async fn hmac_page(
    State(st): State<AppState>,
    Path((_, id)): Path<(String, String)>,
    ctx: Ctx,
) -> Response {
    if let Err(resp) = ctx.require(Permission::ManageKeys) {
        return resp;
    }
    match profile_of(&st, &ctx, &id).await {
        Ok(p) => render_hmac(&ctx, &p, String::new(), String::new(), None, None),
        Err(resp) => resp,
    }
}

#[derive(Deserialize)]
pub struct HmacForm {
    #[serde(default)]
    input: String,
    #[serde(default)]
    hmac: String,
}

pub async fn hmac_calculate(
    State(st): State<AppState>,
    Path((_, id)): Path<(String, String)>,
    p: Posted<HmacForm>,
) -> Response {
    let (ctx, f) = (p.ctx, p.form);
    let profile = match allowed_profile(&st, &ctx, &id, Permission::ManageKeys).await {
        Ok(p) => p,
        Err(resp) => return resp,
    };
    match st
        .svc
        .paymob()
        .calculate_hmac(&profile, &f.input, Some(&f.hmac))
    {
        Ok(r) => render_hmac(&ctx, &profile, f.input, f.hmac, Some(r), None),
        Err(e) => match form_refusal(&e) {
            Some(refusal) => render_hmac(&ctx, &profile, f.input, f.hmac, None, Some(refusal)),
            None => pm_error(&e),
        },
    }
}
