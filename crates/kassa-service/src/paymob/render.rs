//! Paymob's transaction objects and callbacks rendered from the core intent's changes, in the
//! change's own transaction (the projection's intent hook).

use super::accounts::country_of;
use super::intentions::{KeyClaims, OrderDoc};
use super::{doc, to_text, Integration, IntegrationKind};
use crate::Paymob;
use kassa_core::events::EventType;
use kassa_core::intent::PaymentIntent;
use kassa_paymob::transaction::{ChildKind, NewTransaction, SourceKind, Transaction};
use kassa_store::{now_ms, PmProfile, Tx};
use serde_json::{json, Value};

use super::pay::*;

impl Paymob<'_> {
    /// A new payment transaction's object: pending, nothing known yet.
    #[allow(clippy::too_many_arguments)]
    pub(crate) fn initial_obj(
        &self,
        profile: &PmProfile,
        integration: &Integration,
        order: &kassa_store::PmOrder,
        od: &OrderDoc,
        claims: &KeyClaims,
        txn_id: i64,
        api_source: &str,
        now: i64,
    ) -> Transaction {
        let created = kassa_paymob::time::timestamp(now, country_of(profile));
        let kind = integration.doc.kind;
        let source = match kind {
            IntegrationKind::Wallet => SourceKind::Wallet,
            IntegrationKind::Kiosk => SourceKind::Kiosk,
            IntegrationKind::Cash => SourceKind::Cash,
            _ => SourceKind::Card,
        };
        let status_page = format!(
            "{}/unifiedcheckout/payment-status?trx_id={txn_id}",
            self.base_url
        );
        Transaction::new(NewTransaction {
            id: txn_id,
            amount_cents: claims.amount_cents,
            currency: &claims.currency,
            integration_id: integration.id,
            klass: kind.klass(),
            source,
            profile_id: profile.id,
            is_live: profile.live,
            order: self.order_json(profile, order, od),
            payment_key_claims: claims.shown(&status_page),
            api_source,
            created_at: &created,
        })
    }

    /// Queues the processed callback (and nothing if nobody is listening) for `obj`.
    #[allow(clippy::too_many_arguments)]
    pub(crate) async fn queue_callback(
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
        let secret = self.hmac_secret(profile)?;
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
        // A TOKEN callback carries the saved card's token: the outbox keeps it sealed under the
        // master key (the notifier opens it to send), as the token itself is kept.
        let stored_body = if kind == "TOKEN" {
            self.secrets.seal(&body.to_string())
        } else {
            body.to_string()
        };
        tx.insert_post_delivery(
            &profile.scope(),
            CHANNEL,
            &format!("pmp_{}", profile.id),
            event_id,
            &target,
            &stored_body,
            due,
        )
        .await?;
        Ok(())
    }

    /// The processed-callback URL of a transaction.
    pub(super) fn callback_url(integration: &Integration, extra: &TxnExtra) -> Option<String> {
        extra
            .notification_url
            .clone()
            .or_else(|| integration.doc.processed_callback_url.clone())
    }

    /// The core intent behind a Paymob transaction changed: rewrite the transaction object and
    /// queue its callbacks, inside the same database transaction.
    pub(crate) async fn after_intent_events(
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
        let mut obj: Transaction = doc(&t.obj, "transaction")?;
        let mut extra: TxnExtra = doc(&t.extra, "transaction extra")?;
        let Some(integration) = self.integration(extra.integration_id).await? else {
            return Ok(());
        };
        let stamp = kassa_paymob::time::timestamp(now, country_of(&profile));
        let url = Self::callback_url(&integration, &extra);
        for (ty, event_id) in written {
            match ty {
                EventType::PaymentIntentRequiresAction => {
                    self.on_requires_action(tx, pi, &mut obj, &mut extra)
                        .await?;
                    obj.updated_at = stamp.clone();
                    if extra.challenge.as_deref() == Some("voucher") {
                        // The bill reference is news the merchant needs (kiosk and cash).
                        self.queue_callback(
                            tx,
                            &profile,
                            url.as_deref(),
                            "TRANSACTION",
                            &obj.to_json(),
                            event_id,
                            now,
                        )
                        .await?;
                    }
                }
                EventType::PaymentIntentSucceeded if was_authorised(pi, &extra) => {
                    // A capture of an authorisation: a child transaction.
                    let amount = pi.amount_received;
                    obj.is_captured = true;
                    obj.captured_amount = amount;
                    obj.updated_at = stamp.clone();
                    let child = self
                        .child(tx, &profile, &t, &obj, ChildKind::Capture, amount, now)
                        .await?;
                    self.queue_callback(
                        tx,
                        &profile,
                        url.as_deref(),
                        "TRANSACTION",
                        &child.to_json(),
                        event_id,
                        now,
                    )
                    .await?;
                }
                EventType::PaymentIntentSucceeded
                | EventType::PaymentIntentAmountCapturableUpdated => {
                    let auth = *ty == EventType::PaymentIntentAmountCapturableUpdated;
                    self.settle(tx, pi, &mut obj, &mut extra, true, None)
                        .await?;
                    obj.is_auth = auth;
                    obj.updated_at = stamp.clone();
                    extra.authorised = Some(auth);
                    self.mark_order_paid(tx, &t, pi.amount).await?;
                    self.queue_callback(
                        tx,
                        &profile,
                        url.as_deref(),
                        "TRANSACTION",
                        &obj.to_json(),
                        event_id,
                        now,
                    )
                    .await?;
                    if extra.save_card && pi.processor_ref.is_some() {
                        let token_obj = self
                            .save_card(tx, &profile, &t, pi, &obj, &mut extra, now)
                            .await?;
                        self.queue_callback(
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
                    self.start_subscription(tx, &profile, &t, pi, &mut extra, &obj, now)
                        .await?;
                }
                EventType::PaymentIntentPaymentFailed => {
                    let message = pi.last_payment_error.clone();
                    self.settle(tx, pi, &mut obj, &mut extra, false, message.as_ref())
                        .await?;
                    obj.updated_at = stamp.clone();
                    self.queue_callback(
                        tx,
                        &profile,
                        url.as_deref(),
                        "TRANSACTION",
                        &obj.to_json(),
                        event_id,
                        now,
                    )
                    .await?;
                }
                EventType::PaymentIntentCanceled => {
                    if extra.challenge.is_none() && was_authorised(pi, &extra) {
                        obj.is_voided = true;
                        obj.updated_at = stamp.clone();
                        let child = self
                            .child(tx, &profile, &t, &obj, ChildKind::Void, pi.amount, now)
                            .await?;
                        self.release_order(tx, &t, pi.amount).await?;
                        self.queue_callback(
                            tx,
                            &profile,
                            url.as_deref(),
                            "TRANSACTION",
                            &child.to_json(),
                            event_id,
                            now,
                        )
                        .await?;
                    } else if extra.challenge.is_some() {
                        obj.pending = false;
                        obj.data.message = "Cancelled".into();
                        obj.data.txn_response_code = "CANCELLED".into();
                        obj.updated_at = stamp.clone();
                        extra.challenge = None;
                    }
                }
                _ => {}
            }
        }
        t.obj = obj.to_text();
        t.extra = to_text(&extra);
        t.updated_at = now;
        tx.update_pm_transaction(&t).await?;
        Ok(())
    }

    /// A challenge started: which kind, and for a voucher its bill reference.
    pub(super) async fn on_requires_action(
        &self,
        tx: &mut Tx,
        pi: &PaymentIntent,
        obj: &mut Transaction,
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
        pm_fill_method(pi, obj);
        obj.pending = true;
        match kind {
            "voucher" => {
                extra.challenge = Some("voucher".into());
                let reference = kassa_processor::voucher_number(&state).unwrap_or_default();
                // The core's deadline, which it enforces.
                let expires = pi.pay_before.unwrap_or_else(|| now_ms() + VOUCHER_VALID_MS);
                extra.voucher_expires_at = Some(expires);
                obj.data.bill_reference = Some(reference);
                obj.data.bill_reference_expires_at = Some(utc_timestamp(expires));
                obj.data.message = "Pending".into();
                obj.data.txn_response_code = "PENDING".into();
                obj.is_bill = extra.subtype == "AGGREGATOR";
            }
            "wallet" => {
                extra.challenge = Some("wallet".into());
                obj.data.message = "Waiting for the wallet's confirmation.".into();
            }
            _ => {
                extra.challenge = Some("3ds".into());
                obj.is_3d_secure = true;
                obj.data.message = "Waiting for 3-D Secure authentication.".into();
            }
        }
        Ok(())
    }
}

/// Fills `source_data` (and the card data fields) from the intent's method description.
pub(super) fn pm_fill_method(pi: &PaymentIntent, obj: &mut Transaction) {
    let Some(m) = &pi.payment_method else { return };
    match m.kind.as_str() {
        "card" => obj.set_card(brand_name(&m.brand), m.bin.as_deref(), &m.last4),
        "wallet" => obj.set_wallet(&m.last4),
        _ => {}
    }
}

/// Whether the transaction's payment was authorised for a later capture: as the face recorded
/// it, or (for a transaction written before it kept that) as the core payment shows: a
/// manual-capture payment the processor accepted.
fn was_authorised(pi: &PaymentIntent, extra: &TxnExtra) -> bool {
    extra.authorised.unwrap_or(
        pi.capture_method == kassa_core::intent::CaptureMethod::Manual
            && pi.payment_method.is_some()
            && pi.processor_ref.is_some(),
    )
}
