use super::*;
use serde_json::json;

fn billing_full() -> Value {
    json!({
        "apartment": "dumy", "first_name": "john", "last_name": "Doe",
        "street": "dumy", "building": "dumy", "phone_number": "+20102345678",
        "city": "dumy", "country": "dumy", "email": "customer@example.com",
        "floor": "dumy", "state": "dumy"
    })
}

fn create_body() -> Value {
    json!({
        "amount": 1000,
        "currency": "EGP",
        "payment_methods": [5083949, "card"],
        "items": [
            {"name": "Item name", "amount": 500, "description": "Item description", "quantity": 1},
            {"name": "Other", "amount": 500, "quantity": 2}
        ],
        "billing_data": billing_full(),
        "extras": {"ee": 22},
        "special_reference": "phe4sjw11q-1122-22sas1aa",
        "unknown_field": 1
    })
}

fn fields(r: Result<IntentionInput, IntentionError>) -> Value {
    match r {
        Err(IntentionError::Fields(v)) => v,
        other => panic!("expected field errors, got {other:?}"),
    }
}

#[test]
fn intention_ok_and_defaults() {
    let i = parse_intention(&create_body()).unwrap();
    assert_eq!(i.amount, 1000);
    assert_eq!(i.currency, "EGP");
    assert_eq!(
        i.payment_methods,
        vec![MethodRef::Id(5083949), MethodRef::Name("card".into())]
    );
    assert_eq!(i.items.len(), 2);
    assert_eq!(i.items[1].description, "");
    assert_eq!(i.items[1].quantity, 2);
    assert_eq!(i.items[0].image, None);
    assert_eq!(i.billing_data.len(), 13);
    assert_eq!(i.billing_data["shipping_method"], "");
    assert_eq!(i.billing_data["postal_code"], "");
    assert_eq!(i.extras, json!({"ee": 22}));
    assert_eq!(i.customer, None);
    assert_eq!(
        i.special_reference.as_deref(),
        Some("phe4sjw11q-1122-22sas1aa")
    );
    assert_eq!(i.expiration, 3_110_400);
    assert!(i.card_tokens.is_empty());
    assert!(!i.delivery_needed);
    assert_eq!(i.subscription_plan_id, None);

    let mut minimal = create_body();
    let m = minimal.as_object_mut().unwrap();
    m.remove("items");
    m.remove("extras");
    m.remove("special_reference");
    let i = parse_intention(&minimal).unwrap();
    assert!(i.items.is_empty());
    assert_eq!(i.extras, json!({}));
}

#[test]
fn intention_detail_shape() {
    let i = parse_intention(&create_body()).unwrap();
    let d = intention_detail(&i);
    assert_eq!(d["amount"], 1000);
    assert_eq!(d["currency"], "EGP");
    assert_eq!(
        d["items"][0],
        json!({"name": "Item name", "amount": 500, "description": "Item description", "quantity": 1, "image": null})
    );
    assert_eq!(d["billing_data"].as_object().unwrap().len(), 13);
    assert_eq!(d["billing_data"]["email"], "customer@example.com");
    assert_eq!(d.as_object().unwrap().len(), 4);
}

#[test]
fn intention_required_fields() {
    assert_eq!(
        fields(parse_intention(&json!({}))),
        json!({
            "amount": [drf::REQUIRED],
            "currency": [drf::REQUIRED],
            "payment_methods": [drf::REQUIRED],
            "billing_data": [drf::REQUIRED]
        })
    );
    let mut b = create_body();
    b.as_object_mut().unwrap().remove("amount");
    assert_eq!(
        fields(parse_intention(&b)),
        json!({"amount": ["This field is required."]})
    );
    assert_eq!(
        fields(parse_intention(&json!([1]))),
        json!({"non_field_errors": ["Invalid data. Expected a dictionary, but got list."]})
    );
}

