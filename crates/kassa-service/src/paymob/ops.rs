//! After the payment: refund, void and capture (each a child transaction with its callback).
//! Paymob's own preconditions (and their messages) are read from the core's state of the
//! payment; the core then applies its rules (amounts, states) once more in the same command.
//! Authorisations left uncaptured are released by the core after the payment's 14-day window.

use crate::Paymob;
use kassa_core::intent::{CaptureMethod, IntentStatus, PaymentIntent, RefundKind, RefundStatus};
use kassa_store::{now_ms, PmProfile, PmTransaction};
use serde_json::{json, Value};

use super::accounts::country_of;
use super::{PmError, PmResult};
use crate::CreateRefundParams;

/// What refund, void and capture need to know about a payment, read from the core's own state
/// (the payment intent and its refunds), never from the callback object shown to the merchant.
struct Paid {
    pi: PaymentIntent,
    /// Released (an authorisation) or given back in full by a void.
    voided: bool,
}

impl Paid {
    /// Paymob's `is_auth`: authorised now, captured later.
    fn is_auth(&self) -> bool {
        self.pi.capture_method == CaptureMethod::Manual
    }
    fn is_captured(&self) -> bool {
        self.is_auth() && self.pi.amount_received > 0
    }
}

fn int_field(body: &Value, key: &str, required: bool) -> PmResult<Option<i64>> {
    match body.get(key).filter(|v| !v.is_null()) {
        None if required => Err(PmError::fields(json!({ key: ["This field is required."] }))),
        None => Ok(None),
        Some(v) => match kassa_paymob::lenient::int(v) {
            Some(n) if n >= 1 => Ok(Some(n)),
            Some(_) => Err(PmError::fields(
                json!({ key: ["Ensure this value is greater than or equal to 1."] }),
            )),
            None => Err(PmError::fields(
                json!({ key: ["A valid integer is required."] }),
            )),
        },
    }
}

impl Paymob<'_> {
    /// The payment transaction an operation names, with its payment's state.
    async fn payment_for_op(
        &self,
        profile: &PmProfile,
        body: &Value,
    ) -> PmResult<(PmTransaction, Paid)> {
        let id = int_field(body, "transaction_id", true)?.unwrap_or_default();
        let t = self.own_transaction(profile, id).await?;
        let Some(intent_id) = t.intent_id.clone().filter(|_| t.parent_id.is_none()) else {
            return Err(PmError::message(400, "This transaction is not a payment."));
        };
        let pi = self.payments().intent(&profile.scope(), &intent_id).await?;
        // Authorised at some point: captured, waiting for its capture, or released since.
        let successful = pi.processor_ref.is_some()
            && matches!(
                pi.status,
                IntentStatus::Succeeded | IntentStatus::RequiresCapture | IntentStatus::Canceled
            );
        if !successful {
            return Err(PmError::message(400, "Transaction is not successful."));
        }
        let refunds = self
            .store
            .list_refunds(&profile.scope(), 100, None, Some(&intent_id))
            .await?
            .unwrap_or_default();
        let voided = pi.status == IntentStatus::Canceled
            || refunds
                .iter()
                .any(|r| r.kind == RefundKind::Void && r.status == RefundStatus::Succeeded);
        Ok((t, Paid { pi, voided }))
    }

    /// The newest child of `kind` of a transaction, as the operation's answer.
    async fn newest_child(&self, parent: i64, kind: &str) -> PmResult<Value> {
        let children = self.store.pm_children(parent).await?;
        let child = children
            .iter()
            .rev()
            .find(|c| c.kind == kind)
            .ok_or_else(|| PmError::detail(500, "A server error occurred."))?;
        super::txn_json(child)
    }

    /// `POST /api/acceptance/void_refund/refund` `{transaction_id, amount_cents}`.
    pub async fn refund(&self, profile: &PmProfile, body: &Value) -> PmResult<Value> {
        let amount = int_field(body, "amount_cents", true)?.unwrap_or_default();
        let (t, paid) = self.payment_for_op(profile, body).await?;
        if paid.is_auth() && !paid.is_captured() {
            return Err(PmError::message(
                400,
                "This authorisation is not captured; void it instead.",
            ));
        }
        if paid.voided {
            return Err(PmError::message(400, "This transaction is voided."));
        }
        let refundable = paid.pi.refundable();
        if amount > refundable {
            return Err(PmError::message(
                400,
                format!("The refund amount is more than the refundable amount ({refundable})."),
            ));
        }
        self.payments()
            .create_refund(
                &profile.scope(),
                CreateRefundParams {
                    payment_intent: t.intent_id.clone().unwrap_or_default(),
                    amount: Some(amount),
                    reason: Some("requested_by_customer".into()),
                    ..Default::default()
                },
                None,
            )
            .await?;
        self.newest_child(t.id, "refund").await
    }

    /// `POST /api/acceptance/void_refund/void` `{transaction_id}`: on the day of the payment
    /// only (the profile's local day). An authorisation is released; a captured payment is
    /// given back in full without fees.
    pub async fn void(&self, profile: &PmProfile, body: &Value) -> PmResult<Value> {
        let (t, paid) = self.payment_for_op(profile, body).await?;
        if paid.voided {
            return Err(PmError::message(400, "This transaction is already voided."));
        }
        let day =
            |ms: i64| kassa_paymob::time::timestamp(ms, country_of(profile))[..10].to_string();
        if day(t.created_at) != day(now_ms()) {
            return Err(PmError::message(
                400,
                "A transaction can only be voided on the day it was made; refund it instead.",
            ));
        }
        let intent = t.intent_id.clone().unwrap_or_default();
        if paid.is_auth() && !paid.is_captured() {
            self.payments()
                .cancel_intent(
                    &profile.scope(),
                    &intent,
                    Some("requested_by_customer".into()),
                    None,
                )
                .await?;
            return self.newest_child(t.id, "void").await;
        }
        if paid.pi.amount_refunded > 0 {
            return Err(PmError::message(
                400,
                "This transaction is partly refunded; refund the rest instead.",
            ));
        }
        self.payments()
            .create_refund(
                &profile.scope(),
                CreateRefundParams {
                    payment_intent: intent,
                    amount: None,
                    kind: RefundKind::Void,
                    reason: Some("requested_by_customer".into()),
                    metadata: Default::default(),
                },
                None,
            )
            .await?;
        self.newest_child(t.id, "void").await
    }

    /// `POST /api/acceptance/capture` `{transaction_id, amount_cents}`: at most the authorised
    /// amount, once.
    pub async fn capture(&self, profile: &PmProfile, body: &Value) -> PmResult<Value> {
        let amount = int_field(body, "amount_cents", true)?.unwrap_or_default();
        let (t, paid) = self.payment_for_op(profile, body).await?;
        if !paid.is_auth() {
            return Err(PmError::message(
                400,
                "This transaction is not an authorisation.",
            ));
        }
        if paid.is_captured() || paid.voided {
            return Err(PmError::message(
                400,
                "This authorisation is already captured or voided.",
            ));
        }
        let authorised = paid.pi.amount_capturable;
        if amount > authorised {
            return Err(PmError::message(
                400,
                format!("The capture amount is more than the authorised amount ({authorised})."),
            ));
        }
        self.payments()
            .capture_intent(
                &profile.scope(),
                t.intent_id.as_deref().unwrap_or_default(),
                Some(amount),
                None,
            )
            .await?;
        self.newest_child(t.id, "capture").await
    }
}
