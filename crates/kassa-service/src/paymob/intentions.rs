//! The Intention API (`/v1/intention/`): create, update and the public element Pixel and the
//! unified checkout read. What intentions and legacy orders share (orders, payment keys) is in
//! `orders.rs`.

use crate::Paymob;
use kassa_paymob::keys;
use kassa_paymob::request::{self, IntentionError, IntentionInput, MethodRef};
use kassa_paymob::transaction::CardToken;
use kassa_store::{now_ms, PmIntention, PmOrder, PmProfile};
use serde::{Deserialize, Serialize};
use serde_json::{json, Map, Value};

use super::accounts::country_of;
use super::{doc, to_text, Integration, PmError, PmResult};

pub(crate) use super::orders::{KeyClaims, OrderDoc};

/// An intention's document.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub(crate) struct IntentionDoc {
    pub input: IntentionInput,
    pub integrations: Vec<i64>,
    /// Payment key per integration, in the order of `integrations`.
    pub payment_keys: Vec<String>,
    /// `intended`, then `paid`.
    pub status: String,
    pub created: String,
    pub live: bool,
}

fn intention_error(e: IntentionError) -> PmError {
    match e {
        IntentionError::Fields(v) => PmError::fields(v),
        IntentionError::UnmatchedItemPrices => {
            PmError::new(406, json!({"detail": "unmatched_item_prices"}))
        }
    }
}

fn integration_missing() -> PmError {
    PmError::detail(
        404,
        "Integration ID/Name does not exist in our system . You can find the list of \
         Integration ID\u{2019}/Names from Merchant Dashboard under Developers \u{2192} \
         Payment Integrations Tab",
    )
}

