//! What `/v1/paymentwall/…` answers: projects, the Test Pingback Tool's report, subscriptions and
//! paid orders.

use std::collections::BTreeMap;

use serde::Deserialize;
use serde_json::Value;
use utoipa::ToSchema;

use super::ListObject;

/// A Paymentwall project.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ProjectObject {
    /// `pwp_…`
    pub id: String,
    /// Always `paymentwall.project`.
    pub object: String,
    pub name: String,
    /// The test project key widgets and signed links name (`key=`): test payments (sandbox).
    pub project_key: String,
    /// The live project key: links signed with it (and the live secret key) are live payments
    /// through the merchant's processor account. Null for a project made before live keys
    /// existed, until an update with `new_live_keys: true`.
    #[schema(required = true)]
    pub live_project_key: Option<String>,
    pub api_type: ApiType,
    /// Where pingbacks go.
    #[schema(required = true)]
    pub pingback_url: Option<String>,
    /// Where live payments' pingbacks go; null: to `pingback_url`.
    #[schema(required = true)]
    pub live_pingback_url: Option<String>,
    /// 1, 2 or 3.
    pub pingback_sign_version: i64,
    /// Payment widget codes, e.g. `p1_1`.
    pub widgets: Vec<String>,
    /// Payment system ids by country code (`*`: every other country).
    pub payment_systems: BTreeMap<String, Vec<String>>,
    /// The Test payment method is offered on the payment page.
    pub test_method: bool,
    /// Extra pingback parameters: name → `OWN` or a macro.
    pub custom_pingback: BTreeMap<String, String>,
    /// Origins allowed to frame the payment page; null: any.
    #[schema(required = true)]
    pub frame_ancestors: Option<String>,
    pub settings: ProjectSettingsObject,
    /// Unix seconds.
    pub created: i64,
    /// The project's test secret key: only in the answer of create.
    pub secret_key: Option<String>,
    /// The project's live secret key: only in the answer of create and of an update with
    /// `new_live_keys: true`.
    pub live_secret_key: Option<String>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum ApiType {
    DigitalGoods,
    VirtualCurrency,
    Cart,
}

/// A project's further settings.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ProjectSettingsObject {
    /// The virtual currency's name (Virtual Currency API).
    pub vc_name: String,
    /// Virtual currency per major unit paid, a decimal.
    pub vc_rate: String,
    /// How long a payment held for risk review waits for its verdict.
    pub risk_review_delay_seconds: u64,
    /// How long after a failed renewal it is tried again (twice, then the subscription stops).
    pub renewal_retry_seconds: u64,
    /// A signed link older than this is refused as expired.
    pub link_max_age_seconds: u64,
    /// The payment page posts its client-side events to the parent window.
    pub client_callbacks: bool,
}

/// The settings a create or an update may give; absent ones keep their value (or default).
// Request only: unknown settings are ignored, so this one does not refuse them.
#[derive(Debug, ToSchema)]
pub struct ProjectSettingsFields {
    /// Default `Coins`.
    pub vc_name: Option<String>,
    /// A positive decimal, default `100`.
    pub vc_rate: Option<String>,
    /// Default 120.
    pub risk_review_delay_seconds: Option<u64>,
    /// Default 86400.
    pub renewal_retry_seconds: Option<u64>,
    /// Default 3600.
    pub link_max_age_seconds: Option<u64>,
    /// Default true.
    pub client_callbacks: Option<bool>,
}

/// Every project of the account (without secret keys).
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ProjectList {
    pub object: ListObject,
    /// `/v1/paymentwall/projects`
    pub url: String,
    /// Always false: the list is complete.
    pub has_more: bool,
    pub data: Vec<ProjectObject>,
}

/// What the Test Pingback Tool sent and how the merchant answered.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct TestPingbackReport {
    /// The pingback URL with its query.
    pub url: String,
    /// The query alone.
    pub query: String,
    /// What the signature was computed over.
    pub signature_base_string: String,
    /// 1, 2 or 3.
    pub sign_version: u8,
    /// HTTP 200 with the body `OK`.
    pub success: bool,
    /// The merchant's answer; null when none came.
    #[schema(required = true)]
    pub response: Option<PingbackResponse>,
    /// Why it was not a success; null when it was.
    #[schema(required = true)]
    pub error: Option<String>,
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct PingbackResponse {
    /// HTTP status.
    pub status: u16,
    /// The first 1000 characters of the body.
    pub body: String,
}

