//! Settings: the team (invitations by single-use link, roles), processor accounts for live
//! mode, and the audit log.

use std::collections::BTreeMap;

use askama::Template;
use axum::extract::{Path, Query, State};
use axum::http::HeaderMap;
use axum::response::Response;
use axum::routing::{get, post};
use axum::Router;
use kassa_core::roles::{Permission, Role, ROLES};
use kassa_http::AppState;
use kassa_service::audit::with_actor;
use kassa_service::processors::AccountParams;
use serde::Deserialize;

use crate::ctx::{Ctx, Posted};
use crate::view::{self, Nav};

pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/dashboard/{mode}/settings", get(overview))
        .route("/dashboard/{mode}/settings/team", get(team).post(invite))
        .route(
            "/dashboard/{mode}/settings/team/{user}/role",
            post(change_role),
        )
        .route(
            "/dashboard/{mode}/settings/processors",
            get(processors).post(add_processor),
        )
        .route(
            "/dashboard/{mode}/settings/processors/{id}/remove",
            post(remove_processor),
        )
        .route("/dashboard/{mode}/settings/audit", get(audit))
}

#[derive(Template)]
#[template(path = "dash/settings.html")]
struct OverviewPage {
    nav: Nav,
    can_team: bool,
    can_processors: bool,
}

async fn overview(ctx: Ctx) -> Response {
    view::page(&OverviewPage {
        can_team: ctx.role.allows(Permission::ManageTeam),
        can_processors: ctx.role.allows(Permission::ManageProcessors),
        nav: Nav::new(&ctx, "settings"),
    })
}

struct Opt {
    value: &'static str,
    selected: bool,
}