impl Paymob<'_> {
    /// The integrations an intention's `payment_methods` name, all of this profile, environment
    /// and currency.
    async fn resolve_methods(
        &self,
        profile: &PmProfile,
        methods: &[MethodRef],
        currency: &str,
    ) -> PmResult<Vec<Integration>> {
        let all = self.integrations(profile.id).await?;
        let mut out: Vec<Integration> = Vec::new();
        for m in methods {
            let found = match m {
                MethodRef::Id(id) => all.iter().find(|i| i.id == *id),
                MethodRef::Name(n) => all
                    .iter()
                    .find(|i| i.name.eq_ignore_ascii_case(n) && i.doc.currency == currency)
                    .or_else(|| all.iter().find(|i| i.name.eq_ignore_ascii_case(n))),
            };
            let Some(i) = found else {
                return Err(integration_missing());
            };
            if i.doc.live != profile.live {
                return Err(integration_missing());
            }
            if i.doc.currency != currency {
                return Err(PmError::fields(json!({"currency": [format!(
                    "The integration {} accepts {}, not {currency}.", i.id, i.doc.currency
                )]})));
            }
            if !out.iter().any(|o| o.id == i.id) {
                out.push(i.clone());
            }
        }
        Ok(out)
    }

    /// `POST /v1/intention/`.
    pub async fn create_intention(&self, profile: &PmProfile, body: &Value) -> PmResult<Value> {
        let input = request::parse_intention(body).map_err(intention_error)?;
        self.pm_check_egress("notification_url", input.notification_url.as_deref())
            .await?;
        let integrations = self
            .resolve_methods(profile, &input.payment_methods, &input.currency)
            .await?;
        if let Some(plan_id) = input.subscription_plan_id {
            self.check_plan_for_intention(profile, plan_id).await?;
        }
        let cards = self.check_card_tokens(profile, &input.card_tokens).await?;
        let now = now_ms();
        let country = country_of(profile);
        let created = kassa_paymob::time::timestamp(now, country);
        let mut tx = self.store.begin().await?;
        let order_id = tx.pm_next_id("order").await?;
        let id = keys::intention_id(profile.live);
        let order = PmOrder {
            id: order_id,
            profile_id: profile.id,
            merchant_order_id: input.special_reference.clone(),
            intention_id: Some(id.clone()),
            doc: to_text(&OrderDoc {
                amount_cents: input.amount,
                currency: input.currency.clone(),
                delivery_needed: input.delivery_needed,
                items: input.items.clone(),
                shipping_data: Some(Value::Object(input.billing_data.clone())),
                created_at: created.clone(),
                paid_amount_cents: 0,
                api_source: "OTHER".into(),
                lock_when_paid: true,
            }),
            created_at: now,
            updated_at: now,
        };
        if !tx.insert_pm_order(&order).await? {
            return Err(PmError::fields(
                json!({"special_reference": ["special reference must be unique"]}),
            ));
        }
        let expires_at = now + input.expiration * 1000;
        let d = IntentionDoc {
            payment_keys: self.intention_keys(
                profile,
                &id,
                order_id,
                &input,
                &integrations,
                expires_at,
            ),
            integrations: integrations.iter().map(|i| i.id).collect(),
            input,
            status: "intended".into(),
            created,
            live: profile.live,
        };
        let row = PmIntention {
            id,
            profile_id: profile.id,
            client_secret: keys::client_secret(country, profile.live),
            order_id,
            expires_at,
            doc: to_text(&d),
            created_at: now,
            updated_at: now,
        };
        tx.insert_pm_intention(&row).await?;
        tx.commit().await?;
        Ok(self.intention_json(&row, &d, &integrations, &cards))
    }

    fn intention_keys(
        &self,
        profile: &PmProfile,
        id: &str,
        order_id: i64,
        input: &IntentionInput,
        integrations: &[Integration],
        expires_at: i64,
    ) -> Vec<String> {
        integrations
            .iter()
            .map(|i| {
                self.sign_key(&KeyClaims {
                    user_id: profile.id,
                    amount_cents: input.amount,
                    currency: input.currency.clone(),
                    integration_id: i.id,
                    order_id,
                    billing_data: input.billing_data.clone(),
                    lock_order_when_paid: true,
                    extra: input.extras.clone(),
                    single_payment_attempt: false,
                    next_payment_intention: Some(id.to_string()),
                    exp: expires_at / 1000,
                    card_token_id: None,
                })
            })
            .collect()
    }

    /// The merchant's return URL for an integration's payments under an intention.
    fn redirection_for(input: &IntentionInput, i: &Integration) -> String {
        input
            .redirection_url
            .clone()
            .or_else(|| i.doc.response_callback_url.clone())
            .unwrap_or_default()
    }

    fn intention_json(
        &self,
        row: &PmIntention,
        d: &IntentionDoc,
        integrations: &[Integration],
        cards: &[Value],
    ) -> Value {
        let mut creation_extras = d.input.extras.clone();
        if let (Some(m), Some(r)) = (creation_extras.as_object_mut(), &d.input.special_reference) {
            m.insert("merchant_order_id".into(), json!(r));
        }
        let keys: Vec<Value> = integrations
            .iter()
            .zip(&d.payment_keys)
            .map(|(i, k)| {
                json!({"integration": i.id, "key": k, "gateway_type": i.doc.kind.gateway_type(),
                       "iframe_id": null, "order_id": row.order_id,
                       "redirection_url": Self::redirection_for(&d.input, i), "save_card": i.doc.kind.is_card()})
            })
            .collect();
        json!({
            "payment_keys": keys,
            "redirection_url": d.input.redirection_url.clone().unwrap_or_default(),
            "intention_order_id": row.order_id,
            "id": row.id,
            "intention_detail": request::intention_detail(&d.input),
            "client_secret": row.client_secret,
            "payment_methods": integrations.iter().map(Integration::method_json).collect::<Vec<_>>(),
            "special_reference": d.input.special_reference,
            "extras": {"creation_extras": creation_extras, "confirmation_extras": null},
            "confirmed": d.status == "paid",
            "status": d.status,
            "created": d.created,
            "card_detail": null,
            "card_tokens": cards,
            "object": "paymentintention",
        })
    }

    async fn intention_integrations(&self, d: &IntentionDoc) -> PmResult<Vec<Integration>> {
        let mut out = Vec::new();
        for id in &d.integrations {
            if let Some(i) = self.integration(*id).await? {
                out.push(i);
            }
        }
        Ok(out)
    }

    /// `PUT /v1/intention/{client_secret}`.
    pub async fn update_intention(
        &self,
        profile: &PmProfile,
        client_secret: &str,
        body: &Value,
    ) -> PmResult<Value> {
        let row = match self
            .store
            .pm_intention_by_client_secret(client_secret)
            .await?
        {
            Some(r) if r.profile_id == profile.id => r,
            _ => return Err(PmError::detail(404, "Not found.")),
        };
        let d: IntentionDoc = doc(&row.doc, "intention")?;
        let (order_id, input) =
            request::parse_intention_update(body, &d.input).map_err(intention_error)?;
        if input.notification_url != d.input.notification_url {
            self.pm_check_egress("notification_url", input.notification_url.as_deref())
                .await?;
        }
        if order_id != row.order_id {
            return Err(PmError::fields(
                json!({"accept_order_id": ["The order does not belong to this intention."]}),
            ));
        }
        if d.status != "intended" {
            return Err(PmError::message(400, "Order has already been paid."));
        }
        let integrations = self
            .resolve_methods(profile, &input.payment_methods, &input.currency)
            .await?;
        let cards = self.check_card_tokens(profile, &input.card_tokens).await?;
        let now = now_ms();
        let mut tx = self.store.begin().await?;
        let Some(mut order) = tx.pm_order(row.order_id).await? else {
            return Err(PmError::detail(404, "Not found."));
        };
        let mut od: OrderDoc = doc(&order.doc, "order")?;
        let payments = tx
            .intents_of_order(&profile.scope(), &super::pay::order_key(order.id))
            .await?;
        if kassa_core::order::blocker(payments.iter().map(|p| p.status))
            == Some(kassa_core::order::OrderBlock::Paid)
        {
            return Err(PmError::message(400, "Order has already been paid."));
        }
        od.amount_cents = input.amount;
        od.currency = input.currency.clone();
        od.items = input.items.clone();
        od.shipping_data = Some(Value::Object(input.billing_data.clone()));
        od.delivery_needed = input.delivery_needed;
        order.doc = to_text(&od);
        order.merchant_order_id = input.special_reference.clone();
        order.updated_at = now;
        if !tx.update_pm_order(&order).await? {
            return Err(PmError::fields(
                json!({"special_reference": ["special reference must be unique"]}),
            ));
        }
        let expires_at = if body.get("expiration").is_some() {
            now + input.expiration * 1000
        } else {
            row.expires_at
        };
        let nd = IntentionDoc {
            payment_keys: self.intention_keys(
                profile,
                &row.id,
                row.order_id,
                &input,
                &integrations,
                expires_at,
            ),
            integrations: integrations.iter().map(|i| i.id).collect(),
            input,
            status: d.status,
            created: d.created,
            live: d.live,
        };
        let updated = PmIntention {
            expires_at,
            doc: to_text(&nd),
            updated_at: now,
            ..row
        };
        tx.update_pm_intention(&updated).await?;
        tx.commit().await?;
        Ok(self.intention_json(&updated, &nd, &integrations, &cards))
    }

    /// The intention behind a public key and client secret, if both match and it is not expired.
    pub(crate) async fn public_intention(
        &self,
        public_key: &str,
        client_secret: &str,
    ) -> PmResult<(PmProfile, PmIntention, IntentionDoc)> {
        let missing = || {
            PmError::new(
                404,
                json!({"detail": "Not found.", "msg": "Payment data not found."}),
            )
        };
        let profile = self
            .store
            .pm_profile_by_public_key(public_key)
            .await?
            .ok_or_else(missing)?;
        let row = self
            .store
            .pm_intention_by_client_secret(client_secret)
            .await?
            .filter(|r| r.profile_id == profile.id)
            .ok_or_else(missing)?;
        let d: IntentionDoc = doc(&row.doc, "intention")?;
        if row.expires_at <= now_ms() && d.status != "paid" {
            return Err(PmError::new(
                410,
                json!({"detail": "This intention has expired.", "msg": "This payment link has expired."}),
            ));
        }
        Ok((profile, row, d))
    }

    /// `GET /v1/intention/element/{public_key}/{client_secret}/`: what Pixel and the unified
    /// checkout read.
    pub async fn intention_element(
        &self,
        public_key: &str,
        client_secret: &str,
    ) -> PmResult<Value> {
        let (profile, row, d) = self.public_intention(public_key, client_secret).await?;
        let integrations = self.intention_integrations(&d).await?;
        let mut keys = Map::new();
        for (i, k) in integrations.iter().zip(&d.payment_keys) {
            keys.insert(i.name.to_ascii_lowercase(), json!(k));
        }
        let cards = self
            .check_card_tokens(&profile, &d.input.card_tokens)
            .await?;
        let company = Self::company_name(&profile);
        let b = &d.input.billing_data;
        let text = |k: &str| {
            b.get(k)
                .and_then(Value::as_str)
                .unwrap_or_default()
                .to_string()
        };
        let order = self.store.pm_order(row.order_id).await?;
        let paid_at = order
            .as_ref()
            .and_then(|o| doc::<OrderDoc>(&o.doc, "order").ok())
            .filter(|od| od.paid_amount_cents > 0)
            .map(|_| {
                order
                    .as_ref()
                    .map(|o| kassa_paymob::time::timestamp(o.updated_at, country_of(&profile)))
            });
        Ok(json!({
            "intention_detail": request::intention_detail(&d.input),
            "payment_methods": integrations.iter().map(|i| {
                let mut m = i.method_json();
                m["extra_options"] = json!({});
                m["target_currency"] = Value::Null;
                m["converted_amount_cents"] = Value::Null;
                m["minimum_transaction_amount"] = Value::Null;
                m["merchant_identifier"] = Value::Null;
                m
            }).collect::<Vec<_>>(),
            "payment_keys": keys,
            "card_tokens": cards,
            "client_info": {"full_name": format!("{} {}", text("first_name"), text("last_name")).trim().to_string(),
                            "phone_number": text("phone_number"), "email": text("email")},
            "redirection_url": d.input.redirection_url.clone().unwrap_or_default(),
            "redirect_url": d.input.redirection_url.clone().unwrap_or_default(),
            "paid": d.status == "paid",
            "paid_at": paid_at.flatten(),
            "order_id": row.order_id,
            "merchant_name": company,
            "merchant_company_name": company,
            "merchant_settings": {"company_name": company},
            "check_bin_fees": false,
            "is_card_expired": false,
            "customization": {"customization_data": {"branding": {"brand_name": company},
                "payments": {"x_pay": [], "toggles": {"enable_instant_refund": false, "display_savecard": true}},
                "termsUrl": "", "showTerms": false}},
            "classified_discounts": {"cards": {"count": 0, "data": []}, "wallets": {"count": 0, "data": []}},
            "split_pay_details": null,
            "enable_card_to_bank_conversion": false,
            "bank_name": null,
            "pre_selected_plan": null,
            "payment_handle_settings": null,
        }))
    }

    /// `GET /api/acceptance/iframes/{id}/info?payment_token=`: what the legacy iframe page
    /// shows for a payment key, in the element's shape (one method).
    pub async fn iframe_info(&self, iframe_id: i64, token: &str) -> PmResult<Value> {
        let missing = || {
            PmError::new(
                404,
                json!({"detail": "Not found.", "msg": "Payment data not found."}),
            )
        };
        let profile = self
            .store
            .pm_profile_by_iframe(iframe_id)
            .await?
            .ok_or_else(missing)?;
        let claims = self.open_key(token).map_err(|e| {
            PmError::new(
                e.status,
                json!({"detail": e.body["detail"], "msg": e.body["detail"]}),
            )
        })?;
        if claims.user_id != profile.id {
            return Err(missing());
        }
        let integration = self
            .integration(claims.integration_id)
            .await?
            .filter(|i| i.profile_id == profile.id)
            .ok_or_else(missing)?;
        let order = self
            .store
            .pm_order(claims.order_id)
            .await?
            .ok_or_else(missing)?;
        let od: OrderDoc = doc(&order.doc, "order")?;
        let company = Self::company_name(&profile);
        let b = &claims.billing_data;
        let text = |k: &str| {
            b.get(k)
                .and_then(Value::as_str)
                .unwrap_or_default()
                .to_string()
        };
        Ok(json!({
            "intention_detail": {"amount": claims.amount_cents, "currency": claims.currency,
                "items": od.items.iter().map(|i| json!({"name": i.name, "amount": i.amount, "quantity": i.quantity})).collect::<Vec<_>>()},
            "payment_methods": [integration.method_json()],
            "payment_keys": {integration.name.to_ascii_lowercase(): token},
            "card_tokens": [],
            "client_info": {"full_name": format!("{} {}", text("first_name"), text("last_name")).trim().to_string(),
                            "phone_number": text("phone_number"), "email": text("email")},
            "paid": od.lock_when_paid && od.paid_amount_cents >= od.amount_cents,
            "order_id": order.id,
            "merchant_name": company,
        }))
    }

    /// The saved cards an intention offers, as the element lists them; every token must be one
    /// of this profile's.
    async fn check_card_tokens(
        &self,
        profile: &PmProfile,
        tokens: &[String],
    ) -> PmResult<Vec<Value>> {
        let mut out = Vec::new();
        for t in tokens {
            let card = self
                .store
                .pm_card_token_by_hash(&kassa_core::secret::hash_api_key(t))
                .await?
                .filter(|c| c.profile_id == profile.id)
                .ok_or_else(|| PmError::fields(json!({"card_tokens": ["Invalid card token."]})))?;
            let obj: CardToken = doc(&card.obj, "card token")?;
            out.push(json!({"token": t, "masked_pan": obj.masked_pan, "card_subtype": obj.card_subtype,
                            "card_expired": false, "has_discount": false, "network_token": false, "vts_content": null}));
        }
        Ok(out)
    }
}