/// A subscription bought through a signed link.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct PwSubscriptionObject {
    /// `pws_…`
    pub id: String,
    /// Always `paymentwall.subscription`.
    pub object: String,
    /// The project (`pwp_…`).
    pub project: String,
    /// The merchant's user id.
    pub uid: String,
    pub status: PwSubscriptionStatus,
    pub phase: PwPhase,
    pub plan: PlanObject,
    /// Successful payments so far.
    pub payments: i64,
    /// Unix seconds, on the subscription's clock.
    #[schema(required = true)]
    pub current_period_end: Option<i64>,
    /// When the scheduler acts next (renewal, retry or expiry), Unix seconds on the
    /// subscription's clock.
    #[schema(required = true)]
    pub next_attempt_at: Option<i64>,
    /// Failed renewal attempts of the current period.
    pub failed_attempts: i64,
    /// How far the subscription's test clock runs ahead of real time.
    pub test_clock_offset_seconds: i64,
    pub is_test: bool,
    /// Unix seconds.
    pub created: i64,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum PwSubscriptionStatus {
    /// Renews at the end of each period.
    Active,
    /// No more renewals; paid until `current_period_end`.
    Cancelled,
    /// The paid term ended.
    Expired,
    /// Its renewal failed three times.
    Failed,
}

/// Which product the current period is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum PwPhase {
    Trial,
    Main,
}

/// What a subscription bills.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct PlanObject {
    /// Billed every period (after the trial, if there is one).
    pub main: PlanItem,
    pub period: PlanPeriod,
    /// Renews (else it expires after one period).
    pub recurring: bool,
    /// A trial billed once first, for its own period: a pair `[item, period]`.
    #[schema(required = true, value_type = Option<Vec<PlanPart>>, min_items = 2, max_items = 2)]
    pub trial: Option<(PlanItem, PlanPeriod)>,
}

/// One half of a trial's `[item, period]` pair. (Described as either, not as a tuple, because
/// client generators do not read `prefixItems`.)
#[derive(Debug, Deserialize, ToSchema)]
#[serde(untagged)]
pub enum PlanPart {
    Item(PlanItem),
    Period(PlanPeriod),
}

/// One priced product.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct PlanItem {
    /// The merchant's product id (the pingback's `goodsid`).
    pub external_id: String,
    pub name: String,
    /// Minor units.
    pub amount: i64,
    /// Upper-case ISO 4217 code as the link gave it.
    pub currency: String,
}

/// A billing period.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct PlanPeriod {
    pub length: u32,
    pub unit: PeriodUnit,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum PeriodUnit {
    Day,
    Week,
    Month,
    Year,
}

/// A project's subscriptions.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct PwSubscriptionList {
    pub object: ListObject,
    /// `/v1/paymentwall/projects/{id}/subscriptions`
    pub url: String,
    /// Always false: the list is complete.
    pub has_more: bool,
    pub data: Vec<PwSubscriptionObject>,
}

/// A paid order: its Paymentwall payment object, the Kassa payment behind it and the delivery
/// confirmations the merchant sent.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct PwPaymentRecord {
    pub payment: PwPayment,
    /// The Kassa payment intent (`pi_…`).
    pub payment_intent: String,
    /// Oldest first.
    pub delivery_confirmations: Vec<DeliveryConfirmation>,
}

/// Paymentwall's payment object (also what the payment page posts as `paymentSuccess`).
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct PwPayment {
    /// Always `payment`.
    pub object: String,
    /// The order's `ref`.
    #[schema(required = true)]
    pub id: Option<String>,
    /// Unix seconds.
    pub created: i64,
    /// A decimal in major units, e.g. `9.99`.
    pub amount: String,
    /// Upper-case ISO 4217 code.
    pub currency: String,
    /// Some or all of it was refunded.
    pub refunded: bool,
    pub risk: PwRisk,
    /// The merchant's user id.
    pub uid: String,
    /// The product id(s), comma-separated for a cart; empty for virtual currency.
    pub product_id: String,
    /// The payment system (`ps`) it was paid with.
    #[schema(required = true)]
    pub payment_system: Option<String>,
    /// Subscription orders only.
    pub subscription: Option<PwPaymentSubscription>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum PwRisk {
    /// Held for a risk review.
    Pending,
    Approved,
    /// The risk review declined it.
    Declined,
}

/// The subscription an order belongs to, as Paymentwall shows it (flags are 0 or 1).
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct PwPaymentSubscription {
    /// Always `subscription`.
    pub object: String,
    /// `pws_…`
    pub id: String,
    pub period: PeriodUnit,
    /// Periods of `period` per billing period.
    pub period_duration: u32,
    /// Always null: no limit.
    #[schema(required = true)]
    pub payments_limit: Option<i64>,
    pub is_trial: u8,
    pub started: u8,
    pub expired: u8,
    pub active: u8,
    /// Unix seconds.
    pub date_started: i64,
    /// Unix seconds of the next renewal, while active.
    #[schema(required = true)]
    pub date_next: Option<i64>,
}

/// A Delivery Confirmation API submission.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct DeliveryConfirmation {
    pub id: String,
    /// As the merchant sent it, e.g. `delivered`.
    pub status: String,
    /// The submitted fields.
    #[schema(value_type = Object)]
    pub payload: Value,
    /// Unix seconds.
    pub created: i64,
}

