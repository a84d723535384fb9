//! The legacy Accept flow: orders, payment keys, order and transaction retrieval, the
//! transaction inquiry and the HMAC debugging helper.

use crate::Paymob;
use kassa_paymob::request;
use kassa_store::{now_ms, PmOrder, PmProfile, PmTransaction};
use serde_json::{json, Value};

use super::accounts::country_of;
use super::intentions::{KeyClaims, OrderDoc};
use super::{doc, to_text, PmError, PmResult};

impl Paymob<'_> {
    /// `POST /api/ecommerce/orders`.
    pub async fn create_order(&self, profile: &PmProfile, body: &Value) -> PmResult<Value> {
        let input = request::parse_order(body).map_err(PmError::fields)?;
        let now = now_ms();
        let d = OrderDoc {
            amount_cents: input.amount_cents,
            currency: input.currency,
            delivery_needed: input.delivery_needed,
            items: input.items,
            shipping_data: input.shipping_data,
            created_at: kassa_paymob::time::timestamp(now, country_of(profile)),
            paid_amount_cents: 0,
            api_source: "OTHER".into(),
            lock_when_paid: false,
        };
        let mut tx = self.store.begin().await?;
        let order = PmOrder {
            id: tx.pm_next_id("order").await?,
            profile_id: profile.id,
            merchant_order_id: input.merchant_order_id,
            intention_id: None,
            doc: to_text(&d),
            created_at: now,
            updated_at: now,
        };
        if !tx.insert_pm_order(&order).await? {
            return Err(PmError::message(422, "duplicate"));
        }
        tx.commit().await?;
        Ok(self.order_json(profile, &order, &d))
    }

    /// An order of this profile.
    pub(crate) async fn own_order(
        &self,
        profile: &PmProfile,
        id: i64,
    ) -> PmResult<(PmOrder, OrderDoc)> {
        match self.store.pm_order(id).await? {
            Some(o) if o.profile_id == profile.id => {
                let d = doc(&o.doc, "order")?;
                Ok((o, d))
            }
            _ => Err(PmError::detail(404, "Not found.")),
        }
    }

    /// `GET /api/ecommerce/orders/{id}`.
    pub async fn get_order(&self, profile: &PmProfile, id: i64) -> PmResult<Value> {
        let (o, d) = self.own_order(profile, id).await?;
        Ok(self.order_json(profile, &o, &d))
    }

    /// `POST /api/acceptance/payment_keys`.
    pub async fn create_payment_key(&self, profile: &PmProfile, body: &Value) -> PmResult<Value> {
        let input = request::parse_payment_key(body).map_err(PmError::fields)?;
        let (order, od) = self
            .own_order(profile, input.order_id)
            .await
            .map_err(|_| PmError::fields(json!({"order_id": ["Invalid order id."]})))?;
        let integration = match self.integration(input.integration_id).await? {
            Some(i) if i.profile_id == profile.id && i.doc.live == profile.live => i,
            _ => {
                return Err(PmError::fields(
                    json!({"integration_id": ["Invalid integration id."]}),
                ))
            }
        };
        if integration.doc.currency != input.currency || od.currency != input.currency {
            return Err(PmError::fields(json!({"currency": [format!(
                "The integration and the order take {}, not {}.", integration.doc.currency, input.currency
            )]})));
        }
        self.check_order_unpaid(profile, order.id, &od).await?;
        let card_token_id = match &input.token {
            Some(t) => Some(
                self.store
                    .pm_card_token_by_hash(&kassa_core::secret::hash_api_key(t))
                    .await?
                    .filter(|c| c.profile_id == profile.id)
                    .ok_or_else(|| PmError::fields(json!({"token": ["Invalid card token."]})))?
                    .id,
            ),
            None => None,
        };
        let claims = KeyClaims {
            user_id: profile.id,
            amount_cents: input.amount_cents,
            currency: input.currency,
            integration_id: integration.id,
            order_id: order.id,
            billing_data: input.billing_data,
            lock_order_when_paid: input.lock_order_when_paid,
            extra: json!({}),
            single_payment_attempt: false,
            next_payment_intention: order.intention_id.clone(),
            exp: now_ms() / 1000 + input.expiration,
            card_token_id,
        };
        Ok(json!({"token": self.sign_key(&claims)}))
    }

    /// A transaction of this profile.
    pub(crate) async fn own_transaction(
        &self,
        profile: &PmProfile,
        id: i64,
    ) -> PmResult<PmTransaction> {
        match self.store.pm_transaction(id).await? {
            Some(t) if t.profile_id == profile.id => Ok(t),
            _ => Err(PmError::detail(404, "Not found.")),
        }
    }

    /// `GET /api/acceptance/transactions/{id}`.
    pub async fn get_transaction(&self, profile: &PmProfile, id: i64) -> PmResult<Value> {
        let t = self.own_transaction(profile, id).await?;
        super::txn_json(&t)
    }

    /// `GET /api/acceptance/transactions/{id}/hmac_calc`: the HMAC of the transaction's
    /// processed callback and the string it is computed over.
    pub async fn hmac_calc(&self, profile: &PmProfile, id: i64) -> PmResult<Value> {
        let t = self.own_transaction(profile, id).await?;
        let obj = super::txn_json(&t)?;
        let secret = self.hmac_secret(profile)?;
        Ok(json!({
            "hmac": kassa_paymob::hmac::transaction_hmac(&secret, &obj),
            "hmac_string": kassa_paymob::hmac::transaction_message(&obj),
        }))
    }

    /// `POST /api/ecommerce/orders/transaction_inquiry`: the latest transaction of an order
    /// given by `order_id` or `merchant_order_id`.
    pub async fn transaction_inquiry(&self, profile: &PmProfile, body: &Value) -> PmResult<Value> {
        let order = if let Some(v) = body.get("order_id").filter(|v| !v.is_null()) {
            let id = kassa_paymob::lenient::int(v).ok_or_else(|| {
                PmError::fields(json!({"order_id": ["A valid integer is required."]}))
            })?;
            self.own_order(profile, id).await?.0
        } else if let Some(v) = body.get("merchant_order_id").filter(|v| !v.is_null()) {
            let moid = kassa_paymob::lenient::string(v).ok_or_else(|| {
                PmError::fields(json!({"merchant_order_id": ["Not a valid string."]}))
            })?;
            self.store
                .pm_order_by_merchant_order_id(profile.id, &moid)
                .await?
                .ok_or_else(|| PmError::detail(404, "Not found."))?
        } else {
            return Err(PmError::fields(
                json!({"order_id": ["Give order_id or merchant_order_id."]}),
            ));
        };
        let txns = self.store.pm_transactions_of_order(order.id).await?;
        // The latest payment attempt (children belong to their parent's answer).
        let Some(t) = txns.iter().rev().find(|t| t.parent_id.is_none()) else {
            return Err(PmError::detail(404, "No transactions for this order."));
        };
        super::txn_json(t)
    }
}
