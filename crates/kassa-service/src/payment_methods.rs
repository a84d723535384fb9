//! Saved payment methods: a payment that asks for it (`setup_future_usage` with a customer) saves
//! its card when it authorizes; the merchant lists a customer's cards, charges one without the
//! customer (off-session), and detaches one for good. Each change writes its event
//! (`payment_method.attached|detached`) in the same transaction.

use crate::Payments;
use kassa_core::events::EventType;
use kassa_core::ids::{is_valid_id, new_id, prefix};
use kassa_core::intent::{CaptureMethod, PaymentIntent};
use kassa_core::payment_method::{self, PaymentMethod};
use kassa_core::scope::Scope;
use kassa_store::{now_ms, Tx};

use crate::payments::{ConfirmParams, CreateIntentParams};
use crate::{Idem, Result, ServiceError};

/// True when `s` names a saved payment method (`pm_` and a random part), as opposed to a test
/// token such as `pm_card_visa`.
pub fn is_saved_method_id(s: &str) -> bool {
    is_valid_id(s, prefix::PAYMENT_METHOD)
}

/// How a payment created with `confirm: true` is paid.
#[derive(Debug)]
pub enum PayWith {
    /// A saved payment method of the intent's customer (`pm_…`).
    Saved(String),
    /// A test token or card data, as `/confirm` takes them.
    Method(ConfirmParams),
}

/// A saved method may pay only for its own customer, and only an automatic capture: the
/// processor charges a stored credential at once.
fn check_saved_use(
    pm: &PaymentMethod,
    customer: Option<&str>,
    capture: CaptureMethod,
) -> Result<()> {
    pm.check_use_by(customer)
        .map_err(|e| ServiceError::invalid("payment_method", e.to_string()))?;
    if capture == CaptureMethod::Manual {
        return Err(ServiceError::invalid(
            "payment_method",
            "A saved PaymentMethod is charged at once: use capture_method automatic.",
        ));
    }
    Ok(())
}

