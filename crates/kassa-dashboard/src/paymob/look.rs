//! Profile › Checkout look: the name, accent colour and logo the profile's payer pages wear
//! (the branding service, scope `PmProfile`; what is not set here comes from the merchant's
//! own), and the sites that may frame those pages (`update_profile`).

use askama::Template;
use axum::extract::{Multipart, Path, Query, State};
use axum::http::header::{CACHE_CONTROL, CONTENT_TYPE};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use kassa_core::roles::Permission;
use kassa_http::AppState;
use kassa_service::audit::with_actor;
use kassa_service::branding::{BrandScope, BrandingUpdate};
use kassa_service::paymob::ProfileUpdate;
use kassa_service::ServiceError;
use kassa_store::PmProfile;
use serde::Deserialize;

use super::{allowed_profile, form_refusal, pm_error, profile_name, profile_of, Head};
use crate::ctx::{Ctx, Posted};
use crate::view::{self, Nav};

struct LogoView {
    width: i64,
    height: i64,
}

#[derive(Template)]
#[template(path = "dash/pm_look.html")]
struct LookPage {
    nav: Nav,
    head: Head,
    display_name: String,
    accent_color: String,
    logo: Option<LogoView>,
    /// Cache-busting for the preview: the logo's id changes with each upload.
    logo_id: String,
    profile_name: String,
    frame_ancestors: String,
}

/// Values typed in a refused form, shown again instead of the stored ones.
#[derive(Default)]
struct Typed {
    display_name: Option<String>,
    accent_color: Option<String>,
    profile_name: Option<String>,
    frame_ancestors: Option<String>,
}

async fn render(
    st: &AppState,
    ctx: &Ctx,
    p: &PmProfile,
    flash: Option<&str>,
    typed: Typed,
    error: Option<(StatusCode, String)>,
) -> Response {
    let own = match st
        .svc
        .branding()
        .get_branding(&ctx.merchant.id, &BrandScope::PmProfile(p.id))
        .await
    {
        Ok(b) => b,
        Err(e) => return view::service_error(&e),
    };
    let (status, error) = match error {
        Some((s, e)) => (s, Some(e)),
        None => (StatusCode::OK, None),
    };
    view::html(
        status,
        &LookPage {
            nav: Nav::new(ctx, "paymob"),
            head: Head::new(p, "look").with_flash(flash).with_error(error),
            display_name: typed
                .display_name
                .unwrap_or_else(|| own.display_name.unwrap_or_default()),
            accent_color: typed
                .accent_color
                .unwrap_or_else(|| own.accent_color.unwrap_or_default()),
            logo_id: own.logo.as_ref().map(|l| l.id.clone()).unwrap_or_default(),
            logo: own.logo.map(|l| LogoView {
                width: l.width,
                height: l.height,
            }),
            profile_name: typed.profile_name.unwrap_or_else(|| profile_name(p)),
            frame_ancestors: typed
                .frame_ancestors
                .unwrap_or_else(|| p.frame_ancestors.clone().unwrap_or_default()),
        },
    )
}

/// A refusal of the branding service shown on the page; anything else as its own page.
async fn branding_refused(
    st: &AppState,
    ctx: &Ctx,
    p: &PmProfile,
    typed: Typed,
    e: ServiceError,
) -> Response {
    match e {
        ServiceError::Invalid { message, .. } => {
            render(
                st,
                ctx,
                p,
                None,
                typed,
                Some((StatusCode::BAD_REQUEST, message)),
            )
            .await
        }
        other => view::service_error(&other),
    }
}

#[derive(Deserialize)]
pub struct DoneQuery {
    #[serde(default)]
    done: String,
}

pub async fn page(
    State(st): State<AppState>,
    Path((_, id)): Path<(String, String)>,
    Query(q): Query<DoneQuery>,
    ctx: Ctx,
) -> Response {
    if let Err(resp) = ctx.require(Permission::Read) {
        return resp;
    }
    let flash = match q.done.as_str() {
        "look" => Some("Name and colour saved."),
        "logo" => Some("Logo saved."),
        "logo_removed" => Some("Logo removed: the merchant's is used."),
        "framing" => Some("Profile name and framing saved."),
        _ => None,
    };
    match profile_of(&st, &ctx, &id).await {
        Ok(p) => render(&st, &ctx, &p, flash, Typed::default(), None).await,
        Err(resp) => resp,
    }
}

/// The profile's own logo, for the preview (the dashboard may have a listener of its own,
/// without the payer pages' `/branding/logos/…`).
pub async fn logo_png(
    State(st): State<AppState>,
    Path((_, id)): Path<(String, String)>,
    ctx: Ctx,
) -> Response {
    if let Err(resp) = ctx.require(Permission::Read) {
        return resp;
    }
    let p = match profile_of(&st, &ctx, &id).await {
        Ok(p) => p,
        Err(resp) => return resp,
    };
    let own = st
        .svc
        .branding()
        .get_branding(&ctx.merchant.id, &BrandScope::PmProfile(p.id))
        .await;
    let png = match own {
        Ok(b) => match b.logo {
            Some(l) => st.svc.branding().logo_png(&l.id).await,
            None => Ok(None),
        },
        Err(e) => Err(e),
    };
    match png {
        Ok(Some(png)) => (
            [
                (CONTENT_TYPE, "image/png"),
                (CACHE_CONTROL, "private, no-store"),
            ],
            png,
        )
            .into_response(),
        Ok(None) => view::not_found(),
        Err(e) => view::service_error(&e),
    }
}

