//! The listener's connection limits and the request rate limits, with their `KASSA_*`
//! environment overrides.

use anyhow::{bail, Context};
use serde::Deserialize;

/// Connection limits of the HTTP listener.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct HttpConfig {
    /// A started request head must be complete within this many seconds.
    pub header_read_timeout_secs: u64,
    /// A connection with no request in flight and nothing sent is closed after this many
    /// seconds (also a new connection that sends nothing).
    pub idle_timeout_secs: u64,
    /// Most connections open at once; more wait in the listen backlog.
    pub max_connections: usize,
    /// A request not answered within this many seconds gets 408.
    pub request_timeout_secs: u64,
}

impl Default for HttpConfig {
    fn default() -> Self {
        HttpConfig {
            header_read_timeout_secs: 10,
            idle_timeout_secs: 20,
            max_connections: 1024,
            request_timeout_secs: 60,
        }
    }
}

/// Requests per second (and burst) per bucket; 0 turns a limit off.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct RateLimitConfig {
    pub api_key_per_sec: u32,
    pub api_key_burst: u32,
    pub public_ip_per_sec: u32,
    pub public_ip_burst: u32,
    pub credentials_ip_per_sec: u32,
    pub credentials_ip_burst: u32,
}

impl Default for RateLimitConfig {
    fn default() -> Self {
        let d = kassa_http::guards::RateSettings::default();
        let rate =
            |r: Option<kassa_http::guards::Rate>| r.map_or((0, 0), |r| (r.per_second, r.burst));
        let (api_key_per_sec, api_key_burst) = rate(d.api_key);
        let (public_ip_per_sec, public_ip_burst) = rate(d.public_ip);
        let (credentials_ip_per_sec, credentials_ip_burst) = rate(d.credentials_ip);
        RateLimitConfig {
            api_key_per_sec,
            api_key_burst,
            public_ip_per_sec,
            public_ip_burst,
            credentials_ip_per_sec,
            credentials_ip_burst,
        }
    }
}

impl RateLimitConfig {
    pub fn settings(&self) -> kassa_http::guards::RateSettings {
        let rate = |per_second: u32, burst: u32| {
            (per_second > 0).then_some(kassa_http::guards::Rate {
                per_second,
                burst: if burst == 0 { per_second } else { burst },
            })
        };
        kassa_http::guards::RateSettings {
            api_key: rate(self.api_key_per_sec, self.api_key_burst),
            public_ip: rate(self.public_ip_per_sec, self.public_ip_burst),
            credentials_ip: rate(self.credentials_ip_per_sec, self.credentials_ip_burst),
        }
    }
}

/// Reads `KASSA_…` variables through `env` (empty counts as unset).
type Env<'a> = &'a dyn Fn(&str) -> Option<String>;

fn number<T: std::str::FromStr>(env: Env, name: &str) -> anyhow::Result<Option<T>>
where
    T::Err: std::error::Error + Send + Sync + 'static,
{
    env(name)
        .map(|v| v.parse::<T>().with_context(|| name.to_string()))
        .transpose()
}

impl HttpConfig {
    pub(crate) fn apply_env(&mut self, env: Env) -> anyhow::Result<()> {
        let slots: [(&str, &mut u64); 3] = [
            (
                "KASSA_HTTP_HEADER_READ_TIMEOUT_SECS",
                &mut self.header_read_timeout_secs,
            ),
            ("KASSA_HTTP_IDLE_TIMEOUT_SECS", &mut self.idle_timeout_secs),
            (
                "KASSA_HTTP_REQUEST_TIMEOUT_SECS",
                &mut self.request_timeout_secs,
            ),
        ];
        for (name, slot) in slots {
            if let Some(v) = number(env, name)? {
                *slot = v;
            }
        }
        if let Some(v) = number(env, "KASSA_HTTP_MAX_CONNECTIONS")? {
            self.max_connections = v;
        }
        Ok(())
    }

    pub(crate) fn validate(&self) -> anyhow::Result<()> {
        if self.header_read_timeout_secs == 0
            || self.idle_timeout_secs == 0
            || self.request_timeout_secs == 0
        {
            bail!("http timeouts must be at least 1 second");
        }
        if self.max_connections == 0 {
            bail!("http.max_connections must be at least 1");
        }
        Ok(())
    }
}

impl RateLimitConfig {
    pub(crate) fn apply_env(&mut self, env: Env) -> anyhow::Result<()> {
        let slots: [(&str, &mut u32); 6] = [
            (
                "KASSA_RATE_LIMIT_API_KEY_PER_SEC",
                &mut self.api_key_per_sec,
            ),
            ("KASSA_RATE_LIMIT_API_KEY_BURST", &mut self.api_key_burst),
            (
                "KASSA_RATE_LIMIT_PUBLIC_IP_PER_SEC",
                &mut self.public_ip_per_sec,
            ),
            (
                "KASSA_RATE_LIMIT_PUBLIC_IP_BURST",
                &mut self.public_ip_burst,
            ),
            (
                "KASSA_RATE_LIMIT_CREDENTIALS_IP_PER_SEC",
                &mut self.credentials_ip_per_sec,
            ),
            (
                "KASSA_RATE_LIMIT_CREDENTIALS_IP_BURST",
                &mut self.credentials_ip_burst,
            ),
        ];
        for (name, slot) in slots {
            if let Some(v) = number(env, name)? {
                *slot = v;
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn environment_values_override_and_bad_ones_are_named() {
        let vars = |pairs: &'static [(&'static str, &'static str)]| {
            move |k: &str| {
                pairs
                    .iter()
                    .find(|(n, _)| *n == k)
                    .map(|(_, v)| v.to_string())
            }
        };
        let mut http = HttpConfig::default();
        http.apply_env(&vars(&[
            ("KASSA_HTTP_IDLE_TIMEOUT_SECS", "7"),
            ("KASSA_HTTP_MAX_CONNECTIONS", "12"),
        ]))
        .unwrap();
        assert_eq!((http.idle_timeout_secs, http.max_connections), (7, 12));
        assert_eq!(http.header_read_timeout_secs, 10);
        let mut rl = RateLimitConfig::default();
        rl.apply_env(&vars(&[("KASSA_RATE_LIMIT_API_KEY_PER_SEC", "0")]))
            .unwrap();
        assert_eq!(rl.settings().api_key, None, "0 turns the limit off");
        assert!(rl.settings().public_ip.is_some());
        let err = rl
            .apply_env(&vars(&[("KASSA_RATE_LIMIT_PUBLIC_IP_BURST", "lots")]))
            .unwrap_err();
        assert!(format!("{err:#}").contains("KASSA_RATE_LIMIT_PUBLIC_IP_BURST"));
        http.idle_timeout_secs = 0;
        assert!(http.validate().is_err());
    }
}
