//! What the customer's pages need from the service: which profile a page belongs to, hence
//! which sites may frame it (`frame_ancestors`, `'none'` unless the merchant allows some) and
//! whose look it wears, and the payment status page's result, shown only when its query carries
//! the profile's HMAC.

use crate::Paymob;
use kassa_paymob::hmac::{query_hmac, verify_hex, QUERY_FIELDS};
use kassa_store::PmProfile;
use serde_json::{json, Value};

use super::accounts::ProfileDoc;
use super::{doc, PmError, PmResult};
use crate::branding::BrandScope;

/// The `frame-ancestors` of a page whose profile is unknown or unproven, and of a profile that
/// allows no framing (the default).
pub const NO_FRAMING: &str = "'none'";

const FRAME_ANCESTORS_HELP: &str = "frame_ancestors is a space-separated list of origins \
    (https://shop.example, https://*.shop.example, http://127.0.0.1:8080), 'self' or *; \
    'none' or an empty string forbids framing (the default).";

/// Changes to a profile (`None` keeps the current value).
#[derive(Debug, Clone, Default)]
pub struct ProfileUpdate {
    pub name: Option<String>,
    /// Space-separated CSP sources; `""` or `'none'` resets to no framing.
    pub frame_ancestors: Option<String>,
}

/// A host of a CSP host-source: DNS labels (the first may be `*`), or an IPv4 address.
fn valid_host(host: &str) -> bool {
    let host = host.strip_prefix("*.").unwrap_or(host);
    !host.is_empty()
        && host.len() <= 253
        && host.split('.').all(|l| {
            !l.is_empty()
                && l.len() <= 63
                && !l.starts_with('-')
                && !l.ends_with('-')
                && l.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-')
        })
}

/// One origin: `http(s)://host[:port]`, an optional trailing `/`, no path, query or user.
fn valid_origin(src: &str) -> bool {
    let Some(rest) = src
        .strip_prefix("https://")
        .or_else(|| src.strip_prefix("http://"))
    else {
        return false;
    };
    let rest = rest.strip_suffix('/').unwrap_or(rest);
    let (host, port) = match rest.rsplit_once(':') {
        Some((h, p)) => (h, Some(p)),
        None => (rest, None),
    };
    let port_ok = match port {
        None => true,
        Some("*") => true,
        Some(p) => {
            !p.is_empty() && p.len() <= 5 && p.bytes().all(|b| b.is_ascii_digit()) && {
                let n: u32 = p.parse().unwrap_or(0);
                (1..=65535).contains(&n)
            }
        }
    };
    port_ok && valid_host(host)
}

/// Checks a `frame_ancestors` value like Paymentwall projects' (origins, `'self'` or `*`), and
/// normalises it: `None` for no framing (`""` or `'none'`), else the sources one space apart.
pub(crate) fn check_frame_ancestors(value: &str) -> PmResult<Option<String>> {
    let invalid = || PmError::new(400, json!({ "frame_ancestors": [FRAME_ANCESTORS_HELP] }));
    let sources: Vec<&str> = value.split_whitespace().collect();
    if sources.is_empty() || sources == [NO_FRAMING] {
        return Ok(None);
    }
    if value.len() > 1000
        || sources.len() > 32
        || !sources
            .iter()
            .all(|s| *s == "'self'" || *s == "*" || valid_origin(s))
    {
        return Err(invalid());
    }
    Ok(Some(sources.join(" ")))
}

/// The profile's `frame-ancestors` source list.
pub fn frame_ancestors_of(p: &PmProfile) -> String {
    p.frame_ancestors
        .clone()
        .unwrap_or_else(|| NO_FRAMING.to_string())
}

/// The profile a payer page proved it belongs to: whose branding it wears
/// ([`BrandScope::PmProfile`], else the merchant's).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PageOwner {
    pub merchant_id: String,
    pub profile_id: i64,
}

