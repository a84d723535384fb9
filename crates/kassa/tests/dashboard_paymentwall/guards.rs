//! Roles, the CSRF and origin checks, and another merchant's project.

use axum::http::StatusCode;
use serde_json::json;

use super::common::dashboard::set_up;
use super::common::TestApp;
use super::*;

pub async fn a_viewer_changes_nothing_and_forms_need_the_token(app: &TestApp) {
    let owner = set_up(app, "owner3@shop.example", "owner").await;
    let (id, _) = create_project(&owner, "Guarded", "digital_goods").await;
    let before = api_project(app, &id).await;
    let viewer = set_up(app, "viewer@shop.example", "viewer").await;
    let page = viewer.get(&project_path(&id, "")).await;
    assert_eq!(page.status, StatusCode::OK, "{}", page.body);
    assert!(
        !page.body.contains("Save settings"),
        "no save button for a viewer"
    );
    for tab in ["payment-systems", "widgets", "keys", "test-pingback"] {
        let p = viewer.get(&project_path(&id, tab)).await;
        assert_eq!(p.status, StatusCode::OK, "{tab}: {}", p.body);
    }
    assert!(!viewer.get(LIST).await.body.contains("Create project"));
    let csrf = page.csrf();
    let form = settings_form(&page, &[("name", "Hijacked")]);
    let r = post_pairs(&viewer, &project_path(&id, "settings"), &form).await;
    assert_eq!(r.status, StatusCode::FORBIDDEN);
    for (tab, fields) in [
        ("payment-systems", vec![("row", "*")]),
        ("widgets", vec![("widgets", "p1_1")]),
        ("branding", vec![("display_name", "x")]),
        ("keys/regenerate", vec![]),
        (
            "test-pingback",
            vec![("type", "0"), ("uid", "u"), ("goodsid", "g")],
        ),
        ("logo/remove", vec![]),
    ] {
        let mut f = vec![("csrf", csrf.as_str())];
        f.extend(fields);
        let r = viewer.post(&project_path(&id, tab), &f).await;
        assert_eq!(r.status, StatusCode::FORBIDDEN, "{tab}: {}", r.body);
        assert!(r.body.contains("Not allowed"), "{tab}");
    }
    let r = viewer
        .post(
            LIST,
            &[("csrf", &csrf), ("name", "New"), ("api_type", "cart")],
        )
        .await;
    assert_eq!(r.status, StatusCode::FORBIDDEN);
    assert_eq!(api_project(app, &id).await, before);

    // The owner's own session: no token, another session's token, another origin: 403.
    let page = owner.get(&project_path(&id, "")).await;
    let good = settings_form(&page, &[("name", "Changed")]);
    let path = project_path(&id, "settings");
    let without: Vec<_> = good.iter().filter(|(k, _)| k != "csrf").cloned().collect();
    assert_eq!(
        post_pairs(&owner, &path, &without).await.status,
        StatusCode::FORBIDDEN
    );
    let mut wrong = without.clone();
    wrong.push(("csrf".into(), csrf.clone()));
    assert_eq!(
        post_pairs(&owner, &path, &wrong).await.status,
        StatusCode::FORBIDDEN
    );
    let refs: Vec<(&str, &str)> = good.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
    let foreign = owner
        .post_with(&path, &refs, &[("origin", "http://evil.example")])
        .await;
    assert_eq!(foreign.status, StatusCode::FORBIDDEN);
    let cross = owner
        .post_with(&path, &refs, &[("sec-fetch-site", "cross-site")])
        .await;
    assert_eq!(cross.status, StatusCode::FORBIDDEN);
    assert_eq!(api_project(app, &id).await["name"], "Guarded");
    assert_eq!(
        post_pairs(&owner, &path, &good).await.status,
        StatusCode::SEE_OTHER
    );
    assert_eq!(api_project(app, &id).await["name"], "Changed");
}

pub async fn another_merchants_project_is_not_found(app: &TestApp) {
    let other = app.other_merchant_key().await;
    let (s, p) = app
        .post_as(
            &other,
            "/v1/paymentwall/projects",
            json!({"name": "Theirs", "api_type": "cart"}),
            None,
        )
        .await;
    assert_eq!(s, StatusCode::OK, "{p}");
    let theirs = p["id"].as_str().unwrap().to_string();
    let b = set_up(app, "nosy@shop.example", "owner").await;
    let list = b.get(LIST).await;
    assert!(!list.body.contains(&theirs));
    for tab in ["", "payment-systems", "widgets", "keys", "test-pingback"] {
        assert_eq!(
            b.get(&project_path(&theirs, tab)).await.status,
            StatusCode::NOT_FOUND,
            "{tab}"
        );
    }
    let csrf = list.csrf();
    for (tab, fields) in [
        (
            "settings",
            vec![
                ("name", "Mine now"),
                ("api_type", "cart"),
                ("pingback_sign_version", "2"),
                ("link_max_age_seconds", "60"),
                ("risk_review_delay_seconds", "0"),
                ("renewal_retry_seconds", "60"),
                ("vc_name", "Coins"),
                ("vc_rate", "1"),
            ],
        ),
        ("payment-systems", vec![("row", "*")]),
        ("keys/regenerate", vec![]),
        (
            "test-pingback",
            vec![("type", "0"), ("uid", "u"), ("goodsid", "g")],
        ),
        ("branding", vec![("display_name", "Mine")]),
    ] {
        let mut f = vec![("csrf", csrf.as_str())];
        f.extend(fields);
        let r = b.post(&project_path(&theirs, tab), &f).await;
        assert_eq!(r.status, StatusCode::NOT_FOUND, "{tab}: {}", r.body);
    }
    let (_, p) = app
        .get_as(&other, &format!("/v1/paymentwall/projects/{theirs}"))
        .await;
    assert_eq!(p["name"], "Theirs");
}

crate::on_both!(
    a_viewer_changes_nothing_and_forms_need_the_token,
    another_merchants_project_is_not_found,
);