#[test]
fn intention_scalar_errors() {
    let mut b = create_body();
    b["amount"] = json!(0);
    b["currency"] = json!("USD");
    b["expiration"] = json!(3_110_401);
    b["delivery_needed"] = json!("maybe");
    b["notification_url"] = json!("ftp://example.com/x");
    b["redirection_url"] = json!("not a url");
    b["subscription_start_date"] = json!("2025-02-30");
    b["subscription_plan_id"] = json!("12");
    b["customer"] = json!([]);
    b["special_reference"] = json!("x".repeat(256));
    assert_eq!(
        fields(parse_intention(&b)),
        json!({
            "amount": ["Ensure this value is greater than or equal to 1."],
            "currency": ["\"USD\" is not a valid choice."],
            "expiration": ["Ensure this value is less than or equal to 3110400."],
            "delivery_needed": ["Must be a valid boolean."],
            "notification_url": ["Enter a valid URL."],
            "redirection_url": ["Enter a valid URL."],
            "subscription_start_date": [drf::INVALID_DATE],
            "subscription_plan_id": ["A valid integer is required."],
            "customer": ["Expected a dictionary of items but got type \"list\"."],
            "special_reference": ["Ensure this field has no more than 255 characters."]
        })
    );
    let mut b = create_body();
    b["amount"] = json!("10x");
    b["currency"] = json!(null);
    assert_eq!(
        fields(parse_intention(&b)),
        json!({"amount": [drf::INVALID_INT], "currency": [drf::NULL]})
    );
    // Like Django REST framework, a number sent as a string is accepted.
    let mut b = create_body();
    b["amount"] = json!("1000");
    assert_eq!(parse_intention(&b).unwrap().amount, 1000);
}

#[test]
fn intention_optional_values_accepted() {
    let mut b = create_body();
    b["amount"] = json!(1000.0);
    b["expiration"] = json!(3600);
    b["delivery_needed"] = json!("true");
    b["notification_url"] = json!("https://shop.example/paymob/callback?x=1");
    b["redirection_url"] = json!("");
    b["subscription_start_date"] = json!("2024-02-29");
    b["subscription_plan_id"] = json!(42);
    b["subscriptionv2_id"] = json!(null);
    b["customer"] = json!({"first_name": "a"});
    b["special_reference"] = json!(12345);
    b["card_tokens"] = json!(["t1", "t2", "t3"]);
    b["payment_methods"] = json!(["12345", 1.0, " card-installment "]);
    let i = parse_intention(&b).unwrap();
    assert_eq!(i.amount, 1000);
    assert_eq!(i.expiration, 3600);
    assert!(i.delivery_needed);
    assert_eq!(
        i.notification_url.as_deref(),
        Some("https://shop.example/paymob/callback?x=1")
    );
    assert_eq!(i.redirection_url, None);
    assert_eq!(i.subscription_start_date.as_deref(), Some("2024-02-29"));
    assert_eq!(i.subscription_plan_id, Some(42));
    assert_eq!(i.subscriptionv2_id, None);
    assert_eq!(i.customer, Some(json!({"first_name": "a"})));
    assert_eq!(i.special_reference.as_deref(), Some("12345"));
    assert_eq!(i.card_tokens.len(), 3);
    assert_eq!(
        i.payment_methods,
        vec![
            MethodRef::Id(12345),
            MethodRef::Id(1),
            MethodRef::Name("card-installment".into())
        ]
    );
}

#[test]
fn payment_methods_errors() {
    let mut b = create_body();
    b["payment_methods"] = json!([]);
    assert_eq!(
        fields(parse_intention(&b)),
        json!({"payment_methods": ["This list may not be empty."]})
    );
    b["payment_methods"] = json!("card");
    assert_eq!(
        fields(parse_intention(&b)),
        json!({"payment_methods": ["Expected a list of items but got type \"str\"."]})
    );
    b["payment_methods"] = json!([1, "", true, 1.5]);
    assert_eq!(
        fields(parse_intention(&b)),
        json!({"payment_methods": {
            "1": [drf::BLANK], "2": [drf::INVALID_STR], "3": [drf::INVALID_INT]
        }})
    );
}

#[test]
fn card_tokens_errors() {
    let mut b = create_body();
    b["card_tokens"] = json!(["a", "b", "c", "d"]);
    assert_eq!(
        fields(parse_intention(&b)),
        json!({"card_tokens": ["Ensure this field has no more than 3 elements."]})
    );
    b["card_tokens"] = json!(["a", 5]);
    assert_eq!(
        fields(parse_intention(&b)),
        json!({"card_tokens": {"1": [drf::INVALID_STR]}})
    );
}

