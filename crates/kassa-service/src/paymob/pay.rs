//! Paying: `POST /api/acceptance/payments/pay`, the 3-D Secure and wallet pages, the sandbox
//! kiosk/cash settlement, and the hook that turns the core intent's changes into Paymob
//! transaction objects and HMAC-signed callbacks in the same database transaction.

use kassa_core::card::{CardNumber, Expiry};
use kassa_core::events::EventType;
use kassa_core::intent::{CaptureMethod, Metadata, PaymentIntent, Refund, RefundKind};
use kassa_core::money::Currency;
use kassa_paymob::request::{self, PaySource};
use kassa_processor::{ChallengeResult, PaymentMethodInput};
use kassa_store::{now_ms, PmCardToken, PmProfile, PmTransaction, Tx};
use serde::{Deserialize, Serialize};
use serde_json::{json, Value};

use super::accounts::country_of;
use super::intentions::{IntentionDoc, KeyClaims, OrderDoc};
use super::{doc, to_text, Integration, IntegrationKind, PmError, PmResult};
use crate::{ConfirmParams, CreateIntentParams, ServiceError, Services};

/// How long a Paymob authorisation waits for its capture: the core releases (voids) it then.
pub const AUTO_VOID_MS: i64 = 14 * kassa_core::calendar::DAY_MS;

/// The channel of Paymob callbacks in the outbox.
pub const CHANNEL: &str = "paymob";

/// What the service keeps about a transaction beyond its wire object.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub(crate) struct TxnExtra {
    pub integration_id: i64,
    pub subtype: String,
    pub save_card: bool,
    pub notification_url: Option<String>,
    pub redirection_url: Option<String>,
    /// The core attempt waiting for the customer (3-D Secure, wallet, kiosk, cash).
    pub attempt_id: Option<String>,
    /// `3ds`, `wallet` or `voucher` while the customer still has something to do.
    pub challenge: Option<String>,
    pub card_token_id: Option<i64>,
    /// A subscription to start when this payment succeeds.
    pub subscription_plan_id: Option<i64>,
    pub subscription_start_date: Option<String>,
    /// The subscription this payment belongs to (first payment or renewal).
    pub subscription_id: Option<i64>,
    /// A kiosk or cash reference's end of validity (ms since the epoch).
    pub voucher_expires_at: Option<i64>,
    /// The core's decline vocabulary for a failed payment (`card_declined`, `incorrect_cvc`…)
    /// and its finer reason (`insufficient_funds`…), for pages in the payer's language.
    pub decline_code: Option<String>,
    pub decline_subcode: Option<String>,
}

/// How long a kiosk or cash reference can be paid.
pub const VOUCHER_VALID_MS: i64 = 48 * 3600 * 1000;

/// `2024-06-25T15:16:25Z`: an instant pages can read in any time zone.
pub(crate) fn utc_timestamp(ms: i64) -> String {
    use kassa_core::calendar::{civil_from_days, DAY_MS};
    let days = ms.div_euclid(DAY_MS);
    let secs = ms.rem_euclid(DAY_MS) / 1000;
    let (y, mo, d) = civil_from_days(days);
    format!(
        "{y:04}-{mo:02}-{d:02}T{:02}:{:02}:{:02}Z",
        secs / 3600,
        secs / 60 % 60,
        secs % 60
    )
}

/// The answer of the pay endpoint: status and body (booleans as strings, as Paymob sends).
#[derive(Debug, Clone)]
pub struct PayResponse {
    pub status: u16,
    pub body: Value,
}

/// The customer's page for a pending 3-D Secure or wallet confirmation.
#[derive(Debug, Clone)]
pub struct ChallengeView {
    pub transaction_id: i64,
    /// `3ds` or `wallet`.
    pub kind: String,
    pub amount: String,
    /// The amount in minor units, for pages that write it in the payer's language.
    pub amount_cents: i64,
    pub currency: String,
    pub merchant_name: String,
    /// `•••• 2346` for a card, the masked phone for a wallet.
    pub method: String,
    /// Set when the challenge was already answered: where the customer goes now.
    pub done_url: Option<String>,
    /// The profile's `frame-ancestors`.
    pub frame_ancestors: String,
    /// The transaction's profile, whose look the page wears.
    pub owner: super::PageOwner,
}

impl From<PmError> for ServiceError {
    fn from(e: PmError) -> Self {
        ServiceError::Invalid {
            param: None,
            message: e.body.to_string(),
        }
    }
}

fn brand_name(brand: &str) -> &'static str {
    match brand {
        "visa" => "Visa",
        "mastercard" => "MasterCard",
        "amex" => "Amex",
        "discover" => "Discover",
        "jcb" => "JCB",
        "diners" => "Diners",
        "unionpay" => "UnionPay",
        _ => "Card",
    }
}

/// Paymob's response codes for a decline of the core's vocabulary.
fn decline_codes(code: &str, decline_code: Option<&str>) -> (&'static str, &'static str) {
    match (code, decline_code) {
        (_, Some("insufficient_funds")) => ("INSUFFICIENT_FUNDS", "51"),
        ("expired_card", _) => ("EXPIRED_CARD", "54"),
        ("incorrect_cvc", _) => ("INVALID_CVV", "N7"),
        ("incorrect_number", _) => ("INVALID_CARD", "14"),
        ("authentication_required", _) | (_, Some("authentication_failed")) => {
            ("AUTHENTICATION_FAILED", "05")
        }
        (_, Some("fraudulent" | "stolen_card" | "lost_card")) => ("BLOCKED", "59"),
        _ => ("DECLINED", "05"),
    }
}

