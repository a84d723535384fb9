//! Project › Widgets: the widget codes the project's links may use, the project's look on the
//! payment page (display name, accent colour, logo: the branding commands, `BrandScope::PwProject`)
//! and a live preview: a test link of the project signed here with its test secret, opened in
//! a new tab, or shown in an `<iframe>` when the browser may frame it (same origin as the
//! dashboard, and the project's `frame_ancestors` allows that origin).

use askama::Template;
use axum::extract::{Multipart, Path, Query, State};
use axum::http::header::HOST;
use axum::http::{HeaderMap, StatusCode};
use axum::response::Response;
use kassa_core::roles::Permission;
use kassa_http::AppState;
use kassa_paymentwall::{encode_query, methods_for, sign_widget, valid_country_code, SignVersion};
use kassa_service::audit::with_actor;
use kassa_service::branding::{logo_path, BrandScope, BrandingUpdate};
use kassa_service::paymentwall::{ApiType, Project, ProjectInput};
use serde::Deserialize;

use super::{form_error, load, project_path, Done, Head};
use crate::ctx::{Ctx, Posted};
use crate::view::{self, Nav};

/// The payment page's languages (Paymentwall's `lang`).
const LANGS: [(&str, &str); 6] = [
    ("en", "English"),
    ("ar", "العربية"),
    ("fr", "Français"),
    ("de", "Deutsch"),
    ("es", "Español"),
    ("tr", "Türkçe"),
];

#[derive(Debug, Default, Deserialize)]
pub struct PreviewQuery {
    #[serde(default)]
    widget: String,
    #[serde(default)]
    lang: String,
    #[serde(default)]
    country: String,
    /// `1`: show the preview in the page (opening it makes a test order, so only on request).
    #[serde(default)]
    preview: String,
    #[serde(default)]
    saved: String,
}

struct PreviewView {
    widget: String,
    lang: String,
    country: String,
    /// The signed test link, absolute.
    link: Option<String>,
    /// The same link for the `<iframe>`, when the browser may frame it.
    frame: Option<String>,
    show: bool,
    note: Option<String>,
}

impl PreviewView {
    fn is_widget(&self, w: &str) -> bool {
        self.widget == w
    }

    fn is_lang(&self, code: &str) -> bool {
        self.lang == code
    }
}

#[derive(Template)]
#[template(path = "dash/pw_widgets.html")]
struct WidgetsPage {
    nav: Nav,
    head: Head,
    widgets_text: String,
    widgets: Vec<String>,
    display_name: String,
    accent_color: String,
    /// The logo's same-origin path and size, when the project has its own.
    logo: Option<(String, i64, i64)>,
    langs: [(&'static str, &'static str); 6],
    pv: PreviewView,
}

/// The dashboard is served on the payment pages' origin (the API's listener, not a
/// `dashboard_listen` of its own): then a relative link reaches the payment page.
fn same_origin(st: &AppState, headers: &HeaderMap) -> bool {
    let base = st.svc.base_url.as_str();
    let authority = base
        .strip_prefix("https://")
        .or_else(|| base.strip_prefix("http://"))
        .unwrap_or("")
        .split('/')
        .next()
        .unwrap_or("");
    headers
        .get(HOST)
        .and_then(|h| h.to_str().ok())
        .is_some_and(|h| !authority.is_empty() && h.eq_ignore_ascii_case(authority))
}

/// Whether the project's payment page lets the dashboard's origin frame it.
fn frame_allowed(p: &Project, origin: &str) -> bool {
    match p.row.frame_ancestors.as_deref() {
        None => true,
        Some(fa) => fa
            .split_whitespace()
            .any(|src| src == "*" || src == "'self'" || src.eq_ignore_ascii_case(origin)),
    }
}