#[test]
fn item_errors_nested_first_failing() {
    let mut b = create_body();
    b["items"] = json!([
        {"name": "ok", "amount": 500},
        {"amount": -1, "quantity": 0},
        {"name": ""}
    ]);
    assert_eq!(
        fields(parse_intention(&b)),
        json!({"items": {
            "name": ["This field is required."],
            "amount": ["Ensure this value is greater than or equal to 0."],
            "quantity": ["Ensure this value is greater than or equal to 1."]
        }})
    );
    b["items"] = json!([{"name": "x".repeat(51), "amount": 1000, "description": "d".repeat(256)}]);
    assert_eq!(
        fields(parse_intention(&b)),
        json!({"items": {
            "name": ["Ensure this field has no more than 50 characters."],
            "description": ["Ensure this field has no more than 255 characters."]
        }})
    );
    b["items"] = json!(["x"]);
    assert_eq!(
        fields(parse_intention(&b)),
        json!({"items": {"non_field_errors": ["Invalid data. Expected a dictionary, but got str."]}})
    );
    b["items"] = json!({"name": "x"});
    assert_eq!(
        fields(parse_intention(&b)),
        json!({"items": ["Expected a list of items but got type \"dict\"."]})
    );
    b["items"] = json!([{"name": "  ", "amount": "5x"}]);
    assert_eq!(
        fields(parse_intention(&b)),
        json!({"items": {"name": [drf::BLANK], "amount": [drf::INVALID_INT]}})
    );
}

#[test]
fn unmatched_item_prices() {
    let mut b = create_body();
    b["amount"] = json!(1500);
    assert_eq!(
        parse_intention(&b),
        Err(IntentionError::UnmatchedItemPrices)
    );
    // Quantity is not multiplied.
    b["amount"] = json!(1000);
    b["items"][0]["quantity"] = json!(3);
    assert!(parse_intention(&b).is_ok());
    // Field errors win over the total check.
    b["amount"] = json!(7);
    b["currency"] = json!("XXX");
    assert!(matches!(
        parse_intention(&b),
        Err(IntentionError::Fields(_))
    ));
    // Empty items skip the check.
    b["currency"] = json!("EGP");
    b["items"] = json!([]);
    assert!(parse_intention(&b).is_ok());
}

#[test]
fn billing_errors() {
    let mut b = create_body();
    b["billing_data"]["phone_number"] = json!("");
    assert_eq!(
        fields(parse_intention(&b)),
        json!({"billing_data": {"phone_number": ["This field may not be blank."]}})
    );
    let mut b = create_body();
    let bd = b["billing_data"].as_object_mut().unwrap();
    bd.remove("first_name");
    bd.insert("last_name".into(), json!("x".repeat(51)));
    bd.insert("email".into(), json!("not-an-email"));
    bd.insert("city".into(), json!(true));
    assert_eq!(
        fields(parse_intention(&b)),
        json!({"billing_data": {
            "first_name": [drf::REQUIRED],
            "last_name": ["Ensure this field has no more than 50 characters."],
            "email": ["Enter a valid email address."],
            "city": [drf::INVALID_STR]
        }})
    );
    b["billing_data"] = json!("x");
    assert_eq!(
        fields(parse_intention(&b)),
        json!({"billing_data": {"non_field_errors": ["Invalid data. Expected a dictionary, but got str."]}})
    );
    b["billing_data"] = json!(null);
    assert_eq!(
        fields(parse_intention(&b)),
        json!({"billing_data": [drf::NULL]})
    );
}

#[test]
fn billing_lenient_values() {
    let mut b = create_body();
    b["billing_data"]["postal_code"] = json!(12345);
    b["billing_data"]["floor"] = json!(null);
    b["billing_data"]["first_name"] = json!("  john ");
    b["billing_data"]["extra_key"] = json!("dropped");
    let i = parse_intention(&b).unwrap();
    assert_eq!(i.billing_data["postal_code"], "12345");
    assert_eq!(i.billing_data["floor"], "");
    assert_eq!(i.billing_data["first_name"], "john");
    assert!(!i.billing_data.contains_key("extra_key"));
}

#[test]
fn emails() {
    for ok in ["a@b.co", "customer@example.com", "x.y+z@mail.example.org"] {
        assert!(valid_email(ok), "{ok}");
    }
    for bad in [
        "", "a", "a@b", "@b.co", "a@.co", "a@b.", "a b@c.d", "a@b@c.d", "a@b..c",
    ] {
        assert!(!valid_email(bad), "{bad}");
    }
}