pub(crate) fn challenge_sig(key: &[u8; 32], txn_id: i64) -> String {
    let mac = kassa_core::secret::hmac_sha256(key, format!("pm-challenge:{txn_id}").as_bytes());
    hex_lower(&mac[..16])
}

/// How a saved card's payment is described on its attempt (no number: brand and last four).
pub(crate) fn stored_card_method(card: &PmCardToken) -> PmResult<String> {
    let shown: Value = doc(&card.obj, "card token")?;
    let last4 = shown["masked_pan"]
        .as_str()
        .unwrap_or_default()
        .rsplit('-')
        .next()
        .unwrap_or_default();
    Ok(json!({"kind": "card", "brand": shown["card_subtype"].as_str().unwrap_or_default().to_ascii_lowercase(),
              "last4": last4, "exp_month": 0, "exp_year": 0, "bin": null, "fingerprint": ""})
    .to_string())
}

fn hex_lower(b: &[u8]) -> String {
    b.iter().map(|x| format!("{x:02x}")).collect()
}

impl Services {
    pub(crate) fn pm_challenge_url(&self, txn_id: i64) -> String {
        format!(
            "{}/api/acceptance/challenge/{txn_id}/{}",
            self.base_url,
            challenge_sig(&self.pm_page_key(), txn_id)
        )
    }

    /// Where the customer goes once a payment has its answer: the merchant's response callback
    /// (signed query), else Kassa's payment status page (signed the same way).
    pub(crate) fn pm_final_url(
        &self,
        profile: &PmProfile,
        integration: &Integration,
        extra: &TxnExtra,
        obj: &Value,
    ) -> PmResult<String> {
        let base = extra
            .redirection_url
            .clone()
            .or_else(|| integration.doc.response_callback_url.clone())
            .unwrap_or_else(|| format!("{}/unifiedcheckout/payment-status", self.base_url));
        let secret = self.pm_hmac_secret(profile)?;
        Ok(kassa_paymob::redirect::signed_url(&base, obj, &secret))
    }

