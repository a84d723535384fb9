//! Opening a signed payment-page link (an order backed by a core payment intent) and paying it.

use crate::Paymentwall;
use kassa_core::events::EventType;
use kassa_core::intent::{IntentStatus, PaymentIntent};
use kassa_core::scope::Mode;
use kassa_core::secret::hash_api_key as sha256_hex;
use kassa_paymentwall::methods::{find, methods_for, PaymentSystem};
use kassa_paymentwall::{
    parse_query, verify_widget, widget_base, Ordering, Params, SignError, SignVersion,
};
use kassa_processor::PaymentMethodInput;
use kassa_store::{now_ms, PwOrder};

use super::product::{parse_product, ApiType, Product, ProductRules};
use super::projects::{is_payment_widget, Project};
use crate::{ConfirmParams, CreateIntentParams, Idem, Result, ServiceError};

/// Which path a link arrived on. `/api/` takes every API type (SDK routing quirks send some
/// widgets there); the others must match the project's API type.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LinkPath {
    Any,
    Subscription,
    Ps,
    Cart,
}

/// Why a link is refused; each is one of Paymentwall's error pages.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum LinkError {
    /// "Parameter key or uid is missing (error code 05)" — 400.
    MissingKeyOrUid,
    /// "It looks like you're not authorized to view this content." — 403: unknown key, bad or
    /// missing signature, expired timestamp; which of them, for the developer.
    NotAuthorized(LinkRefusal),
    /// The same refusal for a link naming a live project key: the page keeps to Paymentwall's
    /// text (no signed strings for whoever holds the link); the log says which check.
    NotAuthorizedLive(LinkRefusal),
    /// A link signed with a live key on a server where live mode cannot run
    /// (`livemode_disabled`): 403, with the code and why.
    LiveModeOff { code: &'static str, message: String },
    /// "This application is using X. The Widget URL should be different: …" — 400.
    WrongPath { api: ApiType },
    /// Anything else about the link — 400, with a message for the customer.
    Invalid(String),
}

/// Which check refused a link Paymentwall answers only "not authorized" for. For a test key (or
/// an unknown one) the page and the log say it to the developer; for a live key only the log
/// does ([`LinkError::NotAuthorizedLive`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum LinkRefusal {
    /// No project has this `key`.
    UnknownKey,
    /// The link has no `sign`.
    MissingSign,
    /// `sign` does not match: the strings that were signed (without the secret key) in the
    /// orderings Kassa accepts, for comparison with the merchant's own.
    WrongSignature {
        sign_version: u8,
        base_strings: Vec<String>,
    },
    /// `timestamp` is too old, in the future or malformed.
    Expired { max_age_seconds: u64 },
}

impl LinkRefusal {
    /// One line for the log and the page (no parameter values).
    pub fn check(&self) -> String {
        match self {
            LinkRefusal::UnknownKey => "no project has this key".into(),
            LinkRefusal::MissingSign => "the link has no sign parameter".into(),
            LinkRefusal::WrongSignature { sign_version, .. } => format!(
                "the sign parameter does not match a sign_version {sign_version} signature of \
                 the link's other parameters with the project's secret key"
            ),
            LinkRefusal::Expired { max_age_seconds } => format!(
                "timestamp is older than the project's link_max_age_seconds ({max_age_seconds} \
                 s), more than 5 minutes ahead, or not a Unix time"
            ),
        }
    }
}

impl From<SignError> for LinkError {
    fn from(e: SignError) -> Self {
        match e {
            SignError::MissingSign => LinkError::NotAuthorized(LinkRefusal::MissingSign),
            other => LinkError::Invalid(other.to_string()),
        }
    }
}

/// What a `sign_version` signature of `params` covers, without the secret key: the uid for v1,
/// the sorted `name=value` pairs in both orderings Kassa accepts for v2 and v3.
fn signed_strings(params: &Params) -> (u8, Vec<String>) {
    let version = SignVersion::from_param(get(params, "sign_version")).unwrap_or(SignVersion::V1);
    let bases = match version {
        SignVersion::V1 => vec![get(params, "uid").unwrap_or("").to_string()],
        SignVersion::V2 | SignVersion::V3 => {
            let flat = widget_base(params, Ordering::Flat);
            let nested = widget_base(params, Ordering::Nested);
            if flat == nested {
                vec![flat]
            } else {
                vec![flat, nested]
            }
        }
    };
    (version.as_u8(), bases)
}

