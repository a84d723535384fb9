//! Pingbacks: rendered once, in the same transaction as the change they report, and queued in
//! the core outbox (channel `pingback`), so every retry sends the byte-identical query and a
//! pingback exists exactly when its change was committed.

use crate::Paymentwall;
use kassa_core::events::EventType;
use kassa_core::intent::{PaymentIntent, Refund};
use kassa_paymentwall::{
    Pingback, SignVersion, REASON_CANCELLED_ORDER, REASON_PARTIALLY_REVERSED,
    TYPE_AUTHORIZATION_VOIDED, TYPE_NEGATIVE, TYPE_PAYMENT, TYPE_RISK_REVIEW_ACCEPTED,
    TYPE_RISK_REVIEW_DECLINED, TYPE_RISK_REVIEW_PENDING,
};
use kassa_store::{PwOrder, PwSubscription, Tx};
use rand::Rng;

use super::product::{ApiType, Product};
use super::projects::Project;
use crate::{Result, ServiceError};

/// What a pingback reports beyond the order itself.
#[derive(Debug, Clone, Default)]
pub struct PingbackFacts {
    pub reason: Option<u8>,
    /// The reference of the subscription's first payment (`UNIQUE_REF_INITIAL`).
    pub initial_ref: Option<String>,
    /// `refund` or `chargeback` for type 2.
    pub chargeback_type: Option<&'static str>,
    pub now_ms: i64,
}

/// A new transaction reference: `t<unix seconds>` for test payments (the next free second when
/// taken), `b<10 digits>` otherwise.
pub(crate) async fn new_ref(tx: &mut Tx, is_test: bool, now_ms: i64) -> Result<String> {
    if is_test {
        let mut t = now_ms / 1000;
        loop {
            let r = format!("t{t}");
            if !tx.pw_ref_taken(&r).await? {
                return Ok(r);
            }
            t += 1;
        }
    }
    loop {
        let n: u64 = rand::thread_rng().gen_range(1_000_000_000..10_000_000_000);
        let r = format!("b{n}");
        if !tx.pw_ref_taken(&r).await? {
            return Ok(r);
        }
    }
}

fn get<'a>(params: &'a [(String, String)], name: &str) -> Option<&'a str> {
    params
        .iter()
        .find(|(k, _)| k == name)
        .map(|(_, v)| v.as_str())
}

/// `YYYY-MM-DD HH:MM:SS` (UTC), as Paymentwall writes times.
pub use kassa_core::calendar::datetime_utc;