#[cfg(test)]
mod tests {
    use super::super::tests::pinned;
    use super::*;
    use crate::native::list_body;
    use crate::native::paymentwall::{confirmation_json, payment_record_json, test_pingback_json};
    use kassa_paymentwall::SignVersion;
    use kassa_service::paymentwall::product::{Item, Period, PeriodUnit as Unit, Plan};
    use kassa_service::paymentwall::{subscription_json, ApiType as Api, Project, TestPingback};
    use kassa_store::{PwDeliveryConfirmation, PwProject, PwSubscription};
    use serde_json::json;

    fn project() -> Project {
        Project {
            row: PwProject {
                id: "pwp_1".into(),
                merchant_id: "acct_1".into(),
                name: "Game".into(),
                project_key: "k".into(),
                secret_enc: "x".into(),
                api_type: "digital_goods".into(),
                pingback_url: None,
                pingback_sign_version: 3,
                widgets: "[]".into(),
                payment_systems: "{}".into(),
                test_method: true,
                custom_pingback: "[]".into(),
                frame_ancestors: None,
                created_at: 1_700_000_000_000,
                settings: "{}".into(),
                secret_hash: None,
                live_project_key: Some("lk".into()),
                live_secret_enc: Some("y".into()),
                live_secret_hash: None,
                live_pingback_url: None,
            },
            mode: kassa_core::scope::Mode::Test,
            api_type: Api::DigitalGoods,
            secret: "s".into(),
            live_secret: Some("ls".into()),
            widgets: vec!["p1_1".into()],
            payment_systems: [("*".to_string(), vec!["cc".to_string()])].into(),
            custom_pingback: vec![("order".into(), "OWN".into())],
            settings: Default::default(),
        }
    }

    fn item(id: &str) -> Item {
        Item {
            external_id: id.into(),
            name: "Plan".into(),
            amount: 999,
            currency: "USD".into(),
        }
    }

    fn subscription(plan: &Plan) -> PwSubscription {
        PwSubscription {
            id: "pws_1".into(),
            project_id: "pwp_1".into(),
            merchant_id: "acct_1".into(),
            initial_order_id: "o_1".into(),
            uid: "user7".into(),
            status: "active".into(),
            plan: serde_json::to_string(plan).unwrap(),
            phase: "trial".into(),
            payments: 1,
            failed_attempts: 0,
            clock_offset_ms: 0,
            is_test: true,
            created_at: 1_700_000_000_000,
            updated_at: 1_700_000_000_000,
            version: 0,
            subscription_id: Some("sub_1".into()),
            livemode: false,
        }
    }

    /// The core subscription behind it, renewing on 2023-11-15.
    fn core() -> kassa_core::subscription::Subscription {
        use kassa_core::subscription::{Subscription, SubscriptionStatus};
        let usd = kassa_core::money::Currency::parse("usd").unwrap();
        let mut s = Subscription {
            id: "sub_1".into(),
            merchant_id: "acct_1".into(),
            livemode: false,
            customer: "cus_1".into(),
            test_clock: None,
            status: SubscriptionStatus::Incomplete,
            default_payment_method: None,
            items: Vec::new(),
            currency: usd,
            billing_cycle_anchor: 0,
            cycle: -1,
            current_period_start: 0,
            current_period_end: 0,
            trial_start: None,
            trial_end: None,
            trial_will_end_sent: false,
            cancel_at_period_end: false,
            cancel_at: None,
            canceled_at: None,
            ended_at: None,
            latest_invoice: None,
            retry_at: None,
            retry_policy: Default::default(),
            metadata: Default::default(),
            next_action_at: None,
            created: 0,
            updated: 0,
            version: 0,
        };
        s.start_paid(1_700_000_000_000, 1_700_086_400_000);
        s
    }

