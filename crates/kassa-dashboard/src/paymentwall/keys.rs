//! Project › Keys: the key pair of the page's mode. The project key is public (it is in every
//! link); the secret key is never shown again after it is made, so the page offers to make a
//! new one instead, shown once: `regenerate_secret` in test mode, `new_live_keys` in live mode.
//! The old secret stops working at once. Both need ManageKeys and the password again.

use askama::Template;
use axum::extract::{Path, Query, State};
use axum::response::Response;
use kassa_core::roles::Permission;
use kassa_http::AppState;
use kassa_service::audit::with_actor;
use kassa_service::paymentwall::Project;
use serde::Deserialize;

use super::{load, Done, Head};
use crate::ctx::{Ctx, Posted};
use crate::view::{self, Nav};

#[derive(Template)]
#[template(path = "dash/pw_keys.html")]
struct KeysPage {
    nav: Nav,
    head: Head,
    /// The mode's project key (empty: a live pair not made yet).
    project_key: String,
    has_secret: bool,
    /// A secret just made, shown this once.
    revealed: Option<String>,
}

fn render(ctx: &Ctx, p: &Project, revealed: Option<String>, flash: Option<String>) -> Response {
    let mut head = Head::new(ctx, p, "keys");
    head.flash = flash;
    let (project_key, has_secret) = if ctx.mode.is_live() {
        (
            p.row.live_project_key.clone().unwrap_or_default(),
            p.live_secret.is_some(),
        )
    } else {
        (p.row.project_key.clone(), true)
    };
    view::page(&KeysPage {
        nav: Nav::new(ctx, "paymentwall"),
        head,
        project_key,
        has_secret,
        revealed,
    })
}

pub async fn page(
    State(st): State<AppState>,
    ctx: Ctx,
    Path((_, id)): Path<(String, String)>,
    q: Query<Done>,
) -> Response {
    match load(&st, &ctx, &id).await {
        Ok(p) => render(&ctx, &p, None, Done::flash(&q)),
        Err(resp) => resp,
    }
}

#[derive(Deserialize)]
pub struct Empty {}

pub async fn regenerate(
    State(st): State<AppState>,
    Path((_, id)): Path<(String, String)>,
    posted: Posted<Empty>,
) -> Response {
    let ctx = posted.ctx;
    if let Err(resp) = ctx.require(Permission::ManageKeys) {
        return resp;
    }
    if let Err(resp) = ctx.require_recent_password() {
        return resp;
    }
    let pw = st.svc.paymentwall();
    let result = if ctx.mode.is_live() {
        with_actor(ctx.actor(), pw.new_live_keys(&ctx.merchant.id, &id)).await
    } else {
        with_actor(ctx.actor(), pw.regenerate_secret(&ctx.merchant.id, &id)).await
    };
    match result {
        Ok(p) => {
            let p = p.in_mode(ctx.mode);
            let secret = p.signing_secret().to_string();
            render(
                &ctx,
                &p,
                Some(secret),
                Some("New secret key made: the old one no longer works.".into()),
            )
        }
        Err(e) => view::service_error(&e),
    }
}