/// Builds the pingback of `type_code` for a paid order.
pub(crate) fn build(
    project: &Project,
    order: &PwOrder,
    product: &Product,
    sub: Option<&PwSubscription>,
    type_code: u16,
    r#ref: &str,
    facts: &PingbackFacts,
) -> Pingback {
    let negative = type_code == TYPE_NEGATIVE;
    let mut pb = Pingback {
        api_type: project.api_type.wire(),
        uid: order.uid.clone(),
        type_code,
        r#ref: r#ref.to_string(),
        goodsid: None,
        goodsids: Vec::new(),
        currency: None,
        slength: None,
        speriod: None,
        reason: facts.reason,
        // Paymentwall's test flag: the Test method, `test_mode=1` or `evaluation=1`, which a
        // live order never has. A live payment's pingback carries no `is_test`, as
        // Paymentwall's own live payments (the parameter is sent only for test payments).
        is_test: order.is_test && !order.livemode,
        custom: Vec::new(),
        sign_version: project.sign_version(),
    };
    let (price, price_currency) = product.first_charge();
    let (price, price_currency) = (price, price_currency.to_string());
    match product {
        Product::Fixed { item } => {
            pb.goodsid = Some(item.external_id.clone());
            pb.slength = Some(String::new());
            pb.speriod = Some(String::new());
        }
        Product::Subscription { plan } => {
            // The product this order paid for: the trial (first order of a trial plan) or the
            // main product.
            let initial = sub.is_none_or(|s| s.initial_order_id == order.id);
            let (item, period) = super::subscriptions::phase_of(plan, initial);
            pb.goodsid = Some(item.external_id.clone());
            let len = i64::from(period.length);
            pb.slength = Some(if negative { -len } else { len }.to_string());
            pb.speriod = Some(period.unit.as_str().to_string());
        }
        Product::Cart { items, .. } => {
            pb.goodsids = items.iter().map(|i| i.external_id.clone()).collect();
        }
        Product::VirtualCurrency { virtual_amount, .. } => {
            pb.currency = Some(if negative {
                format!("-{virtual_amount}")
            } else {
                virtual_amount.clone()
            });
        }
    }
    let params: Vec<(String, String)> = serde_json::from_str(&order.params).unwrap_or_default();
    let money = |minor: i64, code: &str| {
        kassa_core::money::Currency::parse(code)
            .ok()
            .and_then(|c| kassa_core::money::Money::new(minor, c).ok())
            .map(|m| m.to_decimal_string())
            .unwrap_or_default()
    };
    for (name, value) in &project.custom_pingback {
        let v = match value.as_str() {
            "OWN" => match get(&params, name) {
                Some(v) => v.to_string(),
                None => continue,
            },
            "CHARGEBACK_REASON" => facts.reason.map(|r| r.to_string()).unwrap_or_default(),
            "CHARGEBACK_TYPE" => facts.chargeback_type.unwrap_or("").to_string(),
            "COUNTRY_CODE" => order.country.clone().unwrap_or_default(),
            "CURRENCY_CODE" | "PRODUCT_CURRENCY_CODE" => price_currency.clone(),
            "PAYMENT_DATETIME_UTC" => datetime_utc(facts.now_ms),
            "PAYMENT_TYPE" => order.method.clone().unwrap_or_default(),
            "PRODUCT_PRICE" | "REVENUE" => money(price, &price_currency),
            "RECURRING_PAYMENT" => {
                if sub.is_some_and(|s| s.initial_order_id != order.id) {
                    "1".into()
                } else {
                    "0".into()
                }
            }
            "SUBSCRIPTION_ID" => sub.map(|s| s.id.clone()).unwrap_or_default(),
            "UNIQUE_REF" => format!("{}_{type_code}", r#ref),
            "UNIQUE_REF_INITIAL" => facts
                .initial_ref
                .clone()
                .unwrap_or_else(|| r#ref.to_string()),
            "USER_ID" => order.uid.clone(),
            _ => continue,
        };
        pb.custom.push((name.clone(), v));
    }
    pb
}

/// The full URL a pingback is sent to: the project's pingback URL plus the signed query.
pub(crate) fn url_for(pingback_url: &str, query: &str) -> String {
    let sep = if pingback_url.contains('?') { '&' } else { '?' };
    format!("{pingback_url}{sep}{query}")
}

impl Paymentwall<'_> {
    /// Queues pingback `type_code` for `order` on `event_id`, inside `tx`: to the pingback URL
    /// of the order's mode, signed with that mode's secret (`project` is reached in the order's
    /// mode). Nothing is sent when the project has no pingback URL (the native events still
    /// are).
    #[allow(clippy::too_many_arguments)]
    pub(crate) async fn queue_pingback(
        &self,
        tx: &mut Tx,
        project: &Project,
        order: &PwOrder,
        sub: Option<&PwSubscription>,
        type_code: u16,
        r#ref: &str,
        facts: &PingbackFacts,
        event_id: &str,
    ) -> Result<()> {
        debug_assert_eq!(project.scope(), order.scope());
        let Some(url) = project.pingback_url() else {
            return Ok(());
        };
        let product: Product = serde_json::from_str(&order.product).map_err(|_| {
            ServiceError::Store(kassa_store::StoreError::Corrupt(format!(
                "order {} product",
                order.id
            )))
        })?;
        let pb = build(project, order, &product, sub, type_code, r#ref, facts);
        let full = url_for(url, &pb.query_string(project.signing_secret()));
        tx.insert_request_delivery(
            &order.scope(),
            kassa_store::Channel::Pingback,
            &project.row.id,
            event_id,
            &full,
            facts.now_ms,
        )
        .await?;
        Ok(())
    }

    /// Called for every intent event written: turns the ones a Paymentwall merchant hears about
    /// into pingbacks (payment 0, risk review 200/201/202, void 203) and starts a subscription
    /// on its first payment. Intents that did not come from a signed link are left alone.
    pub(crate) async fn after_intent_events(
        &self,
        tx: &mut Tx,
        pi: &PaymentIntent,
        events: &[(EventType, String)],
        now: i64,
    ) -> Result<()> {
        let relevant = events.iter().any(|(t, _)| {
            matches!(
                t,
                EventType::PaymentIntentSucceeded
                    | EventType::PaymentIntentAmountCapturableUpdated
                    | EventType::PaymentIntentCanceled
                    | EventType::PaymentIntentPaymentFailed
            )
        });
        if !relevant {
            return Ok(());
        }
        let Some(mut order) = tx.pw_order_by_intent(&pi.id).await? else {
            return Ok(());
        };
        let project = self
            .project_by_id(&order.project_id, order.scope().mode())
            .await?;
        for (ty, event_id) in events {
            let facts = PingbackFacts {
                now_ms: now,
                ..Default::default()
            };
            match ty {
                EventType::PaymentIntentSucceeded => {
                    let type_code = match &order.r#ref {
                        // Held for review earlier: the review accepted it.
                        Some(_) => TYPE_RISK_REVIEW_ACCEPTED,
                        None => {
                            let r = new_ref(tx, order.is_test, now).await?;
                            tx.set_pw_order_ref(&order.id, &r).await?;
                            order.r#ref = Some(r);
                            TYPE_PAYMENT
                        }
                    };
                    let sub = self
                        .subscription_after_payment(tx, &project, &order, pi, now)
                        .await?;
                    if let Some(s) = &sub {
                        order.subscription_id = Some(s.id.clone());
                    }
                    let r = order.r#ref.clone().unwrap_or_default();
                    let facts = PingbackFacts {
                        initial_ref: self.initial_ref(tx, sub.as_ref()).await?,
                        ..facts
                    };
                    self.queue_pingback(
                        tx,
                        &project,
                        &order,
                        sub.as_ref(),
                        type_code,
                        &r,
                        &facts,
                        event_id,
                    )
                    .await?;
                }
                EventType::PaymentIntentAmountCapturableUpdated => {
                    if order.r#ref.is_some() {
                        continue;
                    }
                    let r = new_ref(tx, order.is_test, now).await?;
                    tx.set_pw_order_ref(&order.id, &r).await?;
                    order.r#ref = Some(r.clone());
                    self.queue_pingback(
                        tx,
                        &project,
                        &order,
                        None,
                        TYPE_RISK_REVIEW_PENDING,
                        &r,
                        &facts,
                        event_id,
                    )
                    .await?;
                }
                EventType::PaymentIntentCanceled => {
                    // Only an authorization the merchant heard about (200) gets a pingback.
                    let Some(r) = order.r#ref.clone() else {
                        continue;
                    };
                    let type_code = if pi.cancellation_reason.as_deref() == Some("fraudulent") {
                        TYPE_RISK_REVIEW_DECLINED
                    } else {
                        TYPE_AUTHORIZATION_VOIDED
                    };
                    self.queue_pingback(
                        tx, &project, &order, None, type_code, &r, &facts, event_id,
                    )
                    .await?;
                }
                _ => {}
            }
        }
        Ok(())
    }

    /// Called when a refund succeeded: a type 2 pingback with the payment's own `ref`, reason 9
    /// (cancelled order) for a refund, or the reason the refund carries (chargeback helper).
    pub(crate) async fn after_refund(
        &self,
        tx: &mut Tx,
        pi: &PaymentIntent,
        refund: &Refund,
        event_id: &str,
        now: i64,
    ) -> Result<()> {
        let Some(order) = tx.pw_order_by_intent(&pi.id).await? else {
            return Ok(());
        };
        let Some(r) = order.r#ref.clone() else {
            return Ok(());
        };
        let project = self
            .project_by_id(&order.project_id, order.scope().mode())
            .await?;
        let sub = match &order.subscription_id {
            Some(id) => tx.pw_subscription(id).await?,
            None => None,
        };
        // The bank's reason for a chargeback; 10 for a partial refund, else 9 (cancelled order).
        let reason =
            refund
                .kind
                .chargeback_reason()
                .unwrap_or(if refund.amount < pi.amount_received {
                    REASON_PARTIALLY_REVERSED
                } else {
                    REASON_CANCELLED_ORDER
                });
        let facts = PingbackFacts {
            reason: Some(reason),
            chargeback_type: Some(if reason == REASON_CANCELLED_ORDER {
                "refund"
            } else {
                "chargeback"
            }),
            initial_ref: self.initial_ref(tx, sub.as_ref()).await?,
            now_ms: now,
        };
        self.queue_pingback(
            tx,
            &project,
            &order,
            sub.as_ref(),
            TYPE_NEGATIVE,
            &r,
            &facts,
            event_id,
        )
        .await
    }

    pub(crate) async fn initial_ref(
        &self,
        tx: &mut Tx,
        sub: Option<&PwSubscription>,
    ) -> Result<Option<String>> {
        match sub {
            Some(s) => Ok(tx
                .pw_order(&s.initial_order_id)
                .await?
                .and_then(|o| o.r#ref)),
            None => Ok(None),
        }
    }
}

/// The Test Pingback Tool: a pingback of the project's kind with the given values, `is_test=1`,
/// to the pingback URL of the mode the project was reached in, signed with that mode's secret.
#[derive(Debug, Clone)]
pub struct TestPingback {
    pub url: String,
    pub query: String,
    pub base_string: String,
    pub sign_version: SignVersion,
}

pub fn test_pingback(
    project: &Project,
    type_code: u16,
    uid: &str,
    goodsid: &str,
    r#ref: Option<&str>,
    reason: Option<u8>,
) -> Option<TestPingback> {
    let url = project.pingback_url()?.to_string();
    let r = r#ref
        .map(str::to_string)
        .unwrap_or_else(|| format!("t{}", kassa_store::now_ms() / 1000));
    let mut pb = Pingback {
        api_type: project.api_type.wire(),
        uid: uid.to_string(),
        type_code,
        r#ref: r,
        goodsid: None,
        goodsids: Vec::new(),
        currency: None,
        slength: None,
        speriod: None,
        reason,
        is_test: true,
        custom: Vec::new(),
        sign_version: project.sign_version(),
    };
    match project.api_type {
        ApiType::DigitalGoods => {
            pb.goodsid = Some(goodsid.to_string());
            pb.slength = Some(String::new());
            pb.speriod = Some(String::new());
        }
        ApiType::Cart => pb.goodsids = vec![goodsid.to_string()],
        ApiType::VirtualCurrency => pb.currency = Some("100".into()),
    }
    let query = pb.query_string(project.signing_secret());
    Some(TestPingback {
        url: url_for(&url, &query),
        query,
        base_string: pb.base_string(),
        sign_version: pb.effective_sign_version(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn utc_datetimes() {
        assert_eq!(datetime_utc(0), "1970-01-01 00:00:00");
        // 2017-04-25T04:46:30Z
        assert_eq!(datetime_utc(1_493_095_590_000), "2017-04-25 04:46:30");
        assert_eq!(datetime_utc(1_709_251_199_000), "2024-02-29 23:59:59");
    }

    fn project(mode: kassa_core::scope::Mode) -> Project {
        Project {
            row: kassa_store::PwProject {
                id: "pwp_1".into(),
                merchant_id: "acct_1".into(),
                name: "Game".into(),
                project_key: "k".into(),
                secret_enc: "x".into(),
                api_type: "digital_goods".into(),
                pingback_url: Some("https://shop.test/pb".into()),
                pingback_sign_version: 3,
                widgets: "[]".into(),
                payment_systems: "{}".into(),
                test_method: true,
                custom_pingback: "[]".into(),
                frame_ancestors: None,
                created_at: 1,
                settings: "{}".into(),
                secret_hash: None,
                live_project_key: Some("lk".into()),
                live_secret_enc: Some("y".into()),
                live_secret_hash: None,
                live_pingback_url: None,
            },
            mode,
            api_type: ApiType::DigitalGoods,
            secret: "test-secret".into(),
            live_secret: Some("live-secret".into()),
            widgets: Vec::new(),
            payment_systems: Default::default(),
            custom_pingback: Vec::new(),
            settings: Default::default(),
        }
    }

    fn order(livemode: bool, is_test: bool) -> PwOrder {
        PwOrder {
            id: "pwo_1".into(),
            project_id: "pwp_1".into(),
            merchant_id: "acct_1".into(),
            payment_intent_id: "pi_1".into(),
            uid: "u1".into(),
            widget: "p1_1".into(),
            params: "[]".into(),
            product: "{}".into(),
            r#ref: None,
            is_test,
            created_at: 1,
            link_hash: None,
            country: None,
            method: None,
            subscription_id: None,
            livemode,
        }
    }

    #[test]
    fn live_orders_carry_no_test_flag_and_use_their_modes_secret_and_url() {
        use kassa_core::scope::Mode;
        let product = Product::Fixed {
            item: super::super::product::Item {
                external_id: "gold".into(),
                name: "Gold".into(),
                amount: 999,
                currency: "USD".into(),
            },
        };
        let facts = PingbackFacts::default();
        // Paymentwall's test flag: a test order paid with the Test method says is_test=1 …
        let pb = build(
            &project(Mode::Test),
            &order(false, true),
            &product,
            None,
            0,
            "t1",
            &facts,
        );
        assert!(pb.is_test);
        assert!(pb.query_string("test-secret").contains("is_test=1"));
        // … a live order never does (as Paymentwall's live payments: no is_test at all).
        let live = project(Mode::Live);
        let pb = build(&live, &order(true, true), &product, None, 0, "b1", &facts);
        assert!(!pb.is_test);
        assert!(!pb.query_string("live-secret").contains("is_test"));
        // The live mode signs with the live secret and sends to the live URL when it has one.
        assert_eq!(live.signing_secret(), "live-secret");
        assert_eq!(project(Mode::Test).signing_secret(), "test-secret");
        assert_eq!(live.pingback_url(), Some("https://shop.test/pb"));
        let mut own = live.clone();
        own.row.live_pingback_url = Some("https://shop.test/live".into());
        assert_eq!(own.pingback_url(), Some("https://shop.test/live"));
        assert_eq!(
            own.clone().in_mode(Mode::Test).pingback_url(),
            Some("https://shop.test/pb")
        );
        assert_eq!(own.scope(), kassa_core::scope::Scope::live("acct_1"));
    }

    #[test]
    fn pingback_urls_keep_an_existing_query() {
        assert_eq!(url_for("http://a/pb", "x=1"), "http://a/pb?x=1");
        assert_eq!(url_for("http://a/pb?k=v", "x=1"), "http://a/pb?k=v&x=1");
    }
}
