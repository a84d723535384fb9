//! Signing in and out, setting the password from a single-use link, the second factor, the
//! user's own security page (authenticator, recovery codes, sessions) and the step-up.

use askama::Template;
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::Response;
use axum::Form;
use kassa_http::checkout::csrf;
use kassa_http::AppState;
use kassa_service::ServiceError;
use kassa_store::DashboardSession;
use serde::Deserialize;

use crate::ctx::{self, Ctx, Posted};
use crate::view::{self, Nav};

/// The pre-session forms' CSRF scope (double-submit cookie, see `kassa_http::checkout::csrf`).
const LOGIN_SCOPE: &str = "dashboard:login";

fn client_ip(st: &AppState, headers: &HeaderMap, ext: &axum::http::Extensions) -> String {
    kassa_http::guards::client_addr_of(st, ext, headers)
        .map(|a| a.to_string())
        .unwrap_or_default()
}

fn user_agent(headers: &HeaderMap) -> Option<String> {
    headers
        .get("user-agent")
        .and_then(|v| v.to_str().ok())
        .map(|v| v.chars().take(300).collect())
}

/// Where to go after signing in: a dashboard path of this site, never another site.
fn safe_next(next: &str) -> String {
    let ok = next.starts_with("/dashboard/")
        && !next.starts_with("//")
        && !next.contains('\\')
        && next.len() < 300
        && !next.chars().any(|c| c.is_control());
    if ok {
        next.to_string()
    } else {
        "/dashboard/test".to_string()
    }
}

/// A pre-session form's CSRF field and, when the browser has no CSRF cookie yet, the cookie.
fn login_csrf(st: &AppState, headers: &HeaderMap) -> (String, Option<String>) {
    let (secret, fresh) = match csrf::secret_from_cookies(headers) {
        Some(s) => (s, false),
        None => (csrf::new_secret(), true),
    };
    let field = csrf::form_token(&st.csrf_key, &secret, LOGIN_SCOPE);
    let cookie = fresh.then(|| csrf::set_cookie_value(&secret, ctx::secure_cookies(st)));
    (field, cookie)
}

fn check_login_csrf(st: &AppState, headers: &HeaderMap, field: &str) -> Result<(), Response> {
    if !ctx::same_origin(headers) {
        return Err(view::forbidden_cross_site());
    }
    let cookie = csrf::secret_from_cookies(headers);
    if csrf::verify(&st.csrf_key, cookie.as_deref(), field, LOGIN_SCOPE) {
        Ok(())
    } else {
        Err(view::forbidden_csrf())
    }
}

fn with_optional_cookie(resp: Response, cookie: Option<String>) -> Response {
    match cookie {
        Some(c) => view::with_cookie(resp, &c),
        None => resp,
    }
}

pub async fn entry(State(st): State<AppState>, headers: HeaderMap) -> Response {
    match ctx::session_of(&st, &headers).await {
        Ok(Some((s, _))) if s.second_factor => view::see_other("/dashboard/test"),
        Ok(Some(_)) => view::see_other("/dashboard/second-factor"),
        Ok(None) => view::see_other("/dashboard/login"),
        Err(resp) => resp,
    }
}

#[derive(Template)]
#[template(path = "dash/login.html")]
struct LoginPage {
    csrf: String,
    next: String,
    email: String,
    error: Option<String>,
}

#[derive(Deserialize)]
pub struct NextQuery {
    next: Option<String>,
}

pub async fn login_page(
    State(st): State<AppState>,
    headers: HeaderMap,
    Query(q): Query<NextQuery>,
) -> Response {
    let (csrf, cookie) = login_csrf(&st, &headers);
    let page = LoginPage {
        csrf,
        next: safe_next(q.next.as_deref().unwrap_or("")),
        email: String::new(),
        error: None,
    };
    with_optional_cookie(view::page(&page), cookie)
}

#[derive(Deserialize)]
pub struct LoginForm {
    csrf: String,
    email: String,
    password: String,
    #[serde(default)]
    next: String,
}