fn options(roles: &[&'static str], selected: &str) -> Vec<Opt> {
    roles
        .iter()
        .map(|r| Opt {
            value: r,
            selected: *r == selected,
        })
        .collect()
}

struct Member {
    options: Vec<Opt>,
    id: String,
    email: String,
    role: String,
    status: String,
    totp: bool,
    created: String,
    is_me: bool,
}

#[derive(Template)]
#[template(path = "dash/team.html")]
struct TeamPage {
    nav: Nav,
    members: Vec<Member>,
    invite_roles: Vec<Opt>,
    can_manage: bool,
    /// A new invitation's link, shown this once.
    invited: Option<(String, String)>,
}

async fn render_team(st: &AppState, ctx: &Ctx, invited: Option<(String, String)>) -> Response {
    let users = match st.svc.users().team(&ctx.merchant.id).await {
        Ok(u) => u,
        Err(e) => return view::service_error(&e),
    };
    let roles: Vec<&'static str> = ROLES
        .into_iter()
        .filter(|r| ctx.role.may_assign(*r))
        .map(Role::as_str)
        .collect();
    let members = users
        .into_iter()
        .map(|u| Member {
            options: options(&roles, &u.role),
            is_me: u.id == ctx.user.id,
            totp: u.has_totp(),
            created: view::time(u.created_at),
            id: u.id,
            email: u.email,
            role: u.role,
            status: u.status,
        })
        .collect();
    let can_manage = ctx.role.allows(Permission::ManageTeam);
    view::page(&TeamPage {
        nav: Nav::new(ctx, "settings"),
        members,
        invite_roles: options(&roles, "viewer"),
        can_manage,
        invited,
    })
}

async fn team(State(st): State<AppState>, ctx: Ctx) -> Response {
    render_team(&st, &ctx, None).await
}

#[derive(Deserialize)]
struct InviteForm {
    email: String,
    role: String,
}

/// The dashboard's own address as the browser reached it, for links shown to the user.
fn origin_of(headers: &HeaderMap, st: &AppState) -> String {
    let host = headers
        .get(axum::http::header::HOST)
        .and_then(|h| h.to_str().ok())
        .filter(|h| {
            h.bytes()
                .all(|b| b.is_ascii_alphanumeric() || b".-:[]".contains(&b))
        });
    match host {
        Some(h) => {
            let scheme = if crate::ctx::secure_cookies(st) {
                "https"
            } else {
                "http"
            };
            format!("{scheme}://{h}")
        }
        None => st.svc.base_url.clone(),
    }
}

async fn invite(State(st): State<AppState>, headers: HeaderMap, p: Posted<InviteForm>) -> Response {
    let ctx = p.ctx;
    if let Err(resp) = ctx
        .require(Permission::ManageTeam)
        .and_then(|_| ctx.require_recent_password())
    {
        return resp;
    }
    let role = match kassa_service::users::parse_role(&p.form.role) {
        Ok(r) => r,
        Err(e) => return view::service_error(&e),
    };
    match with_actor(
        ctx.actor(),
        st.svc.users().invite(&ctx.user, &p.form.email, role),
    )
    .await
    {
        Ok(new) => {
            let link = format!(
                "{}/dashboard/setup/{}",
                origin_of(&headers, &st),
                new.link_token
            );
            render_team(&st, &ctx, Some((new.user.email, link))).await
        }
        Err(e) => view::service_error(&e),
    }
}

#[derive(Deserialize)]
struct RoleForm {
    role: String,
}

async fn change_role(
    State(st): State<AppState>,
    Path((_, user)): Path<(String, String)>,
    p: Posted<RoleForm>,
) -> Response {
    let ctx = p.ctx;
    if let Err(resp) = ctx
        .require(Permission::ManageTeam)
        .and_then(|_| ctx.require_recent_password())
    {
        return resp;
    }
    let role = match kassa_service::users::parse_role(&p.form.role) {
        Ok(r) => r,
        Err(e) => return view::service_error(&e),
    };
    match with_actor(
        ctx.actor(),
        st.svc.users().change_role(&ctx.user, &user, role),
    )
    .await
    {
        Ok(_) => view::see_other(&format!("{}/settings/team", ctx.home())),
        Err(e) => view::service_error(&e),
    }
}

struct AccountRow {
    id: String,
    connector: String,
    status: String,
    credentials: Vec<(String, String)>,
    webhook_url: String,
    created: String,
}

struct Field {
    name: String,
    label: &'static str,
    secret: bool,
    required: bool,
}

struct ConnectorForm {
    name: &'static str,
    fields: Vec<Field>,
}

#[derive(Template)]
#[template(path = "dash/processors.html")]
struct ProcessorsPage {
    nav: Nav,
    accounts: Vec<AccountRow>,
    connectors: Vec<ConnectorForm>,
    can_manage: bool,
}

async fn processors(State(st): State<AppState>, ctx: Ctx) -> Response {
    let accounts = match st.svc.processors().accounts(&ctx.scope).await {
        Ok(a) => a,
        Err(e) => return view::service_error(&e),
    };
    let accounts = accounts
        .iter()
        .map(|a| AccountRow {
            id: a["id"].as_str().unwrap_or_default().into(),
            connector: a["connector"].as_str().unwrap_or_default().into(),
            status: a["status"].as_str().unwrap_or_default().into(),
            credentials: a["credentials"]
                .as_object()
                .map(|m| {
                    m.iter()
                        .map(|(k, v)| (k.clone(), v.as_str().unwrap_or_default().to_string()))
                        .collect()
                })
                .unwrap_or_default(),
            webhook_url: a["webhook_url"].as_str().unwrap_or_default().into(),
            created: a["created"]
                .as_i64()
                .map(|s| view::time(s * 1000))
                .unwrap_or_default(),
        })
        .collect();
    let connectors = st
        .svc
        .processors()
        .connector_forms()
        .into_iter()
        .filter(|(name, _)| *name != "sandbox")
        .map(|(name, fields)| ConnectorForm {
            name,
            fields: fields
                .into_iter()
                .map(|f| Field {
                    name: format!("cred.{name}.{}", f.name),
                    label: f.label,
                    secret: f.secret,
                    required: f.required,
                })
                .collect(),
        })
        .collect();
    view::page(&ProcessorsPage {
        can_manage: ctx.role.allows(Permission::ManageProcessors) && ctx.mode.is_live(),
        nav: Nav::new(&ctx, "settings"),
        accounts,
        connectors,
    })
}

async fn add_processor(
    State(st): State<AppState>,
    p: Posted<BTreeMap<String, String>>,
) -> Response {
    let ctx = p.ctx;
    if let Err(resp) = ctx
        .require(Permission::ManageProcessors)
        .and_then(|_| ctx.require_recent_password())
    {
        return resp;
    }
    let Some(connector) = p.form.get("connector").cloned() else {
        return view::bad_request("Choose a connector.");
    };
    let prefix = format!("cred.{connector}.");
    let credentials = p
        .form
        .iter()
        .filter_map(|(k, v)| Some((k.strip_prefix(&prefix)?.to_string(), v.trim().to_string())))
        .filter(|(_, v)| !v.is_empty())
        .collect();
    match with_actor(
        ctx.actor(),
        st.svc.processors().add_account(
            &ctx.scope,
            AccountParams {
                connector,
                credentials,
            },
        ),
    )
    .await
    {
        Ok(_) => view::see_other(&format!("{}/settings/processors", ctx.home())),
        Err(e) => view::service_error(&e),
    }
}

#[derive(Deserialize)]
struct Empty {}

async fn remove_processor(
    State(st): State<AppState>,
    Path((_, id)): Path<(String, String)>,
    p: Posted<Empty>,
) -> Response {
    let ctx = p.ctx;
    if let Err(resp) = ctx
        .require(Permission::ManageProcessors)
        .and_then(|_| ctx.require_recent_password())
    {
        return resp;
    }
    match with_actor(
        ctx.actor(),
        st.svc.processors().remove_account(&ctx.scope, &id),
    )
    .await
    {
        Ok(_) => view::see_other(&format!("{}/settings/processors", ctx.home())),
        Err(e) => view::service_error(&e),
    }
}

struct AuditRow {
    at: String,
    who: String,
    kind: String,
    from: String,
    action: String,
    target: String,
    changes: String,
    request_id: String,
}

#[derive(Template)]
#[template(path = "dash/audit.html")]
struct AuditPage {
    nav: Nav,
    rows: Vec<AuditRow>,
    next: Option<String>,
}

#[derive(Deserialize)]
struct AuditQuery {
    #[serde(default)]
    before: String,
}

const AUDIT_PAGE: i64 = 50;

async fn audit(State(st): State<AppState>, ctx: Ctx, Query(q): Query<AuditQuery>) -> Response {
    let before = q.before.split_once(':').and_then(|(at, id)| {
        let at: i64 = at.parse().ok()?;
        (!id.is_empty() && id.len() < 64).then_some((at, id))
    });
    let mut records = match st
        .svc
        .store
        .audit_records(&ctx.scope, AUDIT_PAGE + 1, before)
        .await
    {
        Ok(r) => r,
        Err(e) => return view::service_error(&e.into()),
    };
    let next = if records.len() as i64 > AUDIT_PAGE {
        records.truncate(AUDIT_PAGE as usize);
        records
            .last()
            .map(|r| format!("{}/settings/audit?before={}:{}", ctx.home(), r.at, r.id))
    } else {
        None
    };
    let rows = records
        .into_iter()
        .map(|r| AuditRow {
            at: view::time(r.at),
            who: r.actor_label.or(r.actor_id).unwrap_or_else(|| "-".into()),
            kind: r.actor_type,
            from: r.ip.unwrap_or_default(),
            action: r.action,
            target: r.target.unwrap_or_default(),
            changes: r.changes.chars().take(300).collect(),
            request_id: r.request_id.unwrap_or_default(),
        })
        .collect();
    view::page(&AuditPage {
        nav: Nav::new(&ctx, "settings"),
        rows,
        next,
    })
}
