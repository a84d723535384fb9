//! What keeps one client from taking the gateway for everyone: request rate limits per API key
//! and per client address, and the deployment's header rules (HSTS, `Secure` cookies, who may
//! read `/metrics`).
//!
//! Limits are token buckets (GCRA, the `governor` crate) kept in memory per process: a request
//! past its bucket gets 429 with `Retry-After`, in the shape of the face it reached. Several
//! processes behind one balancer each apply the limit, so the effective one is that many times
//! higher.

use std::net::{IpAddr, SocketAddr};
use std::num::NonZeroU32;
use std::sync::Arc;
use std::time::Duration;

use axum::extract::{ConnectInfo, Request, State};
use axum::http::{header, HeaderValue, StatusCode};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use governor::clock::{Clock, DefaultClock};
use governor::{DefaultKeyedRateLimiter, Quota, RateLimiter};
use sha2::{Digest, Sha256};

use crate::AppState;

/// Requests per second and burst of one bucket; `None` turns the limit off.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Rate {
    pub per_second: u32,
    pub burst: u32,
}

/// The configured limits.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RateSettings {
    /// Per API key on the native API.
    pub api_key: Option<Rate>,
    /// Per client address on the public pages and the Paymentwall/Paymob faces.
    pub public_ip: Option<Rate>,
    /// Per client address on endpoints that take a credential in the request (Paymob's token
    /// exchange, Paymentwall's REST and delivery APIs) and on failed native authentications.
    pub credentials_ip: Option<Rate>,
}

impl Default for RateSettings {
    /// Generous: far above what one shop's checkout or backend needs, and above what the
    /// bench drives through one key on a small machine, but a flood from one key or address
    /// is cut off before it takes the database from everyone else.
    fn default() -> Self {
        RateSettings {
            api_key: Some(Rate {
                per_second: 10_000,
                burst: 10_000,
            }),
            public_ip: Some(Rate {
                per_second: 100,
                burst: 200,
            }),
            credentials_ip: Some(Rate {
                per_second: 20,
                burst: 40,
            }),
        }
    }
}

/// Keys held at most before idle buckets are dropped.
const MAX_TRACKED: usize = 100_000;

struct Bucket<K: std::hash::Hash + Eq + Clone>(DefaultKeyedRateLimiter<K>);

impl<K: std::hash::Hash + Eq + Clone> Bucket<K> {
    fn new(rate: Rate) -> Option<Self> {
        let per_second = NonZeroU32::new(rate.per_second)?;
        let burst = NonZeroU32::new(rate.burst.max(1))?;
        Some(Bucket(RateLimiter::dashmap(
            Quota::per_second(per_second).allow_burst(burst),
        )))
    }

    /// `Err(wait)` when `key` is over its limit.
    fn check(&self, key: &K) -> Result<(), Duration> {
        if self.0.len() > MAX_TRACKED {
            self.0.retain_recent();
            self.0.shrink_to_fit();
        }
        self.0
            .check_key(key)
            .map_err(|not_until| not_until.wait_time_from(DefaultClock::default().now()))
    }
}

/// The process's rate limiters.
pub struct RateLimits {
    api_key: Option<Bucket<[u8; 16]>>,
    public_ip: Option<Bucket<IpAddr>>,
    credentials_ip: Option<Bucket<IpAddr>>,
}

impl RateLimits {
    pub fn new(s: RateSettings) -> Self {
        RateLimits {
            api_key: s.api_key.and_then(Bucket::new),
            public_ip: s.public_ip.and_then(Bucket::new),
            credentials_ip: s.credentials_ip.and_then(Bucket::new),
        }
    }

    /// Checks one request of an authenticated API key (tracked by a hash, not the key).
    pub fn check_api_key(&self, key: &str) -> Result<(), Duration> {
        let Some(b) = &self.api_key else {
            return Ok(());
        };
        let digest = Sha256::digest(key.as_bytes());
        let mut id = [0u8; 16];
        id.copy_from_slice(&digest[..16]);
        b.check(&id)
    }

    pub fn check_public(&self, ip: IpAddr) -> Result<(), Duration> {
        self.public_ip.as_ref().map_or(Ok(()), |b| b.check(&ip))
    }

    pub fn check_credentials(&self, ip: IpAddr) -> Result<(), Duration> {
        self.credentials_ip
            .as_ref()
            .map_or(Ok(()), |b| b.check(&ip))
    }
}

/// Who may read `/metrics` on the public listener.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub enum MetricsAccess {
    /// Anyone (development default).
    #[default]
    Public,
    /// Requests with `Authorization: Bearer <token>`.
    Token(String),
    /// Nobody: served only on the operations listener.
    Hidden,
}

/// The deployment's rules for every response.
#[derive(Clone)]
pub struct Guards {
    /// Send `Strict-Transport-Security` (production behind an https base URL).
    pub hsts: bool,
    /// Mark cookies `Secure` whatever the base URL (production).
    pub secure_cookies: bool,
    pub metrics: MetricsAccess,
    pub limits: Arc<RateLimits>,
}

impl Default for Guards {
    fn default() -> Self {
        Guards {
            hsts: false,
            secure_cookies: false,
            metrics: MetricsAccess::Public,
            limits: Arc::new(RateLimits::new(RateSettings::default())),
        }
    }
}

/// The client's address: the TCP peer, or what the trusted proxy header says.
pub fn client_addr(st: &AppState, req: &Request) -> Option<IpAddr> {
    client_addr_of(st, req.extensions(), req.headers())
}

