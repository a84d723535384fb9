//! The registration-time egress check: every URL Kassa fetches later (webhook endpoints,
//! Paymentwall pingback URLs, Paymob processed callbacks, intention `notification_url`s,
//! subscription `webhook_url`s) is checked when it is saved, with the policy the delivery
//! client enforces (kassa-egress), so a merchant learns at once why a URL will not be reached.

use serde_json::json;

use crate::paymob::{PmError, PmResult};
use crate::{Result, ServiceError, Services};

impl Services {
    /// Why the egress policy refuses `url` now, worded to follow the field's name
    /// ("resolves to a loopback address, which the egress policy refuses"), or `None`.
    pub async fn egress_refusal(&self, url: &str) -> Option<String> {
        self.notifier
            .egress()
            .policy()
            .check_registration(url)
            .await
            .err()
            .map(|r| r.to_string())
    }

    /// The native faces' check: 400 `url_refused` on `param` with the reason.
    pub(crate) async fn check_egress(&self, param: &str, url: &str) -> Result<()> {
        match self.egress_refusal(url).await {
            None => Ok(()),
            Some(reason) => Err(ServiceError::UrlRefused {
                param: param.to_string(),
                message: format!("{param} {reason}."),
            }),
        }
    }

    /// The Paymob faces' check: a field error (`{"field": ["reason"]}`, 400), like Paymob's
    /// own validation errors.
    pub(crate) async fn pm_check_egress(&self, field: &str, url: Option<&str>) -> PmResult<()> {
        let Some(url) = url.filter(|u| !u.is_empty()) else {
            return Ok(());
        };
        match self.egress_refusal(url).await {
            None => Ok(()),
            Some(reason) => Err(PmError::fields(
                json!({ field: [format!("The URL {reason}.")] }),
            )),
        }
    }
}