#[test]
fn dates_and_urls() {
    assert!(valid_date("2024-02-29"));
    assert!(!valid_date("2023-02-29"));
    assert!(valid_date("2000-02-29"));
    assert!(!valid_date("1900-02-29"));
    assert!(!valid_date("2024-13-01"));
    assert!(!valid_date("2024-1-01"));
    assert!(!valid_date("2024-01-00"));
    assert!(!valid_date("+024-01-01"));
    assert!(valid_http_url("http://localhost:8080/cb"));
    assert!(!valid_http_url("https://"));
    assert!(!valid_http_url("/relative"));
    assert!(!valid_http_url("mailto:a@b.c"));
    assert!(!valid_http_url("https://a.example/x y"));
}

#[test]
fn update_replaces_given_fields() {
    let cur = parse_intention(&create_body()).unwrap();
    let (id, upd) = parse_intention_update(
        &json!({
            "accept_order_id": 399862108,
            "amount": 2000,
            "items": [{"name": "n", "amount": 2000}],
            "billing_data": {"first_name": "a", "last_name": "b", "email": "a@b.co", "phone_number": "1"}
        }),
        &cur,
    )
    .unwrap();
    assert_eq!(id, 399862108);
    assert_eq!(upd.amount, 2000);
    assert_eq!(upd.items.len(), 1);
    assert_eq!(upd.billing_data["apartment"], "");
    assert_eq!(upd.billing_data.len(), 13);
    assert_eq!(upd.currency, cur.currency);
    assert_eq!(upd.special_reference, cur.special_reference);
    assert_eq!(upd.extras, cur.extras);

    // Only the order id: nothing changes.
    let (_, same) = parse_intention_update(&json!({"accept_order_id": 1}), &cur).unwrap();
    assert_eq!(same, cur);
}

#[test]
fn update_errors() {
    let cur = parse_intention(&create_body()).unwrap();
    assert_eq!(
        parse_intention_update(&json!({"amount": 1000}), &cur),
        Err(IntentionError::Fields(
            json!({"accept_order_id": ["This field is required."]})
        ))
    );
    assert_eq!(
        parse_intention_update(&json!({"accept_order_id": "x", "currency": "USD"}), &cur),
        Err(IntentionError::Fields(json!({
            "accept_order_id": [drf::INVALID_INT],
            "currency": ["\"USD\" is not a valid choice."]
        })))
    );
    // The total is re-checked against the current items.
    assert_eq!(
        parse_intention_update(&json!({"accept_order_id": 1, "amount": 999}), &cur),
        Err(IntentionError::UnmatchedItemPrices)
    );
    // Clearing the optional URL works with null.
    let mut with_url = cur.clone();
    with_url.notification_url = Some("https://a.example/".into());
    let (_, cleared) = parse_intention_update(
        &json!({"accept_order_id": 1, "notification_url": null}),
        &with_url,
    )
    .unwrap();
    assert_eq!(cleared.notification_url, None);
}

#[test]
fn intention_serde_round_trip() {
    let i = parse_intention(&create_body()).unwrap();
    let text = serde_json::to_string(&i).unwrap();
    let back: IntentionInput = serde_json::from_str(&text).unwrap();
    assert_eq!(back, i);
}