/// [`client_addr`] from a request's parts (for extractors).
pub fn client_addr_of(
    st: &AppState,
    extensions: &axum::http::Extensions,
    headers: &axum::http::HeaderMap,
) -> Option<IpAddr> {
    let peer = extensions
        .get::<ConnectInfo<SocketAddr>>()
        .map(|c| c.0.ip())?;
    let header = st
        .client_ip_header
        .as_deref()
        .and_then(|h| headers.get(h))
        .and_then(|v| v.to_str().ok());
    Some(kassa_paymentwall::geo::client_ip(peer, header))
}

/// Paths where the request itself carries a credential to check (Paymob's API-key exchange,
/// Paymentwall's secret-key APIs): limited per address more tightly than pages.
fn is_credential_path(path: &str) -> bool {
    path.starts_with("/api/auth/")
        || path.starts_with("/api/rest/")
        || path.starts_with("/api/delivery")
        || path.starts_with("/developers/api/")
}

fn is_paymob_path(path: &str) -> bool {
    [
        "/api/auth/",
        "/api/ecommerce/",
        "/api/acceptance/",
        "/v1/intention",
    ]
    .iter()
    .any(|p| path.starts_with(p))
}

fn is_paymentwall_api_path(path: &str) -> bool {
    path.starts_with("/api/rest/")
        || path.starts_with("/api/delivery")
        || path.starts_with("/api/payment-systems")
        || path.starts_with("/developers/api/")
}

/// 429 in the face's own shape, with `Retry-After` in whole seconds (at least 1).
pub fn too_many(path: &str, wait: Duration) -> Response {
    let secs = wait.as_secs() + u64::from(wait.subsec_nanos() > 0);
    let secs = secs.max(1);
    let mut resp = if path.starts_with("/v1/") && !path.starts_with("/v1/intention") {
        crate::error::ApiError::new(
            StatusCode::TOO_MANY_REQUESTS,
            "rate_limit_error",
            "rate_limited",
            format!("Too many requests. Retry after {secs} s."),
        )
        .into_response()
    } else if is_paymob_path(path) {
        (
            StatusCode::TOO_MANY_REQUESTS,
            axum::Json(serde_json::json!({
                "detail": format!("Request was throttled. Expected available in {secs} seconds.")
            })),
        )
            .into_response()
    } else if is_paymentwall_api_path(path) {
        (
            StatusCode::TOO_MANY_REQUESTS,
            axum::Json(serde_json::json!({
                "type": "Error", "code": 4290, "error": "Too many requests, try again later"
            })),
        )
            .into_response()
    } else {
        (
            StatusCode::TOO_MANY_REQUESTS,
            [(header::CONTENT_TYPE, "text/plain; charset=utf-8")],
            "Too many requests. Please wait a moment and try again.",
        )
            .into_response()
    };
    resp.headers_mut()
        .insert(header::RETRY_AFTER, HeaderValue::from(secs));
    resp
}

/// Per-address limits for everything outside the native API (pages, Paymentwall and Paymob
/// faces); the native API is limited per key after authentication.
pub async fn limit_by_address(State(st): State<AppState>, req: Request, next: Next) -> Response {
    let path = req.uri().path();
    let exempt = path.starts_with("/v1/") && !path.starts_with("/v1/intention")
        || matches!(path, "/healthz" | "/readyz" | "/metrics");
    if !exempt {
        if let Some(ip) = client_addr(&st, &req) {
            let checked = if is_credential_path(path) {
                st.guards.limits.check_credentials(ip)
            } else {
                st.guards.limits.check_public(ip)
            };
            if let Err(wait) = checked {
                return too_many(path, wait);
            }
        }
    }
    next.run(req).await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_bucket_allows_its_burst_then_refuses_with_a_wait() {
        let limits = RateLimits::new(RateSettings {
            api_key: Some(Rate {
                per_second: 1,
                burst: 3,
            }),
            public_ip: None,
            credentials_ip: Some(Rate {
                per_second: 2,
                burst: 2,
            }),
        });
        for _ in 0..3 {
            assert!(limits.check_api_key("sk_test_a").is_ok());
        }
        let wait = limits.check_api_key("sk_test_a").unwrap_err();
        assert!(wait > Duration::ZERO && wait <= Duration::from_secs(1));
        // Another key has its own bucket; an unlimited kind never refuses.
        assert!(limits.check_api_key("sk_test_b").is_ok());
        let ip: IpAddr = "203.0.113.7".parse().unwrap();
        for _ in 0..1000 {
            assert!(limits.check_public(ip).is_ok());
        }
        assert!(limits.check_credentials(ip).is_ok());
        assert!(limits.check_credentials(ip).is_ok());
        assert!(limits.check_credentials(ip).is_err());
    }

    #[test]
    fn a_zero_rate_means_no_limit() {
        assert!(Bucket::<IpAddr>::new(Rate {
            per_second: 0,
            burst: 10
        })
        .is_none());
    }

    #[test]
    fn each_face_gets_its_own_429_shape_with_retry_after() {
        let r = too_many("/v1/payment_intents", Duration::from_millis(200));
        assert_eq!(r.status(), StatusCode::TOO_MANY_REQUESTS);
        assert_eq!(r.headers()[header::RETRY_AFTER], "1");
        let r = too_many("/api/auth/tokens", Duration::from_millis(2500));
        assert_eq!(r.headers()[header::RETRY_AFTER], "3");
        assert!(r.headers()[header::CONTENT_TYPE]
            .to_str()
            .unwrap()
            .starts_with("application/json"));
        let r = too_many("/checkout/abc", Duration::from_secs(1));
        assert!(r.headers()[header::CONTENT_TYPE]
            .to_str()
            .unwrap()
            .starts_with("text/plain"));
    }
}
