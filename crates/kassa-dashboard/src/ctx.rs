//! Who is asking: the signed-in user, their session and role, the mode the page works in, and
//! the checks every POST passes (same origin, the session's CSRF token).

use axum::body::Bytes;
use axum::extract::{FromRequest, FromRequestParts, Request};
use axum::http::request::Parts;
use axum::http::{HeaderMap, Method};
use axum::response::Response;
use kassa_core::roles::{Permission, Role};
use kassa_core::secret::{constant_time_eq, hmac_sha256};
use kassa_http::AppState;
use kassa_service::audit::Actor;
use kassa_service::{Mode, Scope};
use kassa_store::{DashboardSession, Merchant, User};
use serde::de::DeserializeOwned;

use crate::view;

/// The session cookie's name: `__Host-` (which browsers accept only with `Secure`) when the
/// dashboard is served over https, plain otherwise so a local http install still works.
pub(crate) fn cookie_name(secure: bool) -> &'static str {
    if secure {
        "__Host-kassa_dash"
    } else {
        "kassa_dash"
    }
}

pub(crate) fn secure_cookies(st: &AppState) -> bool {
    st.guards.secure_cookies || st.svc.base_url.starts_with("https://")
}

/// The session cookie to set for a new session token.
pub(crate) fn session_cookie(st: &AppState, token: &str) -> String {
    let secure = secure_cookies(st);
    let mut v = format!(
        "{}={token}; Path=/; HttpOnly; SameSite=Lax",
        cookie_name(secure)
    );
    if secure {
        v.push_str("; Secure");
    }
    v
}

/// The cookie that ends the session in the browser.
pub(crate) fn clear_session_cookie(st: &AppState) -> String {
    let secure = secure_cookies(st);
    let mut v = format!(
        "{}=; Path=/; HttpOnly; SameSite=Lax; Max-Age=0",
        cookie_name(secure)
    );
    if secure {
        v.push_str("; Secure");
    }
    v
}

pub(crate) fn cookie<'a>(headers: &'a HeaderMap, name: &str) -> Option<&'a str> {
    headers
        .get_all(axum::http::header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .find_map(|pair| pair.trim().strip_prefix(name)?.strip_prefix('='))
}

/// The session the request's cookie names, open or half-open (password given, second factor
/// pending), with its user.
pub(crate) async fn session_of(
    st: &AppState,
    headers: &HeaderMap,
) -> Result<Option<(DashboardSession, User)>, Response> {
    let Some(token) = cookie(headers, cookie_name(secure_cookies(st))) else {
        return Ok(None);
    };
    st.svc
        .users()
        .session(token)
        .await
        .map_err(|e| view::service_error(&e))
}

/// The CSRF token of a session's forms: a MAC of the session's own secret, so it is worthless
/// for any other session and needs no storage of its own.
pub(crate) fn csrf_token(st: &AppState, session: &DashboardSession) -> String {
    let mut msg = b"kassa dashboard csrf v1\0".to_vec();
    msg.extend_from_slice(session.csrf_secret.as_bytes());
    hex::encode(hmac_sha256(&st.csrf_key, &msg))
}

/// A POST must come from a page of this origin: browsers say so in `Sec-Fetch-Site`, and in
/// `Origin`, which must name the host the request was sent to.
pub(crate) fn same_origin(headers: &HeaderMap) -> bool {
    if let Some(site) = headers.get("sec-fetch-site") {
        if site.as_bytes() != b"same-origin" {
            return false;
        }
    }
    if let Some(origin) = headers.get(axum::http::header::ORIGIN) {
        let Some(host) = headers
            .get(axum::http::header::HOST)
            .and_then(|h| h.to_str().ok())
        else {
            return false;
        };
        let Ok(origin) = origin.to_str() else {
            return false;
        };
        let bare = origin
            .strip_prefix("https://")
            .or_else(|| origin.strip_prefix("http://"));
        if bare != Some(host) {
            return false;
        }
    }
    true
}