impl Payments<'_> {
    /// Creates an intent and pays it in the same request (`confirm: true`), as an off-session
    /// renewal does. The method is checked before anything is written, so a bad one leaves no
    /// intent behind; the answer (success or decline) is the idempotent response.
    pub async fn create_and_confirm(
        &self,
        scope: &Scope,
        p: CreateIntentParams,
        with: PayWith,
        idem: Option<&Idem>,
    ) -> Result<PaymentIntent> {
        match &with {
            PayWith::Saved(id) => {
                let pm = self.method_to_charge(scope, id).await?;
                check_saved_use(
                    &pm,
                    p.customer.as_deref(),
                    p.capture_method.unwrap_or(CaptureMethod::Automatic),
                )?;
            }
            PayWith::Method(c) => crate::payments::check_test_token(&c.method)?,
        }
        let pi = self.create_intent(scope, p, None).await?;
        match with {
            PayWith::Saved(id) => {
                self.confirm_with_saved_method(scope, &pi.id, &id, idem)
                    .await
            }
            PayWith::Method(c) => self.confirm_intent(scope, &pi.id, c, idem).await,
        }
    }

    /// Checks that saved method `id` may pay an automatic-capture intent of `customer`.
    pub(crate) async fn check_saved_method_use(
        &self,
        scope: &Scope,
        id: &str,
        customer: Option<&str>,
    ) -> Result<()> {
        let pm = self.method_to_charge(scope, id).await?;
        check_saved_use(&pm, customer, CaptureMethod::Automatic)
    }

    async fn method_to_charge(&self, scope: &Scope, id: &str) -> Result<PaymentMethod> {
        self.store.payment_method(scope, id).await?.ok_or_else(|| {
            ServiceError::invalid(
                "payment_method",
                format!(
                    "No such PaymentMethod: '{}'.",
                    id.chars().take(100).collect::<String>()
                ),
            )
        })
    }

    /// Saves the card a payment just authorized with, if the payment asked for it
    /// ([`payment_method::to_save`]): the method is attached to the payment's customer and the
    /// payment's method description gains its id. Runs inside the authorization's transaction.
    pub(crate) async fn save_method_if_asked(
        &self,
        tx: &mut Tx,
        pi: &mut PaymentIntent,
        now: i64,
    ) -> Result<()> {
        let Some(usage) = payment_method::to_save(pi) else {
            return Ok(());
        };
        let (Some(details), Some(processor_ref)) = (&pi.payment_method, &pi.processor_ref) else {
            return Ok(());
        };
        let pm = PaymentMethod {
            id: new_id(prefix::PAYMENT_METHOD),
            merchant_id: pi.merchant_id.clone(),
            livemode: pi.livemode,
            customer: pi.customer.clone(),
            kind: "card".into(),
            details: details.clone(),
            processor_ref: processor_ref.clone(),
            source_payment: Some(pi.id.clone()),
            usage,
            created: now,
            detached_at: None,
        };
        tx.insert_payment_method(&pm).await?;
        pi.payment_method = Some(pm.payment_details());
        let ev = self.new_event(
            &pm.scope(),
            EventType::PaymentMethodAttached,
            pm.to_json(),
            now,
        );
        tx.insert_event(&ev, &pm.id).await?;
        Ok(())
    }

    pub async fn payment_method(&self, scope: &Scope, id: &str) -> Result<PaymentMethod> {
        self.store
            .payment_method(scope, id)
            .await?
            .ok_or_else(|| ServiceError::not_found("payment_method", id))
    }

    /// A page of the customer's attached methods, newest first (`limit + 1` asked for so the
    /// caller can tell `has_more`). 404 for an unknown customer; `None` when `starting_after`
    /// is not one of the customer's methods.
    pub async fn customer_payment_methods(
        &self,
        scope: &Scope,
        customer_id: &str,
        limit: i64,
        starting_after: Option<&str>,
    ) -> Result<Option<Vec<PaymentMethod>>> {
        self.customers().customer(scope, customer_id).await?;
        Ok(self
            .store
            .customer_payment_methods(scope, customer_id, limit, starting_after)
            .await?)
    }

    /// Detaches a method from its customer for good: it can no longer pay anything.
    pub async fn detach_payment_method(
        &self,
        scope: &Scope,
        id: &str,
        idem: Option<&Idem>,
    ) -> Result<PaymentMethod> {
        let now = now_ms();
        let mut tx = self.store.begin().await?;
        let mut pm = tx
            .payment_method(scope, id)
            .await?
            .ok_or_else(|| ServiceError::not_found("payment_method", id))?;
        if !tx.detach_payment_method(scope, id, now).await? {
            return Err(ServiceError::State(
                "This PaymentMethod is not attached to a customer.".into(),
            ));
        }
        pm.customer = None;
        pm.detached_at = Some(now);
        self.write_detached(&mut tx, &pm, now).await?;
        self.finish(tx, idem, &pm.to_json()).await?;
        Ok(pm)
    }

    /// Detaches every method of a customer who is being deleted, in the deletion's transaction.
    pub(crate) async fn detach_all_methods(
        &self,
        tx: &mut Tx,
        scope: &Scope,
        customer_id: &str,
        now: i64,
    ) -> Result<()> {
        for mut pm in tx.attached_payment_methods(scope, customer_id).await? {
            if tx.detach_payment_method(scope, &pm.id, now).await? {
                pm.customer = None;
                pm.detached_at = Some(now);
                self.write_detached(tx, &pm, now).await?;
            }
        }
        Ok(())
    }

    async fn write_detached(&self, tx: &mut Tx, pm: &PaymentMethod, now: i64) -> Result<()> {
        let ev = self.new_event(
            &pm.scope(),
            EventType::PaymentMethodDetached,
            pm.to_json(),
            now,
        );
        tx.insert_event(&ev, &pm.id).await?;
        Ok(())
    }

    /// Pays an intent in `requires_payment_method` with a saved method of its customer, charged
    /// at once through the processor's stored credential (merchant-initiated when
    /// `off_session`, else at the customer's request; no challenge is asked for either way). A
    /// card that insists on authenticating declines with `authentication_required`: bring the
    /// customer back to pay on-session with the card itself.
    pub async fn confirm_with_saved_method(
        &self,
        scope: &Scope,
        intent_id: &str,
        method_id: &str,
        idem: Option<&Idem>,
    ) -> Result<PaymentIntent> {
        let pi = self.intent(scope, intent_id).await?;
        let pm = self.method_to_charge(scope, method_id).await?;
        check_saved_use(&pm, pi.customer.as_deref(), pi.capture_method)?;
        self.confirm_with_stored_method(
            scope,
            intent_id,
            &pm.processor_ref,
            serde_json::to_string(&pm.payment_details()).ok(),
            idem,
        )
        .await
    }
}