/// A signed test link of the project for the preview: a 9.99 USD product of its API type,
/// timestamped (so it expires with the project's link age), signed v3 with the test secret.
fn preview_link(p: &Project, widget: &str, lang: &str, country: &str) -> Result<String, String> {
    let now = kassa_store::now_ms() / 1000;
    let mut params: Vec<(String, String)> = vec![
        ("key".into(), p.row.project_key.clone()),
        ("uid".into(), "dashboard_preview".into()),
        ("widget".into(), widget.to_string()),
    ];
    let mut push = |k: &str, v: &str| params.push((k.to_string(), v.to_string()));
    match p.api_type {
        ApiType::DigitalGoods => {
            push("amount", "9.99");
            push("currencyCode", "USD");
            push("ag_name", "Preview product");
            push("ag_external_id", "preview_product");
            push("ag_type", "fixed");
        }
        ApiType::VirtualCurrency => {
            push("amount", "9.99");
            push("currencyCode", "USD");
        }
        ApiType::Cart => {
            push("external_ids[0]", "preview_product");
            push("prices[0]", "9.99");
            push("currencies[0]", "USD");
            push("names[0]", "Preview product");
        }
    }
    if !lang.is_empty() {
        push("lang", lang);
    }
    if !country.is_empty() {
        push("country_code", country);
    }
    if widget.starts_with("p2") {
        // The one-method widget needs its method: the first one offered there.
        let test = p.clone().in_mode(kassa_service::Mode::Test);
        let first = methods_for(
            &test.payment_systems,
            Some(country).filter(|c| !c.is_empty()),
            test.row.test_method,
            false,
        )
        .first()
        .map(|m| m.id)
        .ok_or("No payment system is offered there, so the p2 widget has nothing to show.")?;
        push("ps", first);
    }
    push("timestamp", &now.to_string());
    push("sign_version", "3");
    let sign = sign_widget(&params, &p.secret, SignVersion::V3);
    params.push(("sign".into(), sign));
    Ok(format!("{}?{}", p.api_type.path(), encode_query(&params)))
}

async fn render(
    st: &AppState,
    ctx: &Ctx,
    headers: &HeaderMap,
    p: &Project,
    head: Head,
    q: &PreviewQuery,
    status: StatusCode,
) -> Response {
    let scope = BrandScope::PwProject(p.row.id.clone());
    let branding = match st
        .svc
        .branding()
        .get_branding(&ctx.merchant.id, &scope)
        .await
    {
        Ok(b) => b,
        Err(e) => return view::service_error(&e),
    };
    let same = same_origin(st, headers);
    let widget = if p.widgets.contains(&q.widget) {
        q.widget.clone()
    } else {
        p.widgets.first().cloned().unwrap_or_default()
    };
    let lang = if LANGS.iter().any(|(c, _)| *c == q.lang) {
        q.lang.clone()
    } else {
        String::new()
    };
    let country = valid_country_code(q.country.trim()).unwrap_or_default();
    let mut pv = PreviewView {
        widget: widget.clone(),
        lang: lang.clone(),
        country: country.clone(),
        link: None,
        frame: None,
        show: q.preview == "1",
        note: None,
    };
    if !q.country.trim().is_empty() && country.is_empty() {
        pv.note = Some("The country must be a two-letter code, such as DE.".into());
    }
    match preview_link(p, &widget, &lang, &country) {
        Ok(path) => {
            pv.link = Some(format!("{}{path}", st.svc.base_url));
            if same && frame_allowed(p, &st.svc.base_url) {
                pv.frame = Some(path);
            } else if pv.show {
                pv.note = Some(if same {
                    "The project's “sites that may frame the payment page” setting does not \
                     include this dashboard, so the preview opens in a new tab instead."
                        .into()
                } else {
                    "The payment pages are served on another address than this dashboard, so \
                     the preview opens in a new tab instead."
                        .into()
                });
            }
        }
        Err(e) => pv.note = Some(e),
    }
    view::html(
        status,
        &WidgetsPage {
            nav: Nav::new(ctx, "paymentwall"),
            head,
            widgets_text: p.widgets.join(", "),
            widgets: p.widgets.clone(),
            display_name: branding.display_name.unwrap_or_default(),
            accent_color: branding.accent_color.unwrap_or_default(),
            logo: branding
                .logo
                .filter(|_| same)
                .map(|l| (logo_path(&l.id), l.width, l.height)),
            langs: LANGS,
            pv,
        },
    )
}

pub async fn page(
    State(st): State<AppState>,
    ctx: Ctx,
    headers: HeaderMap,
    Path((_, id)): Path<(String, String)>,
    Query(q): Query<PreviewQuery>,
) -> Response {
    let p = match load(&st, &ctx, &id).await {
        Ok(p) => p,
        Err(resp) => return resp,
    };
    let mut head = Head::new(&ctx, &p, "widgets");
    head.flash = Done::flash(&Query(Done {
        saved: q.saved.clone(),
    }));
    render(&st, &ctx, &headers, &p, head, &q, StatusCode::OK).await
}

/// Answers a refused change with the page and the reason, or the service's error page.
async fn refused(
    st: &AppState,
    ctx: &Ctx,
    headers: &HeaderMap,
    id: &str,
    e: &kassa_service::ServiceError,
) -> Response {
    let Some(message) = form_error(e) else {
        return view::service_error(e);
    };
    let p = match load(st, ctx, id).await {
        Ok(p) => p,
        Err(resp) => return resp,
    };
    let mut head = Head::new(ctx, &p, "widgets");
    head.error = Some(message);
    let q = PreviewQuery::default();
    render(st, ctx, headers, &p, head, &q, StatusCode::BAD_REQUEST).await
}