    /// `POST /api/acceptance/payments/pay`.
    pub async fn pm_pay(&self, body: &Value) -> PmResult<PayResponse> {
        let input = request::parse_pay(body).map_err(PmError::fields)?;
        let claims = self.pm_open_key(&input.payment_token)?;
        let profile = self
            .store
            .pm_profile(claims.user_id)
            .await?
            .ok_or_else(|| PmError::detail(401, "Invalid payment token."))?;
        let integration = match self.pm_integration(claims.integration_id).await? {
            Some(i) if i.profile_id == profile.id => i,
            _ => return Err(PmError::detail(401, "Invalid payment token.")),
        };
        let (order, od) = self.pm_own_order(&profile, claims.order_id).await?;
        if od.lock_when_paid && od.paid_amount_cents >= od.amount_cents {
            return Err(PmError::message(400, "Order has already been paid."));
        }
        let api_source = body
            .get("api_source")
            .and_then(Value::as_str)
            .map(|s| s.trim().to_ascii_uppercase())
            .filter(|s| !s.is_empty() && s.len() <= 40)
            .unwrap_or_else(|| "IFRAME".into());

        // The intention's settings, and its current amount (a key made before an update is stale).
        let mut intention: Option<IntentionDoc> = None;
        if let Some(iid) = &order.intention_id {
            if let Some(row) = self.store.pm_intention(iid).await? {
                let d: IntentionDoc = doc(&row.doc, "intention")?;
                if d.input.amount != claims.amount_cents || d.input.currency != claims.currency {
                    return Err(PmError::message(400, "Session Error"));
                }
                intention = Some(d);
            }
        }

        let kind = integration.doc.kind;
        let subtype_ok = match &input.source {
            PaySource::Card { .. } | PaySource::Token { .. } => kind.is_card(),
            PaySource::Wallet { .. } => kind == IntegrationKind::Wallet,
            PaySource::Aggregator => kind == IntegrationKind::Kiosk,
            PaySource::Cash => kind == IntegrationKind::Cash,
        };
        if !subtype_ok {
            return Err(PmError::message(
                400,
                format!(
                    "This payment method is not accepted by the {} integration {}.",
                    kind.as_str(),
                    integration.id
                ),
            ));
        }

        // The method, checked before anything is written.
        enum Method {
            Live(PaymentMethodInput),
            Stored(PmCardToken),
        }
        let method = match &input.source {
            PaySource::Card {
                number,
                holder,
                expiry_month,
                expiry_year,
                cvn,
            } => {
                let number = CardNumber::parse(number).map_err(|_| {
                    PmError::fields(
                        json!({"source": {"identifier": ["Enter a valid card number."]}}),
                    )
                })?;
                let expiry = Expiry::parse(&expiry_month.to_string(), &expiry_year.to_string())
                    .map_err(|_| {
                        PmError::fields(
                            json!({"source": {"expiry_year": ["Enter a valid expiry date."]}}),
                        )
                    })?;
                Method::Live(PaymentMethodInput::Card {
                    number,
                    expiry,
                    cvc: cvn.clone(),
                    holder_name: Some(holder.clone()).filter(|h| !h.is_empty()),
                })
            }
            PaySource::Token { token, .. } => {
                let card = self
                    .store
                    .pm_card_token_by_hash(&kassa_core::secret::hash_api_key(token))
                    .await?
                    .filter(|c| c.profile_id == profile.id)
                    .ok_or_else(|| {
                        PmError::fields(json!({"source": {"identifier": ["Invalid card token."]}}))
                    })?;
                Method::Stored(card)
            }
            PaySource::Wallet { phone } => Method::Live(PaymentMethodInput::Wallet {
                phone: phone.clone(),
            }),
            PaySource::Aggregator => Method::Live(PaymentMethodInput::Voucher),
            PaySource::Cash => Method::Live(PaymentMethodInput::Voucher),
        };

        // 1. The core intent and the Paymob transaction, together.
        let now = now_ms();
        let currency = Currency::parse(&claims.currency)
            .map_err(|_| PmError::message(400, "Unsupported currency."))?;
        // An order that takes one payment: a customer who abandoned a 3-D Secure, wallet or
        // kiosk step and tries again gets that attempt cancelled first, so the two can never
        // both be paid; an attempt still being decided blocks a second one.
        if od.lock_when_paid {
            self.pm_cancel_open_attempts(&profile, order.id).await?;
        }
        let mut tx = self.store.begin().await?;
        tx.lock_pm_order(order.id).await?;
        if od.lock_when_paid {
            let current = tx
                .pm_order(order.id)
                .await?
                .map(|o| doc::<OrderDoc>(&o.doc, "order"))
                .transpose()?;
            if current.is_some_and(|c| c.paid_amount_cents >= c.amount_cents) {
                return Err(PmError::message(400, "Order has already been paid."));
            }
            for t in tx.pm_transactions_of_order(order.id).await? {
                if t.parent_id.is_none()
                    && serde_json::from_str::<Value>(&t.obj)
                        .is_ok_and(|o| o["pending"] == json!(true))
                {
                    return Err(PmError::message(
                        400,
                        "Order already being processed for payment.",
                    ));
                }
            }
        }
        let txn_id = tx.pm_next_id("transaction").await?;
        let mut metadata = Metadata::new();
        metadata.insert("paymob_order".into(), order.id.to_string());
        metadata.insert("paymob_transaction".into(), txn_id.to_string());
        metadata.insert("paymob_integration".into(), integration.id.to_string());
        if let Some(moid) = &order.merchant_order_id {
            metadata.insert(
                "paymob_merchant_order_id".into(),
                moid.chars().take(500).collect(),
            );
        }
        let pi = self.build_intent(
            &profile.merchant_id,
            CreateIntentParams {
                amount: claims.amount_cents,
                currency: Some(currency),
                description: Some(format!("Paymob order {}", order.id)),
                metadata,
                capture_method: Some(if kind == IntegrationKind::CardAuth {
                    CaptureMethod::Manual
                } else {
                    CaptureMethod::Automatic
                }),
                capture_window_ms: Some(AUTO_VOID_MS),
                voucher_window_ms: Some(VOUCHER_VALID_MS),
                ..Default::default()
            },
            now,
        )?;
        let extra = TxnExtra {
            integration_id: integration.id,
            subtype: kind.subtype().to_string(),
            // A subscription's first payment always keeps the card for the renewals.
            save_card: matches!(input.source, PaySource::Card { .. })
                && (input.save_card
                    || intention
                        .as_ref()
                        .is_some_and(|d| d.input.subscription_plan_id.is_some())),
            notification_url: intention
                .as_ref()
                .and_then(|d| d.input.notification_url.clone()),
            redirection_url: intention
                .as_ref()
                .and_then(|d| d.input.redirection_url.clone()),
            subscription_plan_id: intention
                .as_ref()
                .and_then(|d| d.input.subscription_plan_id),
            subscription_start_date: intention
                .as_ref()
                .and_then(|d| d.input.subscription_start_date.clone()),
            ..Default::default()
        };
        let obj = self.pm_initial_obj(
            &profile,
            &integration,
            &order,
            &od,
            &claims,
            txn_id,
            &api_source,
            now,
        );
        let txn = PmTransaction {
            id: txn_id,
            profile_id: profile.id,
            order_id: order.id,
            intent_id: Some(pi.id.clone()),
            parent_id: None,
            kind: "payment".into(),
            obj: to_text(&obj),
            extra: to_text(&extra),
            created_at: now,
            updated_at: now,
        };
        tx.insert_intent(&pi).await?;
        tx.insert_pm_transaction(&txn).await?;
        self.emit(&mut tx, &pi, &[EventType::PaymentIntentCreated], now)
            .await?;
        tx.commit().await?;

        // 2. Charge (the hook records each outcome on the transaction).
        let result = match method {
            Method::Live(m) => {
                self.confirm_intent(
                    &profile.merchant_id,
                    &pi.id,
                    ConfirmParams {
                        method: m,
                        return_url: None,
                        three_d_secure: integration.doc.three_d_secure
                            && kind != IntegrationKind::Moto,
                        save: crate::SaveChoice::AsAsked,
                    },
                    None,
                )
                .await
            }
            Method::Stored(card) => {
                self.confirm_with_stored_method(
                    &profile.merchant_id,
                    &pi.id,
                    &card.processor_ref,
                    Some(stored_card_method(&card)?),
                    None,
                )
                .await
            }
        };
        match result {
            Ok(_) | Err(ServiceError::Declined { .. }) => {}
            Err(e) => return Err(e.into()),
        }

        // 3. Answer with the transaction as recorded.
        let t = self
            .store
            .pm_transaction(txn_id)
            .await?
            .ok_or_else(|| PmError::detail(500, "A server error occurred."))?;
        self.pm_pay_response(&profile, &integration, &t)
    }

    /// Cancels an order's payment attempts that wait for the customer (3-D Secure, wallet,
    /// kiosk, cash). Refuses when one is still being decided or the order got paid meanwhile.
    async fn pm_cancel_open_attempts(&self, profile: &PmProfile, order_id: i64) -> PmResult<()> {
        for t in self.store.pm_transactions_of_order(order_id).await? {
            if t.parent_id.is_some() {
                continue;
            }
            let obj: Value = doc(&t.obj, "transaction")?;
            if obj["pending"] != json!(true) {
                continue;
            }
            let extra: TxnExtra = doc(&t.extra, "transaction extra")?;
            let Some(intent) = t.intent_id.as_deref() else {
                continue;
            };
            if extra.challenge.is_none() {
                return Err(PmError::message(
                    400,
                    "Order already being processed for payment.",
                ));
            }
            if let Err(e) = self
                .cancel_intent(&profile.merchant_id, intent, Some("abandoned".into()), None)
                .await
            {
                // Answered meanwhile: whatever it became decides (paid → refused below).
                tracing::info!(transaction = t.id, error = %e, "an open attempt could not be cancelled");
            }
        }
        Ok(())
    }

