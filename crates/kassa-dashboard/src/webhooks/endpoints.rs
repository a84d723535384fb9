//! An endpoint's page and the changes made from it: edit, enable or disable, rotate the secret
//! (the new one is shown once), delete.

use askama::Template;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::Response;
use kassa_core::roles::Permission;
use kassa_http::AppState;
use kassa_service::audit::with_actor;
use kassa_service::{EndpointUpdate, ServiceError, BULK_RESEND_MAX};
use serde::Deserialize;

use super::list::{events_text, failing_text, health_text, refusal, EndpointForm, EventChoice};
use super::log::{self, LogQuery, LogView};
use crate::ctx::{Ctx, Posted};
use crate::view::{self, Nav};

#[derive(Template)]
#[template(path = "dash/webhooks_endpoint.html")]
struct DetailPage {
    nav: Nav,
    id: String,
    url: String,
    description: String,
    enabled: bool,
    events: String,
    created: String,
    /// Until when the secret before the last rotation still signs.
    previous_until: Option<String>,
    health: String,
    failing: String,
    form: EndpointForm,
    choices: Vec<EventChoice>,
    flash: Option<String>,
    error: Option<String>,
    /// A secret just made by a rotation, shown this once.
    revealed: Option<String>,
    log: LogView,
    bulk_max: i64,
}

/// What an endpoint's page shows besides the endpoint: a message, an error, a new secret.
#[derive(Default)]
pub struct Shown {
    pub flash: Option<String>,
    pub error: Option<String>,
    pub revealed: Option<String>,
    pub form: Option<EndpointForm>,
}

pub async fn render_detail(
    st: &AppState,
    ctx: &Ctx,
    id: &str,
    q: &LogQuery,
    status: StatusCode,
    shown: Shown,
) -> Response {
    let ep = match st.svc.webhooks().endpoint(&ctx.scope, id).await {
        Ok(ep) => ep,
        Err(e) => return view::service_error(&e),
    };
    let health = match st.svc.store.endpoint_health(&ctx.scope, &ep.id).await {
        Ok(h) => h,
        Err(e) => return view::service_error(&e.into()),
    };
    let log = match log::load(st, ctx, &ep, q).await {
        Ok(l) => l,
        Err(resp) => return resp,
    };
    let status = if log.error.is_some() && status == StatusCode::OK {
        StatusCode::BAD_REQUEST
    } else {
        status
    };
    let form = shown.form.unwrap_or_else(|| EndpointForm {
        url: ep.url.clone(),
        description: ep.description.clone().unwrap_or_default(),
        events: ep.enabled_events.clone(),
    });
    let now = kassa_store::now_ms();
    let page = DetailPage {
        nav: Nav::new(ctx, "webhooks"),
        id: ep.id.clone(),
        url: ep.url.clone(),
        description: ep.description.clone().unwrap_or_default(),
        enabled: ep.status == "enabled",
        events: events_text(&ep),
        created: view::time(ep.created_at),
        previous_until: ep
            .previous_secret_expires_at
            .filter(|at| *at > now)
            .map(view::time),
        health: health_text(&health),
        failing: failing_text(&health),
        choices: form.choices(),
        form,
        flash: shown.flash,
        error: shown.error,
        revealed: shown.revealed,
        log,
        bulk_max: BULK_RESEND_MAX,
    };
    view::html(status, &page)
}

pub async fn detail(
    State(st): State<AppState>,
    ctx: Ctx,
    Path((_, id)): Path<(String, String)>,
    Query(q): Query<LogQuery>,
) -> Response {
    if let Err(resp) = ctx.require(Permission::Read) {
        return resp;
    }
    let shown = Shown {
        flash: q.flash(),
        ..Default::default()
    };
    render_detail(&st, &ctx, &id, &q, StatusCode::OK, shown).await
}

/// Back to the endpoint's page, saying what was done.
pub fn done(ctx: &Ctx, id: &str, what: &str) -> Response {
    view::see_other(&format!(
        "{}/developers/webhooks/{id}?done={what}",
        ctx.home()
    ))
}

