//! CSRF protection for the checkout and issuer forms: a double-submit cookie whose value is also
//! bound, by HMAC under the server's `csrf_key`, to the one page the form belongs to.
//!
//! The cookie `kassa_csrf` holds a random secret `s` (32 alphanumerics, `HttpOnly`,
//! `SameSite=Strict`). A rendered form carries `s.HMAC(csrf_key, s, scope)` where `scope` names
//! the page (`checkout:<token>` or `3ds:<attempt id>`). A submission is accepted only when the
//! field's `s` equals the cookie and its MAC is right for this scope, both compared in constant
//! time. So a forger needs the victim's cookie (which another site can neither read nor set) and
//! a field minted by this server for this very checkout.

use axum::http::header::COOKIE;
use axum::http::HeaderMap;
use kassa_core::ids::random_token;
use kassa_core::secret::{constant_time_eq, hmac_sha256};

pub const COOKIE_NAME: &str = "kassa_csrf";
const SECRET_LEN: usize = 32;
/// Domain separation, so these MACs can never be confused with anything else keyed by the
/// same key.
const LABEL: &[u8] = b"kassa checkout csrf v1";

/// A fresh cookie secret.
pub fn new_secret() -> String {
    random_token(SECRET_LEN)
}

fn is_well_formed_secret(s: &str) -> bool {
    s.len() == SECRET_LEN && s.bytes().all(|b| b.is_ascii_alphanumeric())
}

/// The well-formed `kassa_csrf` value the request carries, if any.
pub fn secret_from_cookies(headers: &HeaderMap) -> Option<String> {
    headers
        .get_all(COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|pair| pair.trim().strip_prefix(COOKIE_NAME)?.strip_prefix('='))
        .find(|v| is_well_formed_secret(v))
        .map(str::to_string)
}

/// The `Set-Cookie` value for a secret. `Secure` only when the public base URL is https, so a
/// plain-http local install still works.
pub fn set_cookie_value(secret: &str, secure: bool) -> String {
    let mut v = format!("{COOKIE_NAME}={secret}; Path=/; HttpOnly; SameSite=Strict");
    if secure {
        v.push_str("; Secure");
    }
    v
}

fn mac_hex(key: &[u8; 32], secret: &str, scope: &str) -> String {
    let mut msg = Vec::with_capacity(LABEL.len() + secret.len() + scope.len() + 2);
    msg.extend_from_slice(LABEL);
    msg.push(0);
    msg.extend_from_slice(secret.as_bytes());
    msg.push(0);
    msg.extend_from_slice(scope.as_bytes());
    hex::encode(hmac_sha256(key, &msg))
}

/// The hidden-field value for a form on the page named by `scope`.
pub fn form_token(key: &[u8; 32], secret: &str, scope: &str) -> String {
    format!("{secret}.{}", mac_hex(key, secret, scope))
}

/// True when `field` was minted for `scope` under `key` and matches the cookie secret.
pub fn verify(key: &[u8; 32], cookie_secret: Option<&str>, field: &str, scope: &str) -> bool {
    let Some(cookie) = cookie_secret else {
        return false;
    };
    let Some((secret, mac)) = field.split_once('.') else {
        return false;
    };
    if !is_well_formed_secret(secret) {
        return false;
    }
    let same_secret = constant_time_eq(secret.as_bytes(), cookie.as_bytes());
    let good_mac = constant_time_eq(mac.as_bytes(), mac_hex(key, secret, scope).as_bytes());
    same_secret & good_mac
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::http::HeaderValue;

    const KEY: [u8; 32] = [7; 32];

    #[test]
    fn a_token_minted_for_a_page_verifies_with_its_cookie() {
        let s = new_secret();
        let t = form_token(&KEY, &s, "checkout:cs_abc");
        assert!(verify(&KEY, Some(&s), &t, "checkout:cs_abc"));
    }

    #[test]
    fn a_token_is_refused_for_another_checkout() {
        let s = new_secret();
        let t = form_token(&KEY, &s, "checkout:cs_abc");
        assert!(!verify(&KEY, Some(&s), &t, "checkout:cs_other"));
        assert!(!verify(&KEY, Some(&s), &t, "3ds:cs_abc"));
    }

    #[test]
    fn a_token_is_refused_without_the_matching_cookie() {
        let s = new_secret();
        let t = form_token(&KEY, &s, "checkout:cs_abc");
        assert!(!verify(&KEY, None, &t, "checkout:cs_abc"));
        assert!(!verify(&KEY, Some(&new_secret()), &t, "checkout:cs_abc"));
    }

    #[test]
    fn a_token_made_with_another_key_or_tampered_is_refused() {
        let s = new_secret();
        let other = form_token(&[8; 32], &s, "checkout:cs_abc");
        assert!(!verify(&KEY, Some(&s), &other, "checkout:cs_abc"));
        let mut t = form_token(&KEY, &s, "checkout:cs_abc");
        let last = t.pop().unwrap();
        t.push(if last == '0' { '1' } else { '0' });
        assert!(!verify(&KEY, Some(&s), &t, "checkout:cs_abc"));
        assert!(!verify(&KEY, Some(&s), &s, "checkout:cs_abc"));
        assert!(!verify(&KEY, Some(&s), "", "checkout:cs_abc"));
    }

    #[test]
    fn the_cookie_secret_is_found_among_other_cookies_and_garbage_is_ignored() {
        let s = new_secret();
        let mut h = HeaderMap::new();
        h.append(COOKIE, HeaderValue::from_static("a=1; kassa_csrf=short"));
        h.append(
            COOKIE,
            HeaderValue::from_str(&format!("theme=dark; kassa_csrf={s}; b=2")).unwrap(),
        );
        assert_eq!(secret_from_cookies(&h), Some(s));
        let mut bad = HeaderMap::new();
        bad.append(
            COOKIE,
            HeaderValue::from_static("kassa_csrfx=abc; kassa_csrf=<script>"),
        );
        assert_eq!(secret_from_cookies(&bad), None);
    }

    #[test]
    fn the_cookie_is_http_only_strict_and_secure_only_over_https() {
        let v = set_cookie_value("abc", false);
        assert_eq!(v, "kassa_csrf=abc; Path=/; HttpOnly; SameSite=Strict");
        assert!(set_cookie_value("abc", true).ends_with("; Secure"));
    }
}
