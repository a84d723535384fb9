//! Settings saved through the service; the payment-systems matrix and what it decides.

use axum::http::StatusCode;
use serde_json::{json, Value};

use super::common::dashboard::{set_up, Page};
use super::common::TestApp;
use super::*;

pub async fn settings_are_saved_through_the_service(app: &TestApp) {
    let b = set_up(app, "owner@shop.example", "owner").await;
    let (id, _) = create_project(&b, "Game shop", "digital_goods").await;
    let page = b.get(&project_path(&id, "")).await;
    assert_eq!(page.status, StatusCode::OK, "{}", page.body);
    assert!(page.body.contains("shared by test and live mode"));
    assert!(
        !page.body.contains("live_pingback_url"),
        "no live setting in test mode"
    );
    let form = settings_form(
        &page,
        &[
            ("name", "Game shop 2"),
            ("pingback_url", "https://shop.example/pb"),
            ("pingback_sign_version", "2"),
            ("custom_pingback", "order_id=OWN\ncountry = COUNTRY_CODE"),
            ("test_method", "1"),
            ("frame_ancestors", "'self' https://shop.example"),
            ("vc_name", "Gems"),
            ("vc_rate", "10"),
            ("link_max_age_seconds", "600"),
            // A test-mode form cannot change the live URL, even when it sends one.
            ("live_pingback_url", "https://shop.example/live"),
        ],
    );
    let saved = post_pairs(&b, &project_path(&id, "settings"), &form).await;
    assert_eq!(saved.status, StatusCode::SEE_OTHER, "{}", saved.body);
    assert_eq!(
        saved.location,
        format!("{}?saved=settings", project_path(&id, ""))
    );
    let p = api_project(app, &id).await;
    assert_eq!(p["name"], "Game shop 2");
    assert_eq!(p["pingback_url"], "https://shop.example/pb");
    assert_eq!(p["live_pingback_url"], Value::Null);
    assert_eq!(p["pingback_sign_version"], 2);
    assert_eq!(
        p["custom_pingback"],
        json!({"order_id": "OWN", "country": "COUNTRY_CODE"})
    );
    assert_eq!(p["frame_ancestors"], "'self' https://shop.example");
    assert_eq!(p["test_method"], true);
    assert_eq!(p["settings"]["vc_name"], "Gems");
    assert_eq!(p["settings"]["link_max_age_seconds"], 600);
    assert_eq!(
        p["settings"]["client_callbacks"], false,
        "an unticked box is off"
    );
    let shown = b
        .get(&format!("{}?saved=settings", project_path(&id, "")))
        .await;
    assert!(shown.body.contains("Settings saved."));
    assert!(
        shown.body.contains("country=COUNTRY_CODE\norder_id=OWN"),
        "{}",
        shown.body
    );

    // Refused values: a clear message, 400, the typed values kept, nothing saved.
    for (change, says) in [
        (("custom_pingback", "order_id=NOPE"), "must be OWN"),
        (("custom_pingback", "no equals sign"), "line 1"),
        (("pingback_url", "ftp://shop.example/pb"), "http or https"),
        (("link_max_age_seconds", "soon"), "whole number"),
        (("vc_rate", "-1"), "vc_rate"),
    ] {
        let form = settings_form(&shown, &[change, ("name", "Never saved")]);
        let r = post_pairs(&b, &project_path(&id, "settings"), &form).await;
        assert_eq!(r.status, StatusCode::BAD_REQUEST, "{change:?}: {}", r.body);
        assert!(r.body.contains(says), "{change:?}: {}", r.body);
        assert!(
            r.body.contains("value=\"Never saved\""),
            "the form keeps what was typed"
        );
    }
    assert_eq!(api_project(app, &id).await["name"], "Game shop 2");
    let audit = app
        .svc
        .store
        .audit_records(&app.scope(), 20, None)
        .await
        .unwrap();
    let r = audit
        .iter()
        .find(|a| a.action == "paymentwall_project.update")
        .expect("the change is audited");
    assert_eq!(r.actor_type, "user");
    assert_eq!(r.actor_label.as_deref(), Some("owner@shop.example"));
    assert!(audit
        .iter()
        .any(|a| a.action == "paymentwall_project.create"));
}

/// The checkbox inputs of the matrix the page rendered, as a browser would post them.
fn matrix_form(page: &Page) -> Vec<(String, String)> {
    let mut form = vec![("csrf".to_string(), page.csrf())];
    let attr = |tag: &str, name: &str| -> Option<String> {
        let at = tag.find(&format!(" {name}=\""))? + name.len() + 3;
        Some(tag[at..at + tag[at..].find('"')?].to_string())
    };
    for tag in page.body.split("<input").skip(1) {
        let tag = &tag[..tag.find('>').unwrap()];
        let (Some(name), Some(value)) = (attr(tag, "name"), attr(tag, "value")) else {
            continue;
        };
        if name == "row" || (name.starts_with("ps:") && tag.contains(" checked")) {
            form.push((name, value));
        }
    }
    form
}

