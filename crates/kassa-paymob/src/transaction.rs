//! Paymob's transaction object, typed: what its processed callbacks, the transaction inquiry, the
//! pay endpoint and the subscription transaction list show. The service keeps a transaction as
//! this type and changes it through its fields; the wire document is [`Transaction::to_json`],
//! whose keys come out sorted like every other object Kassa sends (serde_json's map order).
//!
//! Which payment a transaction belongs to and what happened to it are the core's; this type is
//! only how Paymob shows it. The presentation rules Paymob documents live here: the initial
//! pending object, a child transaction's shape (refund, void, capture), and the response codes
//! of an approval per source type.

use serde::{Deserialize, Serialize};
use serde_json::Value;

/// A transaction object (`obj` of a `TRANSACTION` callback).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Transaction {
    pub id: i64,
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
    /// The order object as the orders API shows it, at the transaction's creation.
    pub order: Value,
    pub created_at: String,
    pub transaction_processed_callback_responses: Vec<Value>,
    pub currency: String,
    pub source_data: SourceData,
    pub api_source: String,
    pub terminal_id: Option<String>,
    pub merchant_commission: i64,
    pub installment: Option<Value>,
    pub discount_details: Vec<Value>,
    pub is_void: bool,
    pub is_refund: bool,
    pub data: TxnData,
    pub is_hidden: bool,
    /// The payment key's claims as Paymob shows them (billing data, redirect URL…).
    pub payment_key_claims: Value,
    pub error_occured: bool,
    pub is_live: bool,
    pub other_endpoint_reference: Option<String>,
    pub refunded_amount_cents: i64,
    pub source_id: i64,
    pub is_captured: bool,
    pub captured_amount: i64,
    pub merchant_staff_tag: Option<String>,
    pub updated_at: String,
    pub is_settled: bool,
    pub bill_balanced: bool,
    pub is_bill: bool,
    pub owner: i64,
    pub parent_transaction: Option<i64>,
}

/// `source_data`: what paid.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SourceData {
    #[serde(rename = "type")]
    pub kind: String,
    pub sub_type: String,
    /// A card's last four digits, a wallet's masked number, or empty.
    pub pan: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub phone_number: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub owner_name: Option<String>,
}

impl SourceData {
    fn new(kind: &str, sub_type: &str, pan: &str) -> Self {
        SourceData {
            kind: kind.into(),
            sub_type: sub_type.into(),
            pan: pan.into(),
            phone_number: None,
            owner_name: None,
        }
    }
}

/// `data`: the acquirer's side of the transaction.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TxnData {
    pub gateway_integration_pk: i64,
    pub klass: String,
    pub txn_response_code: String,
    pub acq_response_code: String,
    pub message: String,
    pub created_at: String,
    pub currency: String,
    pub amount: i64,
    /// `424242xxxxxx4242` for a card.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub card_num: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub card_type: Option<String>,
    /// A kiosk or cash reference and its end of validity.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub bill_reference: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub bill_reference_expires_at: Option<String>,
    /// The refund (core id) a refund or void child stands for.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub refund_id: Option<String>,
}

/// A saved card's token object (`obj` of a `TOKEN` callback). It is stored without its
/// `token`, which only the callback carries.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CardToken {
    pub id: i64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub token: Option<String>,
    /// `xxxx-xxxx-xxxx-4242`.
    pub masked_pan: String,
    pub merchant_id: i64,
    pub card_subtype: String,
    pub created_at: String,
    pub email: String,
    pub order_id: String,
    pub user_added: bool,
    pub next_payment_intention: Option<String>,
}

impl CardToken {
    /// The card's last four digits.
    pub fn last4(&self) -> &str {
        self.masked_pan.rsplit('-').next().unwrap_or_default()
    }

    /// The `TOKEN` callback's object: with its token, and an empty next intention for none.
    pub fn callback_json(&self, token: &str) -> Value {
        let mut c = self.clone();
        c.token = Some(token.to_string());
        c.next_payment_intention.get_or_insert_with(String::new);
        serde_json::to_value(c).expect("a card token serializes")
    }
}

/// How an integration takes money, as `source_data` starts out before anything is known.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SourceKind {
    Card,
    Wallet,
    Kiosk,
    Cash,
}