#[derive(Deserialize)]
pub struct BrandingForm {
    #[serde(default)]
    display_name: String,
    #[serde(default)]
    accent_color: String,
}

/// Saves the name and colour customers see; an empty field falls back to the merchant's.
pub async fn update_branding(
    State(st): State<AppState>,
    Path((_, id)): Path<(String, String)>,
    p: Posted<BrandingForm>,
) -> Response {
    let (ctx, f) = (p.ctx, p.form);
    let profile = match allowed_profile(&st, &ctx, &id, Permission::ManageIntegrations).await {
        Ok(p) => p,
        Err(resp) => return resp,
    };
    let set = |v: &str| Some(Some(v.trim().to_string()).filter(|v| !v.is_empty()));
    let update = BrandingUpdate {
        display_name: set(&f.display_name),
        accent_color: set(&f.accent_color),
    };
    let done = with_actor(
        ctx.actor(),
        st.svc.branding().update_branding(
            &ctx.merchant.id,
            &BrandScope::PmProfile(profile.id),
            update,
        ),
    )
    .await;
    match done {
        Ok(_) => view::see_other(&format!(
            "{}/paymob/{}/look?done=look",
            ctx.home(),
            profile.id
        )),
        Err(e) => {
            let typed = Typed {
                display_name: Some(f.display_name),
                accent_color: Some(f.accent_color),
                ..Default::default()
            };
            branding_refused(&st, &ctx, &profile, typed, e).await
        }
    }
}

/// The logo form (see [`crate::logo_form`]): the file is re-encoded by the branding service, so
/// what payer pages get is a PNG Kassa wrote.
pub async fn upload_logo(
    State(st): State<AppState>,
    Path((_, id)): Path<(String, String)>,
    ctx: Ctx,
    form: Multipart,
) -> Response {
    let file = match crate::logo_form::read(&ctx, form).await {
        Ok(f) => f,
        Err(resp) => return resp,
    };
    let profile = match allowed_profile(&st, &ctx, &id, Permission::ManageIntegrations).await {
        Ok(p) => p,
        Err(resp) => return resp,
    };
    let Some(file) = file else {
        let why = (
            StatusCode::BAD_REQUEST,
            "Choose a PNG or JPEG file.".to_string(),
        );
        return render(&st, &ctx, &profile, None, Typed::default(), Some(why)).await;
    };
    let declared = file.content_type.as_str();
    let done = with_actor(
        ctx.actor(),
        st.svc.branding().upload_logo(
            &ctx.merchant.id,
            &BrandScope::PmProfile(profile.id),
            declared,
            &file.data,
        ),
    )
    .await;
    match done {
        Ok(_) => view::see_other(&format!(
            "{}/paymob/{}/look?done=logo",
            ctx.home(),
            profile.id
        )),
        Err(e) => branding_refused(&st, &ctx, &profile, Typed::default(), e).await,
    }
}

#[derive(Deserialize)]
pub struct Empty {}

pub async fn remove_logo(
    State(st): State<AppState>,
    Path((_, id)): Path<(String, String)>,
    p: Posted<Empty>,
) -> Response {
    let ctx = p.ctx;
    let profile = match allowed_profile(&st, &ctx, &id, Permission::ManageIntegrations).await {
        Ok(p) => p,
        Err(resp) => return resp,
    };
    let done = with_actor(
        ctx.actor(),
        st.svc
            .branding()
            .remove_logo(&ctx.merchant.id, &BrandScope::PmProfile(profile.id)),
    )
    .await;
    match done {
        Ok(_) => view::see_other(&format!(
            "{}/paymob/{}/look?done=logo_removed",
            ctx.home(),
            profile.id
        )),
        Err(e) => view::service_error(&e),
    }
}

#[derive(Deserialize)]
pub struct FramingForm {
    #[serde(default)]
    name: String,
    #[serde(default)]
    frame_ancestors: String,
}

/// The profile's company name and the sites that may frame its pages.
pub async fn framing(
    State(st): State<AppState>,
    Path((_, id)): Path<(String, String)>,
    p: Posted<FramingForm>,
) -> Response {
    let (ctx, f) = (p.ctx, p.form);
    let profile = match allowed_profile(&st, &ctx, &id, Permission::ManageIntegrations).await {
        Ok(p) => p,
        Err(resp) => return resp,
    };
    let update = ProfileUpdate {
        name: Some(f.name.trim().to_string()),
        frame_ancestors: Some(f.frame_ancestors.clone()),
    };
    match with_actor(
        ctx.actor(),
        st.svc.paymob().update_profile(&profile, update),
    )
    .await
    {
        Ok(_) => view::see_other(&format!(
            "{}/paymob/{}/look?done=framing",
            ctx.home(),
            profile.id
        )),
        Err(e) => match form_refusal(&e) {
            Some(refusal) => {
                let typed = Typed {
                    profile_name: Some(f.name),
                    frame_ancestors: Some(f.frame_ancestors),
                    ..Default::default()
                };
                render(&st, &ctx, &profile, None, typed, Some(refusal)).await
            }
            None => pm_error(&e),
        },
    }
}
