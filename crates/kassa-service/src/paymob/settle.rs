//! What a settled payment writes on the Paymob side: the transaction's final object, child
//! transactions (refund, void, capture), the order's paid amount, and the saved card's token.

use super::accounts::country_of;
use super::intentions::{IntentionDoc, OrderDoc};
use super::{doc, to_text};
use crate::Paymob;
use kassa_core::customer::{text_field, Customer};
use kassa_core::events::EventType;
use kassa_core::ids::{new_id, prefix};
use kassa_core::intent::{Metadata, PaymentIntent, Refund, RefundKind};
use kassa_core::payment_method::{PaymentMethod, SetupFutureUsage};
use kassa_paymob::transaction::{CardToken, ChildKind, Transaction};
use kassa_store::{now_ms, PmCardToken, PmProfile, PmTransaction, Tx};
use serde_json::Value;

use super::pay::*;

impl Paymob<'_> {
    /// Records the answer on a payment transaction.
    pub(super) async fn settle(
        &self,
        _tx: &mut Tx,
        pi: &PaymentIntent,
        obj: &mut Transaction,
        extra: &mut TxnExtra,
        success: bool,
        error: Option<&kassa_core::intent::PaymentError>,
    ) -> crate::Result<()> {
        super::render::pm_fill_method(pi, obj);
        extra.challenge = None;
        if success {
            obj.approve(&extra.subtype);
        } else {
            let (code, acq) = error
                .map(|e| decline_codes(&e.code, e.decline_code.as_deref()))
                .unwrap_or(("DECLINED", "05"));
            let message = error.map_or("Declined", |e| e.message.as_str());
            obj.answer(false, code, acq, message);
            extra.decline_code = error.map(|e| e.code.clone());
            extra.decline_subcode = error.and_then(|e| e.decline_code.clone());
        }
        Ok(())
    }

    /// A child transaction (refund, void, capture) of `parent`, written now; returns it.
    #[allow(clippy::too_many_arguments)]
    pub(crate) async fn child(
        &self,
        tx: &mut Tx,
        profile: &PmProfile,
        parent: &PmTransaction,
        parent_obj: &Transaction,
        kind: ChildKind,
        amount: i64,
        now: i64,
    ) -> crate::Result<Transaction> {
        self.child_with(tx, profile, parent, parent_obj, kind, amount, None, now)
            .await
    }

    /// [`Self::pm_child`] of a refund or void, which names the core refund it stands for.
    #[allow(clippy::too_many_arguments)]
    async fn child_with(
        &self,
        tx: &mut Tx,
        profile: &PmProfile,
        parent: &PmTransaction,
        parent_obj: &Transaction,
        kind: ChildKind,
        amount: i64,
        refund_id: Option<&str>,
        now: i64,
    ) -> crate::Result<Transaction> {
        let id = tx.pm_next_id("transaction").await?;
        let stamp = kassa_paymob::time::timestamp(now, country_of(profile));
        let obj = parent_obj.child(id, kind, amount, &stamp);
        let child = PmTransaction {
            id,
            profile_id: parent.profile_id,
            order_id: parent.order_id,
            intent_id: None,
            parent_id: Some(parent.id),
            kind: kind.as_str().to_string(),
            obj: obj.to_text(),
            extra: "{}".into(),
            created_at: now,
            updated_at: now,
        };
        tx.insert_pm_transaction(&child).await?;
        let mut obj = obj;
        // The callback names the refund; the stored child does not (as before).
        obj.data.refund_id = refund_id.map(str::to_string);
        Ok(obj)
    }

    pub(super) async fn mark_order_paid(
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
    pub(super) async fn release_order(
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
    pub(super) async fn save_card(
        &self,
        tx: &mut Tx,
        profile: &PmProfile,
        t: &PmTransaction,
        pi: &PaymentIntent,
        obj: &Transaction,
        extra: &mut TxnExtra,
        now: i64,
    ) -> crate::Result<Value> {
        let token = kassa_paymob::keys::card_token();
        let id = tx.pm_next_id("card_token").await?;
        let last4 = obj.source_data.pan.as_str();
        let email = obj.billing("email");
        let card = CardToken {
            id,
            token: None,
            masked_pan: format!("xxxx-xxxx-xxxx-{last4}"),
            merchant_id: profile.id,
            card_subtype: obj.source_data.sub_type.clone(),
            created_at: kassa_paymob::time::timestamp(now, country_of(profile)),
            email: email.to_string(),
            order_id: t.order_id.to_string(),
            user_added: false,
            next_payment_intention: obj.payment_key_claims["next_payment_intention"]
                .as_str()
                .map(str::to_string),
        };
        let (customer_id, payment_method_id) =
            match self.core_card(tx, profile, pi, obj, now).await? {
                Some((c, m)) => (Some(c), Some(m)),
                None => (None, None),
            };
        tx.insert_pm_card_token(&PmCardToken {
            id,
            profile_id: profile.id,
            token_hash: kassa_core::secret::hash_api_key(&token),
            token_enc: self.secrets.seal(&token),
            order_id: t.order_id,
            processor_ref: pi.processor_ref.clone().unwrap_or_default(),
            obj: to_text(&card),
            created_at: now,
            customer_id,
            payment_method_id,
        })
        .await?;
        extra.card_token_id = Some(id);
        Ok(card.callback_json(&token))
    }

    /// The saved card as the core has it: a customer (the billing contact) and an off-session
    /// payment method attached to it, with their events. `None` when the payment has no card
    /// description to save.
    async fn core_card(
        &self,
        tx: &mut Tx,
        profile: &PmProfile,
        pi: &PaymentIntent,
        obj: &Transaction,
        now: i64,
    ) -> crate::Result<Option<(String, String)>> {
        let (Some(details), Some(processor_ref)) = (&pi.payment_method, &pi.processor_ref) else {
            return Ok(None);
        };
        let field = |k: &str| obj.billing(k).trim().to_string();
        let name = format!("{} {}", field("first_name"), field("last_name"));
        let customer = Customer {
            id: new_id(prefix::CUSTOMER),
            merchant_id: profile.merchant_id.clone(),
            livemode: profile.live,
            email: crate::payments::check_email_as("email", &field("email")).ok(),
            name: text_field(&name, 256, "name").ok().flatten(),
            phone: text_field(&field("phone_number"), 32, "phone")
                .ok()
                .flatten(),
            description: None,
            metadata: Metadata::new(),
            test_clock: None,
            created: now,
            updated: now,
        };
        tx.insert_customer(&customer).await?;
        let ev = self.payments().new_event(
            &customer.scope(),
            EventType::CustomerCreated,
            customer.to_json(),
            now,
        );
        tx.insert_event(&ev, &customer.id).await?;
        let pm = PaymentMethod {
            id: new_id(prefix::PAYMENT_METHOD),
            merchant_id: profile.merchant_id.clone(),
            livemode: profile.live,
            customer: Some(customer.id.clone()),
            kind: "card".into(),
            details: details.clone(),
            processor_ref: processor_ref.clone(),
            source_payment: Some(pi.id.clone()),
            usage: SetupFutureUsage::OffSession,
            created: now,
            detached_at: None,
        };
        tx.insert_payment_method(&pm).await?;
        let ev = self.payments().new_event(
            &pm.scope(),
            EventType::PaymentMethodAttached,
            pm.to_json(),
            now,
        );
        tx.insert_event(&ev, &pm.id).await?;
        Ok(Some((customer.id, pm.id)))
    }

    /// A refund of a Paymob payment (made through either API): a child transaction and its
    /// callback, in the refund's transaction.
    pub(crate) async fn after_refund(
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
        let mut obj: Transaction = doc(&t.obj, "transaction")?;
        let extra: TxnExtra = doc(&t.extra, "transaction extra")?;
        let is_void = refund.kind == RefundKind::Void;
        if is_void {
            obj.is_voided = true;
            self.release_order(tx, &t, refund.amount).await?;
        } else {
            obj.refunded_amount_cents += refund.amount;
            obj.is_refunded = true;
        }
        obj.updated_at = kassa_paymob::time::timestamp(now, country_of(&profile));
        let kind = if is_void {
            ChildKind::Void
        } else {
            ChildKind::Refund
        };
        let child = self
            .child_with(
                tx,
                &profile,
                &t,
                &obj,
                kind,
                refund.amount,
                Some(&refund.id),
                now,
            )
            .await?;
        t.obj = obj.to_text();
        t.updated_at = now;
        tx.update_pm_transaction(&t).await?;
        if let Some(integration) = self.integration(extra.integration_id).await? {
            let url = Self::callback_url(&integration, &extra);
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
        Ok(())
    }
}