pub async fn the_matrix_round_trips_and_decides_the_payment_page(app: &TestApp) {
    let b = set_up(app, "dev@shop.example", "developer").await;
    let (id, secret) = create_project(&b, "Methods", "digital_goods").await;
    let key = api_project(app, &id).await["project_key"]
        .as_str()
        .unwrap()
        .to_string();
    let path = project_path(&id, "payment-systems");
    let page = b.get(&path).await;
    assert_eq!(page.status, StatusCode::OK, "{}", page.body);
    let form: Vec<(String, String)> = vec![
        ("csrf".into(), page.csrf()),
        ("row".into(), "*".into()),
        ("ps:*".into(), "cc".into()),
        ("ps:*".into(), "sandboxbank".into()),
        ("new_country".into(), "de".into()),
        ("ps:new".into(), "sandboxwallet".into()),
        ("ps:new".into(), "sandboxcash".into()),
    ];
    let saved = post_pairs(&b, &path, &form).await;
    assert_eq!(saved.status, StatusCode::SEE_OTHER, "{}", saved.body);
    let want = json!({"*": ["cc", "sandboxbank"], "DE": ["sandboxwallet", "sandboxcash"]});
    assert_eq!(api_project(app, &id).await["payment_systems"], want);
    // The page shows it back, and posting it unchanged saves the same map.
    let page = b.get(&format!("{path}?saved=systems")).await;
    assert!(page.body.contains("Payment systems saved."));
    let again = post_pairs(&b, &path, &matrix_form(&page)).await;
    assert_eq!(again.status, StatusCode::SEE_OTHER, "{}", again.body);
    assert_eq!(api_project(app, &id).await["payment_systems"], want);
    // A test method in the matrix, or a country that is not one: 400, nothing saved.
    for bad in [
        vec![("row", "*"), ("ps:*", "test")],
        vec![("row", "*"), ("new_country", "Germany")],
        vec![("row", "*"), ("row", "DE"), ("new_country", "DE")],
    ] {
        let mut form = vec![("csrf".to_string(), page.csrf())];
        form.extend(bad.iter().map(|(k, v)| (k.to_string(), v.to_string())));
        let r = post_pairs(&b, &path, &form).await;
        assert_eq!(r.status, StatusCode::BAD_REQUEST, "{bad:?}: {}", r.body);
    }
    assert_eq!(api_project(app, &id).await["payment_systems"], want);

    // The Payment Systems API preview: the API's own answer for the country.
    let de = b.get(&format!("{path}?country=de")).await;
    assert_eq!(de.status, StatusCode::OK, "{}", de.body);
    let json_text = de.body.split("id=\"preview-json\"").nth(1).unwrap();
    let json_text = &json_text[json_text.find('>').unwrap() + 1..json_text.find("</pre>").unwrap()];
    let answer: Value = serde_json::from_str(&unescape(json_text)).unwrap();
    let ids: Vec<&str> = answer
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["id"].as_str().unwrap())
        .collect();
    assert_eq!(ids, ["sandboxwallet", "sandboxcash", "test"]);
    assert_eq!(
        b.get(&format!("{path}?country=DEU")).await.status,
        StatusCode::BAD_REQUEST
    );

    // What the payment page offers follows the matrix.
    let page_de = order_page(app, &key, &secret, "DE").await;
    assert!(
        page_de.contains("id=\"ps-sandboxwallet\"") && !page_de.contains("id=\"ps-cc\""),
        "{page_de}"
    );
    let page_fr = order_page(app, &key, &secret, "FR").await;
    assert!(
        page_fr.contains("id=\"ps-cc\"") && !page_fr.contains("id=\"ps-sandboxwallet\""),
        "{page_fr}"
    );
    // Removing DE's row: Germany falls back to "every other country".
    let page = b.get(&path).await;
    let mut form = matrix_form(&page);
    form.push(("remove".into(), "DE".into()));
    assert_eq!(
        post_pairs(&b, &path, &form).await.status,
        StatusCode::SEE_OTHER
    );
    let page_de = order_page(app, &key, &secret, "DE").await;
    assert!(page_de.contains("id=\"ps-cc\""), "{page_de}");
}

crate::on_both!(
    settings_are_saved_through_the_service,
    the_matrix_round_trips_and_decides_the_payment_page,
);