    /// The documented schemas are the objects the handlers answer (unknown fields refused).
    #[test]
    fn schemas_match_the_objects() {
        let mut p = project();
        let o: ProjectObject = pinned(&p.to_json(true));
        assert_eq!(o.secret_key.as_deref(), Some("s"));
        assert_eq!(o.live_secret_key.as_deref(), Some("ls"));
        assert_eq!(o.live_project_key.as_deref(), Some("lk"));
        // A new live pair shows the live secret alone.
        let o: ProjectObject = pinned(&p.to_json_with_live_secret());
        assert_eq!(o.live_secret_key.as_deref(), Some("ls"));
        assert!(o.secret_key.is_none());
        p.row.pingback_url = Some("https://game.test/pb".into());
        p.row.live_pingback_url = Some("https://game.test/live-pb".into());
        p.row.frame_ancestors = Some("https://game.test".into());
        for api in [Api::DigitalGoods, Api::VirtualCurrency, Api::Cart] {
            p.api_type = api;
            let o: ProjectObject = pinned(&p.to_json(false));
            assert!(o.secret_key.is_none() && o.live_secret_key.is_none());
        }
        // A project from before live keys: no live key yet.
        p.row.live_project_key = None;
        p.live_secret = None;
        let o: ProjectObject = pinned(&p.to_json(true));
        assert!(o.live_project_key.is_none() && o.live_secret_key.is_none());
        let l: ProjectList = pinned(&list_body("/x", vec![p.to_json(false)], 1));
        assert_eq!(l.data.len(), 1);

        for (ok, sign_version) in [(true, SignVersion::V1), (false, SignVersion::V3)] {
            let t = TestPingback {
                url: "https://game.test/pb?uid=1".into(),
                query: "uid=1".into(),
                base_string: "uid=1s".into(),
                sign_version,
            };
            let (response, error) = if ok {
                (Some((200, "OK".to_string())), None)
            } else {
                (
                    None,
                    Some("Pingback wasn't successful: timeout.".to_string()),
                )
            };
            let r: TestPingbackReport = pinned(&test_pingback_json(&t, response, error));
            assert_eq!(r.success, ok);
        }

        let trial = Plan {
            main: item("main"),
            period: Period {
                length: 1,
                unit: Unit::Month,
            },
            recurring: true,
            trial: Some((
                item("trial"),
                Period {
                    length: 7,
                    unit: Unit::Day,
                },
            )),
        };
        let plain = Plan {
            trial: None,
            ..trial.clone()
        };
        for plan in [&trial, &plain] {
            let mut s = subscription(plan);
            for (status, phase) in [("active", "trial"), ("cancelled", "main")] {
                s.status = status.into();
                s.phase = phase.into();
                let o: PwSubscriptionObject = pinned(&subscription_json(&s, Some(&core())));
                assert_eq!(o.plan.trial.is_some(), plan.trial.is_some());
            }
            s.status = "expired".into();
            let mut ended = core();
            ended.end(1_700_086_400_000, 1_700_086_400_000);
            let _: PwSubscriptionObject = pinned(&subscription_json(&s, Some(&ended)));
            let _: PwSubscriptionObject = pinned(&subscription_json(&s, None));
            s.status = "failed".into();
            let l: PwSubscriptionList =
                pinned(&list_body("/x", vec![subscription_json(&s, None)], 1));
            assert_eq!(l.data[0].status, PwSubscriptionStatus::Failed);
        }

        // The payment object as `pw_payment_object` builds it (pinned against the running
        // service by the black-box tests too).
        let payment = json!({"object": "payment", "id": "t123", "created": 1_700_000_000,
            "amount": "9.99", "currency": "USD", "refunded": false, "risk": "approved",
            "uid": "user7", "product_id": "main", "payment_system": "cc",
            "subscription": {"object": "subscription", "id": "pws_1", "period": "month",
                "period_duration": 1, "payments_limit": null, "is_trial": 0, "started": 1,
                "expired": 0, "active": 1, "date_started": 1_700_000_000,
                "date_next": 1_702_600_000}});
        let confirmation = PwDeliveryConfirmation {
            id: "dc_1".into(),
            project_id: "pwp_1".into(),
            payment_ref: "t123".into(),
            status: "delivered".into(),
            payload: r#"{"status":"delivered"}"#.into(),
            created_at: 1_700_000_000_000,
        };
        let record = payment_record_json(payment, "pi_1", vec![confirmation_json(&confirmation)]);
        let r: PwPaymentRecord = pinned(&record);
        assert_eq!(r.payment.risk, PwRisk::Approved);
        assert_eq!(r.delivery_confirmations.len(), 1);
    }
}