pub async fn update(
    State(st): State<AppState>,
    Path((_, id)): Path<(String, String)>,
    p: Posted<Vec<(String, String)>>,
) -> Response {
    let ctx = p.ctx;
    if let Some(resp) = refusal(&ctx, false) {
        return resp;
    }
    let form = EndpointForm::from_pairs(&p.form);
    if form.url.is_empty() {
        return refuse_edit(
            &st,
            &ctx,
            &id,
            "Enter the URL to send events to.".into(),
            form,
        )
        .await;
    }
    if form.events.is_empty() {
        let msg = "Choose the events to send, or all of them.".into();
        return refuse_edit(&st, &ctx, &id, msg, form).await;
    }
    let u = EndpointUpdate {
        url: Some(form.url.clone()),
        enabled_events: Some(form.events.clone()),
        description: Some(form.description.clone()),
        disabled: None,
    };
    match with_actor(
        ctx.actor(),
        st.svc.webhooks().update_endpoint(&ctx.scope, &id, u),
    )
    .await
    {
        Ok(_) => done(&ctx, &id, "updated"),
        Err(e @ (ServiceError::Invalid { .. } | ServiceError::UrlRefused { .. })) => {
            refuse_edit(&st, &ctx, &id, e.to_string(), form).await
        }
        Err(e) => view::service_error(&e),
    }
}

/// The endpoint's page again with the edit form as sent and why it was refused (400).
async fn refuse_edit(
    st: &AppState,
    ctx: &Ctx,
    id: &str,
    msg: String,
    form: EndpointForm,
) -> Response {
    let shown = Shown {
        error: Some(msg),
        form: Some(form),
        ..Default::default()
    };
    render_detail(
        st,
        ctx,
        id,
        &LogQuery::default(),
        StatusCode::BAD_REQUEST,
        shown,
    )
    .await
}

#[derive(Deserialize)]
pub struct Empty {}

async fn set_disabled(st: &AppState, ctx: &Ctx, id: &str, disabled: bool) -> Response {
    if let Some(resp) = refusal(ctx, false) {
        return resp;
    }
    let u = EndpointUpdate {
        disabled: Some(disabled),
        ..Default::default()
    };
    match with_actor(
        ctx.actor(),
        st.svc.webhooks().update_endpoint(&ctx.scope, id, u),
    )
    .await
    {
        Ok(_) => done(ctx, id, if disabled { "disabled" } else { "enabled" }),
        Err(e) => view::service_error(&e),
    }
}

pub async fn enable(
    State(st): State<AppState>,
    Path((_, id)): Path<(String, String)>,
    p: Posted<Empty>,
) -> Response {
    set_disabled(&st, &p.ctx, &id, false).await
}

pub async fn disable(
    State(st): State<AppState>,
    Path((_, id)): Path<(String, String)>,
    p: Posted<Empty>,
) -> Response {
    set_disabled(&st, &p.ctx, &id, true).await
}

#[derive(Deserialize)]
pub struct RotateForm {
    #[serde(default)]
    expires_in: String,
}

pub async fn rotate(
    State(st): State<AppState>,
    Path((_, id)): Path<(String, String)>,
    p: Posted<RotateForm>,
) -> Response {
    let ctx = p.ctx;
    if let Some(resp) = refusal(&ctx, true) {
        return resp;
    }
    let grace_secs = match p.form.expires_in.as_str() {
        "now" => 0,
        "1h" => 3600,
        "24h" => 86_400,
        _ => return view::bad_request("Choose how long the old secret keeps signing."),
    };
    match with_actor(
        ctx.actor(),
        st.svc
            .webhooks()
            .rotate_endpoint_secret(&ctx.scope, &id, Some(grace_secs), None),
    )
    .await
    {
        Ok(body) => {
            let shown = Shown {
                flash: Some("The signing secret was rotated.".into()),
                revealed: body["secret"].as_str().map(str::to_string),
                ..Default::default()
            };
            render_detail(&st, &ctx, &id, &LogQuery::default(), StatusCode::OK, shown).await
        }
        Err(e) => view::service_error(&e),
    }
}

#[derive(Deserialize)]
pub struct DeleteForm {
    #[serde(default)]
    confirm: String,
}

pub async fn delete(
    State(st): State<AppState>,
    Path((_, id)): Path<(String, String)>,
    p: Posted<DeleteForm>,
) -> Response {
    let ctx = p.ctx;
    if let Some(resp) = refusal(&ctx, false) {
        return resp;
    }
    if p.form.confirm != "yes" {
        return view::bad_request("Tick “Yes, delete this endpoint” to delete it.");
    }
    match with_actor(
        ctx.actor(),
        st.svc.webhooks().delete_endpoint(&ctx.scope, &id),
    )
    .await
    {
        Ok(_) => view::see_other(&format!("{}/developers/webhooks", ctx.home())),
        Err(e) => view::service_error(&e),
    }
}
