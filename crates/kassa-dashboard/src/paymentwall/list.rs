//! Paymentwall › Projects: every project of the merchant, and "Create project" (name and API
//! type), whose answer shows the new secret key this once.

use askama::Template;
use axum::extract::State;
use axum::response::Response;
use kassa_core::roles::Permission;
use kassa_http::AppState;
use kassa_service::audit::with_actor;
use kassa_service::paymentwall::ProjectInput;
use serde::Deserialize;

use super::API_TYPES;
use crate::ctx::{Ctx, Posted};
use crate::view::{self, Nav};

struct Row {
    id: String,
    name: String,
    api: &'static str,
    project_key: String,
    pingback_url: String,
    created: String,
}

/// A project just created: its keys of this mode, the secret shown this once.
struct Created {
    id: String,
    name: String,
    project_key: String,
    secret: String,
    live_project_key: String,
    live_secret: String,
}

#[derive(Template)]
#[template(path = "dash/pw_list.html")]
struct ListPage {
    nav: Nav,
    rows: Vec<Row>,
    api_types: [(&'static str, &'static str); 3],
    can_create: bool,
    created: Option<Created>,
    error: Option<String>,
    name: String,
    api_type: String,
}

async fn render(
    st: &AppState,
    ctx: &Ctx,
    created: Option<Created>,
    error: Option<String>,
    form: CreateForm,
) -> Response {
    let projects = match st.svc.paymentwall().projects(&ctx.merchant.id).await {
        Ok(p) => p,
        Err(e) => return view::service_error(&e),
    };
    let rows = projects
        .into_iter()
        .map(|p| p.in_mode(ctx.mode))
        .map(|p| Row {
            project_key: if ctx.mode.is_live() {
                p.row
                    .live_project_key
                    .clone()
                    .unwrap_or_else(|| "none yet".into())
            } else {
                p.row.project_key.clone()
            },
            pingback_url: p.pingback_url().unwrap_or("").to_string(),
            api: p.api_type.display_name(),
            created: view::time(p.row.created_at),
            id: p.row.id,
            name: p.row.name,
        })
        .collect();
    let status = if error.is_some() {
        axum::http::StatusCode::BAD_REQUEST
    } else {
        axum::http::StatusCode::OK
    };
    view::html(
        status,
        &ListPage {
            nav: Nav::new(ctx, "paymentwall"),
            rows,
            api_types: API_TYPES,
            can_create: ctx.role.allows(Permission::ManageIntegrations),
            created,
            error,
            name: form.name,
            api_type: form.api_type,
        },
    )
}

impl ListPage {
    fn is_api(&self, v: &str) -> bool {
        self.api_type == v
    }
}

pub async fn list(State(st): State<AppState>, ctx: Ctx) -> Response {
    if let Err(resp) = ctx.require(Permission::Read) {
        return resp;
    }
    render(&st, &ctx, None, None, CreateForm::default()).await
}

#[derive(Debug, Default, Deserialize)]
pub struct CreateForm {
    #[serde(default)]
    name: String,
    #[serde(default)]
    api_type: String,
}

/// Creating shows a secret key, so it needs the password given in the last minutes too.
pub async fn create(State(st): State<AppState>, p: Posted<CreateForm>) -> Response {
    let ctx = p.ctx;
    if let Err(resp) = ctx.require(Permission::ManageIntegrations) {
        return resp;
    }
    if let Err(resp) = ctx.require_recent_password() {
        return resp;
    }
    let form = p.form;
    if form.name.trim().is_empty() {
        return render(
            &st,
            &ctx,
            None,
            Some("Give the project a name.".into()),
            form,
        )
        .await;
    }
    if !API_TYPES.iter().any(|(v, _)| *v == form.api_type) {
        return render(
            &st,
            &ctx,
            None,
            Some("Choose the project's API type.".into()),
            form,
        )
        .await;
    }
    let input = ProjectInput {
        name: Some(form.name.clone()),
        api_type: Some(form.api_type.clone()),
        ..Default::default()
    };
    match with_actor(
        ctx.actor(),
        st.svc.paymentwall().create_project(&ctx.merchant.id, input),
    )
    .await
    {
        Ok(p) => {
            let live = ctx.mode.is_live();
            let created = Created {
                id: p.row.id.clone(),
                name: p.row.name.clone(),
                project_key: p.row.project_key.clone(),
                secret: p.secret.clone(),
                // A live secret moves real money: it is shown only in live mode.
                live_project_key: if live {
                    p.row.live_project_key.clone().unwrap_or_default()
                } else {
                    String::new()
                },
                live_secret: if live {
                    p.live_secret.clone().unwrap_or_default()
                } else {
                    String::new()
                },
            };
            render(&st, &ctx, Some(created), None, CreateForm::default()).await
        }
        Err(e) => match super::form_error(&e) {
            Some(message) => render(&st, &ctx, None, Some(message), form).await,
            None => view::service_error(&e),
        },
    }
}
