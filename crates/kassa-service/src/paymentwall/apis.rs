//! Paymentwall's merchant REST APIs: Payment Systems, Payment Status, Cancellation (ticket) and
//! Delivery Confirmation, plus the sandbox chargeback helper. Signed calls use the widget
//! algorithm (v2 or v3; v1 protects nothing but `uid` and is refused here).

use crate::Paymentwall;
use kassa_core::intent::{IntentStatus, RefundKind};
use kassa_core::scope::Scope;
use kassa_paymentwall::methods::methods_for;
use kassa_paymentwall::{verify_widget, SignVersion};
use kassa_store::{now_ms, PwDeliveryConfirmation, PwOrder};
use serde_json::{json, Value};

use super::product::Product;
use super::projects::Project;
use super::subscriptions::phase_of;
use crate::{CreateRefundParams, Result, ServiceError};

/// An API error in Paymentwall's REST envelope `{"type":"Error","code":…,"error":…}`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ApiError {
    pub status: u16,
    pub code: u32,
    pub message: String,
}

impl ApiError {
    fn new(status: u16, code: u32, message: impl Into<String>) -> Self {
        ApiError {
            status,
            code,
            message: message.into(),
        }
    }
    pub fn body(&self) -> Value {
        json!({"type": "Error", "code": self.code, "error": self.message})
    }
}

fn get<'a>(params: &'a [(String, String)], name: &str) -> Option<&'a str> {
    params
        .iter()
        .find(|(k, _)| k == name)
        .map(|(_, v)| v.as_str())
        .filter(|v| !v.is_empty())
}

/// The Payment Status API's answer.
pub type PaymentStatus = Value;

/// What a Cancellation API ticket did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TicketOutcome {
    Refunded,
    SubscriptionCancelled,
    Recorded,
}

