//! Paying: `POST /api/acceptance/payments/pay` turns a payment key and a source into a core
//! payment intent and its confirmation. What the payment then looks like on the wire is
//! rendered in `render.rs` (objects and callbacks from the core's changes) and `settle.rs`
//! (final objects, child transactions, saved cards); the customer's pages are in
//! `challenges.rs`.

use crate::Paymob;
use kassa_core::card::{CardNumber, Expiry};
use kassa_core::events::EventType;
use kassa_core::intent::{CaptureMethod, IntentStatus, Metadata};
use kassa_core::money::Currency;
use kassa_core::order::OrderBlock;
use kassa_paymob::request::{self, PaySource};
use kassa_paymob::transaction::{CardToken, Transaction};
use kassa_processor::PaymentMethodInput;
use kassa_store::{now_ms, PmCardToken, PmProfile, PmTransaction};
use serde::{Deserialize, Serialize};
use serde_json::{json, Value};

use super::intentions::{IntentionDoc, OrderDoc};
use super::{doc, to_text, Integration, IntegrationKind, PmError, PmResult};
use crate::{ConfirmParams, CreateIntentParams, ServiceError};

/// How long a Paymob authorisation waits for its capture: the core releases (voids) it then.
pub const AUTO_VOID_MS: i64 = 14 * kassa_core::calendar::DAY_MS;

/// The channel of Paymob callbacks in the outbox.
pub const CHANNEL: kassa_store::Channel = kassa_store::Channel::PaymobCallback;

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
    /// Set when the payment was authorised for a later capture (`is_auth`); absent in
    /// transactions written before it was kept, where the core payment tells.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub authorised: Option<bool>,
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

/// The core's key of a Paymob order that takes one payment.
pub(crate) fn order_key(order_id: i64) -> String {
    format!("paymob:{order_id}")
}