    /// The pay endpoint's body for a transaction: its object with string booleans, plus where
    /// the customer goes next.
    fn pm_pay_response(
        &self,
        profile: &PmProfile,
        integration: &Integration,
        t: &PmTransaction,
    ) -> PmResult<PayResponse> {
        let obj: Value = doc(&t.obj, "transaction")?;
        let extra: TxnExtra = doc(&t.extra, "transaction extra")?;
        let pending = obj["pending"].as_bool().unwrap_or(false);
        let next = match extra.challenge.as_deref() {
            Some("3ds" | "wallet") if pending => self.pm_challenge_url(t.id),
            Some(_) if pending => String::new(),
            _ => self.pm_final_url(profile, integration, &extra, &obj)?,
        };
        let mut body = kassa_paymob::lenient::stringify_booleans(&obj);
        body["redirect_url"] = json!(next);
        body["redirection_url"] = json!(next);
        body["iframe_redirection_url"] = json!(next);
        body["merchant_order_id"] = obj["order"]["merchant_order_id"].clone();
        Ok(PayResponse { status: 200, body })
    }

    /// A new payment transaction's object: pending, nothing known yet.
    #[allow(clippy::too_many_arguments)]
    pub(crate) fn pm_initial_obj(
        &self,
        profile: &PmProfile,
        integration: &Integration,
        order: &kassa_store::PmOrder,
        od: &OrderDoc,
        claims: &KeyClaims,
        txn_id: i64,
        api_source: &str,
        now: i64,
    ) -> Value {
        let created = kassa_paymob::time::timestamp(now, country_of(profile));
        let kind = integration.doc.kind;
        let source = match kind {
            IntegrationKind::Wallet => json!({"type": "wallet", "sub_type": "wallet", "pan": ""}),
            IntegrationKind::Kiosk => {
                json!({"type": "aggregator", "sub_type": "AGGREGATOR", "pan": ""})
            }
            IntegrationKind::Cash => {
                json!({"type": "cash_present", "sub_type": "cash_present", "pan": ""})
            }
            _ => json!({"type": "card", "sub_type": "", "pan": ""}),
        };
        let status_page = format!(
            "{}/unifiedcheckout/payment-status?trx_id={txn_id}",
            self.base_url
        );
        json!({
            "id": txn_id,
            "pending": true,
            "amount_cents": claims.amount_cents,
            "success": false,
            "is_auth": false,
            "is_capture": false,
            "is_standalone_payment": true,
            "is_voided": false,
            "is_refunded": false,
            "is_3d_secure": false,
            "integration_id": integration.id,
            "profile_id": profile.id,
            "has_parent_transaction": false,
            "order": self.pm_order_json(profile, order, od),
            "created_at": created,
            "transaction_processed_callback_responses": [],
            "currency": claims.currency,
            "source_data": source,
            "api_source": api_source,
            "terminal_id": null,
            "merchant_commission": 0,
            "installment": null,
            "discount_details": [],
            "is_void": false,
            "is_refund": false,
            "data": {"gateway_integration_pk": integration.id, "klass": kind.klass(),
                     "txn_response_code": "", "acq_response_code": "", "message": "Pending",
                     "created_at": created, "currency": claims.currency, "amount": claims.amount_cents},
            "is_hidden": false,
            "payment_key_claims": claims.shown(&status_page),
            "error_occured": false,
            "is_live": profile.live,
            "other_endpoint_reference": null,
            "refunded_amount_cents": 0,
            "source_id": -1,
            "is_captured": false,
            "captured_amount": 0,
            "merchant_staff_tag": null,
            "updated_at": created,
            "is_settled": false,
            "bill_balanced": false,
            "is_bill": false,
            "owner": profile.id,
            "parent_transaction": null,
        })
    }

    /// Queues the processed callback (and nothing if nobody is listening) for `obj`.
    #[allow(clippy::too_many_arguments)]
    pub(crate) async fn pm_queue_callback(
        &self,
        tx: &mut Tx,
        profile: &PmProfile,
        url: Option<&str>,
        kind: &str,
        obj: &Value,
        event_id: &str,
        now: i64,
    ) -> crate::Result<()> {
        let Some(url) = url.filter(|u| !u.is_empty()) else {
            return Ok(());
        };
        let secret = self.pm_hmac_secret(profile)?;
        let (hmac, body) = if kind == "TOKEN" {
            (
                kassa_paymob::hmac::token_hmac(&secret, obj),
                json!({"type": "TOKEN", "obj": obj}),
            )
        } else {
            (
                kassa_paymob::hmac::transaction_hmac(&secret, obj),
                json!({"type": "TRANSACTION", "obj": obj, "issuer_bank": null,
                       "transaction_processed_callback_responses": ""}),
            )
        };
        let sep = if url.contains('?') { '&' } else { '?' };
        let target = format!("{url}{sep}hmac={hmac}");
        // The token callback is due a moment after its transaction callback, so it is sent
        // second (the outbox sends one event's deliveries to one target in due order).
        let due = if kind == "TOKEN" { now + 1 } else { now };
        tx.insert_post_delivery(
            &profile.merchant_id,
            CHANNEL,
            &format!("pmp_{}", profile.id),
            event_id,
            &target,
            &body.to_string(),
            due,
        )
        .await?;
        Ok(())
    }

