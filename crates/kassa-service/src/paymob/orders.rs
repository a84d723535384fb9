//! What intentions and legacy orders share: the order's document and its wire object, and
//! payment keys (their claims, signing and opening).

use crate::Paymob;
use kassa_store::{now_ms, PmOrder, PmProfile};
use serde::{Deserialize, Serialize};
use serde_json::{json, Map, Value};

use super::accounts::country_of;
use super::{PmError, PmResult};
use kassa_paymob::request::Item;

/// An order's document.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub(crate) struct OrderDoc {
    pub amount_cents: i64,
    pub currency: String,
    pub delivery_needed: bool,
    pub items: Vec<Item>,
    pub shipping_data: Option<Value>,
    /// `created_at` exactly as first rendered.
    pub created_at: String,
    pub paid_amount_cents: i64,
    /// `OTHER` for API orders, `INVOICE`-like sources are not modelled.
    pub api_source: String,
    /// Refuse a second successful payment (always for intentions).
    pub lock_when_paid: bool,
}

/// The claims of a payment key (`payment_token`), as Paymob's; `exp` in Unix seconds.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub(crate) struct KeyClaims {
    pub user_id: i64,
    pub amount_cents: i64,
    pub currency: String,
    pub integration_id: i64,
    pub order_id: i64,
    pub billing_data: Map<String, Value>,
    pub lock_order_when_paid: bool,
    pub extra: Value,
    pub single_payment_attempt: bool,
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub next_payment_intention: Option<String>,
    pub exp: i64,
    /// A saved card the key was made for (legacy `token`), by id.
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub card_token_id: Option<i64>,
}

impl KeyClaims {
    /// `payment_key_claims` as transactions show them.
    pub fn shown(&self, redirect_url: &str) -> Value {
        let mut v = serde_json::to_value(self).expect("claims serialize");
        let m = v.as_object_mut().expect("object");
        m.remove("exp");
        m.remove("card_token_id");
        m.insert("redirect_url".into(), json!(redirect_url));
        if !m.contains_key("next_payment_intention") {
            m.insert("next_payment_intention".into(), Value::Null);
        }
        v
    }
}

impl Paymob<'_> {
    pub(crate) fn sign_key(&self, claims: &KeyClaims) -> String {
        kassa_paymob::token::encode(
            &serde_json::to_value(claims).expect("claims serialize"),
            &self.payment_key(),
        )
    }

    /// The claims of a payment key, if it is one of ours and still valid.
    pub(crate) fn open_key(&self, token: &str) -> PmResult<KeyClaims> {
        let v = kassa_paymob::token::decode(token.trim(), &self.payment_key(), now_ms() / 1000)
            .map_err(|e| match e {
                kassa_paymob::token::TokenError::Expired => {
                    PmError::detail(401, "The payment token has expired.")
                }
                _ => PmError::detail(401, "Invalid payment token."),
            })?;
        serde_json::from_value(v).map_err(|_| PmError::detail(401, "Invalid payment token."))
    }

    /// The order object of transactions and the orders API.
    pub(crate) fn order_json(&self, profile: &PmProfile, o: &PmOrder, d: &OrderDoc) -> Value {
        let company = Self::company_name(profile);
        let mut shipping = d.shipping_data.clone().unwrap_or_else(|| json!({}));
        if let Some(m) = shipping.as_object_mut() {
            m.insert("order_id".into(), json!(o.id));
            m.insert("order".into(), json!(o.id));
        }
        json!({
            "id": o.id,
            "created_at": d.created_at,
            "delivery_needed": d.delivery_needed,
            "merchant": {"id": profile.id, "created_at": kassa_paymob::time::timestamp(profile.created_at, country_of(profile)),
                         "phones": [], "company_emails": [], "company_name": company, "state": "",
                         "country": profile.country.to_ascii_uppercase(), "city": "", "postal_code": "", "street": ""},
            "collector": null,
            "amount_cents": d.amount_cents,
            "shipping_data": shipping,
            "currency": d.currency,
            "is_payment_locked": d.lock_when_paid && d.paid_amount_cents >= d.amount_cents,
            "is_return": false,
            "is_cancel": false,
            "is_returned": false,
            "is_canceled": false,
            "merchant_order_id": o.merchant_order_id,
            "wallet_notification": null,
            "paid_amount_cents": d.paid_amount_cents,
            "notify_user_with_email": false,
            "items": d.items.iter().map(|i| json!({"name": i.name, "description": i.description,
                "amount_cents": i.amount, "quantity": i.quantity, "image": i.image})).collect::<Vec<_>>(),
            "order_url": "NA",
            "commission_fees": null,
            "delivery_fees_cents": null,
            "delivery_vat_cents": null,
            "payment_method": "tbc",
            "merchant_staff_tag": null,
            "api_source": d.api_source,
            "data": {},
            "token": null,
            "url": null,
        })
    }
}
