//! Profile › Integrations: the table (kind, name, currency, 3-D Secure, both callback URLs), a
//! new integration, and one integration's settings (name, callback URLs, 3-D Secure), through
//! the service's `add_integration` and `update_integration`.

use askama::Template;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::Response;
use kassa_core::roles::Permission;
use kassa_http::AppState;
use kassa_service::audit::with_actor;
use kassa_service::paymob::IntegrationInput;
use kassa_store::PmProfile;
use serde::Deserialize;

use super::profiles::{Choice, COUNTRIES, KINDS};
use super::{allowed_profile, form_refusal, pm_error, profile_of, Head};
use crate::ctx::{Ctx, Posted};
use crate::view::{self, Nav};

/// Kinds whose customers may be asked for 3-D Secure (MOTO never is).
fn has_3ds(kind: &str) -> bool {
    matches!(kind, "card" | "card_auth")
}

pub struct Row {
    pub id: i64,
    pub kind: &'static str,
    pub name: String,
    pub currency: String,
    /// `on`, `off`, or `—` for a kind without 3-D Secure.
    pub three_ds: &'static str,
    pub processed: String,
    pub response: String,
}

/// The add form as sent (or its defaults).
struct AddValues {
    kinds: Vec<Choice>,
    currencies: Vec<Choice>,
    name: String,
    processed: String,
    response: String,
    three_d_secure: bool,
}

impl AddValues {
    fn new(p: &PmProfile, f: Option<&AddForm>) -> AddValues {
        let default_currency = COUNTRIES
            .iter()
            .find(|(c, _, _)| *c == p.country)
            .map_or("EGP", |(_, _, cur)| *cur);
        let kind = f.map_or("card", |f| f.kind.as_str());
        let currency = f.map_or(default_currency, |f| f.currency.as_str());
        AddValues {
            kinds: KINDS
                .iter()
                .map(|(k, label)| Choice {
                    value: k,
                    label: label.to_string(),
                    checked: *k == kind,
                })
                .collect(),
            currencies: COUNTRIES
                .iter()
                .map(|(_, _, cur)| Choice {
                    value: cur,
                    label: cur.to_string(),
                    checked: *cur == currency,
                })
                .collect(),
            name: f.map(|f| f.name.clone()).unwrap_or_default(),
            processed: f
                .map(|f| f.processed_callback_url.clone())
                .unwrap_or_default(),
            response: f
                .map(|f| f.response_callback_url.clone())
                .unwrap_or_default(),
            three_d_secure: f.is_none_or(|f| f.three_d_secure.is_some()),
        }
    }
}

#[derive(Template)]
#[template(path = "dash/pm_integrations.html")]
struct ListPage {
    nav: Nav,
    head: Head,
    rows: Vec<Row>,
    add: AddValues,
}

pub async fn rows(st: &AppState, p: &PmProfile) -> Result<Vec<Row>, Response> {
    let list = st
        .svc
        .paymob()
        .integrations(p.id)
        .await
        .map_err(|e| pm_error(&e))?;
    Ok(list
        .into_iter()
        .map(|i| Row {
            id: i.id,
            kind: i.doc.kind.as_str(),
            three_ds: match (has_3ds(i.doc.kind.as_str()), i.doc.three_d_secure) {
                (false, _) => "—",
                (true, true) => "on",
                (true, false) => "off",
            },
            name: i.name,
            currency: i.doc.currency,
            processed: i.doc.processed_callback_url.unwrap_or_default(),
            response: i.doc.response_callback_url.unwrap_or_default(),
        })
        .collect())
}

async fn render(
    st: &AppState,
    ctx: &Ctx,
    p: &PmProfile,
    flash: Option<&str>,
    form: Option<&AddForm>,
    error: Option<(StatusCode, String)>,
) -> Response {
    let rows = match rows(st, p).await {
        Ok(r) => r,
        Err(resp) => return resp,
    };
    let (status, error) = match error {
        Some((s, e)) => (s, Some(e)),
        None => (StatusCode::OK, None),
    };
    view::html(
        status,
        &ListPage {
            nav: Nav::new(ctx, "paymob"),
            head: Head::new(p, "integrations")
                .with_flash(flash)
                .with_error(error),
            rows,
            add: AddValues::new(p, form),
        },
    )
}

#[derive(Deserialize)]
pub struct DoneQuery {
    #[serde(default)]
    done: String,
}

fn flash_of(done: &str) -> Option<&'static str> {
    match done {
        "added" => Some("Integration added."),
        "updated" => Some("Integration saved."),
        _ => None,
    }
}

pub async fn list(
    State(st): State<AppState>,
    Path((_, id)): Path<(String, String)>,
    Query(q): Query<DoneQuery>,
    ctx: Ctx,
) -> Response {
    if let Err(resp) = ctx.require(Permission::Read) {
        return resp;
    }
    match profile_of(&st, &ctx, &id).await {
        Ok(p) => render(&st, &ctx, &p, flash_of(&q.done), None, None).await,
        Err(resp) => resp,
    }
}

#[derive(Deserialize)]
pub struct AddForm {
    #[serde(default)]
    kind: String,
    #[serde(default)]
    name: String,
    #[serde(default)]
    currency: String,
    #[serde(default)]
    processed_callback_url: String,
    #[serde(default)]
    response_callback_url: String,
    /// A checkbox: present when ticked.
    three_d_secure: Option<String>,
}