impl PageOwner {
    pub fn of(p: &PmProfile) -> Self {
        PageOwner {
            merchant_id: p.merchant_id.clone(),
            profile_id: p.id,
        }
    }

    /// The branding scope of the owner's pages.
    pub fn scope(&self) -> BrandScope {
        BrandScope::PmProfile(self.profile_id)
    }
}

/// What a page needs to know about its profile: who may frame it, and whose look it wears
/// (`None` when the page cannot tell its profile: it is then neither framed nor branded).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PageFraming {
    pub frame_ancestors: String,
    pub owner: Option<PageOwner>,
}

impl PageFraming {
    /// A page whose profile is unknown or unproven.
    pub fn unknown() -> Self {
        PageFraming {
            frame_ancestors: NO_FRAMING.into(),
            owner: None,
        }
    }

    /// A page of this profile.
    pub fn of(p: &PmProfile) -> Self {
        PageFraming {
            frame_ancestors: frame_ancestors_of(p),
            owner: Some(PageOwner::of(p)),
        }
    }
}

/// What the payment status page shows once its query is verified.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PaymentStatus {
    /// `success`, `pending` or `declined` (Paymob's rules: `success=true`, else `pending=true`).
    pub status: &'static str,
    pub amount_cents: Option<i64>,
    pub currency: String,
    pub transaction_id: i64,
    pub order_id: String,
    pub merchant_order_id: String,
    /// The processor's message (`data.message`), from the stored transaction.
    pub message: String,
    /// `MasterCard •••• 2346` for a card payment, else empty.
    pub card: String,
    /// The profile's `frame-ancestors`.
    pub frame_ancestors: String,
    /// The transaction's profile, whose look the page wears.
    pub owner: PageOwner,
    /// The core's decline code and finer reason of a declined payment, for a translated reason.
    pub decline_code: Option<String>,
    pub decline_subcode: Option<String>,
    /// The unified checkout of the same intention while it can still be paid (not paid, not
    /// expired), for "Try again"; `None` for a success or a payment without an intention.
    pub retry_url: Option<String>,
    /// The merchant's redirection URL of the intention, if it has one ("Return to the store").
    pub merchant_url: Option<String>,
}

/// Why the status page could not show a result: nothing signed (400) or a signature that does
/// not match (403).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StatusRefusal {
    Unsigned,
    Forged,
}