fn get<'a>(params: &'a [(String, String)], name: &str) -> Option<&'a str> {
    params
        .iter()
        .find(|(k, _)| k == name)
        .map(|(_, v)| v.as_str())
}

/// The widget a link names, if the project has it: exactly, or by its base code (`p1_1` when
/// `p1` is configured, `p1` when `p1_1` is).
fn widget_allowed(project: &Project, widget: &str) -> bool {
    let base = |w: &str| w.split('_').next().unwrap_or("").to_string();
    project
        .widgets
        .iter()
        .any(|w| w == widget || base(w) == widget || *w == base(widget))
}

/// Is the Test method offered for this order? When the project's switch is on, or the link
/// asks for test mode (`test_mode=1` / `evaluation=1`, which need sign_version ≥ 2); never in
/// live mode, where every payment goes to the merchant's processor account.
fn test_method_on(project: &Project, params: &[(String, String)]) -> bool {
    project.mode == Mode::Test && (project.row.test_method || link_asks_test(params))
}

/// The link asks for Paymentwall's test mode (`test_mode=1` or `evaluation=1`).
fn link_asks_test(params: &[(String, String)]) -> bool {
    get(params, "test_mode") == Some("1") || get(params, "evaluation") == Some("1")
}

/// An order as the payment page needs it.
#[derive(Debug, Clone)]
pub struct OrderView {
    pub order: PwOrder,
    pub project: Project,
    pub intent: PaymentIntent,
    pub product: Product,
    pub methods: Vec<&'static PaymentSystem>,
    /// `ps` from the link when it names one method.
    pub preselected: Option<&'static PaymentSystem>,
    /// `success_url` with `$ref` replaced, once paid.
    pub success_url: Option<String>,
    pub failure_url: Option<String>,
    pub lang: Option<String>,
}

impl OrderView {
    pub fn param(&self, name: &str) -> Option<String> {
        let params: Vec<(String, String)> =
            serde_json::from_str(&self.order.params).unwrap_or_default();
        get(&params, name).map(str::to_string)
    }
}

fn http_url(u: &str) -> Option<String> {
    let parsed = url::Url::parse(u).ok()?;
    (matches!(parsed.scheme(), "http" | "https") && parsed.host_str().is_some() && u.len() <= 2048)
        .then(|| u.to_string())
}

