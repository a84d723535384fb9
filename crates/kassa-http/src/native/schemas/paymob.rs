//! What `/v1/paymob/…` answers: profiles with their integrations, and the sandbox's Paymob
//! transaction and subscription objects (Paymob's own shapes, as its callbacks carry them).

use serde::Deserialize;
use serde_json::Value;
use utoipa::ToSchema;

use super::ListObject;

/// A Paymob profile: the merchant's Paymob account in Kassa.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct PmProfileObject {
    /// Paymob's profile id (the `owner` of its transactions).
    pub id: i64,
    /// Always `paymob_profile`.
    pub object: String,
    /// The company name customers see.
    pub name: String,
    /// `egy`, `are`, `sau`, `omn` or `pak`.
    pub country: String,
    /// Live keys (`_live_`) rather than test keys.
    pub live: bool,
    /// The public key (`egy_pk_test_…`) Unified Checkout and Pixel take.
    pub public_key: String,
    /// The legacy iframe's id.
    pub iframe_id: i64,
    /// Where the profile's pages may be framed (`'none'`: nowhere).
    pub frame_ancestors: String,
    pub integrations: Vec<PmIntegrationObject>,
    /// Unix seconds.
    pub created: i64,
    /// The secret key (`egy_sk_test_…`): only in the answer of create.
    pub secret_key: Option<String>,
    /// The HMAC secret callbacks are signed with: only in the answer of create.
    pub hmac_secret: Option<String>,
    /// The legacy API key (`/api/auth/tokens`): only in the answer of create.
    pub api_key: Option<String>,
}

/// An integration: what it takes payments with and where its callbacks go.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct PmIntegrationObject {
    /// Paymob's integration id.
    pub id: i64,
    pub name: String,
    pub kind: PmIntegrationKind,
    /// EGP, SAR, AED, PKR or OMR.
    pub currency: String,
    /// Paymob's gateway: `MIGS` (cards), `UIG` (wallets), `CAGG` (kiosk) or `CASH`.
    pub gateway_type: String,
    /// `online`, or `moto` for merchant-initiated card payments.
    pub method_type: String,
    /// Transaction processed callback (POST JSON with `?hmac=`).
    #[schema(required = true)]
    pub processed_callback_url: Option<String>,
    /// Transaction response callback (the customer's signed GET redirect).
    #[schema(required = true)]
    pub response_callback_url: Option<String>,
    /// Card integrations challenge every card with 3-D Secure.
    pub three_d_secure: bool,
    pub is_live: bool,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum PmIntegrationKind {
    /// Online card payments, captured at once.
    Card,
    /// Card authorisations, captured later.
    CardAuth,
    /// Merchant-initiated card payments (saved or typed cards, no 3-D Secure).
    Moto,
    /// Mobile wallets.
    Wallet,
    /// A bill reference paid in cash at an outlet.
    Kiosk,
    /// Cash collected by a courier.
    Cash,
}

/// Every profile of the account (no secrets).
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct PmProfileList {
    pub object: ListObject,
    /// Always false: the list is complete.
    pub has_more: bool,
    pub data: Vec<PmProfileObject>,
}

/// A Paymob transaction, in Paymob's shape (the `obj` of its processed callback).
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct PmTransactionObject {
    pub id: i64,
    /// Still waiting (a kiosk reference not paid yet, a challenge not passed).
    pub pending: bool,
    pub amount_cents: i64,
    pub success: bool,
    pub is_auth: bool,
    pub is_capture: bool,
    pub is_standalone_payment: bool,
    pub is_voided: bool,
    pub is_refunded: bool,
    pub is_3d_secure: bool,
    pub integration_id: i64,
    pub profile_id: i64,
    pub has_parent_transaction: bool,
    /// The order, in Paymob's shape.
    #[schema(value_type = Object)]
    pub order: Value,
    /// Paymob's local time of the profile's country, ISO 8601.
    pub created_at: String,
    #[schema(value_type = Vec<Object>)]
    pub transaction_processed_callback_responses: Vec<Value>,
    pub currency: String,
    /// `type`, `sub_type` and the masked `pan`.
    #[schema(value_type = Object)]
    pub source_data: Value,
    pub api_source: String,
    /// Always null.
    #[schema(required = true)]
    pub terminal_id: Option<String>,
    pub merchant_commission: i64,
    /// Always null.
    #[schema(required = true)]
    pub installment: Option<String>,
    #[schema(value_type = Vec<Object>)]
    pub discount_details: Vec<Value>,
    pub is_void: bool,
    pub is_refund: bool,
    /// The gateway's answer: `txn_response_code`, `message`, `klass`, …
    #[schema(value_type = Object)]
    pub data: Value,
    pub is_hidden: bool,
    /// The payment key's claims.
    #[schema(value_type = Object)]
    pub payment_key_claims: Value,
    pub error_occured: bool,
    pub is_live: bool,
    /// Always null.
    #[schema(required = true)]
    pub other_endpoint_reference: Option<String>,
    pub refunded_amount_cents: i64,
    pub source_id: i64,
    pub is_captured: bool,
    pub captured_amount: i64,
    /// Always null.
    #[schema(required = true)]
    pub merchant_staff_tag: Option<String>,
    /// ISO 8601, as `created_at`.
    pub updated_at: String,
    pub is_settled: bool,
    pub bill_balanced: bool,
    /// A kiosk bill.
    pub is_bill: bool,
    /// The profile.
    pub owner: i64,
    /// The transaction a refund, void or capture belongs to.
    #[schema(required = true)]
    pub parent_transaction: Option<i64>,
}