pub async fn login(
    State(st): State<AppState>,
    headers: HeaderMap,
    req_ext: axum::http::Extensions,
    Form(f): Form<LoginForm>,
) -> Response {
    if let Err(resp) = check_login_csrf(&st, &headers, &f.csrf) {
        return resp;
    }
    let ip = client_ip(&st, &headers, &req_ext);
    let ua = user_agent(&headers);
    match st
        .svc
        .users()
        .login(&f.email, &f.password, &ip, ua.as_deref())
        .await
    {
        Ok(new) => {
            let next = safe_next(&f.next);
            let to = if new.session.second_factor {
                next
            } else {
                format!(
                    "/dashboard/second-factor?next={}",
                    url::form_urlencoded::byte_serialize(next.as_bytes()).collect::<String>()
                )
            };
            view::with_cookie(view::see_other(&to), &ctx::session_cookie(&st, &new.token))
        }
        Err(e @ (ServiceError::Unauthorized(_) | ServiceError::RateLimited(_))) => {
            let status = if matches!(e, ServiceError::RateLimited(_)) {
                StatusCode::TOO_MANY_REQUESTS
            } else {
                StatusCode::UNAUTHORIZED
            };
            let (csrf, cookie) = login_csrf(&st, &headers);
            let page = LoginPage {
                csrf,
                next: safe_next(&f.next),
                email: f.email.chars().take(254).collect(),
                error: Some(e.to_string()),
            };
            with_optional_cookie(view::html(status, &page), cookie)
        }
        Err(e) => view::service_error(&e),
    }
}

#[derive(Template)]
#[template(path = "dash/setup.html")]
struct SetupPage {
    csrf: String,
    token: String,
    email: String,
    min: usize,
    error: Option<String>,
}

fn link_gone() -> Response {
    view::message(
        StatusCode::NOT_FOUND,
        "This link does not work",
        "A set-up link works once, for 24 hours. Ask whoever invited you (or the operator: \
         `kassa user create`) for a new one.",
        Some(("/dashboard/login", "Sign in")),
    )
}

pub async fn setup_page(
    State(st): State<AppState>,
    headers: HeaderMap,
    Path(token): Path<String>,
) -> Response {
    let user = match st.svc.users().setup_link(&token).await {
        Ok(u) => u,
        Err(ServiceError::NotFound { .. }) => return link_gone(),
        Err(e) => return view::service_error(&e),
    };
    let (csrf, cookie) = login_csrf(&st, &headers);
    let page = SetupPage {
        csrf,
        token,
        email: user.email,
        min: kassa_service::users::MIN_PASSWORD,
        error: None,
    };
    with_optional_cookie(view::page(&page), cookie)
}

#[derive(Deserialize)]
pub struct SetupForm {
    csrf: String,
    password: String,
    password2: String,
}

pub async fn setup(
    State(st): State<AppState>,
    headers: HeaderMap,
    req_ext: axum::http::Extensions,
    Path(token): Path<String>,
    Form(f): Form<SetupForm>,
) -> Response {
    if let Err(resp) = check_login_csrf(&st, &headers, &f.csrf) {
        return resp;
    }
    let again = |error: String, email: String| {
        let (csrf, cookie) = login_csrf(&st, &headers);
        let page = SetupPage {
            csrf,
            token: token.clone(),
            email,
            min: kassa_service::users::MIN_PASSWORD,
            error: Some(error),
        };
        with_optional_cookie(view::html(StatusCode::BAD_REQUEST, &page), cookie)
    };
    let user = match st.svc.users().setup_link(&token).await {
        Ok(u) => u,
        Err(ServiceError::NotFound { .. }) => return link_gone(),
        Err(e) => return view::service_error(&e),
    };
    if f.password != f.password2 {
        return again("The two passwords are not the same.".into(), user.email);
    }
    let user = match st.svc.users().complete_setup(&token, &f.password).await {
        Ok(u) => u,
        Err(ServiceError::NotFound { .. }) => return link_gone(),
        Err(e @ ServiceError::Invalid { .. }) => return again(e.to_string(), user.email),
        Err(e) => return view::service_error(&e),
    };
    // Signed in straight away, and on to setting up the authenticator.
    let ip = client_ip(&st, &headers, &req_ext);
    match st
        .svc
        .users()
        .login(
            &user.email,
            &f.password,
            &ip,
            user_agent(&headers).as_deref(),
        )
        .await
    {
        Ok(new) => view::with_cookie(
            view::see_other("/dashboard/test/account/security"),
            &ctx::session_cookie(&st, &new.token),
        ),
        Err(_) => view::see_other("/dashboard/login"),
    }
}

#[derive(Template)]
#[template(path = "dash/second_factor.html")]
struct SecondFactorPage {
    csrf: String,
    next: String,
    error: Option<String>,
}

async fn half_open(st: &AppState, headers: &HeaderMap) -> Result<DashboardSession, Response> {
    match ctx::session_of(st, headers).await? {
        Some((s, _)) if !s.second_factor => Ok(s),
        Some(_) => Err(view::see_other("/dashboard/test")),
        None => Err(view::see_other("/dashboard/login")),
    }
}