impl Paymentwall<'_> {
    /// Opens a signed link: checks it as Paymentwall does and returns the order it pays,
    /// reusing the unpaid order of the same link (a refresh does not create a second payment).
    /// The key decides the mode: a link naming (and signed with) the project's live key opens a
    /// live order, refused where live mode cannot run.
    pub async fn open_link(
        &self,
        path: LinkPath,
        raw_query: &str,
        country: Option<String>,
    ) -> Result<std::result::Result<PwOrder, LinkError>> {
        let params = match parse_query(raw_query) {
            Ok(p) => p,
            Err(e) => return Ok(Err(LinkError::Invalid(e.to_string()))),
        };
        let (Some(key), Some(uid)) = (
            get(&params, "key").filter(|v| !v.is_empty()),
            get(&params, "uid").filter(|v| !v.is_empty()),
        ) else {
            return Ok(Err(LinkError::MissingKeyOrUid));
        };
        if uid.chars().count() > 64 || uid.chars().any(char::is_control) {
            return Ok(Err(LinkError::Invalid(
                "uid must be at most 64 characters.".into(),
            )));
        }
        let Some(project) = self.project_by_key(key).await? else {
            return Ok(Err(LinkError::NotAuthorized(LinkRefusal::UnknownKey)));
        };
        let live = project.mode == Mode::Live;
        let refused = |why: LinkRefusal| {
            if live {
                LinkError::NotAuthorizedLive(why)
            } else {
                LinkError::NotAuthorized(why)
            }
        };
        match verify_widget(&params, project.signing_secret()) {
            Ok(_) => {}
            Err(SignError::WrongSignature) => {
                let (sign_version, base_strings) = signed_strings(&params);
                return Ok(Err(refused(LinkRefusal::WrongSignature {
                    sign_version,
                    base_strings,
                })));
            }
            Err(SignError::MissingSign) => return Ok(Err(refused(LinkRefusal::MissingSign))),
            Err(e) => return Ok(Err(e.into())),
        }
        if let Err(e) = self.check_mode(project.mode) {
            return match e {
                ServiceError::LiveMode { code, message } => {
                    Ok(Err(LinkError::LiveModeOff { code, message }))
                }
                other => Err(other),
            };
        }
        let expected = match project.api_type {
            ApiType::DigitalGoods => LinkPath::Subscription,
            ApiType::VirtualCurrency => LinkPath::Ps,
            ApiType::Cart => LinkPath::Cart,
        };
        if path != LinkPath::Any && path != expected {
            return Ok(Err(LinkError::WrongPath {
                api: project.api_type,
            }));
        }
        if let Some(ts) = get(&params, "timestamp").filter(|t| !t.is_empty()) {
            let fresh = ts.len() <= 10
                && ts.bytes().all(|b| b.is_ascii_digit())
                && ts.parse::<i64>().is_ok_and(|t| {
                    let now = now_ms() / 1000;
                    t <= now + 300 && now - t <= project.settings.link_max_age_seconds as i64
                });
            if !fresh {
                return Ok(Err(refused(LinkRefusal::Expired {
                    max_age_seconds: project.settings.link_max_age_seconds,
                })));
            }
        }
        let widget = get(&params, "widget").unwrap_or("");
        if widget.is_empty() {
            return Ok(Err(LinkError::Invalid(
                "Parameter widget is missing.".into(),
            )));
        }
        if !is_payment_widget(widget) {
            return Ok(Err(LinkError::Invalid(
                "Offer widgets (offerwalls) are not available on this gateway.".into(),
            )));
        }
        if !widget_allowed(&project, widget) {
            return Ok(Err(LinkError::Invalid(format!(
                "Widget {} is not configured for this project.",
                widget.chars().take(32).collect::<String>()
            ))));
        }
        let rules = ProductRules {
            vc_name: project.settings.vc_name.clone(),
            vc_rate: project.settings.vc_rate.clone(),
        };
        let product = match parse_product(project.api_type, &params, &rules) {
            Ok(p) => p,
            Err(e) => return Ok(Err(LinkError::Invalid(e.0))),
        };
        for name in ["success_url", "failure_url"] {
            if let Some(u) = get(&params, name).filter(|u| !u.is_empty()) {
                if http_url(&u.replace("$ref", "x")).is_none() {
                    return Ok(Err(LinkError::Invalid(format!(
                        "{name} must be an absolute http or https URL."
                    ))));
                }
            }
        }
        if let Some(email) = get(&params, "email").filter(|e| !e.is_empty()) {
            if email.len() > 254 || !email.contains('@') {
                return Ok(Err(LinkError::Invalid(
                    "email is not a valid address.".into(),
                )));
            }
        }
        // The method choice must be possible before anything is written.
        let test_on = test_method_on(&project, &params);
        let methods = methods_for(
            &project.payment_systems,
            country.as_deref(),
            test_on,
            product.is_subscription(),
        );
        match get(&params, "ps").filter(|p| !p.is_empty() && *p != "all") {
            Some(ps) if !methods.iter().any(|m| m.id == ps) => {
                return Ok(Err(LinkError::Invalid(format!(
                    "Payment system {} is not available here.",
                    ps.chars().take(32).collect::<String>()
                ))));
            }
            None if widget.starts_with("p2") => {
                return Ok(Err(LinkError::Invalid(
                    "Widget p2 shows one payment system: the link needs ps=<id>.".into(),
                )));
            }
            _ => {}
        }
        if methods.is_empty() {
            return Ok(Err(LinkError::Invalid(
                "No payment system is available in your country.".into(),
            )));
        }

        let link_hash = sha256_hex(&format!("{}?{raw_query}", project.row.id));
        if let Some(existing) = self
            .store
            .pw_open_order_by_link(&project.row.id, live, &link_hash)
            .await?
        {
            if let Some(pi) = self
                .store
                .intent_by_id_any_merchant(&existing.payment_intent_id)
                .await?
            {
                if pi.status != IntentStatus::Canceled {
                    return Ok(Ok(existing));
                }
            }
        }

        let now = now_ms();
        let (amount, currency) = product.first_charge();
        let currency = kassa_core::money::Currency::parse(currency)
            .map_err(|e| ServiceError::invalid("currencyCode", e.to_string()))?;
        let mut metadata = kassa_core::intent::Metadata::new();
        metadata.insert("paymentwall_project".into(), project.row.id.clone());
        metadata.insert("paymentwall_uid".into(), uid.to_string());
        let receipt_email = get(&params, "email")
            .filter(|e| !e.is_empty())
            .map(str::to_string);
        let mut description: String = product.description().chars().take(900).collect();
        if description.is_empty() {
            description = "Payment".into();
        }
        let order_id = kassa_core::ids::new_id(super::ORDER_PREFIX);
        let intent_params = |receipt_email: Option<String>| CreateIntentParams {
            order_key: Some(super::order_key(&order_id)),
            amount,
            currency: Some(currency),
            description: Some(description.clone()),
            metadata: metadata.clone(),
            receipt_email,
            review_delay_ms: Some(project.settings.risk_review_delay_seconds as i64 * 1000),
            voucher_window_ms: Some(VOUCHER_VALIDITY_MS),
            ..Default::default()
        };
        // The key's mode: a live order's intent routes to the merchant's processor account.
        let merchant = &project.scope();
        let pi = match self
            .payments()
            .build_intent(merchant, intent_params(receipt_email), now)
        {
            Ok(pi) => pi,
            // A malformed email is the link's problem, not a reason to refuse the payment.
            Err(ServiceError::Invalid { param: Some(p), .. }) if p == "receipt_email" => self
                .payments()
                .build_intent(merchant, intent_params(None), now)?,
            Err(e) => return Err(e),
        };
        let order = PwOrder {
            id: order_id.clone(),
            project_id: project.row.id.clone(),
            merchant_id: project.row.merchant_id.clone(),
            payment_intent_id: pi.id.clone(),
            uid: uid.to_string(),
            widget: widget.to_string(),
            params: serde_json::to_string(&params).unwrap_or_default(),
            product: serde_json::to_string(&product).unwrap_or_default(),
            r#ref: None,
            is_test: !live && link_asks_test(&params),
            created_at: now,
            link_hash: Some(link_hash),
            country,
            method: None,
            subscription_id: None,
            livemode: live,
        };
        let mut tx = self.store.begin().await?;
        tx.insert_intent(&pi).await?;
        tx.insert_pw_order(&order).await?;
        self.payments()
            .emit(&mut tx, &pi, &[EventType::PaymentIntentCreated], now)
            .await?;
        tx.commit().await?;
        self.notifier.wake();
        Ok(Ok(order))
    }

    /// Everything the payment page shows for an order.
    pub async fn order_view(&self, order_id: &str) -> Result<OrderView> {
        let order = self
            .store
            .pw_order(order_id)
            .await?
            .ok_or_else(|| ServiceError::not_found("order", order_id))?;
        let project = self
            .project_by_id(&order.project_id, order.scope().mode())
            .await?;
        let intent = self
            .store
            .intent_by_id_any_merchant(&order.payment_intent_id)
            .await?
            .ok_or_else(|| ServiceError::not_found("payment_intent", &order.payment_intent_id))?;
        let product: Product = serde_json::from_str(&order.product).map_err(|_| {
            ServiceError::Store(kassa_store::StoreError::Corrupt(format!(
                "order {} product",
                order.id
            )))
        })?;
        let params: Vec<(String, String)> = serde_json::from_str(&order.params).unwrap_or_default();
        let methods = methods_for(
            &project.payment_systems,
            order.country.as_deref(),
            test_method_on(&project, &params),
            product.is_subscription(),
        );
        let preselected = get(&params, "ps")
            .filter(|p| *p != "all")
            .and_then(|p| methods.iter().copied().find(|m| m.id == p));
        let success_url = get(&params, "success_url")
            .filter(|u| !u.is_empty())
            .map(|u| u.replace("$ref", order.r#ref.as_deref().unwrap_or("")))
            .and_then(|u| http_url(&u));
        let failure_url = get(&params, "failure_url")
            .filter(|u| !u.is_empty())
            .and_then(http_url);
        let lang = get(&params, "lang")
            .filter(|l| l.len() == 2 && l.bytes().all(|b| b.is_ascii_alphabetic()))
            .map(|l| l.to_ascii_lowercase());
        Ok(OrderView {
            order,
            project,
            intent,
            product,
            methods,
            preselected,
            success_url,
            failure_url,
            lang,
        })
    }

    /// Pays an order with a method offered on its page. Same outcomes as
    /// [`Payments::confirm_intent`](crate::Payments::confirm_intent); the Test method makes the order a test payment.
    pub async fn pay(
        &self,
        view: &OrderView,
        ps: &str,
        method: PaymentMethodInput,
        idem: Option<&Idem>,
    ) -> Result<PaymentIntent> {
        let Some(system) = view.methods.iter().find(|m| m.id == ps) else {
            return Err(ServiceError::invalid(
                "ps",
                "This payment system is not offered for this payment.",
            ));
        };
        debug_assert!(find(system.id).is_some());
        if view.intent.status != IntentStatus::RequiresPaymentMethod {
            return Err(ServiceError::State(
                "This payment is not waiting for a payment method.".into(),
            ));
        }
        let is_test = !view.order.livemode && (view.order.is_test || system.id == "test");
        let mut tx = self.store.begin().await?;
        tx.set_pw_order_method(&view.order.id, system.id, is_test)
            .await?;
        tx.commit().await?;
        self.payments()
            .confirm_intent(
                &view.order.scope(),
                &view.intent.id,
                ConfirmParams {
                    method,
                    return_url: None,
                    three_d_secure: false,
                    save: crate::SaveChoice::AsAsked,
                },
                idem,
            )
            .await
    }
}

/// How long a cash voucher can be paid at a store after it is issued: three days, as
/// Paymentwall's cash partners print on their vouchers.
pub const VOUCHER_VALIDITY_MS: i64 = 72 * 3600 * 1000;

/// A voucher waiting to be paid in cash: its number and when it stops being payable.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PendingVoucher {
    /// The reference the payer gives the store (digits only, ungrouped).
    pub number: String,
    /// Unix milliseconds after which the store refuses it (the payment then declines with
    /// `voucher_expired`).
    pub expires_at: i64,
}

