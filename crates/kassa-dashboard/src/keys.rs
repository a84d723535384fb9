//! Developers › API keys: named keys shown once, rolled with an expiry window, revoked, with
//! when each was last used. Every change needs the password again (step-up).

use askama::Template;
use axum::extract::{Path, State};
use axum::response::Response;
use kassa_core::roles::Permission;
use kassa_http::AppState;
use kassa_service::audit::with_actor;
use serde::Deserialize;

use crate::ctx::{Ctx, Posted};
use crate::view::{self, Nav};

struct KeyRow {
    id: String,
    name: String,
    kind: String,
    display: String,
    created: String,
    last_used: String,
    state: String,
    active: bool,
}

#[derive(Template)]
#[template(path = "dash/keys.html")]
struct KeysPage {
    nav: Nav,
    keys: Vec<KeyRow>,
    /// A key just made, shown this once.
    revealed: Option<(String, String)>,
}

async fn render(st: &AppState, ctx: &Ctx, revealed: Option<(String, String)>) -> Response {
    let rows = match st.svc.api_keys(&ctx.scope).await {
        Ok(r) => r,
        Err(e) => return view::service_error(&e),
    };
    let now = kassa_store::now_ms();
    let keys = rows
        .into_iter()
        .map(|k| KeyRow {
            active: k.is_active(now),
            state: match (k.revoked_at, k.expires_at) {
                (Some(at), _) => format!("revoked {}", view::time(at)),
                (None, Some(at)) if at <= now => format!("expired {}", view::time(at)),
                (None, Some(at)) => format!("expires {}", view::time(at)),
                (None, None) => "active".into(),
            },
            id: k.id,
            name: k.name.unwrap_or_default(),
            kind: k.kind,
            display: k.display,
            created: view::time(k.created_at),
            last_used: k
                .last_used_at
                .map(view::time)
                .unwrap_or_else(|| "never".into()),
        })
        .collect();
    view::page(&KeysPage {
        nav: Nav::new(ctx, "keys"),
        keys,
        revealed,
    })
}

pub async fn list(State(st): State<AppState>, ctx: Ctx) -> Response {
    if let Err(resp) = ctx.require(Permission::ManageKeys) {
        return resp;
    }
    render(&st, &ctx, None).await
}

#[derive(Deserialize)]
pub struct CreateForm {
    #[serde(default)]
    name: String,
    #[serde(default)]
    kind: String,
}

fn guard(ctx: &Ctx) -> Result<(), Response> {
    ctx.require(Permission::ManageKeys)?;
    ctx.require_recent_password()
}

pub async fn create(State(st): State<AppState>, p: Posted<CreateForm>) -> Response {
    let ctx = p.ctx;
    if let Err(resp) = guard(&ctx) {
        return resp;
    }
    let kind = if p.form.kind.is_empty() {
        "secret"
    } else {
        p.form.kind.as_str()
    };
    match with_actor(
        ctx.actor(),
        st.svc.create_api_key(&ctx.scope, kind, &p.form.name),
    )
    .await
    {
        Ok(k) => render(&st, &ctx, Some((k.id, k.key))).await,
        Err(e) => view::service_error(&e),
    }
}

#[derive(Deserialize)]
pub struct RollForm {
    expires_in: String,
}

pub async fn roll(
    State(st): State<AppState>,
    Path((_, id)): Path<(String, String)>,
    p: Posted<RollForm>,
) -> Response {
    let ctx = p.ctx;
    if let Err(resp) = guard(&ctx) {
        return resp;
    }
    let window_ms = match p.form.expires_in.as_str() {
        "now" => 0,
        "1h" => 3_600_000,
        "24h" => 86_400_000,
        "7d" => 7 * 86_400_000,
        _ => return view::bad_request("Choose when the old key stops working."),
    };
    match with_actor(ctx.actor(), st.svc.roll_api_key(&ctx.scope, &id, window_ms)).await {
        Ok(k) => render(&st, &ctx, Some((k.id, k.key))).await,
        Err(e) => view::service_error(&e),
    }
}

#[derive(Deserialize)]
pub struct Empty {}

pub async fn revoke(
    State(st): State<AppState>,
    Path((_, id)): Path<(String, String)>,
    p: Posted<Empty>,
) -> Response {
    let ctx = p.ctx;
    if let Err(resp) = guard(&ctx) {
        return resp;
    }
    match with_actor(ctx.actor(), st.svc.revoke_api_key(&ctx.scope, &id)).await {
        Ok(()) => view::see_other(&format!("{}/developers/keys", ctx.home())),
        Err(e) => view::service_error(&e),
    }
}