/// What a new transaction is made of.
#[derive(Debug, Clone)]
pub struct NewTransaction<'a> {
    pub id: i64,
    pub amount_cents: i64,
    pub currency: &'a str,
    pub integration_id: i64,
    /// The integration's class (`MigsPayment`, `WalletPayment`…).
    pub klass: &'a str,
    pub source: SourceKind,
    pub profile_id: i64,
    pub is_live: bool,
    pub order: Value,
    pub payment_key_claims: Value,
    pub api_source: &'a str,
    /// The profile's local time of creation (`time::timestamp`).
    pub created_at: &'a str,
}

/// The kind of a child transaction.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ChildKind {
    Refund,
    Void,
    Capture,
}

impl ChildKind {
    /// The kind as the service stores it beside the object.
    pub fn as_str(self) -> &'static str {
        match self {
            ChildKind::Refund => "refund",
            ChildKind::Void => "void",
            ChildKind::Capture => "capture",
        }
    }
}

/// An approved answer's codes and message for a payment of `subtype` (`WALLET`, `AGGREGATOR`,
/// `CASH`, else a card or token).
pub fn approval(subtype: &str) -> (&'static str, &'static str, &'static str) {
    match subtype {
        "WALLET" => ("200", "00", "Transaction has been completed successfully."),
        "AGGREGATOR" | "CASH" => ("200", "00", "Paid"),
        _ => ("APPROVED", "00", "Approved"),
    }
}

impl Transaction {
    /// A payment transaction as it is created: pending, nothing known yet.
    pub fn new(n: NewTransaction<'_>) -> Transaction {
        let source = match n.source {
            SourceKind::Wallet => SourceData::new("wallet", "wallet", ""),
            SourceKind::Kiosk => SourceData::new("aggregator", "AGGREGATOR", ""),
            SourceKind::Cash => SourceData::new("cash_present", "cash_present", ""),
            SourceKind::Card => SourceData::new("card", "", ""),
        };
        Transaction {
            id: n.id,
            pending: true,
            amount_cents: n.amount_cents,
            success: false,
            is_auth: false,
            is_capture: false,
            is_standalone_payment: true,
            is_voided: false,
            is_refunded: false,
            is_3d_secure: false,
            integration_id: n.integration_id,
            profile_id: n.profile_id,
            has_parent_transaction: false,
            order: n.order,
            created_at: n.created_at.into(),
            transaction_processed_callback_responses: Vec::new(),
            currency: n.currency.into(),
            source_data: source,
            api_source: n.api_source.into(),
            terminal_id: None,
            merchant_commission: 0,
            installment: None,
            discount_details: Vec::new(),
            is_void: false,
            is_refund: false,
            data: TxnData {
                gateway_integration_pk: n.integration_id,
                klass: n.klass.into(),
                txn_response_code: String::new(),
                acq_response_code: String::new(),
                message: "Pending".into(),
                created_at: n.created_at.into(),
                currency: n.currency.into(),
                amount: n.amount_cents,
                card_num: None,
                card_type: None,
                bill_reference: None,
                bill_reference_expires_at: None,
                refund_id: None,
            },
            is_hidden: false,
            payment_key_claims: n.payment_key_claims,
            error_occured: false,
            is_live: n.is_live,
            other_endpoint_reference: None,
            refunded_amount_cents: 0,
            source_id: -1,
            is_captured: false,
            captured_amount: 0,
            merchant_staff_tag: None,
            updated_at: n.created_at.into(),
            is_settled: false,
            bill_balanced: false,
            is_bill: false,
            owner: n.profile_id,
            parent_transaction: None,
        }
    }

    /// Reads a stored transaction.
    pub fn parse(text: &str) -> serde_json::Result<Transaction> {
        serde_json::from_str(text)
    }

    /// The stored form (parsed back by [`Transaction::parse`]).
    pub fn to_text(&self) -> String {
        serde_json::to_string(self).expect("a transaction serializes")
    }

    /// The wire document: keys sorted, as every object Kassa sends.
    pub fn to_json(&self) -> Value {
        serde_json::to_value(self).expect("a transaction serializes")
    }

    /// Paid with a card: `source_data` and the card fields of `data`.
    pub fn set_card(&mut self, brand: &str, bin: Option<&str>, last4: &str) {
        self.source_data = SourceData::new("card", brand, last4);
        self.data.card_num = Some(format!("{}xxxxxx{last4}", bin.unwrap_or("xxxxxx")));
        self.data.card_type = Some(brand.to_ascii_uppercase());
    }