impl Paymentwall<'_> {
    /// Checks a signed REST call: the project by `key` (its test or live project key, which
    /// decides the mode the call acts in), then its signature (v2/v3) with that mode's secret.
    async fn signed(
        &self,
        params: &[(String, String)],
    ) -> Result<std::result::Result<Project, ApiError>> {
        let Some(key) = get(params, "key") else {
            return Ok(Err(ApiError::new(400, 4004, "Parameter key is missing")));
        };
        let Some(project) = self.project_by_key(key).await? else {
            return Ok(Err(ApiError::new(401, 4007, "API key is invalid")));
        };
        let params = params.to_vec();
        match verify_widget(&params, project.signing_secret()) {
            Ok(SignVersion::V1) => Ok(Err(ApiError::new(
                400,
                4009,
                "sign_version 2 or 3 is required",
            ))),
            Ok(_) => Ok(self.mode_allowed(&project).map(|()| project)),
            Err(kassa_paymentwall::SignError::MissingSign)
            | Err(kassa_paymentwall::SignError::WrongSignature) => {
                Ok(Err(ApiError::new(403, 4008, "Wrong signature")))
            }
            Err(e) => Ok(Err(ApiError::new(400, 4009, e.to_string()))),
        }
    }

    /// A call made with a live key or secret where live mode cannot run: refused (403) in
    /// Paymentwall's envelope, with Kassa's code and reason in the message.
    fn mode_allowed(&self, project: &Project) -> std::result::Result<(), ApiError> {
        match self.check_mode(project.mode) {
            Ok(()) => Ok(()),
            Err(ServiceError::LiveMode { code, message }) => {
                Err(ApiError::new(403, 4011, format!("{code}: {message}")))
            }
            Err(other) => Err(ApiError::new(403, 4011, other.to_string())),
        }
    }

    /// `GET /api/payment-systems/`: the methods active for a country.
    pub async fn payment_systems(
        &self,
        params: &[(String, String)],
    ) -> Result<std::result::Result<Value, ApiError>> {
        let project = match self.signed(params).await? {
            Ok(p) => p,
            Err(e) => return Ok(Err(e)),
        };
        let Some(country) =
            get(params, "country_code").and_then(kassa_paymentwall::geo::valid_country_code)
        else {
            return Ok(Err(ApiError::new(
                400,
                4004,
                "Parameter country_code is missing or not an ISO alpha-2 code",
            )));
        };
        let list: Vec<Value> = methods_for(
            &project.payment_systems,
            Some(&country),
            project.row.test_method && project.mode == kassa_core::scope::Mode::Test,
            false,
        )
        .into_iter()
        .map(|m| {
            json!({
                "id": m.id,
                "name": m.name,
                "new_window": m.new_window,
                "img_url": format!("{}/images/ps_logos/pm_{}.svg", self.base_url, m.id),
                "img_class": m.id,
                "ps_type_id": m.ps_type_id,
            })
        })
        .collect();
        Ok(Ok(Value::Array(list)))
    }

    /// The Paymentwall payment object of a paid order (also posted as `paymentSuccess`).
    pub async fn payment_object(&self, order: &PwOrder) -> Result<Value> {
        let pi = self
            .store
            .intent_by_id_any_merchant(&order.payment_intent_id)
            .await?
            .ok_or_else(|| ServiceError::not_found("payment_intent", &order.payment_intent_id))?;
        let product: Product = serde_json::from_str(&order.product).unwrap_or(Product::Fixed {
            item: super::product::Item {
                external_id: String::new(),
                name: String::new(),
                amount: 0,
                currency: String::new(),
            },
        });
        let sub = match &order.subscription_id {
            Some(id) => self.store.pw_subscription(id).await?,
            None => None,
        };
        let product_id = match &product {
            Product::Fixed { item } => item.external_id.clone(),
            Product::Subscription { plan } => {
                let initial = sub.as_ref().is_none_or(|s| s.initial_order_id == order.id);
                phase_of(plan, initial).0.external_id.clone()
            }
            Product::Cart { items, .. } => items
                .iter()
                .map(|i| i.external_id.as_str())
                .collect::<Vec<_>>()
                .join(","),
            Product::VirtualCurrency { .. } => String::new(),
        };
        let amount = kassa_core::money::Money {
            amount: pi.amount,
            currency: pi.currency,
        }
        .to_decimal_string();
        let risk = match pi.status {
            IntentStatus::RequiresCapture => "pending",
            IntentStatus::Canceled if order.r#ref.is_some() => "declined",
            _ => "approved",
        };
        let mut v = json!({
            "object": "payment",
            "id": order.r#ref,
            "created": order.created_at / 1000,
            "amount": amount,
            "currency": pi.currency.code(),
            "refunded": pi.amount_refunded > 0,
            "risk": risk,
            "uid": order.uid,
            "product_id": product_id,
            "payment_system": order.method,
        });
        if let (Some(s), Product::Subscription { plan }) = (&sub, &product) {
            let core = match &s.subscription_id {
                Some(id) => self.store.subscription(&s.scope(), id).await?,
                None => None,
            };
            v["subscription"] = json!({
                "object": "subscription",
                "id": s.id,
                "period": plan.period.unit.as_str(),
                "period_duration": plan.period.length,
                "payments_limit": Value::Null,
                "is_trial": i32::from(s.phase == "trial"),
                "started": 1,
                "expired": i32::from(s.status == "expired" || s.status == "failed"),
                "active": i32::from(s.status == "active"),
                "date_started": s.created_at / 1000,
                "date_next": if s.status == "active" { core.map(|c| c.current_period_end / 1000) } else { None },
            });
        }
        Ok(v)
    }

    /// `GET /api/rest/payment`: a payment by `ref`, or the newest of `uid` + `ag_external_id`.
    pub async fn payment_status(
        &self,
        params: &[(String, String)],
    ) -> Result<std::result::Result<PaymentStatus, ApiError>> {
        let project = match self.signed(params).await? {
            Ok(p) => p,
            Err(e) => return Ok(Err(e)),
        };
        let order = match (
            get(params, "ref"),
            get(params, "uid"),
            get(params, "ag_external_id"),
        ) {
            (Some(r), _, _) => {
                self.store
                    .pw_order_by_ref(&project.row.id, project.mode.is_live(), r)
                    .await?
            }
            (None, Some(uid), Some(ext)) => {
                let mut found = None;
                for o in self
                    .store
                    .pw_paid_orders_by_uid(&project.row.id, project.mode.is_live(), uid, 200)
                    .await?
                {
                    let matches = match serde_json::from_str::<Product>(&o.product) {
                        Ok(Product::Fixed { item }) => item.external_id == ext,
                        Ok(Product::Subscription { plan }) => {
                            plan.main.external_id == ext
                                || plan
                                    .trial
                                    .as_ref()
                                    .is_some_and(|(t, _)| t.external_id == ext)
                        }
                        Ok(Product::Cart { items, .. }) => {
                            items.iter().any(|i| i.external_id == ext)
                        }
                        _ => false,
                    };
                    if matches {
                        found = Some(o);
                        break;
                    }
                }
                found
            }
            _ => {
                return Ok(Err(ApiError::new(
                    400,
                    4004,
                    "Parameter ref (or uid and ag_external_id) is missing",
                )))
            }
        };
        match order {
            Some(o) => Ok(Ok(self.payment_object(&o).await?)),
            None => Ok(Err(ApiError::new(404, 4100, "Payment not found"))),
        }
    }

    /// `POST /developers/api/ticket`: type 1 refunds the payment (type 2 pingback, reason 9),
    /// type 2 cancels its subscription (type 12), type 3 is recorded.
    pub async fn ticket(
        &self,
        params: &[(String, String)],
    ) -> Result<std::result::Result<TicketOutcome, ApiError>> {
        let project = match self.signed(params).await? {
            Ok(p) => p,
            Err(e) => return Ok(Err(e)),
        };
        let Some(r) = get(params, "ref") else {
            return Ok(Err(ApiError::new(400, 4004, "Parameter ref is missing")));
        };
        let Some(order) = self
            .store
            .pw_order_by_ref(&project.row.id, project.mode.is_live(), r)
            .await?
        else {
            return Ok(Err(ApiError::new(404, 4100, "Payment not found")));
        };
        if let Some(uid) = get(params, "uid") {
            if uid != order.uid {
                return Ok(Err(ApiError::new(
                    400,
                    4101,
                    "uid does not match the payment",
                )));
            }
        }
        match get(params, "type") {
            Some("1") => match self
                .payments()
                .create_refund(
                    &order.scope(),
                    CreateRefundParams {
                        payment_intent: order.payment_intent_id.clone(),
                        amount: None,
                        kind: RefundKind::Refund,
                        reason: Some("requested_by_customer".into()),
                        metadata: Default::default(),
                    },
                    None,
                )
                .await
            {
                Ok(_) => Ok(Ok(TicketOutcome::Refunded)),
                Err(ServiceError::State(m)) | Err(ServiceError::Invalid { message: m, .. }) => {
                    Ok(Err(ApiError::new(400, 4102, m)))
                }
                Err(e) => Err(e),
            },
            Some("2") => {
                let Some(sub_id) = &order.subscription_id else {
                    return Ok(Err(ApiError::new(
                        400,
                        4103,
                        "This payment has no subscription",
                    )));
                };
                match self.cancel_subscription(&order.scope(), sub_id).await {
                    Ok(_) => Ok(Ok(TicketOutcome::SubscriptionCancelled)),
                    Err(ServiceError::State(m)) => Ok(Err(ApiError::new(400, 4104, m))),
                    Err(e) => Err(e),
                }
            }
            Some("3") => Ok(Ok(TicketOutcome::Recorded)),
            _ => Ok(Err(ApiError::new(
                400,
                4004,
                "Parameter type must be 1, 2 or 3",
            ))),
        }
    }

    /// `POST /api/delivery` with `X-ApiKey: <secret>`: stores a delivery status for a payment
    /// of the secret's mode (the test secret finds no live payment, and the reverse).
    pub async fn delivery(
        &self,
        api_key: Option<&str>,
        params: &[(String, String)],
    ) -> Result<std::result::Result<PwDeliveryConfirmation, ApiError>> {
        const STATUSES: &[&str] = &[
            "order_placed",
            "order_preparing",
            "started",
            "delivering",
            "delivered",
            "consumed",
            "waiting_user_action",
            "delayed",
            "failed_will_retry",
            "order_cancelled",
            "retry_started",
            "refund_requested",
            "refund_request_declined",
            "refund_request_accepted",
            "refund_issued",
            "cancelled_subscription",
            "substitution_requested",
            "substitution_accepted",
            "substitution_declined",
        ];
        const NEED_REASON: &[&str] = &[
            "delayed",
            "order_cancelled",
            "refund_request_declined",
            "substitution_requested",
            "substitution_declined",
        ];
        let Some(project) = (match api_key {
            Some(k) => self.project_by_secret(k).await?,
            None => None,
        }) else {
            return Ok(Err(ApiError::new(401, 4007, "API key is invalid")));
        };
        if let Err(e) = self.mode_allowed(&project) {
            return Ok(Err(e));
        }
        let mut seen = std::collections::HashSet::new();
        if params.len() > 100
            || params
                .iter()
                .any(|(k, v)| !seen.insert(k.as_str()) && !k.ends_with("[]") || v.len() > 5000)
        {
            return Ok(Err(ApiError::new(400, 4009, "Malformed request")));
        }
        let Some(payment_id) = get(params, "payment_id") else {
            return Ok(Err(ApiError::new(
                400,
                4004,
                "Parameter payment_id is missing",
            )));
        };
        if self
            .store
            .pw_order_by_ref(&project.row.id, project.mode.is_live(), payment_id)
            .await?
            .is_none()
        {
            return Ok(Err(ApiError::new(404, 4100, "Payment not found")));
        }
        let Some(status) = get(params, "status").filter(|s| STATUSES.contains(s)) else {
            return Ok(Err(ApiError::new(
                400,
                4004,
                "Parameter status is missing or unknown",
            )));
        };
        if NEED_REASON.contains(&status) && get(params, "reason").is_none() {
            return Ok(Err(ApiError::new(
                400,
                4004,
                format!("Parameter reason is required for status {status}"),
            )));
        }
        if let Some(t) = get(params, "type") {
            if t != "digital" && t != "physical" {
                return Ok(Err(ApiError::new(
                    400,
                    4004,
                    "Parameter type must be digital or physical",
                )));
            }
        }
        let payload: serde_json::Map<String, Value> = params
            .iter()
            .map(|(k, v)| (k.clone(), Value::String(v.clone())))
            .collect();
        let d = PwDeliveryConfirmation {
            id: kassa_core::ids::new_id("pwd"),
            project_id: project.row.id.clone(),
            payment_ref: payment_id.to_string(),
            status: status.to_string(),
            payload: Value::Object(payload).to_string(),
            created_at: now_ms(),
        };
        let mut tx = self.store.begin().await?;
        tx.insert_pw_delivery_confirmation(&d).await?;
        tx.commit().await?;
        Ok(Ok(d))
    }

    /// Delivery confirmations recorded for a payment of this merchant's project.
    pub async fn delivery_confirmations(
        &self,
        scope: &Scope,
        project_id: &str,
        r#ref: &str,
    ) -> Result<Vec<PwDeliveryConfirmation>> {
        let p = self.project_in(scope, project_id).await?;
        // A payment of the other mode is none of this key's business.
        if self
            .store
            .pw_order_by_ref(&p.row.id, !scope.livemode, r#ref)
            .await?
            .is_some()
        {
            return Ok(Vec::new());
        }
        Ok(self
            .store
            .pw_delivery_confirmations(&p.row.id, r#ref)
            .await?)
    }

    /// A paid order of this merchant's project, by `ref`.
    pub async fn order_by_ref(
        &self,
        scope: &Scope,
        project_id: &str,
        r#ref: &str,
    ) -> Result<PwOrder> {
        let p = self.project_in(scope, project_id).await?;
        self.store
            .pw_order_by_ref(&p.row.id, scope.livemode, r#ref)
            .await?
            .ok_or_else(|| ServiceError::not_found("payment", r#ref))
    }

    /// Sandbox: the customer's bank took the money back (a chargeback): the payment is reversed
    /// in full and the merchant gets a type 2 pingback with `reason=1`.
    pub async fn sandbox_chargeback(
        &self,
        scope: &Scope,
        project_id: &str,
        r#ref: &str,
    ) -> Result<Value> {
        if scope.livemode {
            // A live payment's money is real: only the customer's bank can take it back.
            return Err(ServiceError::State(
                "The sandbox chargeback is for test payments only; use a test key.".into(),
            ));
        }
        let order = self.order_by_ref(scope, project_id, r#ref).await?;
        let refund = self
            .payments()
            .create_refund(
                scope,
                CreateRefundParams {
                    payment_intent: order.payment_intent_id.clone(),
                    amount: None,
                    kind: RefundKind::Chargeback {
                        reason: kassa_paymentwall::REASON_CHARGEBACK,
                    },
                    reason: Some("fraudulent".into()),
                    metadata: Default::default(),
                },
                None,
            )
            .await?;
        Ok(refund.to_json())
    }
}