fn saved(ctx: &Ctx, id: &str, what: &str) -> Response {
    view::see_other(&format!("{}/widgets?saved={what}", project_path(ctx, id)))
}

#[derive(Debug, Deserialize)]
pub struct WidgetsForm {
    #[serde(default)]
    widgets: String,
}

pub async fn save_widgets(
    State(st): State<AppState>,
    headers: HeaderMap,
    Path((_, id)): Path<(String, String)>,
    posted: Posted<WidgetsForm>,
) -> Response {
    let ctx = posted.ctx;
    if let Err(resp) = ctx.require(Permission::ManageIntegrations) {
        return resp;
    }
    let widgets: Vec<String> = posted
        .form
        .widgets
        .split(|c: char| c == ',' || c.is_whitespace())
        .filter(|w| !w.is_empty())
        .map(str::to_string)
        .collect();
    let input = ProjectInput {
        widgets: Some(widgets),
        ..Default::default()
    };
    match with_actor(
        ctx.actor(),
        st.svc
            .paymentwall()
            .update_project(&ctx.merchant.id, &id, input),
    )
    .await
    {
        Ok(_) => saved(&ctx, &id, "widgets"),
        Err(e) => refused(&st, &ctx, &headers, &id, &e).await,
    }
}

#[derive(Debug, Deserialize)]
pub struct BrandingForm {
    #[serde(default)]
    display_name: String,
    #[serde(default)]
    accent_color: String,
}

pub async fn save_branding(
    State(st): State<AppState>,
    headers: HeaderMap,
    Path((_, id)): Path<(String, String)>,
    posted: Posted<BrandingForm>,
) -> Response {
    let ctx = posted.ctx;
    if let Err(resp) = ctx.require(Permission::ManageIntegrations) {
        return resp;
    }
    // An empty field clears the project's own value: the merchant's is used again.
    let value = |v: &str| Some(Some(v.trim().to_string()).filter(|v| !v.is_empty()));
    let update = BrandingUpdate {
        display_name: value(&posted.form.display_name),
        accent_color: value(&posted.form.accent_color),
    };
    let scope = BrandScope::PwProject(id.clone());
    match with_actor(
        ctx.actor(),
        st.svc
            .branding()
            .update_branding(&ctx.merchant.id, &scope, update),
    )
    .await
    {
        Ok(_) => saved(&ctx, &id, "branding"),
        Err(e) => refused(&st, &ctx, &headers, &id, &e).await,
    }
}

/// The logo form (see [`crate::logo_form`]): the session's token is checked before anything is
/// done with the file.
pub async fn upload_logo(
    State(st): State<AppState>,
    Path((_, id)): Path<(String, String)>,
    ctx: Ctx,
    headers: HeaderMap,
    form: Multipart,
) -> Response {
    let file = match crate::logo_form::read(&ctx, form).await {
        Ok(f) => f,
        Err(resp) => return resp,
    };
    if let Err(resp) = ctx.require(Permission::ManageIntegrations) {
        return resp;
    }
    let Some(file) = file else {
        let e = kassa_service::ServiceError::invalid("logo", "Choose a PNG or JPEG file.");
        return refused(&st, &ctx, &headers, &id, &e).await;
    };
    let file_type = file.content_type.as_str();
    let scope = BrandScope::PwProject(id.clone());
    match with_actor(
        ctx.actor(),
        st.svc
            .branding()
            .upload_logo(&ctx.merchant.id, &scope, file_type, &file.data),
    )
    .await
    {
        Ok(_) => saved(&ctx, &id, "logo"),
        Err(e) => refused(&st, &ctx, &headers, &id, &e).await,
    }
}

#[derive(Debug, Deserialize)]
pub struct Empty {}

pub async fn remove_logo(
    State(st): State<AppState>,
    headers: HeaderMap,
    Path((_, id)): Path<(String, String)>,
    posted: Posted<Empty>,
) -> Response {
    let ctx = posted.ctx;
    if let Err(resp) = ctx.require(Permission::ManageIntegrations) {
        return resp;
    }
    let scope = BrandScope::PwProject(id.clone());
    match with_actor(
        ctx.actor(),
        st.svc.branding().remove_logo(&ctx.merchant.id, &scope),
    )
    .await
    {
        Ok(_) => saved(&ctx, &id, "logo-removed"),
        Err(e) => refused(&st, &ctx, &headers, &id, &e).await,
    }
}