    /// Paid with a mobile wallet known by its last digits (its number is not kept).
    pub fn set_wallet(&mut self, last4: &str) {
        let masked = format!("xxxxxxx{last4}");
        self.source_data = SourceData {
            kind: "wallet".into(),
            sub_type: "wallet".into(),
            pan: masked.clone(),
            phone_number: Some(masked),
            owner_name: Some(String::new()),
        };
    }

    /// The answer is in: approved with Paymob's codes for `subtype`.
    pub fn approve(&mut self, subtype: &str) {
        let (code, acq, message) = approval(subtype);
        self.answer(true, code, acq, message);
    }

    /// The answer is in: `success` with these codes and message.
    pub fn answer(&mut self, success: bool, code: &str, acq: &str, message: &str) {
        self.pending = false;
        self.success = success;
        self.data.txn_response_code = code.into();
        self.data.acq_response_code = acq.into();
        self.data.message = message.into();
    }

    /// A child transaction (refund, void, capture) of this one for `amount`, made at `stamp`.
    pub fn child(&self, id: i64, kind: ChildKind, amount: i64, stamp: &str) -> Transaction {
        let mut c = self.clone();
        c.id = id;
        c.pending = false;
        c.success = true;
        c.amount_cents = amount;
        c.is_auth = false;
        c.is_capture = kind == ChildKind::Capture;
        c.is_standalone_payment = false;
        c.is_voided = false;
        c.is_refunded = false;
        c.is_void = kind == ChildKind::Void;
        c.is_refund = kind == ChildKind::Refund;
        c.is_captured = false;
        c.captured_amount = 0;
        c.refunded_amount_cents = 0;
        c.has_parent_transaction = true;
        c.parent_transaction = Some(self.id);
        c.created_at = stamp.into();
        c.updated_at = stamp.into();
        c.api_source = "OTHER".into();
        c.data.message = match kind {
            ChildKind::Refund => "Refunded",
            ChildKind::Void => "Voided",
            ChildKind::Capture => "Captured",
        }
        .into();
        c.data.txn_response_code = "APPROVED".into();
        c.data.acq_response_code = "00".into();
        c.data.amount = amount;
        c
    }

    /// A text field of the payment key's billing data (empty when absent).
    pub fn billing(&self, field: &str) -> &str {
        self.payment_key_claims["billing_data"][field]
            .as_str()
            .unwrap_or_default()
    }

    /// The merchant's order id of the transaction's order, as the order shows it.
    pub fn merchant_order_id(&self) -> &Value {
        &self.order["merchant_order_id"]
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn sample() -> Transaction {
        Transaction::new(NewTransaction {
            id: 192,
            amount_cents: 10_000,
            currency: "EGP",
            integration_id: 7,
            klass: "MigsPayment",
            source: SourceKind::Card,
            profile_id: 3,
            is_live: false,
            order: json!({"id": 55, "merchant_order_id": "m-1"}),
            payment_key_claims: json!({"billing_data": {"email": "a@b.c"}}),
            api_source: "IFRAME",
            created_at: "2026-12-03T08:00:00.000000+02:00",
        })
    }

    /// The document the service wrote as a JSON literal before the type existed: the typed
    /// object must render it byte for byte.
    #[test]
    fn a_new_transaction_renders_the_old_document() {
        let created = "2026-12-03T08:00:00.000000+02:00";
        let old: Value = serde_json::from_str(
            r#"{
            "id": 192, "pending": true, "amount_cents": 10000, "success": false,
            "is_auth": false, "is_capture": false, "is_standalone_payment": true,
            "is_voided": false, "is_refunded": false, "is_3d_secure": false,
            "integration_id": 7, "profile_id": 3, "has_parent_transaction": false,
            "order": {"id": 55, "merchant_order_id": "m-1"}, "created_at": "CREATED",
            "transaction_processed_callback_responses": [], "currency": "EGP",
            "source_data": {"type": "card", "sub_type": "", "pan": ""},
            "api_source": "IFRAME", "terminal_id": null, "merchant_commission": 0,
            "installment": null, "discount_details": [], "is_void": false, "is_refund": false,
            "data": {"gateway_integration_pk": 7, "klass": "MigsPayment", "txn_response_code": "",
                     "acq_response_code": "", "message": "Pending", "created_at": "CREATED",
                     "currency": "EGP", "amount": 10000},
            "is_hidden": false, "payment_key_claims": {"billing_data": {"email": "a@b.c"}},
            "error_occured": false, "is_live": false, "other_endpoint_reference": null,
            "refunded_amount_cents": 0, "source_id": -1, "is_captured": false,
            "captured_amount": 0, "merchant_staff_tag": null, "updated_at": "CREATED",
            "is_settled": false, "bill_balanced": false, "is_bill": false, "owner": 3,
            "parent_transaction": null
            }"#
            .replace("CREATED", created)
            .as_str(),
        )
        .unwrap();
        let t = sample();
        assert_eq!(t.to_json().to_string(), old.to_string());
        // And an old stored document reads back as the same transaction.
        assert_eq!(Transaction::parse(&old.to_string()).unwrap(), t);
        assert_eq!(Transaction::parse(&t.to_text()).unwrap(), t);
    }