/// A Paymob subscription, in Paymob's shape, with its test clock's time.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct PmSubscriptionObject {
    pub id: i64,
    /// The customer's details as the subscription was created with them.
    #[schema(value_type = Object)]
    pub client_info: Value,
    /// Days between renewals (7, 15, 30, 60, 90, 180 or 360).
    pub frequency: i64,
    /// ISO 8601.
    pub created_at: String,
    /// ISO 8601.
    pub updated_at: String,
    pub name: String,
    #[schema(required = true)]
    pub reminder_days: Option<i64>,
    /// Days a failed renewal is retried before the subscription is suspended.
    #[schema(required = true)]
    pub retrial_days: Option<i64>,
    pub plan_id: i64,
    pub state: PmSubscriptionState,
    pub amount_cents: i64,
    /// ISO date.
    pub starts_at: String,
    /// ISO date of the next renewal.
    pub next_billing: String,
    #[schema(required = true)]
    pub reminder_date: Option<String>,
    #[schema(required = true)]
    pub ends_at: Option<String>,
    #[schema(required = true)]
    pub resumed_at: Option<String>,
    #[schema(required = true)]
    pub suspended_at: Option<String>,
    #[schema(required = true)]
    pub webhook_url: Option<String>,
    /// The integration renewals are charged through.
    pub integration: i64,
    /// The transaction that started it.
    pub initial_transaction: i64,
    /// The subscription's clock now (its test clock's offset applied), ISO 8601.
    pub clock: String,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum PmSubscriptionState {
    Active,
    /// Suspended by the merchant, or after its retries failed.
    Suspended,
    Canceled,
}

#[cfg(test)]
mod tests {
    use super::super::tests::pinned;
    use super::super::ErrorBody;
    use super::*;
    use crate::native::paymob::api_error;
    use kassa_service::paymob::{Integration, IntegrationDoc, IntegrationKind, PmError};
    use serde_json::json;

    fn integration(kind: IntegrationKind, callback: Option<&str>) -> Integration {
        Integration {
            id: 7,
            profile_id: 3,
            name: "card".into(),
            doc: IntegrationDoc {
                kind,
                currency: "EGP".into(),
                processed_callback_url: callback.map(str::to_string),
                response_callback_url: None,
                three_d_secure: true,
                live: false,
            },
        }
    }

    /// The documented schemas are the objects the handlers answer (unknown fields refused). The
    /// profile, transaction and subscription objects need the running service; the black-box
    /// tests pin those as it answers them.
    #[test]
    fn schemas_match_the_objects() {
        let kinds = [
            IntegrationKind::Card,
            IntegrationKind::CardAuth,
            IntegrationKind::Moto,
            IntegrationKind::Wallet,
            IntegrationKind::Kiosk,
            IntegrationKind::Cash,
        ];
        let integrations: Vec<Value> = kinds
            .iter()
            .map(|k| integration(*k, Some("https://shop.test/cb")).to_json())
            .collect();
        for i in &integrations {
            let _: PmIntegrationObject = pinned(i);
        }
        let _: PmIntegrationObject = pinned(&integration(IntegrationKind::Card, None).to_json());

        // `pm_profile_native_json`'s shape, with the secrets create adds.
        let mut profile = json!({"id": 3, "object": "paymob_profile", "name": "Shop",
            "country": "egy", "live": false, "public_key": "egy_pk_test_x", "iframe_id": 9,
            "frame_ancestors": "'none'", "integrations": integrations, "created": 1_700_000_000});
        let _: PmProfileObject = pinned(&profile);
        let list = json!({"object": "list", "data": [profile.clone()], "has_more": false});
        let _: PmProfileList = pinned(&list);
        profile["secret_key"] = json!("egy_sk_test_x");
        profile["hmac_secret"] = json!("h");
        profile["api_key"] = json!("k");
        let _: PmProfileObject = pinned(&profile);

        // Field errors carry `fields`; the others a message.
        let e = api_error(PmError::fields(
            json!({"seconds": ["Give 1 second to 5 years."]}),
        ));
        assert_eq!(e.status.as_u16(), 400);
        let b: ErrorBody = pinned(&e.body());
        assert!(b.error.fields.is_some());
        for e in [
            PmError::detail(404, "Not found."),
            PmError::message(400, "Test clocks are for test profiles only."),
            PmError::message(409, "The subscription changed meanwhile; retry."),
        ] {
            let b: ErrorBody = pinned(&api_error(e).body());
            assert!(b.error.fields.is_none());
        }
    }
}