fn url(u: &str) -> Option<String> {
    Some(u.trim().to_string())
}

pub async fn add(
    State(st): State<AppState>,
    Path((_, id)): Path<(String, String)>,
    p: Posted<AddForm>,
) -> Response {
    let (ctx, f) = (p.ctx, p.form);
    let profile = match allowed_profile(&st, &ctx, &id, Permission::ManageIntegrations).await {
        Ok(p) => p,
        Err(resp) => return resp,
    };
    let input = IntegrationInput {
        kind: f.kind.clone(),
        name: Some(f.name.trim().to_string()).filter(|n| !n.is_empty()),
        currency: Some(f.currency.clone()).filter(|c| !c.is_empty()),
        processed_callback_url: url(&f.processed_callback_url),
        response_callback_url: url(&f.response_callback_url),
        three_d_secure: has_3ds(&f.kind).then_some(f.three_d_secure.is_some()),
    };
    match with_actor(
        ctx.actor(),
        st.svc.paymob().add_integration(&profile, input),
    )
    .await
    {
        Ok(i) => view::see_other(&format!(
            "{}/paymob/{}?done=added#int-{}",
            ctx.home(),
            profile.id,
            i.id
        )),
        Err(e) => match form_refusal(&e) {
            Some(refusal) => render(&st, &ctx, &profile, None, Some(&f), Some(refusal)).await,
            None => pm_error(&e),
        },
    }
}

#[derive(Template)]
#[template(path = "dash/pm_integration.html")]
struct EditPage {
    nav: Nav,
    head: Head,
    i: Row,
    /// Whether the 3-D Secure box applies to this kind.
    with_3ds: bool,
    three_d_secure: bool,
}

#[allow(clippy::too_many_arguments)]
async fn render_edit(
    st: &AppState,
    ctx: &Ctx,
    p: &PmProfile,
    raw: &str,
    sent: Option<&EditForm>,
    error: Option<(StatusCode, String)>,
) -> Response {
    let rows = match rows(st, p).await {
        Ok(r) => r,
        Err(resp) => return resp,
    };
    let Some(mut i) = raw
        .parse::<i64>()
        .ok()
        .and_then(|iid| rows.into_iter().find(|r| r.id == iid))
    else {
        return view::not_found();
    };
    let mut three_d_secure = i.three_ds == "on";
    if let Some(f) = sent {
        i.name = f.name.clone();
        i.processed = f.processed_callback_url.clone();
        i.response = f.response_callback_url.clone();
        three_d_secure = f.three_d_secure.is_some();
    }
    let (status, error) = match error {
        Some((s, e)) => (s, Some(e)),
        None => (StatusCode::OK, None),
    };
    view::html(
        status,
        &EditPage {
            nav: Nav::new(ctx, "paymob"),
            head: Head::new(p, "integrations").with_error(error),
            with_3ds: has_3ds(i.kind),
            three_d_secure,
            i,
        },
    )
}

pub async fn edit_page(
    State(st): State<AppState>,
    Path((_, id, integration)): Path<(String, String, String)>,
    ctx: Ctx,
) -> Response {
    if let Err(resp) = ctx.require(Permission::ManageIntegrations) {
        return resp;
    }
    match profile_of(&st, &ctx, &id).await {
        Ok(p) => render_edit(&st, &ctx, &p, &integration, None, None).await,
        Err(resp) => resp,
    }
}

#[derive(Deserialize)]
pub struct EditForm {
    #[serde(default)]
    name: String,
    #[serde(default)]
    processed_callback_url: String,
    #[serde(default)]
    response_callback_url: String,
    three_d_secure: Option<String>,
}

/// Saves an integration's name, callback URLs (empty removes one) and, for card kinds, 3-D
/// Secure.
pub async fn update(
    State(st): State<AppState>,
    Path((_, id, integration)): Path<(String, String, String)>,
    p: Posted<EditForm>,
) -> Response {
    let (ctx, f) = (p.ctx, p.form);
    let profile = match allowed_profile(&st, &ctx, &id, Permission::ManageIntegrations).await {
        Ok(p) => p,
        Err(resp) => return resp,
    };
    let Ok(iid) = integration.parse::<i64>() else {
        return view::not_found();
    };
    // Only a card integration's form has the 3-D Secure box: another kind keeps its setting.
    let kind = match rows(&st, &profile).await {
        Ok(rows) => match rows.into_iter().find(|r| r.id == iid) {
            Some(r) => r.kind,
            None => return view::not_found(),
        },
        Err(resp) => return resp,
    };
    let input = IntegrationInput {
        name: Some(f.name.trim().to_string()),
        processed_callback_url: url(&f.processed_callback_url),
        response_callback_url: url(&f.response_callback_url),
        three_d_secure: has_3ds(kind).then_some(f.three_d_secure.is_some()),
        ..Default::default()
    };
    match with_actor(
        ctx.actor(),
        st.svc.paymob().update_integration(&profile, iid, input),
    )
    .await
    {
        Ok(_) => view::see_other(&format!(
            "{}/paymob/{}?done=updated#int-{iid}",
            ctx.home(),
            profile.id
        )),
        Err(e) => match form_refusal(&e) {
            Some(refusal) => {
                render_edit(&st, &ctx, &profile, &integration, Some(&f), Some(refusal)).await
            }
            None => pm_error(&e),
        },
    }
}