    #[test]
    fn a_paid_card_shows_its_card_and_codes() {
        let mut t = sample();
        t.set_card("Visa", Some("424242"), "4242");
        t.approve("CARD");
        let v = t.to_json();
        assert_eq!(v["pending"], json!(false));
        assert_eq!(v["success"], json!(true));
        assert_eq!(
            v["source_data"],
            json!({"type": "card", "sub_type": "Visa", "pan": "4242"})
        );
        assert_eq!(v["data"]["card_num"], json!("424242xxxxxx4242"));
        assert_eq!(v["data"]["card_type"], json!("VISA"));
        assert_eq!(v["data"]["txn_response_code"], json!("APPROVED"));
        assert_eq!(v["data"]["message"], json!("Approved"));
        let mut w = sample();
        w.set_wallet("0000");
        w.approve("WALLET");
        assert_eq!(
            w.to_json()["source_data"],
            json!({"type": "wallet", "sub_type": "wallet", "pan": "xxxxxxx0000",
                   "phone_number": "xxxxxxx0000", "owner_name": ""})
        );
        assert_eq!(w.data.txn_response_code, "200");
        assert_eq!(approval("CASH").2, "Paid");
    }

    #[test]
    fn a_card_token_is_stored_without_its_token_and_called_back_with_it() {
        let t = CardToken {
            id: 9,
            token: None,
            masked_pan: "xxxx-xxxx-xxxx-4242".into(),
            merchant_id: 3,
            card_subtype: "Visa".into(),
            created_at: "now".into(),
            email: "a@b.c".into(),
            order_id: "55".into(),
            user_added: false,
            next_payment_intention: None,
        };
        let stored = serde_json::to_value(&t).unwrap();
        assert!(stored.get("token").is_none());
        assert_eq!(stored["next_payment_intention"], Value::Null);
        let cb = t.callback_json("tok_1");
        assert_eq!(cb["token"], json!("tok_1"));
        assert_eq!(cb["next_payment_intention"], json!(""));
        assert_eq!(t.last4(), "4242");
        let old = json!({"id": 9, "masked_pan": "xxxx-xxxx-xxxx-4242", "merchant_id": 3,
            "card_subtype": "Visa", "created_at": "now", "email": "a@b.c", "order_id": "55",
            "user_added": false, "next_payment_intention": null});
        assert_eq!(serde_json::from_value::<CardToken>(old.clone()).unwrap(), t);
        assert_eq!(stored, old);
    }

    #[test]
    fn a_child_points_at_its_parent_and_carries_only_its_amount() {
        let mut parent = sample();
        parent.approve("CARD");
        parent.is_refunded = true;
        parent.refunded_amount_cents = 2_500;
        let c = parent.child(193, ChildKind::Refund, 2_500, "later");
        assert_eq!(c.id, 193);
        assert_eq!(c.parent_transaction, Some(192));
        assert!(c.has_parent_transaction && c.is_refund && !c.is_void && !c.is_capture);
        assert!(c.success && !c.pending && !c.is_standalone_payment);
        assert_eq!((c.amount_cents, c.data.amount), (2_500, 2_500));
        assert_eq!((c.is_refunded, c.refunded_amount_cents), (false, 0));
        assert_eq!(
            (c.created_at.as_str(), c.api_source.as_str()),
            ("later", "OTHER")
        );
        assert_eq!(c.data.message, "Refunded");
        let v = parent.child(194, ChildKind::Void, 10_000, "later");
        assert!(v.is_void && v.data.message == "Voided");
        let k = parent.child(195, ChildKind::Capture, 10_000, "later");
        assert!(k.is_capture && k.data.message == "Captured");
        assert_eq!(parent.billing("email"), "a@b.c");
        assert_eq!(parent.billing("phone_number"), "");
        assert_eq!(parent.merchant_order_id(), &json!("m-1"));
    }
}
