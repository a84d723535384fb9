//! Published test vectors from the spec (§4.3–§4.5).

use serde_json::{json, Value};

use crate::hmac::{
    query_hmac, query_message, subscription_hmac, token_hmac, token_message, transaction_hmac,
    transaction_message, verify_hex,
};
use crate::redirect::response_params;

const DOCS_SECRET: &str = "04DC1A9490B8CC2094C011FC055ADCDB";

/// The §4.1 processed-callback payload.
fn processed_callback() -> Value {
    serde_json::from_str(
        r#"{
        "type": "TRANSACTION",
        "obj": {
            "id": 192036465, "pending": false, "amount_cents": 100000, "success": true,
            "is_auth": false, "is_capture": false, "is_standalone_payment": true,
            "is_voided": false, "is_refunded": false, "is_3d_secure": true,
            "integration_id": 4097558, "profile_id": 164295, "has_parent_transaction": false,
            "order": {
                "id": 217503754, "created_at": "2024-06-13T11:32:09.628623",
                "delivery_needed": false, "merchant": {"id": 164295},
                "collector": null, "amount_cents": 100000,
                "shipping_data": {"order_id": 217503754, "order": 217503754},
                "currency": "EGP", "is_payment_locked": false, "is_return": false,
                "is_cancel": false, "is_returned": false, "is_canceled": false,
                "merchant_order_id": null, "wallet_notification": null,
                "paid_amount_cents": 100000, "notify_user_with_email": false, "items": [],
                "order_url": "NA", "commission_fees": null, "delivery_fees_cents": null,
                "delivery_vat_cents": null, "payment_method": "tbc",
                "merchant_staff_tag": null, "api_source": "OTHER", "data": {}
            },
            "created_at": "2024-06-13T11:33:44.592345",
            "transaction_processed_callback_responses": [], "currency": "EGP",
            "source_data": {"pan": "2346", "type": "card", "tenure": null, "sub_type": "MasterCard"},
            "api_source": "IFRAME", "terminal_id": null, "merchant_commission": null,
            "installment": null, "discount_details": [], "is_void": false, "is_refund": false,
            "data": {
                "gateway_integration_pk": 4097558, "klass": "MigsPayment",
                "txn_response_code": "APPROVED", "acq_response_code": "00",
                "message": "Approved", "card_num": "512345xxxxxx2346", "card_type": "MASTERCARD",
                "migs_order": {}, "migs_transaction": {}
            },
            "is_hidden": false,
            "payment_key_claims": {
                "extra": {}, "user_id": 302852, "currency": "EGP", "order_id": 217503754,
                "amount_cents": 100000, "billing_data": {},
                "redirect_url": "https://accept.paymob.com/unifiedcheckout/payment-status?payment_token=x&trx_id=192036465",
                "integration_id": 4097558, "lock_order_when_paid": false,
                "next_payment_intention": "pi_test_d04d", "single_payment_attempt": false
            },
            "error_occured": false, "is_live": false, "other_endpoint_reference": null,
            "refunded_amount_cents": null, "source_id": -1, "is_captured": false,
            "captured_amount": null, "merchant_staff_tag": null,
            "updated_at": "2024-06-13T11:34:07.272638", "is_settled": false,
            "bill_balanced": false, "is_bill": false, "owner": 302852, "parent_transaction": null
        },
        "issuer_bank": null,
        "transaction_processed_callback_responses": ""
    }"#,
    )
    .expect("valid JSON")
}

#[test]
fn post_worked_example() {
    let body = processed_callback();
    let obj = &body["obj"];
    assert_eq!(
        transaction_message(obj),
        "1000002024-06-13T11:33:44.592345EGPfalsefalse1920364654097558truefalsefalsefalsetruefalse217503754302852false2346MasterCardcardtrue"
    );
    let expected = "fa8ac0b7f3852e60c50e7fdd4ea5ef0bda96030c19dea1d55df8c76d6c08ab1877774662cbb04981dc84839ad4da560bcc8cb53b8973548657f7e8f8d2e79930";
    assert_eq!(transaction_hmac(DOCS_SECRET, obj), expected);
    assert!(verify_hex(
        &transaction_hmac(DOCS_SECRET, obj),
        &expected.to_uppercase()
    ));
}

#[test]
fn post_example_flattened_to_get() {
    let body = processed_callback();
    let params = response_params(&body["obj"]);
    assert_eq!(query_message(&params), transaction_message(&body["obj"]));
    assert!(params.iter().all(|(k, _)| k != "merchant_order_id"));
}

#[test]
fn get_odoo_vector() {
    let params: Vec<(String, String)> = [
        ("amount_cents", "111111"),
        ("created_at", "2025-04-01T17:29:16.967925"),
        ("currency", "EGP"),
        ("error_occured", "false"),
        ("has_parent_transaction", "false"),
        ("id", "dummy_id"),
        ("integration_id", "1234"),
        ("is_3d_secure", "true"),
        ("is_auth", "false"),
        ("is_capture", "false"),
        ("is_refunded", "false"),
        ("is_standalone_payment", "true"),
        ("is_voided", "false"),
        ("order", "123"),
        ("owner", "12"),
        ("pending", "false"),
        ("source_data.pan", "1111"),
        ("source_data.sub_type", "Visa"),
        ("source_data.type", "card"),
        ("success", "true"),
        ("merchant_order_id", "123DUMMY456"),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_string(), v.to_string()))
    .collect();
    assert_eq!(
        query_message(&params),
        "1111112025-04-01T17:29:16.967925EGPfalsefalsedummy_id1234truefalsefalsefalsetruefalse12312false1111Visacardtrue"
    );
    assert_eq!(
        query_hmac("dummy_hmac", &params),
        "51860052ecc6d9f08ac30a549359019e2eee837913b5673094c242c817ddf57c055ba5e3e9c0894b1171e62c2d37cd55ff98a46a0e28e1ccf2e4a907e6683aa5"
    );
}

#[test]
fn token_callback_vector() {
    let obj = json!({
        "id": 8555026,
        "token": "e98aceb96f5a370ddf46460db9d555f88bf12448f80e1839b39f78ab",
        "masked_pan": "xxxx-xxxx-xxxx-2346",
        "merchant_id": 246628,
        "card_subtype": "MasterCard",
        "created_at": "2024-11-13T12:32:23.859982",
        "email": "test@test.com",
        "order_id": "264064419",
        "user_added": false,
        "next_payment_intention": "pi_test_x"
    });
    assert_eq!(
        token_message(&obj),
        "MasterCard2024-11-13T12:32:23.859982test@test.com8555026xxxx-xxxx-xxxx-2346246628264064419e98aceb96f5a370ddf46460db9d555f88bf12448f80e1839b39f78ab"
    );
    let h = token_hmac(DOCS_SECRET, &obj);
    assert!(h.starts_with("c7f713f2"), "{h}");
    assert!(h.ends_with("2953596"), "{h}");
    assert_eq!(h.len(), 128);
}

#[test]
fn subscription_vector() {
    let h = subscription_hmac(DOCS_SECRET, "suspended", 1264);
    assert!(h.starts_with("7ff8f786"), "{h}");
    assert!(h.ends_with("68c704"), "{h}");
    assert_eq!(
        h,
        crate::hmac::hmac_sha512_hex(DOCS_SECRET, "suspendedfor1264")
    );
}