pub async fn second_factor_page(
    State(st): State<AppState>,
    headers: HeaderMap,
    Query(q): Query<NextQuery>,
) -> Response {
    match half_open(&st, &headers).await {
        Ok(s) => view::page(&SecondFactorPage {
            csrf: ctx::csrf_token(&st, &s),
            next: safe_next(q.next.as_deref().unwrap_or("")),
            error: None,
        }),
        Err(resp) => resp,
    }
}

#[derive(Deserialize)]
pub struct CodeForm {
    csrf: String,
    code: String,
    #[serde(default)]
    next: String,
}

pub async fn second_factor(
    State(st): State<AppState>,
    headers: HeaderMap,
    Form(f): Form<CodeForm>,
) -> Response {
    if !ctx::same_origin(&headers) {
        return view::forbidden_cross_site();
    }
    let s = match half_open(&st, &headers).await {
        Ok(s) => s,
        Err(resp) => return resp,
    };
    let token = ctx::csrf_token(&st, &s);
    if !kassa_core::secret::constant_time_eq(f.csrf.as_bytes(), token.as_bytes()) {
        return view::forbidden_csrf();
    }
    match st.svc.users().second_factor(&s, &f.code).await {
        Ok(()) => view::see_other(&safe_next(&f.next)),
        Err(e @ (ServiceError::Unauthorized(_) | ServiceError::RateLimited(_))) => view::html(
            StatusCode::UNAUTHORIZED,
            &SecondFactorPage {
                csrf: token,
                next: safe_next(&f.next),
                error: Some(e.to_string()),
            },
        ),
        Err(e) => view::service_error(&e),
    }
}

#[derive(Deserialize)]
pub struct CsrfOnly {}

pub async fn logout(
    State(st): State<AppState>,
    headers: HeaderMap,
    body: axum::body::Bytes,
) -> Response {
    if !ctx::same_origin(&headers) {
        return view::forbidden_cross_site();
    }
    let clear = ctx::clear_session_cookie(&st);
    let Ok(Some((s, _))) = ctx::session_of(&st, &headers).await else {
        return view::with_cookie(view::see_other("/dashboard/login"), &clear);
    };
    let pairs: Vec<(String, String)> = serde_urlencoded::from_bytes(&body).unwrap_or_default();
    let sent = pairs
        .iter()
        .find(|(k, _)| k == "csrf")
        .map(|(_, v)| v.as_str())
        .unwrap_or("");
    let token = ctx::csrf_token(&st, &s);
    if !kassa_core::secret::constant_time_eq(sent.as_bytes(), token.as_bytes()) {
        return view::forbidden_csrf();
    }
    if let Err(e) = st
        .svc
        .users()
        .revoke_sessions(&s.user_id, Some(&s.id), None)
        .await
    {
        return view::service_error(&e);
    }
    view::with_cookie(view::see_other("/dashboard/login"), &clear)
}

struct SessionRow {
    id: String,
    current: bool,
    started: String,
    seen: String,
    ip: String,
    agent: String,
}

#[derive(Template)]
#[template(path = "dash/security.html")]
struct SecurityPage {
    nav: Nav,
    has_totp: bool,
    pending: Option<(String, String)>,
    qr_svg: String,
    recovery_codes: Vec<String>,
    error: Option<String>,
    sessions: Vec<SessionRow>,
}

fn qr_svg(data: &str) -> String {
    match qrcode::QrCode::new(data.as_bytes()) {
        Ok(code) => {
            let svg = code
                .render::<qrcode::render::svg::Color>()
                .min_dimensions(200, 200)
                .build();
            // The XML declaration has no place inside an HTML page.
            match svg.find("<svg") {
                Some(i) => svg[i..].replacen(
                    "<svg",
                    "<svg role=\"img\" aria-label=\"QR code of the authenticator secret\"",
                    1,
                ),
                None => String::new(),
            }
        }
        Err(_) => String::new(),
    }
}

async fn security(
    st: &AppState,
    ctx: &Ctx,
    recovery_codes: Vec<String>,
    error: Option<String>,
) -> Response {
    let user = match st.svc.store.user(&ctx.user.id).await {
        Ok(Some(u)) => u,
        Ok(None) => return view::not_found(),
        Err(e) => return view::service_error(&e.into()),
    };
    let pending = match st.svc.users().pending_totp(&user) {
        Ok(p) => p,
        Err(e) => return view::service_error(&e),
    };
    let sessions = match st
        .svc
        .store
        .live_sessions_of(&user.id, kassa_store::now_ms())
        .await
    {
        Ok(s) => s,
        Err(e) => return view::service_error(&e.into()),
    };
    let page = SecurityPage {
        nav: Nav::new(ctx, "security"),
        has_totp: user.has_totp(),
        qr_svg: pending
            .as_ref()
            .map(|p| qr_svg(&p.otpauth_url))
            .unwrap_or_default(),
        pending: pending.map(|p| (p.secret_base32, p.otpauth_url)),
        recovery_codes,
        error,
        sessions: sessions
            .into_iter()
            .filter(|s| s.second_factor)
            .map(|s| SessionRow {
                current: s.id == ctx.session.id,
                started: view::time(s.created_at),
                seen: view::time(s.last_seen_at),
                ip: s.ip.unwrap_or_default(),
                agent: s.user_agent.unwrap_or_default().chars().take(80).collect(),
                id: s.id,
            })
            .collect(),
    };
    let status = if page.error.is_some() {
        StatusCode::BAD_REQUEST
    } else {
        StatusCode::OK
    };
    view::html(status, &page)
}