#[test]
fn order_legacy() {
    let o = parse_order(&json!({
        "auth_token": "ZXlK",
        "delivery_needed": "false",
        "amount_cents": "100",
        "merchant_order_id": 5,
        "items": [{"name": "A", "amount_cents": "100", "description": "d", "quantity": "1"}],
        "shipping_details": {"city": "Cairo"}
    }))
    .unwrap();
    assert_eq!(o.amount_cents, 100);
    assert_eq!(o.currency, "EGP");
    assert_eq!(o.merchant_order_id.as_deref(), Some("5"));
    assert_eq!(o.items[0].amount, 100);
    assert_eq!(o.items[0].quantity, 1);
    assert!(!o.delivery_needed);
    assert_eq!(o.shipping_data, Some(json!({"city": "Cairo"})));

    let o = parse_order(&json!({"amount_cents": 5, "currency": "OMR", "merchant_order_id": null}))
        .unwrap();
    assert_eq!(o.currency, "OMR");
    assert_eq!(o.merchant_order_id, None);
    assert!(o.items.is_empty());
    assert_eq!(o.shipping_data, None);

    assert_eq!(
        parse_order(&json!({"currency": "USD", "amount_cents": "1.5", "delivery_needed": "x"}))
            .unwrap_err(),
        json!({
            "amount_cents": [drf::INVALID_INT],
            "currency": ["\"USD\" is not a valid choice."],
            "delivery_needed": [drf::INVALID_BOOL]
        })
    );
    assert_eq!(
        parse_order(&json!({"amount_cents": 0, "items": [{"name": "a"}], "shipping_data": "x"}))
            .unwrap_err(),
        json!({
            "amount_cents": ["Ensure this value is greater than or equal to 1."],
            "items": {"amount_cents": [drf::REQUIRED]},
            "shipping_data": ["Expected a dictionary of items but got type \"str\"."]
        })
    );
}

fn legacy_billing() -> Value {
    let mut m = Map::new();
    for f in BILLING_FIELDS {
        m.insert(f.to_string(), json!("NA"));
    }
    Value::Object(m)
}

#[test]
fn payment_key_legacy() {
    let k = parse_payment_key(&json!({
        "auth_token": "ZXlK",
        "amount_cents": "100",
        "order_id": 217503754,
        "billing_data": legacy_billing(),
        "currency": "EGP",
        "integration_id": "4097558",
        "lock_order_when_paid": "false"
    }))
    .unwrap();
    assert_eq!(k.amount_cents, 100);
    assert_eq!(k.expiration, 3600);
    assert_eq!(k.order_id, 217503754);
    assert_eq!(k.integration_id, 4097558);
    assert!(!k.lock_order_when_paid);
    assert_eq!(k.token, None);
    assert_eq!(k.billing_data.len(), 13);
    assert_eq!(k.billing_data["email"], "NA");

    let mut bd = legacy_billing();
    bd["state"] = json!("");
    bd.as_object_mut().unwrap().remove("floor");
    bd["postal_code"] = json!(11511);
    let err = parse_payment_key(&json!({
        "amount_cents": 100,
        "expiration": 0,
        "billing_data": bd,
        "integration_id": 1,
        "lock_order_when_paid": true,
        "token": "t"
    }))
    .unwrap_err();
    assert_eq!(
        err,
        json!({
            "expiration": ["Ensure this value is greater than or equal to 1."],
            "order_id": [drf::REQUIRED],
            "billing_data": {"floor": [drf::REQUIRED], "state": [drf::BLANK]},
            "currency": [drf::REQUIRED]
        })
    );
    let ok = parse_payment_key(&json!({
        "amount_cents": 100, "expiration": 3_110_400, "order_id": "7", "billing_data": legacy_billing(),
        "currency": "PKR", "integration_id": 1, "lock_order_when_paid": true, "token": "tok"
    }))
    .unwrap();
    assert!(ok.lock_order_when_paid);
    assert_eq!(ok.token.as_deref(), Some("tok"));
    assert_eq!(ok.expiration, 3_110_400);
}

#[test]
fn pay_card() {
    let p = parse_pay(&json!({
        "source": {
            "identifier": "5123 4567 8901 2346",
            "subtype": "CARD",
            "sourceholder_name": "Test Account",
            "expiry_month": "01",
            "expiry_year": "39",
            "cvn": 123
        },
        "payment_token": "ZXlKabc"
    }))
    .unwrap();
    assert_eq!(
        p.source,
        PaySource::Card {
            number: "5123456789012346".into(),
            holder: "Test Account".into(),
            expiry_month: 1,
            expiry_year: 2039,
            cvn: "123".into()
        }
    );
    assert!(!p.save_card);
    let dbg = format!("{p:?}");
    assert!(!dbg.contains("5123456789012346"), "{dbg}");
    assert!(dbg.contains("2346"));
    assert!(!dbg.contains("123\""), "{dbg}");
    assert!(!dbg.contains("ZXlKabc"), "{dbg}");

    let p = parse_pay(&json!({
        "source": {"identifier": "4111111111111111", "subtype": "CARD", "expiry_month": 12,
                   "expiry_year": 2030, "cvn": "1234", "save_card": "true"},
        "payment_token": "t"
    }))
    .unwrap();
    assert!(p.save_card);
    assert!(
        matches!(p.source, PaySource::Card { expiry_year: 2030, ref holder, .. } if holder.is_empty())
    );
}