/// Paymob's answer when the core's rule refuses a new payment of an order.
pub(super) fn order_block_error(block: Option<OrderBlock>) -> PmResult<()> {
    match block {
        None => Ok(()),
        Some(OrderBlock::Paid) => Err(PmError::message(400, "Order has already been paid.")),
        Some(OrderBlock::InProgress) => Err(PmError::message(
            400,
            "Order already being processed for payment.",
        )),
    }
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

pub(super) fn brand_name(brand: &str) -> &'static str {
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
pub(super) fn decline_codes(
    code: &str,
    decline_code: Option<&str>,
) -> (&'static str, &'static str) {
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
    let shown: CardToken = doc(&card.obj, "card token")?;
    Ok(json!({"kind": "card", "brand": shown.card_subtype.to_ascii_lowercase(),
              "last4": shown.last4(), "exp_month": 0, "exp_year": 0, "bin": null, "fingerprint": ""})
    .to_string())
}

pub(super) fn hex_lower(b: &[u8]) -> String {
    b.iter().map(|x| format!("{x:02x}")).collect()
}

impl Paymob<'_> {
    pub(crate) fn challenge_url(&self, txn_id: i64) -> String {
        format!(
            "{}/api/acceptance/challenge/{txn_id}/{}",
            self.base_url,
            challenge_sig(&self.page_key(), txn_id)
        )
    }

    /// Where the customer goes once a payment has its answer: the merchant's response callback
    /// (signed query), else Kassa's payment status page (signed the same way).
    pub(crate) fn final_url(
        &self,
        profile: &PmProfile,
        integration: &Integration,
        extra: &TxnExtra,
        obj: &Transaction,
    ) -> PmResult<String> {
        let base = extra
            .redirection_url
            .clone()
            .or_else(|| integration.doc.response_callback_url.clone())
            .unwrap_or_else(|| format!("{}/unifiedcheckout/payment-status", self.base_url));
        let secret = self.hmac_secret(profile)?;
        Ok(kassa_paymob::redirect::signed_url(
            &base,
            &obj.to_json(),
            &secret,
        ))
    }

    /// `POST /api/acceptance/payments/pay`.
    pub async fn pay(&self, body: &Value) -> PmResult<PayResponse> {
        let input = request::parse_pay(body).map_err(PmError::fields)?;
        let claims = self.open_key(&input.payment_token)?;
        let profile = self
            .store
            .pm_profile(claims.user_id)
            .await?
            .ok_or_else(|| PmError::detail(401, "Invalid payment token."))?;
        let integration = match self.integration(claims.integration_id).await? {
            Some(i) if i.profile_id == profile.id => i,
            _ => return Err(PmError::detail(401, "Invalid payment token.")),
        };
        let (order, od) = self.own_order(&profile, claims.order_id).await?;
        self.check_order_unpaid(&profile, order.id, &od).await?;
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
        // An order that takes one payment (the core's rule, `kassa_core::order`): a customer
        // who abandoned a 3-D Secure, wallet or kiosk step and tries again gets that attempt
        // cancelled first, so the two can never both be paid; an attempt still being decided
        // blocks a second one. The store's index holds the rule against a concurrent request.
        let order_key = od.lock_when_paid.then(|| order_key(order.id));
        if let Some(key) = &order_key {
            self.cancel_open_attempts(&profile, key).await?;
        }
        let mut tx = self.store.begin().await?;
        tx.lock_pm_order(order.id).await?;
        if let Some(key) = &order_key {
            let payments = tx.intents_of_order(&profile.scope(), key).await?;
            order_block_error(kassa_core::order::blocker(
                payments.iter().map(|p| p.status),
            ))?;
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
        let pi = self.payments().build_intent(
            &profile.scope(),
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
                order_key,
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
        let obj = self.initial_obj(
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
            obj: obj.to_text(),
            extra: to_text(&extra),
            created_at: now,
            updated_at: now,
        };
        tx.insert_intent(&pi).await?;
        tx.insert_pm_transaction(&txn).await?;
        self.payments()
            .emit(&mut tx, &pi, &[EventType::PaymentIntentCreated], now)
            .await?;
        tx.commit().await?;

        // 2. Charge (the hook records each outcome on the transaction).
        let result = match method {
            Method::Live(m) => {
                self.payments()
                    .confirm_intent(
                        &profile.scope(),
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
                self.payments()
                    .confirm_with_stored_method(
                        &profile.scope(),
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
        self.pay_response(&profile, &integration, &t)
    }

    /// Cancels an order's payments that wait for the customer (3-D Secure, wallet, kiosk,
    /// cash) as abandoned. Refuses when one is still being decided or the order got paid.
    pub(super) async fn cancel_open_attempts(
        &self,
        profile: &PmProfile,
        order_key: &str,
    ) -> PmResult<()> {
        let payments = self
            .store
            .intents_of_order(&profile.scope(), order_key)
            .await?;
        let settled = payments
            .iter()
            .filter(|p| p.status != IntentStatus::RequiresAction)
            .map(|p| p.status);
        order_block_error(kassa_core::order::blocker(settled))?;
        for p in payments
            .iter()
            .filter(|p| p.status == IntentStatus::RequiresAction)
        {
            if let Err(e) = self
                .payments()
                .cancel_intent(&profile.scope(), &p.id, Some("abandoned".into()), None)
                .await
            {
                // Answered meanwhile: whatever it became decides (paid → refused after this).
                tracing::info!(intent = %p.id, error = %e, "an open attempt could not be cancelled");
            }
        }
        Ok(())
    }

    /// Refuses a new payment of an order that takes one and has been paid.
    pub(super) async fn check_order_unpaid(
        &self,
        profile: &PmProfile,
        order_id: i64,
        od: &OrderDoc,
    ) -> PmResult<()> {
        if !od.lock_when_paid {
            return Ok(());
        }
        let payments = self
            .store
            .intents_of_order(&profile.scope(), &order_key(order_id))
            .await?;
        match kassa_core::order::blocker(payments.iter().map(|p| p.status)) {
            Some(OrderBlock::Paid) => Err(PmError::message(400, "Order has already been paid.")),
            _ => Ok(()),
        }
    }

    /// The pay endpoint's body for a transaction: its object with string booleans, plus where
    /// the customer goes next.
    pub(super) fn pay_response(
        &self,
        profile: &PmProfile,
        integration: &Integration,
        t: &PmTransaction,
    ) -> PmResult<PayResponse> {
        let obj: Transaction = doc(&t.obj, "transaction")?;
        let extra: TxnExtra = doc(&t.extra, "transaction extra")?;
        // A challenge is set exactly while the payment waits for its customer.
        let next = match extra.challenge.as_deref() {
            Some("3ds" | "wallet") => self.challenge_url(t.id),
            Some(_) => String::new(),
            None => self.final_url(profile, integration, &extra, &obj)?,
        };
        let mut body = kassa_paymob::lenient::stringify_booleans(&obj.to_json());
        body["redirect_url"] = json!(next);
        body["redirection_url"] = json!(next);
        body["iframe_redirection_url"] = json!(next);
        body["merchant_order_id"] = obj.merchant_order_id().clone();
        Ok(PayResponse { status: 200, body })
    }
}