impl PendingVoucher {
    /// The voucher of an open attempt, from the processor's challenge: the number the sandbox
    /// issued and the payment's own deadline (`pay_before`, which the core enforces), else
    /// three days from when the attempt was created. `None` when the attempt is not a
    /// voucher's.
    pub fn of(
        attempt: &kassa_store::PaymentAttempt,
        pay_before: Option<i64>,
    ) -> Option<PendingVoucher> {
        let state = attempt.challenge_state.as_deref()?;
        let number = kassa_processor::voucher_number(state)?;
        Some(PendingVoucher {
            number,
            expires_at: pay_before
                .unwrap_or_else(|| attempt.created_at.saturating_add(VOUCHER_VALIDITY_MS)),
        })
    }

    pub fn is_expired_at(&self, now_ms: i64) -> bool {
        now_ms >= self.expires_at
    }

    /// The expiry in UTC as (year, month, day, hour, minute), for a page to write in its
    /// language.
    pub fn expires_utc(&self) -> (i64, i64, i64, i64, i64) {
        let secs = self.expires_at.div_euclid(1000);
        let (y, m, d) = kassa_core::calendar::civil_from_days(secs.div_euclid(86_400));
        let sod = secs.rem_euclid(86_400);
        (y, m, d, sod / 3600, (sod % 3600) / 60)
    }
}

#[cfg(test)]
mod voucher_tests {
    use super::*;
    use kassa_core::intent::AttemptStatus;

    #[test]
    fn a_voucher_is_payable_for_three_days_from_its_attempt() {
        let attempt = kassa_store::PaymentAttempt {
            id: "pa_1".into(),
            payment_intent_id: "pi_1".into(),
            status: AttemptStatus::RequiresAction,
            payment_method: None,
            processor_ref: None,
            challenge_state: Some("voucher:123456789012".into()),
            error: None,
            // 2024-02-28 23:30 UTC
            created_at: 1_709_163_000_000,
            updated_at: 0,
        };
        let v = PendingVoucher::of(&attempt, None).unwrap();
        assert_eq!(v.number, "123456789012");
        assert_eq!(PendingVoucher::of(&attempt, Some(7)).unwrap().expires_at, 7);
        assert_eq!(v.expires_utc(), (2024, 3, 2, 23, 30));
        assert!(!v.is_expired_at(v.expires_at - 1) && v.is_expired_at(v.expires_at));
        let wallet = kassa_store::PaymentAttempt {
            challenge_state: Some("wallet".into()),
            ..attempt
        };
        assert_eq!(PendingVoucher::of(&wallet, Some(7)), None);
    }
}