pub async fn security_page(State(st): State<AppState>, ctx: Ctx) -> Response {
    security(&st, &ctx, Vec::new(), None).await
}

pub async fn enrol_totp(State(st): State<AppState>, p: Posted<CsrfOnly>) -> Response {
    let ctx = p.ctx;
    if let Err(e) = st.svc.users().begin_totp(&ctx.user).await {
        return view::service_error(&e);
    }
    view::see_other(&format!("{}/account/security", ctx.home()))
}

#[derive(Deserialize)]
pub struct ConfirmForm {
    code: String,
}

pub async fn confirm_totp(State(st): State<AppState>, p: Posted<ConfirmForm>) -> Response {
    let ctx = p.ctx;
    let user = match st.svc.store.user(&ctx.user.id).await {
        Ok(Some(u)) => u,
        Ok(None) => return view::not_found(),
        Err(e) => return view::service_error(&e.into()),
    };
    let result = kassa_service::audit::with_actor(
        ctx.actor(),
        st.svc.users().confirm_totp(&user, &p.form.code),
    )
    .await;
    match result {
        Ok(codes) => security(&st, &ctx, codes, None).await,
        Err(e @ ServiceError::Invalid { .. }) => {
            security(&st, &ctx, Vec::new(), Some(e.to_string())).await
        }
        Err(e) => view::service_error(&e),
    }
}

#[derive(Deserialize)]
pub struct RevokeForm {
    #[serde(default)]
    session: Option<String>,
}

pub async fn revoke_sessions(State(st): State<AppState>, p: Posted<RevokeForm>) -> Response {
    let ctx = p.ctx;
    // One session by id, or every other one.
    let result = match p.form.session.as_deref().filter(|s| !s.is_empty()) {
        Some(id) => {
            st.svc
                .users()
                .revoke_sessions(&ctx.user.id, Some(id), None)
                .await
        }
        None => {
            st.svc
                .users()
                .revoke_sessions(&ctx.user.id, None, Some(&ctx.session.id))
                .await
        }
    };
    match result {
        Ok(_) => view::see_other(&format!("{}/account/security", ctx.home())),
        Err(e) => view::service_error(&e),
    }
}

#[derive(Template)]
#[template(path = "dash/reauth.html")]
struct ReauthPage {
    nav: Nav,
    next: String,
    error: Option<String>,
}

pub async fn reauth_page(ctx: Ctx, Query(q): Query<NextQuery>) -> Response {
    let next = safe_next(q.next.as_deref().unwrap_or(&ctx.home()));
    view::page(&ReauthPage {
        nav: Nav::new(&ctx, "security"),
        next,
        error: None,
    })
}

#[derive(Deserialize)]
pub struct ReauthForm {
    password: String,
    #[serde(default)]
    next: String,
}

pub async fn reauth(State(st): State<AppState>, p: Posted<ReauthForm>) -> Response {
    let ctx = p.ctx;
    match st
        .svc
        .users()
        .reauthenticate(&ctx.session, &ctx.user, &p.form.password)
        .await
    {
        Ok(()) => view::see_other(&safe_next(&p.form.next)),
        Err(e @ (ServiceError::Unauthorized(_) | ServiceError::RateLimited(_))) => view::html(
            StatusCode::UNAUTHORIZED,
            &ReauthPage {
                nav: Nav::new(&ctx, "security"),
                next: safe_next(&p.form.next),
                error: Some(e.to_string()),
            },
        ),
        Err(e) => view::service_error(&e),
    }
}

#[cfg(test)]
mod tests {
    use super::safe_next;

    #[test]
    fn only_dashboard_paths_are_followed_after_sign_in() {
        assert_eq!(
            safe_next("/dashboard/test/payments"),
            "/dashboard/test/payments"
        );
        for bad in [
            "https://evil.example/",
            "//evil.example",
            "/dashboard\\..",
            "/other",
            "",
        ] {
            assert_eq!(safe_next(bad), "/dashboard/test", "{bad}");
        }
    }
}
