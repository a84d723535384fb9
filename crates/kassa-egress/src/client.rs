//! The outbound HTTP client: a resolver that hands the connector only allowed addresses, no
//! redirects, no proxy, and requests refused before anything is sent when the policy says so.

use std::fmt;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use crate::{EgressPolicy, REFUSED};

/// The error a [`GuardedResolver`] gives for a name with no allowed address; found again in
/// the source chain of the request's error.
#[derive(Debug)]
struct RefusedByPolicy;

impl fmt::Display for RefusedByPolicy {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(REFUSED)
    }
}

impl std::error::Error for RefusedByPolicy {}

/// Resolves a name and hands the connector only the addresses the policy allows.
pub(crate) struct GuardedResolver {
    pub(crate) policy: Arc<EgressPolicy>,
}

impl reqwest::dns::Resolve for GuardedResolver {
    fn resolve(&self, name: reqwest::dns::Name) -> reqwest::dns::Resolving {
        let policy = self.policy.clone();
        let host = name.as_str().to_string();
        Box::pin(async move {
            let resolved = tokio::net::lookup_host((host.as_str(), 0)).await?;
            let allowed: Vec<SocketAddr> = resolved
                .filter(|a| policy.check_ip(Some(&host), a.ip()).is_ok())
                .collect();
            if allowed.is_empty() {
                return Err(Box::new(RefusedByPolicy) as Box<dyn std::error::Error + Send + Sync>);
            }
            Ok(Box::new(allowed.into_iter()) as reqwest::dns::Addrs)
        })
    }
}

/// Why a request sent through [`EgressClient`] produced no response.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SendError {
    /// The egress policy refused the target; nothing was sent.
    Refused,
    Timeout,
    Connect,
    Other,
}

impl fmt::Display for SendError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            SendError::Refused => REFUSED,
            SendError::Timeout => "timed out",
            SendError::Connect => "could not connect",
            SendError::Other => "request failed",
        })
    }
}

impl std::error::Error for SendError {}

/// The outbound HTTP client: the policy's resolver, no redirects, no proxy, a timeout and a
/// user agent. [`get`](Self::get) and [`post`](Self::post) check the URL's form and an IP
/// literal host before anything else; the resolver checks a name's addresses.
#[derive(Clone)]
pub struct EgressClient {
    http: reqwest::Client,
    policy: Arc<EgressPolicy>,
    timeout: Duration,
}

impl fmt::Debug for EgressClient {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("EgressClient")
            .field("policy", &self.policy)
            .field("timeout", &self.timeout)
            .finish()
    }
}

impl EgressClient {
    pub fn new(
        policy: EgressPolicy,
        timeout: Duration,
        user_agent: &str,
    ) -> Result<Self, reqwest::Error> {
        let policy = Arc::new(policy);
        let http = reqwest::Client::builder()
            .timeout(timeout)
            .redirect(reqwest::redirect::Policy::none())
            .no_proxy()
            .user_agent(user_agent)
            .dns_resolver(Arc::new(GuardedResolver {
                policy: policy.clone(),
            }))
            .build()?;
        Ok(EgressClient {
            http,
            policy,
            timeout,
        })
    }

    pub fn policy(&self) -> &EgressPolicy {
        &self.policy
    }

    /// The timeout of every request (a request may set another with
    /// [`EgressRequest::timeout`]).
    pub fn timeout(&self) -> Duration {
        self.timeout
    }

    pub fn get(&self, url: &str) -> EgressRequest {
        self.request(reqwest::Method::GET, url)
    }

    pub fn post(&self, url: &str) -> EgressRequest {
        self.request(reqwest::Method::POST, url)
    }

    /// A request to `url`, already refused when its form or IP literal host is (reqwest does
    /// not ask the resolver about an IP literal, and moves `user:pass@` into a header).
    pub fn request(&self, method: reqwest::Method, url: &str) -> EgressRequest {
        let inner = match self.policy.check_url(url) {
            Ok(parsed) => Ok(self.http.request(method, parsed)),
            Err(_) => Err(SendError::Refused),
        };
        EgressRequest {
            inner,
            http: self.http.clone(),
        }
    }
}

/// A request being built through [`EgressClient`].
pub struct EgressRequest {
    inner: Result<reqwest::RequestBuilder, SendError>,
    http: reqwest::Client,
}

impl EgressRequest {
    pub fn header(mut self, name: &str, value: &str) -> Self {
        self.inner = self.inner.map(|r| r.header(name, value));
        self
    }

    pub fn body(mut self, body: impl Into<reqwest::Body>) -> Self {
        self.inner = self.inner.map(|r| r.body(body));
        self
    }

    pub fn timeout(mut self, timeout: Duration) -> Self {
        self.inner = self.inner.map(|r| r.timeout(timeout));
        self
    }

    /// Sends the request; a target the policy refuses fails with [`SendError::Refused`] and
    /// nothing is sent.
    pub async fn send(self) -> Result<reqwest::Response, SendError> {
        let request = self.inner?.build().map_err(|_| SendError::Other)?;
        self.http.execute(request).await.map_err(|e| {
            if is_refusal(&e) {
                SendError::Refused
            } else if e.is_timeout() {
                SendError::Timeout
            } else if e.is_connect() {
                SendError::Connect
            } else {
                SendError::Other
            }
        })
    }
}

/// Whether the resolver's refusal is somewhere in the error's source chain.
pub(crate) fn is_refusal(e: &(dyn std::error::Error + 'static)) -> bool {
    let mut cur = Some(e);
    while let Some(err) = cur {
        if err.is::<RefusedByPolicy>() {
            return true;
        }
        cur = err.source();
    }
    false
}