/// The signed-in user of a page under `/dashboard/{test|live}/…`.
pub struct Ctx {
    pub session: DashboardSession,
    pub user: User,
    pub role: Role,
    pub merchant: Merchant,
    pub mode: Mode,
    pub scope: Scope,
    /// The token every form of this session carries.
    pub csrf: String,
    pub ip: String,
    pub user_agent: Option<String>,
    pub request_id: Option<String>,
    /// The path asked for (for the mode switch and returning after sign-in).
    pub path: String,
}

impl Ctx {
    /// `Err` with a 403 page unless the user's role allows `p`.
    pub fn require(&self, p: Permission) -> Result<(), Response> {
        if self.role.allows(p) {
            Ok(())
        } else {
            Err(view::message(
                axum::http::StatusCode::FORBIDDEN,
                "Not allowed",
                &format!("Your role ({}) does not allow this.", self.role),
                Some((&self.home(), "Back to the dashboard")),
            ))
        }
    }

    /// `Err` with a page asking for the password again unless it was given in the last
    /// minutes (step-up, for keys, secrets, roles and live refunds).
    pub fn require_recent_password(&self) -> Result<(), Response> {
        let fresh = self
            .session
            .reauth_at
            .is_some_and(|at| kassa_store::now_ms() - at < kassa_service::users::REAUTH_WINDOW_MS);
        if fresh {
            Ok(())
        } else {
            Err(view::message(
                axum::http::StatusCode::FORBIDDEN,
                "Confirm your password",
                "This change needs your password again (it is asked at most every 10 minutes).",
                Some((
                    &format!("{}/account/reauth", self.home()),
                    "Confirm your password",
                )),
            ))
        }
    }

    /// `/dashboard/test` or `/dashboard/live`.
    pub fn home(&self) -> String {
        format!("/dashboard/{}", self.mode.as_str())
    }

    /// The actor audit records name for what this user does.
    pub fn actor(&self) -> Actor {
        Actor {
            kind: "user",
            id: Some(self.user.id.clone()),
            label: Some(self.user.email.clone()),
            ip: Some(self.ip.clone()),
            user_agent: self.user_agent.clone(),
            request_id: self.request_id.clone(),
        }
    }
}

fn mode_of_path(path: &str) -> Option<Mode> {
    let rest = path.strip_prefix("/dashboard/")?;
    match rest.split('/').next()? {
        "test" => Some(Mode::Test),
        "live" => Some(Mode::Live),
        _ => None,
    }
}

impl FromRequestParts<AppState> for Ctx {
    type Rejection = Response;

    async fn from_request_parts(parts: &mut Parts, st: &AppState) -> Result<Ctx, Response> {
        let path = parts.uri.path().to_string();
        let Some(mode) = mode_of_path(&path) else {
            return Err(view::not_found());
        };
        if parts.method == Method::POST && !same_origin(&parts.headers) {
            return Err(view::forbidden_cross_site());
        }
        let Some((session, user)) = session_of(st, &parts.headers).await? else {
            let next = if parts.method == Method::GET {
                format!(
                    "?next={}",
                    url::form_urlencoded::byte_serialize(path.as_bytes()).collect::<String>()
                )
            } else {
                String::new()
            };
            return Err(view::see_other(&format!("/dashboard/login{next}")));
        };
        if !session.second_factor {
            return Err(view::see_other("/dashboard/second-factor"));
        }
        let role: Role = user.role.parse().unwrap_or(Role::Viewer);
        let merchant = st
            .svc
            .store
            .merchant(&user.merchant_id)
            .await
            .map_err(|e| view::service_error(&e.into()))?
            .ok_or_else(view::not_found)?;
        if mode == Mode::Live {
            if let Err(e) = st.svc.check_mode(Mode::Live) {
                return Err(view::message(
                    axum::http::StatusCode::FORBIDDEN,
                    "Live mode is off",
                    &e.to_string(),
                    Some(("/dashboard/test", "Back to test mode")),
                ));
            }
            if !user.has_totp() {
                return Err(view::message(
                    axum::http::StatusCode::FORBIDDEN,
                    "Set up a second factor first",
                    "Live mode handles real money: it opens once your account has an \
                     authenticator app (TOTP) set up.",
                    Some((
                        "/dashboard/test/account/security",
                        "Set up an authenticator",
                    )),
                ));
            }
        }
        let ip = kassa_http::guards::client_addr_of(st, &parts.extensions, &parts.headers)
            .map(|a| a.to_string())
            .unwrap_or_default();
        let header = |name: &str| {
            parts
                .headers
                .get(name)
                .and_then(|v| v.to_str().ok())
                .map(|v| v.chars().take(300).collect::<String>())
        };
        Ok(Ctx {
            csrf: csrf_token(st, &session),
            scope: Scope::new(&merchant.id, mode),
            user_agent: header("user-agent"),
            request_id: header("x-request-id"),
            session,
            user,
            role,
            merchant,
            mode,
            ip,
            path,
        })
    }
}