    /// The processed-callback URL of a transaction.
    fn callback_url(integration: &Integration, extra: &TxnExtra) -> Option<String> {
        extra
            .notification_url
            .clone()
            .or_else(|| integration.doc.processed_callback_url.clone())
    }

    /// The core intent behind a Paymob transaction changed: rewrite the transaction object and
    /// queue its callbacks, inside the same database transaction.
    pub(crate) async fn pm_after_intent_events(
        &self,
        tx: &mut Tx,
        pi: &PaymentIntent,
        written: &[(EventType, String)],
        now: i64,
    ) -> crate::Result<()> {
        if !pi.metadata.contains_key("paymob_transaction") {
            return Ok(());
        }
        let Some(mut t) = tx.pm_transaction_by_intent(&pi.id).await? else {
            return Ok(());
        };
        let Some(profile) = self.store.pm_profile(t.profile_id).await? else {
            return Ok(());
        };
        let mut obj: Value = doc(&t.obj, "transaction")?;
        let mut extra: TxnExtra = doc(&t.extra, "transaction extra")?;
        let Some(integration) = self.pm_integration(extra.integration_id).await? else {
            return Ok(());
        };
        let stamp = kassa_paymob::time::timestamp(now, country_of(&profile));
        let url = Self::callback_url(&integration, &extra);
        for (ty, event_id) in written {
            match ty {
                EventType::PaymentIntentRequiresAction => {
                    self.pm_on_requires_action(tx, pi, &mut obj, &mut extra)
                        .await?;
                    obj["updated_at"] = json!(stamp);
                    if extra.challenge.as_deref() == Some("voucher") {
                        // The bill reference is news the merchant needs (kiosk and cash).
                        self.pm_queue_callback(
                            tx,
                            &profile,
                            url.as_deref(),
                            "TRANSACTION",
                            &obj,
                            event_id,
                            now,
                        )
                        .await?;
                    }
                }
                EventType::PaymentIntentSucceeded
                    if obj["is_auth"] == json!(true) && obj["success"] == json!(true) =>
                {
                    // A capture of an authorisation: a child transaction.
                    let amount = pi.amount_received;
                    obj["is_captured"] = json!(true);
                    obj["captured_amount"] = json!(amount);
                    obj["updated_at"] = json!(stamp);
                    let child = self
                        .pm_child(tx, &profile, &t, &obj, "capture", amount, now)
                        .await?;
                    self.pm_queue_callback(
                        tx,
                        &profile,
                        url.as_deref(),
                        "TRANSACTION",
                        &child,
                        event_id,
                        now,
                    )
                    .await?;
                }
                EventType::PaymentIntentSucceeded
                | EventType::PaymentIntentAmountCapturableUpdated => {
                    let auth = *ty == EventType::PaymentIntentAmountCapturableUpdated;
                    self.pm_settle(tx, pi, &mut obj, &mut extra, true, None)
                        .await?;
                    obj["is_auth"] = json!(auth);
                    obj["updated_at"] = json!(stamp);
                    self.pm_mark_order_paid(tx, &t, pi.amount).await?;
                    self.pm_queue_callback(
                        tx,
                        &profile,
                        url.as_deref(),
                        "TRANSACTION",
                        &obj,
                        event_id,
                        now,
                    )
                    .await?;
                    if extra.save_card && pi.processor_ref.is_some() {
                        let token_obj = self
                            .pm_save_card(tx, &profile, &t, pi, &obj, &mut extra, now)
                            .await?;
                        self.pm_queue_callback(
                            tx,
                            &profile,
                            url.as_deref(),
                            "TOKEN",
                            &token_obj,
                            event_id,
                            now,
                        )
                        .await?;
                    }
                    self.pm_after_payment_success(
                        tx, &profile, &t, &mut extra, &obj, event_id, now,
                    )
                    .await?;
                }
                EventType::PaymentIntentPaymentFailed => {
                    let message = pi.last_payment_error.clone();
                    self.pm_settle(tx, pi, &mut obj, &mut extra, false, message.as_ref())
                        .await?;
                    obj["updated_at"] = json!(stamp);
                    self.pm_queue_callback(
                        tx,
                        &profile,
                        url.as_deref(),
                        "TRANSACTION",
                        &obj,
                        event_id,
                        now,
                    )
                    .await?;
                    self.pm_after_payment_failure(tx, &profile, &t, &extra, event_id, now)
                        .await?;
                }
                EventType::PaymentIntentCanceled => {
                    if obj["success"] == json!(true) && obj["is_auth"] == json!(true) {
                        obj["is_voided"] = json!(true);
                        obj["updated_at"] = json!(stamp);
                        let child = self
                            .pm_child(tx, &profile, &t, &obj, "void", pi.amount, now)
                            .await?;
                        self.pm_release_order(tx, &t, pi.amount).await?;
                        self.pm_queue_callback(
                            tx,
                            &profile,
                            url.as_deref(),
                            "TRANSACTION",
                            &child,
                            event_id,
                            now,
                        )
                        .await?;
                    } else if obj["pending"] == json!(true) {
                        obj["pending"] = json!(false);
                        obj["data"]["message"] = json!("Cancelled");
                        obj["data"]["txn_response_code"] = json!("CANCELLED");
                        obj["updated_at"] = json!(stamp);
                        extra.challenge = None;
                    }
                }
                _ => {}
            }
        }
        t.obj = to_text(&obj);
        t.extra = to_text(&extra);
        t.updated_at = now;
        tx.update_pm_transaction(&t).await?;
        Ok(())
    }