impl Paymob<'_> {
    /// Changes a profile's name or `frame_ancestors`.
    pub async fn update_profile(
        &self,
        profile: &PmProfile,
        input: ProfileUpdate,
    ) -> PmResult<PmProfile> {
        let mut p = profile.clone();
        if let Some(name) = input.name {
            if name.trim().is_empty() || name.len() > 200 {
                return Err(PmError::new(
                    400,
                    json!({"name": ["Give a name of 1 to 200 characters."]}),
                ));
            }
            p.doc = super::to_text(&ProfileDoc { name });
        }
        if let Some(fa) = input.frame_ancestors {
            p.frame_ancestors = check_frame_ancestors(&fa)?;
        }
        let mut tx = self.store.begin().await?;
        tx.update_pm_profile(&p).await?;
        crate::audit::record(
            &mut tx,
            &p.scope(),
            "paymob_profile.update",
            Some(&p.id.to_string()),
            &serde_json::json!({"frame_ancestors": p.frame_ancestors}),
        )
        .await?;
        tx.commit().await?;
        Ok(p)
    }

    /// The unified checkout (`?publicKey=&clientSecret=`): the public key's profile when the
    /// client secret is one of its intentions, else unknown.
    pub async fn checkout_framing(
        &self,
        public_key: Option<&str>,
        client_secret: Option<&str>,
    ) -> PageFraming {
        let (Some(pk), Some(cs)) = (public_key, client_secret) else {
            return PageFraming::unknown();
        };
        let Ok(Some(profile)) = self.store.pm_profile_by_public_key(pk).await else {
            return PageFraming::unknown();
        };
        match self.store.pm_intention_by_client_secret(cs).await {
            Ok(Some(i)) if i.profile_id == profile.id => PageFraming::of(&profile),
            _ => PageFraming::unknown(),
        }
    }

    /// Pixel's card frame (`?publicKey=`): the public key's profile, else unknown.
    pub async fn card_frame_framing(&self, public_key: Option<&str>) -> PageFraming {
        match public_key {
            Some(pk) => match self.store.pm_profile_by_public_key(pk).await {
                Ok(Some(p)) => PageFraming::of(&p),
                _ => PageFraming::unknown(),
            },
            None => PageFraming::unknown(),
        }
    }

    /// The legacy iframe page: `None` when no profile has this iframe id; the profile when the
    /// payment token is one of the profile's, else unknown.
    pub async fn iframe_framing(
        &self,
        iframe_id: i64,
        payment_token: Option<&str>,
    ) -> PmResult<Option<PageFraming>> {
        let Some(profile) = self.store.pm_profile_by_iframe(iframe_id).await? else {
            return Ok(None);
        };
        let owned = payment_token
            .and_then(|t| self.open_key(t).ok())
            .is_some_and(|c| c.user_id == profile.id);
        Ok(Some(if owned {
            PageFraming::of(&profile)
        } else {
            PageFraming::unknown()
        }))
    }

    /// The payment status page's result, from its query (the decoded pairs, in order). Shown
    /// only when the query's `hmac` is the transaction's profile's HMAC of the 20 signed
    /// parameters (compared in constant time); the parameters Paymob does not sign
    /// (`merchant_order_id`, `data.message`) come from the stored transaction.
    pub async fn payment_status(
        &self,
        query: &[(String, String)],
    ) -> Result<PaymentStatus, StatusRefusal> {
        let one = |name: &str| -> Result<Option<&str>, StatusRefusal> {
            let mut found = query.iter().filter(|(k, _)| k == name);
            let first = found.next().map(|(_, v)| v.as_str());
            // A repeated signed parameter could be read two ways: refuse it.
            match found.next() {
                Some(_) => Err(StatusRefusal::Forged),
                None => Ok(first),
            }
        };
        let Some(given) = one("hmac")?.filter(|h| !h.is_empty()) else {
            return Err(StatusRefusal::Unsigned);
        };
        for f in QUERY_FIELDS {
            one(f)?;
        }
        let Some(txn_id) = one("id")?.and_then(|v| v.parse::<i64>().ok()) else {
            return Err(StatusRefusal::Forged);
        };
        let stored = match self.store.pm_transaction(txn_id).await {
            Ok(Some(t)) => t,
            _ => return Err(StatusRefusal::Forged),
        };
        let profile = match self.store.pm_profile(stored.profile_id).await {
            Ok(Some(p)) => p,
            _ => return Err(StatusRefusal::Forged),
        };
        let secret = self
            .hmac_secret(&profile)
            .map_err(|_| StatusRefusal::Forged)?;
        let signed: Vec<(String, String)> =
            query.iter().filter(|(k, _)| k != "hmac").cloned().collect();
        if !verify_hex(&query_hmac(&secret, &signed), given) {
            return Err(StatusRefusal::Forged);
        }
        let text = |name: &str| one(name).ok().flatten().unwrap_or("").trim().to_string();
        let obj: Option<kassa_paymob::transaction::Transaction> =
            doc(&stored.obj, "transaction").ok();
        let status = if text("success") == "true" {
            "success"
        } else if text("pending") == "true" {
            "pending"
        } else {
            "declined"
        };
        let card = if text("source_data.type") == "card" && !text("source_data.pan").is_empty() {
            format!(
                "{} \u{2022}\u{2022}\u{2022}\u{2022} {}",
                text("source_data.sub_type"),
                text("source_data.pan")
            )
            .trim()
            .to_string()
        } else {
            String::new()
        };
        let stored_text = |v: &Value| match v {
            Value::String(s) => s.clone(),
            Value::Number(n) => n.to_string(),
            _ => String::new(),
        };
        let extra: super::pay::TxnExtra =
            doc(&stored.extra, "transaction extra").unwrap_or_default();
        let (retry_url, merchant_url) = if status == "success" {
            (None, None)
        } else {
            self.retry_links(&profile, stored.order_id).await
        };
        Ok(PaymentStatus {
            status,
            amount_cents: text("amount_cents").parse().ok(),
            currency: text("currency"),
            transaction_id: txn_id,
            order_id: text("order"),
            merchant_order_id: obj
                .as_ref()
                .map(|o| stored_text(o.merchant_order_id()))
                .unwrap_or_default(),
            message: obj.map(|o| o.data.message).unwrap_or_default(),
            card,
            frame_ancestors: frame_ancestors_of(&profile),
            owner: PageOwner::of(&profile),
            decline_code: extra.decline_code,
            decline_subcode: extra.decline_subcode,
            retry_url,
            merchant_url,
        })
    }

    /// Where a payer whose payment failed can go: the order's intention's checkout while it
    /// can still be paid, and the intention's redirection URL.
    async fn retry_links(
        &self,
        profile: &PmProfile,
        order_id: i64,
    ) -> (Option<String>, Option<String>) {
        let Ok(Some(order)) = self.store.pm_order(order_id).await else {
            return (None, None);
        };
        let Some(iid) = order.intention_id.as_deref() else {
            return (None, None);
        };
        let Ok(Some(row)) = self.store.pm_intention(iid).await else {
            return (None, None);
        };
        let Ok(d) = doc::<super::intentions::IntentionDoc>(&row.doc, "intention") else {
            return (None, None);
        };
        let paid = d.status == "paid"
            || doc::<super::intentions::OrderDoc>(&order.doc, "order")
                .is_ok_and(|od| od.lock_when_paid && od.paid_amount_cents >= od.amount_cents);
        let retry = (!paid && row.expires_at > kassa_store::now_ms()).then(|| {
            let q: String = url::form_urlencoded::Serializer::new(String::new())
                .append_pair("publicKey", &profile.public_key)
                .append_pair("clientSecret", &row.client_secret)
                .finish();
            format!("{}/unifiedcheckout/?{q}", self.base_url)
        });
        let merchant = d
            .input
            .redirection_url
            .clone()
            .filter(|u| u.starts_with("https://") || u.starts_with("http://"));
        (retry, merchant)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn frame_ancestors_are_origins_only() {
        let ok = |v: &str| check_frame_ancestors(v).unwrap();
        assert_eq!(ok(""), None);
        assert_eq!(ok("  'none' "), None);
        assert_eq!(
            ok(" https://shop.example   https://*.shop.example "),
            Some("https://shop.example https://*.shop.example".into())
        );
        assert_eq!(ok("'self'"), Some("'self'".into()));
        assert_eq!(ok("*"), Some("*".into()));
        assert!(ok("http://127.0.0.1:8080").is_some());
        assert!(ok("http://localhost:*").is_some());
        assert!(ok("https://shop.example/").is_some());
        for bad in [
            "https://a.example; script-src *",
            "javascript:1",
            "https:",
            "https://",
            "https://a.example/path",
            "https://user@a.example",
            "https://a.example:0",
            "https://a.example:99999",
            "'none' https://a.example",
            "'unsafe-inline'",
            "data:",
            "https://a..example",
            "https://-a.example",
            "https://a.example?x=1",
            "ftp://a.example",
        ] {
            let e = check_frame_ancestors(bad).unwrap_err();
            assert_eq!(e.status, 400, "{bad}");
            assert!(e.body["frame_ancestors"].is_array(), "{bad}");
        }
        assert!(check_frame_ancestors(&"https://a.example ".repeat(40)).is_err());
    }
}