/// A form posted by a signed-in user: the session was checked, the request came from this
/// origin, and its `csrf` field is this session's token. Anything else is refused 403 before
/// the handler runs.
pub struct Posted<T> {
    pub ctx: Ctx,
    pub form: T,
}

impl<T: DeserializeOwned> FromRequest<AppState> for Posted<T> {
    type Rejection = Response;

    async fn from_request(req: Request, st: &AppState) -> Result<Self, Response> {
        let (mut parts, body) = req.into_parts();
        let ctx = Ctx::from_request_parts(&mut parts, st).await?;
        let req = Request::from_parts(parts, body);
        let bytes = Bytes::from_request(req, st)
            .await
            .map_err(|_| view::bad_request("The form could not be read."))?;
        let pairs: Vec<(String, String)> = serde_urlencoded::from_bytes(&bytes)
            .map_err(|_| view::bad_request("The form could not be read."))?;
        let sent = pairs
            .iter()
            .find(|(k, _)| k == "csrf")
            .map(|(_, v)| v.as_str())
            .unwrap_or("");
        if !constant_time_eq(sent.as_bytes(), ctx.csrf.as_bytes()) {
            return Err(view::forbidden_csrf());
        }
        let form = serde_urlencoded::from_bytes(&bytes)
            .map_err(|e| view::bad_request(&format!("The form is not right: {e}.")))?;
        Ok(Posted { ctx, form })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::http::HeaderValue;

    fn headers(pairs: &[(&'static str, &str)]) -> HeaderMap {
        let mut h = HeaderMap::new();
        for (k, v) in pairs {
            h.insert(*k, HeaderValue::from_str(v).unwrap());
        }
        h
    }

    #[test]
    fn a_post_from_another_origin_is_refused() {
        assert!(same_origin(&headers(&[("host", "pay.example")])));
        assert!(same_origin(&headers(&[
            ("host", "pay.example"),
            ("origin", "https://pay.example"),
            ("sec-fetch-site", "same-origin"),
        ])));
        assert!(!same_origin(&headers(&[
            ("host", "pay.example"),
            ("origin", "https://evil.example"),
        ])));
        assert!(!same_origin(&headers(&[
            ("host", "pay.example"),
            ("sec-fetch-site", "cross-site"),
        ])));
        assert!(!same_origin(&headers(&[
            ("host", "pay.example"),
            ("sec-fetch-site", "same-site"),
        ])));
        assert!(!same_origin(&headers(&[
            ("host", "pay.example"),
            ("origin", "null"),
        ])));
    }

    #[test]
    fn the_mode_comes_from_the_path() {
        assert_eq!(mode_of_path("/dashboard/test/payments"), Some(Mode::Test));
        assert_eq!(mode_of_path("/dashboard/live"), Some(Mode::Live));
        assert_eq!(mode_of_path("/dashboard/prod/payments"), None);
        assert_eq!(mode_of_path("/dashboard"), None);
    }
}