    /// A challenge started: which kind, and for a voucher its bill reference.
    async fn pm_on_requires_action(
        &self,
        tx: &mut Tx,
        pi: &PaymentIntent,
        obj: &mut Value,
        extra: &mut TxnExtra,
    ) -> crate::Result<()> {
        let attempt_id = pi
            .next_action
            .as_ref()
            .and_then(|a| a.redirect_to_url.url.rsplit('/').next().map(str::to_string));
        let attempt = match &attempt_id {
            Some(id) => tx.attempt(id).await?,
            None => None,
        };
        let state = attempt
            .as_ref()
            .and_then(|a| a.challenge_state.clone())
            .unwrap_or_default();
        let kind = kassa_processor::challenge_kind(&state).unwrap_or("3ds");
        extra.attempt_id = attempt.map(|a| a.id);
        self.pm_fill_method(pi, obj);
        obj["pending"] = json!(true);
        match kind {
            "voucher" => {
                extra.challenge = Some("voucher".into());
                let reference = kassa_processor::voucher_number(&state).unwrap_or_default();
                // The core's deadline, which it enforces.
                let expires = pi.pay_before.unwrap_or_else(|| now_ms() + VOUCHER_VALID_MS);
                extra.voucher_expires_at = Some(expires);
                obj["data"]["bill_reference"] = json!(reference);
                obj["data"]["bill_reference_expires_at"] = json!(utc_timestamp(expires));
                obj["data"]["message"] = json!("Pending");
                obj["data"]["txn_response_code"] = json!("PENDING");
                obj["is_bill"] = json!(extra.subtype == "AGGREGATOR");
            }
            "wallet" => {
                extra.challenge = Some("wallet".into());
                obj["data"]["message"] = json!("Waiting for the wallet's confirmation.");
            }
            _ => {
                extra.challenge = Some("3ds".into());
                obj["is_3d_secure"] = json!(true);
                obj["data"]["message"] = json!("Waiting for 3-D Secure authentication.");
            }
        }
        Ok(())
    }

    /// Fills `source_data` (and the card data fields) from the intent's method description.
    fn pm_fill_method(&self, pi: &PaymentIntent, obj: &mut Value) {
        let Some(m) = &pi.payment_method else { return };
        let last4 = m["last4"].as_str().unwrap_or_default();
        match m["kind"].as_str() {
            Some("card") => {
                let brand = brand_name(m["brand"].as_str().unwrap_or_default());
                obj["source_data"] = json!({"type": "card", "sub_type": brand, "pan": last4});
                let bin = m["bin"].as_str().unwrap_or("xxxxxx");
                obj["data"]["card_num"] = json!(format!("{bin}xxxxxx{last4}"));
                obj["data"]["card_type"] = json!(brand.to_ascii_uppercase());
            }
            Some("wallet") => {
                // The wallet's number is not stored; its last digits stand for it.
                let masked = format!("xxxxxxx{last4}");
                obj["source_data"] = json!({"type": "wallet", "sub_type": "wallet", "pan": masked,
                                            "phone_number": masked, "owner_name": ""});
            }
            _ => {}
        }
    }

    /// Records the answer on a payment transaction.
    async fn pm_settle(
        &self,
        _tx: &mut Tx,
        pi: &PaymentIntent,
        obj: &mut Value,
        extra: &mut TxnExtra,
        success: bool,
        error: Option<&kassa_core::intent::PaymentError>,
    ) -> crate::Result<()> {
        self.pm_fill_method(pi, obj);
        obj["pending"] = json!(false);
        obj["success"] = json!(success);
        extra.challenge = None;
        let subtype = extra.subtype.as_str();
        if success {
            let (code, acq, message) = match subtype {
                "WALLET" => ("200", "00", "Transaction has been completed successfully."),
                "AGGREGATOR" | "CASH" => ("200", "00", "Paid"),
                _ => ("APPROVED", "00", "Approved"),
            };
            obj["data"]["txn_response_code"] = json!(code);
            obj["data"]["acq_response_code"] = json!(acq);
            obj["data"]["message"] = json!(message);
        } else {
            let (code, acq) = error
                .map(|e| decline_codes(&e.code, e.decline_code.as_deref()))
                .unwrap_or(("DECLINED", "05"));
            obj["data"]["txn_response_code"] = json!(code);
            obj["data"]["acq_response_code"] = json!(acq);
            obj["data"]["message"] = json!(error
                .map(|e| e.message.clone())
                .unwrap_or_else(|| "Declined".into()));
            extra.decline_code = error.map(|e| e.code.clone());
            extra.decline_subcode = error.and_then(|e| e.decline_code.clone());
        }
        Ok(())
    }

