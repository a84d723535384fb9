//! Paymentwall projects: the list and "Create project", and each project's tabs as Paymentwall's
//! merchant area has them: Settings, Payment Systems, Widgets, Keys and the Test Pingback Tool.
//!
//! A project's configuration is one for both modes; only its key pairs (and the live pingback
//! URL) belong to a mode, so the pages say so and show the key pair of the mode they are in.
//! Every change runs through the same `kassa-service` command as the native API
//! (`update_project`, `regenerate_secret`, `new_live_keys`, the branding commands, the tool's
//! `send_tool_pingback`), under the signed-in user as the audit actor.

mod keys;
mod list;
mod settings;
mod systems;
mod tool;
mod widgets;

use axum::extract::Query;
use axum::response::Response;
use axum::routing::{get, post};
use axum::Router;
use kassa_core::roles::Permission;
use kassa_http::AppState;
use kassa_service::paymentwall::Project;
use kassa_service::ServiceError;
use serde::Deserialize;

use crate::ctx::Ctx;
use crate::view;

/// The logo upload, served with the larger body limit of [`crate::upload_routes`].
pub fn upload_routes() -> Router<AppState> {
    Router::new().route(
        "/dashboard/{mode}/paymentwall/{id}/logo",
        post(widgets::upload_logo),
    )
}

pub fn routes() -> Router<AppState> {
    let base = "/dashboard/{mode}/paymentwall";
    Router::new()
        .route(base, get(list::list).post(list::create))
        .route(&format!("{base}/{{id}}"), get(settings::page))
        .route(&format!("{base}/{{id}}/settings"), post(settings::save))
        .route(
            &format!("{base}/{{id}}/payment-systems"),
            get(systems::page).post(systems::save),
        )
        .route(
            &format!("{base}/{{id}}/widgets"),
            get(widgets::page).post(widgets::save_widgets),
        )
        .route(
            &format!("{base}/{{id}}/branding"),
            post(widgets::save_branding),
        )
        .route(
            &format!("{base}/{{id}}/logo/remove"),
            post(widgets::remove_logo),
        )
        .route(&format!("{base}/{{id}}/keys"), get(keys::page))
        .route(
            &format!("{base}/{{id}}/keys/regenerate"),
            post(keys::regenerate),
        )
        .route(
            &format!("{base}/{{id}}/test-pingback"),
            get(tool::page).post(tool::send),
        )
}

/// What every project tab shows above its content: the project, the tab, and what the user may
/// do there.
pub struct Head {
    pub id: String,
    pub name: String,
    pub api: &'static str,
    pub tab: &'static str,
    /// May change the project (ManageIntegrations).
    pub can_edit: bool,
    /// May see and regenerate its secrets (ManageKeys).
    pub can_keys: bool,
    pub flash: Option<String>,
    pub error: Option<String>,
}

impl Head {
    fn new(ctx: &Ctx, p: &Project, tab: &'static str) -> Head {
        Head {
            id: p.row.id.clone(),
            name: p.row.name.clone(),
            api: p.api_type.display_name(),
            tab,
            can_edit: ctx.role.allows(Permission::ManageIntegrations),
            can_keys: ctx.role.allows(Permission::ManageKeys),
            flash: None,
            error: None,
        }
    }
}

/// The project `id` of the signed-in user's merchant, in the page's mode; another merchant's
/// project (or none) is the dashboard's 404.
async fn load(st: &AppState, ctx: &Ctx, id: &str) -> Result<Project, Response> {
    ctx.require(Permission::Read)?;
    st.svc
        .paymentwall()
        .project_in(&ctx.scope, id)
        .await
        .map_err(|e| view::service_error(&e))
}

/// `?saved=…` after a change: which sentence to show.
#[derive(Debug, Default, Deserialize)]
pub struct Done {
    #[serde(default)]
    saved: String,
}

impl Done {
    fn flash(q: &Query<Done>) -> Option<String> {
        match q.saved.as_str() {
            "settings" => Some("Settings saved.".into()),
            "systems" => Some("Payment systems saved.".into()),
            "widgets" => Some("Widgets saved.".into()),
            "branding" => Some("Branding saved.".into()),
            "logo" => Some("Logo uploaded.".into()),
            "logo-removed" => Some("Logo removed.".into()),
            _ => None,
        }
    }
}

fn project_path(ctx: &Ctx, id: &str) -> String {
    format!("{}/paymentwall/{id}", ctx.home())
}

/// The API types a project may have, for the create and settings forms.
pub const API_TYPES: [(&str, &str); 3] = [
    ("digital_goods", "Digital Goods (Checkout API)"),
    ("virtual_currency", "Virtual Currency"),
    ("cart", "Cart"),
];

/// A refusal the merchant can act on (a bad value, a URL the egress policy refuses): shown on
/// the form itself. `None` for the rest, which get the dashboard's error pages.
fn form_error(e: &ServiceError) -> Option<String> {
    match e {
        ServiceError::Invalid { message, .. } | ServiceError::UrlRefused { message, .. } => {
            Some(message.clone())
        }
        _ => None,
    }
}