#[test]
fn pay_card_errors() {
    let err = parse_pay(&json!({
        "source": {"identifier": "4111-1111", "subtype": "CARD", "expiry_month": 13,
                   "expiry_year": "039", "cvn": "12"},
        "payment_token": ""
    }))
    .unwrap_err();
    assert_eq!(
        err,
        json!({
            "source": {
                "identifier": ["Enter a valid card number."],
                "expiry_month": ["Ensure this value is less than or equal to 12."],
                "expiry_year": ["Enter a valid expiry year."],
                "cvn": ["Enter a valid CVN."]
            },
            "payment_token": [drf::BLANK]
        })
    );
    assert_eq!(
        parse_pay(&json!({"source": {"subtype": "CARD"}, "payment_token": "t"})).unwrap_err(),
        json!({"source": {
            "identifier": [drf::REQUIRED], "expiry_month": [drf::REQUIRED],
            "expiry_year": [drf::REQUIRED], "cvn": [drf::REQUIRED]
        }})
    );
}

#[test]
fn pay_other_subtypes() {
    let p = parse_pay(&json!({
        "source": {"identifier": "e98aceb96f5a370ddf46460db9d555f88bf12448f80e1839b39f78ab", "subtype": "TOKEN"},
        "payment_token": "t",
        "save_card": true
    }))
    .unwrap();
    assert!(p.save_card);
    assert!(matches!(&p.source, PaySource::Token { cvn: None, token } if token.ends_with("78ab")));
    let dbg = format!("{:?}", p.source);
    assert!(!dbg.contains("e98aceb9"), "{dbg}");

    let p = parse_pay(&json!({"source": {"identifier": "abc", "subtype": "TOKEN", "cvn": "123"}, "payment_token": "t"})).unwrap();
    assert_eq!(
        p.source,
        PaySource::Token {
            token: "abc".into(),
            cvn: Some("123".into())
        }
    );
    assert!(!format!("{p:?}").contains("\"123\""));

    let p = parse_pay(&json!({"source": {"identifier": "01010101010", "subtype": "WALLET"}, "payment_token": "t"})).unwrap();
    assert_eq!(
        p.source,
        PaySource::Wallet {
            phone: "01010101010".into()
        }
    );
    let p = parse_pay(&json!({"source": {"identifier": "AGGREGATOR", "subtype": "AGGREGATOR"}, "payment_token": "t"})).unwrap();
    assert_eq!(p.source, PaySource::Aggregator);
    let p = parse_pay(
        &json!({"source": {"identifier": "cash", "subtype": "CASH"}, "payment_token": "t"}),
    )
    .unwrap();
    assert_eq!(p.source, PaySource::Cash);
}

#[test]
fn pay_errors() {
    assert_eq!(
        parse_pay(&json!({"source": {"identifier": "x", "subtype": "card"}, "payment_token": "t"}))
            .unwrap_err(),
        json!({"source": {"subtype": ["\"card\" is not a valid choice."]}})
    );
    assert_eq!(
        parse_pay(&json!({})).unwrap_err(),
        json!({"source": [drf::REQUIRED], "payment_token": [drf::REQUIRED]})
    );
    assert_eq!(
        parse_pay(&json!({"source": "x", "payment_token": 5})).unwrap_err(),
        json!({
            "source": {"non_field_errors": ["Invalid data. Expected a dictionary, but got str."]},
            "payment_token": [drf::INVALID_STR]
        })
    );
    assert_eq!(
        parse_pay(
            &json!({"source": {"subtype": "WALLET", "save_card": "x"}, "payment_token": "t"})
        )
        .unwrap_err(),
        json!({"source": {"identifier": [drf::REQUIRED], "save_card": [drf::INVALID_BOOL]}})
    );
    assert_eq!(
        parse_pay(&json!({"source": {"subtype": "CASH"}, "payment_token": "t", "save_card": 3}))
            .unwrap_err(),
        json!({"save_card": [drf::INVALID_BOOL]})
    );
}