    /// A child transaction (refund, void, capture) of `t`, written now; returns its object.
    #[allow(clippy::too_many_arguments)]
    pub(crate) async fn pm_child(
        &self,
        tx: &mut Tx,
        profile: &PmProfile,
        parent: &PmTransaction,
        parent_obj: &Value,
        kind: &str,
        amount: i64,
        now: i64,
    ) -> crate::Result<Value> {
        let id = tx.pm_next_id("transaction").await?;
        let stamp = kassa_paymob::time::timestamp(now, country_of(profile));
        let mut obj = parent_obj.clone();
        for (k, v) in [
            ("id", json!(id)),
            ("pending", json!(false)),
            ("success", json!(true)),
            ("amount_cents", json!(amount)),
            ("is_auth", json!(false)),
            ("is_capture", json!(kind == "capture")),
            ("is_standalone_payment", json!(false)),
            ("is_voided", json!(false)),
            ("is_refunded", json!(false)),
            ("is_void", json!(kind == "void")),
            ("is_refund", json!(kind == "refund")),
            ("is_captured", json!(false)),
            ("captured_amount", json!(0)),
            ("refunded_amount_cents", json!(0)),
            ("has_parent_transaction", json!(true)),
            ("parent_transaction", json!(parent.id)),
            ("created_at", json!(stamp)),
            ("updated_at", json!(stamp)),
            ("api_source", json!("OTHER")),
        ] {
            obj[k] = v;
        }
        obj["data"]["message"] = json!(match kind {
            "refund" => "Refunded",
            "void" => "Voided",
            _ => "Captured",
        });
        obj["data"]["txn_response_code"] = json!("APPROVED");
        obj["data"]["acq_response_code"] = json!("00");
        obj["data"]["amount"] = json!(amount);
        let child = PmTransaction {
            id,
            profile_id: parent.profile_id,
            order_id: parent.order_id,
            intent_id: None,
            parent_id: Some(parent.id),
            kind: kind.to_string(),
            obj: to_text(&obj),
            extra: "{}".into(),
            created_at: now,
            updated_at: now,
        };
        tx.insert_pm_transaction(&child).await?;
        Ok(obj)
    }

    async fn pm_mark_order_paid(
        &self,
        tx: &mut Tx,
        t: &PmTransaction,
        amount: i64,
    ) -> crate::Result<()> {
        let Some(mut order) = tx.pm_order(t.order_id).await? else {
            return Ok(());
        };
        let mut od: OrderDoc = doc(&order.doc, "order")?;
        od.paid_amount_cents += amount;
        order.doc = to_text(&od);
        order.updated_at = now_ms();
        tx.update_pm_order(&order).await?;
        if let Some(iid) = &order.intention_id {
            if let Some(mut row) = tx.pm_intention(iid).await? {
                let mut d: IntentionDoc = doc(&row.doc, "intention")?;
                d.status = "paid".into();
                row.doc = to_text(&d);
                row.updated_at = order.updated_at;
                tx.update_pm_intention(&row).await?;
            }
        }
        Ok(())
    }

    /// A void gives the order's money back (it may be paid again).
    async fn pm_release_order(
        &self,
        tx: &mut Tx,
        t: &PmTransaction,
        amount: i64,
    ) -> crate::Result<()> {
        let Some(mut order) = tx.pm_order(t.order_id).await? else {
            return Ok(());
        };
        let mut od: OrderDoc = doc(&order.doc, "order")?;
        od.paid_amount_cents = (od.paid_amount_cents - amount).max(0);
        order.doc = to_text(&od);
        order.updated_at = now_ms();
        tx.update_pm_order(&order).await?;
        Ok(())
    }

    /// Saves the card of a successful payment; returns the TOKEN callback's object.
    #[allow(clippy::too_many_arguments)]
    async fn pm_save_card(
        &self,
        tx: &mut Tx,
        profile: &PmProfile,
        t: &PmTransaction,
        pi: &PaymentIntent,
        obj: &Value,
        extra: &mut TxnExtra,
        now: i64,
    ) -> crate::Result<Value> {
        let token = kassa_paymob::keys::card_token();
        let id = tx.pm_next_id("card_token").await?;
        let last4 = obj["source_data"]["pan"].as_str().unwrap_or_default();
        let email = obj["payment_key_claims"]["billing_data"]["email"]
            .as_str()
            .unwrap_or_default();
        let mut token_obj = json!({
            "id": id,
            "token": token,
            "masked_pan": format!("xxxx-xxxx-xxxx-{last4}"),
            "merchant_id": profile.id,
            "card_subtype": obj["source_data"]["sub_type"],
            "created_at": kassa_paymob::time::timestamp(now, country_of(profile)),
            "email": email,
            "order_id": t.order_id.to_string(),
            "user_added": false,
            "next_payment_intention": obj["payment_key_claims"]["next_payment_intention"],
        });
        let mut stored = token_obj.clone();
        stored.as_object_mut().expect("object").remove("token");
        tx.insert_pm_card_token(&PmCardToken {
            id,
            profile_id: profile.id,
            token_hash: kassa_core::secret::hash_api_key(&token),
            token_enc: self.secrets.seal(&token),
            order_id: t.order_id,
            processor_ref: pi.processor_ref.clone().unwrap_or_default(),
            obj: stored.to_string(),
            created_at: now,
        })
        .await?;
        extra.card_token_id = Some(id);
        if token_obj["next_payment_intention"].is_null() {
            token_obj["next_payment_intention"] = json!("");
        }
        Ok(token_obj)
    }

    /// The customer's page for a pending 3-D Secure or wallet step.
    pub async fn pm_challenge_view(&self, txn_id: i64, sig: &str) -> PmResult<ChallengeView> {
        let (profile, integration, t) = self.pm_challenge_txn(txn_id, sig).await?;
        let obj: Value = doc(&t.obj, "transaction")?;
        let extra: TxnExtra = doc(&t.extra, "transaction extra")?;
        let done_url = match (&extra.challenge, obj["pending"].as_bool()) {
            (Some(c), Some(true)) if c == "3ds" || c == "wallet" => None,
            _ => Some(self.pm_final_url(&profile, &integration, &extra, &obj)?),
        };
        let currency = obj["currency"].as_str().unwrap_or_default().to_string();
        let amount = obj["amount_cents"].as_i64().unwrap_or_default();
        let pan = obj["source_data"]["pan"].as_str().unwrap_or_default();
        Ok(ChallengeView {
            transaction_id: t.id,
            kind: extra.challenge.clone().unwrap_or_else(|| "3ds".into()),
            amount: kassa_paymob::money::format_minor(amount, &currency),
            amount_cents: amount,
            currency,
            merchant_name: Self::pm_company_name(&profile),
            method: if extra.subtype == "WALLET" {
                pan.to_string()
            } else {
                format!("\u{2022}\u{2022}\u{2022}\u{2022} {pan}")
            },
            done_url,
            frame_ancestors: super::frame_ancestors_of(&profile),
            owner: super::PageOwner::of(&profile),
        })
    }

