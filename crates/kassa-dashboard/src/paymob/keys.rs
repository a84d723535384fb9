//! Profile › Keys: the public key, and "Recreate" for the secret key, the legacy API key and
//! the HMAC secret, each new value shown once on the page that answers the form.

use askama::Template;
use axum::extract::{Path, State};
use axum::response::Response;
use kassa_core::roles::Permission;
use kassa_http::AppState;
use kassa_service::audit::with_actor;
use kassa_service::paymob::PmCredential;
use kassa_store::PmProfile;
use serde::Deserialize;

use super::{form_refusal, pm_error, profile_of, Head};
use crate::ctx::{Ctx, Posted};
use crate::view::{self, Nav};

/// A credential shown this once.
pub struct Revealed {
    /// The element id of its `<code>` (for the copy button and tests).
    pub id: &'static str,
    pub label: &'static str,
    pub value: String,
}

impl Revealed {
    pub fn new(id: &'static str, label: &'static str, value: String) -> Revealed {
        Revealed { id, label, value }
    }
}

/// A credential the page offers to recreate.
struct Credential {
    which: &'static str,
    label: &'static str,
    /// The label inside a sentence.
    noun: &'static str,
    what: &'static str,
}

const CREDENTIALS: [Credential; 3] = [
    Credential {
        which: "secret_key",
        label: "Secret key",
        noun: "secret key",
        what: "Intention API and server calls (Authorization: Token …).",
    },
    Credential {
        which: "api_key",
        label: "API key",
        noun: "API key",
        what: "The legacy API: exchanged for auth tokens (POST /api/auth/tokens).",
    },
    Credential {
        which: "hmac_secret",
        label: "HMAC secret",
        noun: "HMAC secret",
        what: "Signs processed callbacks and response redirects.",
    },
];

#[derive(Template)]
#[template(path = "dash/pm_keys.html")]
struct KeysPage {
    nav: Nav,
    head: Head,
    iframe_id: i64,
    credentials: [Credential; 3],
    revealed: Vec<Revealed>,
}

/// The keys page of `p`, with `revealed` credentials shown this once.
pub fn render(
    ctx: &Ctx,
    p: &PmProfile,
    revealed: Vec<Revealed>,
    flash: Option<&str>,
    error: Option<(axum::http::StatusCode, String)>,
) -> Response {
    let (status, error) = match error {
        Some((s, e)) => (s, Some(e)),
        None => (axum::http::StatusCode::OK, None),
    };
    view::html(
        status,
        &KeysPage {
            nav: Nav::new(ctx, "paymob"),
            head: Head::new(p, "keys").with_flash(flash).with_error(error),
            iframe_id: p.iframe_id,
            credentials: CREDENTIALS,
            revealed,
        },
    )
}

pub async fn page(
    State(st): State<AppState>,
    Path((_, id)): Path<(String, String)>,
    ctx: Ctx,
) -> Response {
    if let Err(resp) = ctx.require(Permission::Read) {
        return resp;
    }
    match profile_of(&st, &ctx, &id).await {
        Ok(p) => render(&ctx, &p, Vec::new(), None, None),
        Err(resp) => resp,
    }
}

#[derive(Deserialize)]
pub struct Empty {}

/// Makes a new secret key, API key or HMAC secret; the old one stops working at once.
pub async fn recreate(
    State(st): State<AppState>,
    Path((_, id, which)): Path<(String, String, String)>,
    p: Posted<Empty>,
) -> Response {
    let ctx = p.ctx;
    if let Err(resp) = ctx.require(Permission::ManageKeys) {
        return resp;
    }
    if let Err(resp) = ctx.require_recent_password() {
        return resp;
    }
    let profile = match profile_of(&st, &ctx, &id).await {
        Ok(p) => p,
        Err(resp) => return resp,
    };
    let Some(cred) = PmCredential::parse(&which) else {
        return view::not_found();
    };
    match with_actor(
        ctx.actor(),
        st.svc.paymob().recreate_credential(&profile, cred),
    )
    .await
    {
        Ok(value) => {
            let id = match cred {
                PmCredential::SecretKey => "secret_key",
                PmCredential::ApiKey => "api_key",
                PmCredential::HmacSecret => "hmac_secret",
            };
            let flash = format!(
                "{} recreated. Copy it now: it is not shown again, and the old one no longer works.",
                cred.label()
            );
            render(
                &ctx,
                &profile,
                vec![Revealed::new(id, cred.label(), value)],
                Some(&flash),
                None,
            )
        }
        Err(e) => match form_refusal(&e) {
            Some(refusal) => render(&ctx, &profile, Vec::new(), None, Some(refusal)),
            None => pm_error(&e),
        },
    }
}