    async fn pm_challenge_txn(
        &self,
        txn_id: i64,
        sig: &str,
    ) -> PmResult<(PmProfile, Integration, PmTransaction)> {
        let expected = challenge_sig(&self.pm_page_key(), txn_id);
        if !kassa_core::secret::constant_time_eq(expected.as_bytes(), sig.as_bytes()) {
            return Err(PmError::not_found("Payment"));
        }
        let t = self
            .store
            .pm_transaction(txn_id)
            .await?
            .ok_or_else(|| PmError::not_found("Payment"))?;
        let profile = self
            .store
            .pm_profile(t.profile_id)
            .await?
            .ok_or_else(|| PmError::not_found("Payment"))?;
        let extra: TxnExtra = doc(&t.extra, "transaction extra")?;
        let integration = self
            .pm_integration(extra.integration_id)
            .await?
            .ok_or_else(|| PmError::not_found("Payment"))?;
        Ok((profile, integration, t))
    }

    /// The customer answered the 3-D Secure or wallet page; returns where they go next.
    pub async fn pm_answer_challenge(
        &self,
        txn_id: i64,
        sig: &str,
        approve: bool,
        otp: Option<String>,
    ) -> PmResult<String> {
        let (profile, integration, t) = self.pm_challenge_txn(txn_id, sig).await?;
        let extra: TxnExtra = doc(&t.extra, "transaction extra")?;
        if let (Some(attempt), Some("3ds" | "wallet")) =
            (&extra.attempt_id, extra.challenge.as_deref())
        {
            let result = match (extra.challenge.as_deref(), approve, otp) {
                (Some("wallet"), true, Some(code)) => ChallengeResult::Otp(code),
                (_, true, _) => ChallengeResult::Approve,
                _ => ChallengeResult::Fail,
            };
            self.complete_challenge_with(attempt, result).await?;
        }
        let t = self
            .store
            .pm_transaction(txn_id)
            .await?
            .ok_or_else(|| PmError::not_found("Payment"))?;
        let obj: Value = doc(&t.obj, "transaction")?;
        let extra: TxnExtra = doc(&t.extra, "transaction extra")?;
        self.pm_final_url(&profile, &integration, &extra, &obj)
    }

    /// Sandbox: the customer paid (or never paid) a kiosk reference or the courier collected
    /// (or did not collect) the cash. Returns the transaction.
    pub async fn pm_sandbox_settle(
        &self,
        merchant_id: &str,
        txn_id: i64,
        paid: bool,
    ) -> PmResult<Value> {
        let t = match self.store.pm_transaction(txn_id).await? {
            Some(t) => t,
            None => return Err(PmError::not_found("Transaction")),
        };
        let profile = self
            .store
            .pm_profile(t.profile_id)
            .await?
            .filter(|p| p.merchant_id == merchant_id)
            .ok_or_else(|| PmError::not_found("Transaction"))?;
        let extra: TxnExtra = doc(&t.extra, "transaction extra")?;
        match (&extra.attempt_id, extra.challenge.as_deref()) {
            (Some(attempt), Some("voucher")) => {
                // A reference paid after its expiry is refused by the core, as a real outlet
                // would refuse it.
                let r = if paid {
                    ChallengeResult::Approve
                } else {
                    ChallengeResult::Fail
                };
                self.complete_challenge_with(attempt, r).await?;
            }
            _ => {
                return Err(PmError::message(
                    400,
                    "This transaction is not a pending kiosk or cash payment.",
                ))
            }
        }
        self.pm_get_transaction(&profile, txn_id).await
    }

    /// A refund of a Paymob payment (made through either API): a child transaction and its
    /// callback, in the refund's transaction.
    pub(crate) async fn pm_after_refund(
        &self,
        tx: &mut Tx,
        intent_id: &str,
        refund: &Refund,
        event_id: &str,
        now: i64,
    ) -> crate::Result<()> {
        let Some(mut t) = tx.pm_transaction_by_intent(intent_id).await? else {
            return Ok(());
        };
        let Some(profile) = self.store.pm_profile(t.profile_id).await? else {
            return Ok(());
        };
        let mut obj: Value = doc(&t.obj, "transaction")?;
        let extra: TxnExtra = doc(&t.extra, "transaction extra")?;
        let is_void = refund.kind == RefundKind::Void;
        if is_void {
            obj["is_voided"] = json!(true);
            self.pm_release_order(tx, &t, refund.amount).await?;
        } else {
            let refunded = obj["refunded_amount_cents"].as_i64().unwrap_or(0) + refund.amount;
            obj["refunded_amount_cents"] = json!(refunded);
            obj["is_refunded"] = json!(true);
        }
        obj["updated_at"] = json!(kassa_paymob::time::timestamp(now, country_of(&profile)));
        let kind = if is_void { "void" } else { "refund" };
        let mut child = self
            .pm_child(tx, &profile, &t, &obj, kind, refund.amount, now)
            .await?;
        child["data"]["refund_id"] = json!(refund.id);
        t.obj = to_text(&obj);
        t.updated_at = now;
        tx.update_pm_transaction(&t).await?;
        if let Some(integration) = self.pm_integration(extra.integration_id).await? {
            let url = Self::callback_url(&integration, &extra);
            self.pm_queue_callback(
                tx,
                &profile,
                url.as_deref(),
                "TRANSACTION",
                &child,
                event_id,
                now,
            )
            .await?;
        }
        Ok(())
    }
}
