//! The Paymob payer pages in the payer's language, through HTTP on SQLite and PostgreSQL: the
//! 3-D Secure, wallet and status pages honour `lang=` and `Accept-Language` in all six
//! languages (`<html lang dir>`, the catalog's words, amounts as CLDR writes them); the
//! redirects the flow builds carry `lang` to Kassa's own pages and never to the merchant's; the
//! word table the scripts read has every key in every language; declines are given in the
//! payer's language; the status page leads back to a payable checkout; kiosk references come
//! with their expiry.

mod common;

use axum::http::StatusCode;
use common::TestApp;
use kassa_http::lang::Lang;
use serde_json::{json, Value};

/// What askama writes for `s` in HTML text.
fn esc(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
        .replace('\'', "&#x27;")
}

fn html_root(l: Lang) -> String {
    format!("<html lang=\"{}\" dir=\"{}\">", l.code(), l.dir())
}

fn query_pairs(q: &str) -> Vec<(String, String)> {
    url::form_urlencoded::parse(q.as_bytes())
        .map(|(k, v)| (k.into_owned(), v.into_owned()))
        .collect()
}

fn lang_of(url: &str) -> Option<String> {
    let q = url.split_once('?')?.1;
    query_pairs(q)
        .into_iter()
        .find(|(k, _)| k == "lang")
        .map(|(_, v)| v)
}

struct Profile {
    sk: String,
    pk: String,
    iframe: i64,
    integrations: Vec<Value>,
}

impl Profile {
    fn integration(&self, name: &str) -> i64 {
        self.integrations
            .iter()
            .find(|i| i["name"] == name)
            .unwrap_or_else(|| panic!("no integration {name}"))["id"]
            .as_i64()
            .unwrap()
    }
}

/// A profile whose card and wallet payments end on Kassa's status page (no response callback
/// URL), plus a wallet that returns to the merchant, and a kiosk.
async fn profile(app: &TestApp) -> Profile {
    let integrations = json!([
        {"kind": "card", "name": "card-status"},
        {"kind": "wallet", "name": "wallet-status"},
        {"kind": "wallet", "name": "wallet-shop", "response_callback_url": "https://shop.example/done"},
        {"kind": "kiosk"},
    ]);
    let (s, p) = app
        .post(
            "/v1/paymob/profiles",
            json!({"name": "Nile Shop", "integrations": integrations}),
        )
        .await;
    assert_eq!(s, StatusCode::OK, "{p}");
    Profile {
        sk: p["secret_key"].as_str().unwrap().into(),
        pk: p["public_key"].as_str().unwrap().into(),
        iframe: p["iframe_id"].as_i64().unwrap(),
        integrations: p["integrations"].as_array().unwrap().clone(),
    }
}

async fn intention(app: &TestApp, p: &Profile, amount: i64, methods: &[i64]) -> Value {
    let r = app
        .http
        .post(app.url("/v1/intention/"))
        .header("authorization", format!("Token {}", p.sk))
        .json(&json!({"amount": amount, "currency": "EGP", "payment_methods": methods,
                      "billing_data": {"first_name": "Mona", "last_name": "Adel",
                                       "email": "mona@example.com", "phone_number": "+201001234567"}}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status().as_u16(), 201);
    r.json().await.unwrap()
}

fn key_for(i: &Value, integration: i64) -> String {
    i["payment_keys"]
        .as_array()
        .unwrap()
        .iter()
        .find(|k| k["integration"] == integration)
        .unwrap()["key"]
        .as_str()
        .unwrap()
        .to_string()
}

fn card(number: &str) -> Value {
    json!({"subtype": "CARD", "identifier": number, "sourceholder_name": "Test Account",
           "expiry_month": "01", "expiry_year": "39", "cvn": "123"})
}

/// Pays as Kassa's pages do: `?lang=` when the page has a language.
async fn pay(app: &TestApp, token: &str, source: Value, lang: Option<Lang>) -> Value {
    let path = match lang {
        Some(l) => format!("/api/acceptance/payments/pay?lang={}", l.code()),
        None => "/api/acceptance/payments/pay".to_string(),
    };
    let r = app
        .http
        .post(app.url(&path))
        .json(&json!({"source": source, "payment_token": token}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status().as_u16(), 200);
    r.json().await.unwrap()
}

async fn page(app: &TestApp, url: &str, accept_language: Option<&str>) -> (u16, String) {
    let url = if url.starts_with("http") {
        url.to_string()
    } else {
        app.url(url)
    };
    let mut req = app.http.get(&url);
    if let Some(a) = accept_language {
        req = req.header("accept-language", a);
    }
    let r = req.send().await.unwrap();
    (r.status().as_u16(), r.text().await.unwrap())
}

async fn answer(app: &TestApp, url: &str, form: &[(&str, &str)]) -> String {
    let r = app.http.post(url).form(form).send().await.unwrap();
    assert_eq!(r.status().as_u16(), 303, "{url}");
    r.headers()["location"].to_str().unwrap().to_string()
}

/// The `href` of the element with this id (askama-escaped `&amp;` undone).
fn href_of(body: &str, id: &str) -> Option<String> {
    let at = body.find(&format!("id=\"{id}\""))?;
    let rest = &body[at..];
    let start = rest.find("href=\"")? + 6;
    let end = rest[start..].find('"')?;
    Some(rest[start..start + end].replace("&amp;", "&"))
}

/// A card payment with 3-D Secure started in each language: the 3-D Secure page and the status
/// page it leads to speak it, with the amount as CLDR writes it there; a failed one says why in
/// that language and leads back to the checkout, in that language, while it can be paid.
async fn a_card_flow_keeps_its_language_to_the_end(app: &TestApp) {
    let p = profile(app).await;
    let card_id = p.integration("card-status");
    for l in Lang::ALL {
        let amount = 25050;
        let money = l.money(amount, "EGP");
        for approve in [true, false] {
            let i = intention(app, &p, amount, &[card_id]).await;
            let r = pay(
                app,
                &key_for(&i, card_id),
                card("5123456789012346"),
                Some(l),
            )
            .await;
            let acs = r["redirect_url"].as_str().unwrap().to_string();
            assert!(acs.contains("/api/acceptance/challenge/"), "{acs}");
            assert_eq!(lang_of(&acs).as_deref(), Some(l.code()), "{acs}");
            assert_eq!(r["redirection_url"], r["redirect_url"]);

            let (code, body) = page(app, &acs, Some("tr-TR,tr;q=0.9")).await;
            assert_eq!(code, 200, "{body}");
            assert!(body.contains(&html_root(l)), "{l}: {body}");
            for key in ["pm.challenge.heading_3ds", "pm.challenge.authenticate"] {
                assert!(body.contains(&esc(l.text(key))), "{l} {key}: {body}");
            }
            assert!(body.contains(&esc(&money)), "{l}: {money} not in {body}");
            assert!(
                body.contains(&format!("?lang={}\"", l.code())),
                "the answer keeps the language: {body}"
            );

            let action = if approve { "approve" } else { "fail" };
            let location = answer(app, &acs, &[("action", action)]).await;
            assert!(
                location.starts_with(&app.url("/unifiedcheckout/payment-status?")),
                "{location}"
            );
            assert_eq!(lang_of(&location).as_deref(), Some(l.code()), "{location}");
            let (code, body) = page(app, &location, Some("tr")).await;
            assert_eq!(code, 200, "{body}");
            assert!(body.contains(&html_root(l)), "{l}: {body}");
            assert!(body.contains(&esc(&money)), "{l}: {money} not in {body}");
            assert!(!body.contains("EGP 250.50 ") && !body.contains("250.50 EGP"));
            if approve {
                assert!(body.contains(&esc(l.text("pm.result_success"))), "{body}");
                assert!(body.contains(&esc(l.text("common.status.succeeded"))));
                assert!(!body.contains("id=\"status-retry\""), "{body}");
            } else {
                assert!(body.contains(&esc(l.text("pm.result_declined"))), "{body}");
                assert!(body.contains(&esc(l.text("common.status.failed"))));
                // The reason, in the payer's language (English keeps the processor's words).
                let reason = l.decline(
                    "card_declined",
                    Some("authentication_failed"),
                    "3-D Secure authentication failed.",
                );
                if l != Lang::En {
                    assert!(body.contains(&esc(&reason)), "{l}: {reason} not in {body}");
                }
                // Raw states never show.
                assert!(!body.contains(">declined<") && !body.contains("requires_"));
                // "Try again" leads back to the same, still payable checkout, in this language.
                let retry = href_of(&body, "status-retry").expect("a try-again link");
                assert!(body.contains(&esc(l.text("pm.back_to_checkout"))));
                assert!(retry.starts_with(&app.url("/unifiedcheckout/?")), "{retry}");
                let q = query_pairs(retry.split_once('?').unwrap().1);
                let get = |k: &str| q.iter().find(|(n, _)| n == k).map(|(_, v)| v.as_str());
                assert_eq!(get("publicKey"), Some(p.pk.as_str()));
                assert_eq!(get("clientSecret"), i["client_secret"].as_str());
                assert_eq!(get("lang"), Some(l.code()));
                let (code, checkout) = page(app, &retry, None).await;
                assert_eq!(code, 200);
                assert!(checkout.contains(&html_root(l)), "{checkout}");
                let (s, element) = app
                    .get(&format!(
                        "/v1/intention/element/{}/{}/",
                        p.pk,
                        i["client_secret"].as_str().unwrap()
                    ))
                    .await;
                assert_eq!(s, StatusCode::OK);
                assert_eq!(element["paid"], false);

                // Once the intention is paid, the old decline no longer offers to pay again.
                let r = pay(app, &key_for(&i, card_id), card("5123456789012346"), None).await;
                let acs2 = r["redirect_url"].as_str().unwrap().to_string();
                assert_eq!(lang_of(&acs2), None, "no language asked for, none added");
                answer(app, &acs2, &[("action", "approve")]).await;
                let (_, body) = page(app, &location, None).await;
                assert!(!body.contains("id=\"status-retry\""), "{body}");
            }
        }
    }
}

/// Without `lang=`, Accept-Language decides, on every server page; `lang=` wins over it.
async fn pages_follow_accept_language(app: &TestApp) {
    let p = profile(app).await;
    let card_id = p.integration("card-status");
    let i = intention(app, &p, 1990, &[card_id]).await;
    let r = pay(app, &key_for(&i, card_id), card("5123456789012346"), None).await;
    let acs = r["redirect_url"].as_str().unwrap().to_string();
    assert_eq!(lang_of(&acs), None);
    let cs = i["client_secret"].as_str().unwrap();
    let checkout = format!("/unifiedcheckout/?publicKey={}&clientSecret={cs}", p.pk);
    for (header, l) in [
        ("ar-EG,ar;q=0.9,en;q=0.5", Lang::Ar),
        ("fr-CH, fr;q=0.9", Lang::Fr),
        ("pt-BR,de;q=0.8", Lang::De),
        ("es", Lang::Es),
        ("tr-TR", Lang::Tr),
        ("ja-JP", Lang::En),
    ] {
        let (code, body) = page(app, &acs, Some(header)).await;
        assert_eq!(code, 200);
        assert!(body.contains(&html_root(l)), "{header}: {body}");
        assert!(body.contains(&esc(l.text("pm.challenge.heading_3ds"))));
        assert!(body.contains(&esc(&l.money(1990, "EGP"))), "{body}");
        // The page's answer then keeps what the payer saw.
        assert!(body.contains(&format!("?lang={}\"", l.code())), "{body}");

        let (code, body) = page(app, &checkout, Some(header)).await;
        assert_eq!(code, 200);
        assert!(body.contains(&html_root(l)), "{header}: {body}");
        assert!(body.contains(&esc(l.text("pm.choose_method"))), "{body}");
        assert!(body.contains("<script type=\"application/json\" id=\"pm-i18n\">"));
        for other in Lang::ALL {
            assert!(
                body.contains(&format!("hreflang=\"{}\"", other.code())),
                "the switcher offers {other}"
            );
        }

        let frame = format!("/iframe-card-v2/?publicKey={}", p.pk);
        let (code, body) = page(app, &frame, Some(header)).await;
        assert_eq!(code, 200);
        assert!(body.contains(&html_root(l)), "{header}: {body}");
        assert!(body.contains(&esc(l.text("card.number"))));
    }
    // lang= wins over the header, on every page.
    for (url, l) in [
        (format!("{acs}?lang=es"), Lang::Es),
        (format!("{checkout}&lang=ar"), Lang::Ar),
        (
            format!("/iframe-card-v2/?publicKey={}&lang=de", p.pk),
            Lang::De,
        ),
    ] {
        let (_, body) = page(app, &url, Some("fr")).await;
        assert!(body.contains(&html_root(l)), "{url}: {body}");
    }
    let location = answer(app, &acs, &[("action", "approve")]).await;
    assert_eq!(lang_of(&location), None);
    let (_, body) = page(app, &location, Some("de-AT")).await;
    assert!(body.contains(&html_root(Lang::De)), "{body}");
    assert!(body.contains(&esc(Lang::De.text("pm.result_success"))));
    let (_, body) = page(app, &format!("{location}&lang=ar"), Some("de-AT")).await;
    assert!(body.contains(&html_root(Lang::Ar)), "{body}");
    // An unverifiable result is in the payer's language too.
    let (code, body) = page(app, "/unifiedcheckout/payment-status?lang=fr", None).await;
    assert_eq!(code, 400);
    assert!(body.contains(&html_root(Lang::Fr)));
    assert!(body.contains(&esc(Lang::Fr.text("pm.result_unverified"))));
}

/// A wallet payment started in Arabic: the wallet page is Arabic, and its answer leads to an
/// Arabic status page; a merchant's own return URL gets no `lang`.
async fn a_wallet_flow_keeps_its_language(app: &TestApp) {
    let p = profile(app).await;
    for (name, to_merchant) in [("wallet-status", false), ("wallet-shop", true)] {
        let id = p.integration(name);
        let i = intention(app, &p, 4200, &[id]).await;
        let r = pay(
            app,
            &key_for(&i, id),
            json!({"subtype": "WALLET", "identifier": "01010101010"}),
            Some(Lang::Ar),
        )
        .await;
        let url = r["redirect_url"].as_str().unwrap().to_string();
        assert_eq!(lang_of(&url).as_deref(), Some("ar"), "{url}");
        let (code, body) = page(app, &url, Some("en")).await;
        assert_eq!(code, 200);
        assert!(body.contains(&html_root(Lang::Ar)), "{body}");
        for key in [
            "pm.challenge.heading_wallet",
            "pm.challenge.mpin",
            "pm.challenge.otp",
        ] {
            assert!(body.contains(&esc(Lang::Ar.text(key))), "{key}: {body}");
        }
        assert!(body.contains(&esc(&Lang::Ar.money(4200, "EGP"))), "{body}");
        let location = answer(
            app,
            &url,
            &[("action", "approve"), ("mpin", "123456"), ("otp", "123456")],
        )
        .await;
        if to_merchant {
            assert!(
                location.starts_with("https://shop.example/done?"),
                "{location}"
            );
            assert_eq!(lang_of(&location), None, "{location}");
        } else {
            assert_eq!(lang_of(&location).as_deref(), Some("ar"), "{location}");
            let (_, body) = page(app, &location, None).await;
            assert!(body.contains(&html_root(Lang::Ar)), "{body}");
            assert!(body.contains(&esc(Lang::Ar.text("pm.result_success"))));
        }
    }
}

/// The word table the pages' scripts and Pixel read: every key of every face they use, in
/// every language, the same keys as English, none empty; amounts asked for as CLDR writes them;
/// readable from the merchant's page (CORS).
async fn the_script_table_is_complete_in_every_language(app: &TestApp) {
    let faces = ["pm", "card", "decline", "common"];
    let en: Value = app
        .http
        .get(app.url("/pm/i18n/en"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    for face in faces {
        assert!(
            en["text"][face].as_object().is_some_and(|o| o.len() > 5),
            "{face}: {en}"
        );
    }
    for l in Lang::ALL {
        let r = app
            .http
            .get(app.url(&format!(
                "/pm/i18n/{}?currency=EGP&minor=25050&minor=100&minor=-5&minor=x",
                l.code()
            )))
            .send()
            .await
            .unwrap();
        assert_eq!(r.status().as_u16(), 200);
        assert_eq!(r.headers()["access-control-allow-origin"], "*");
        let t: Value = r.json().await.unwrap();
        assert_eq!(t["lang"], l.code());
        assert_eq!(t["dir"], l.dir());
        for face in faces {
            let want = en["text"][face].as_object().unwrap();
            let got = t["text"][face].as_object().unwrap();
            assert_eq!(
                got.keys().collect::<Vec<_>>(),
                want.keys().collect::<Vec<_>>(),
                "{l} {face}"
            );
            for (k, v) in got {
                let text = v.as_str().unwrap();
                assert!(!text.trim().is_empty(), "{l} {face}.{k} is empty");
                assert_eq!(text, l.text(&format!("{face}.{k}")), "{l} {face}.{k}");
            }
        }
        if l != Lang::En {
            assert_ne!(
                t["text"]["pm"]["result_success"],
                en["text"]["pm"]["result_success"]
            );
        }
        assert_eq!(t["money"]["25050"], l.money(25050, "EGP"), "{t}");
        assert_eq!(t["money"]["100"], l.money(100, "EGP"));
        assert_eq!(t["money"]["-5"], l.money(-5, "EGP"));
        assert!(t["money"].get("x").is_none());
    }
    assert_eq!(
        Lang::En.money(25050, "EGP").replace('\u{a0}', " "),
        "EGP 250.50"
    );
    let (s, _) = app.get("/pm/i18n/xx").await;
    assert_eq!(s, StatusCode::NOT_FOUND);
}

/// A kiosk payment's reference comes with its expiry (48 hours); its page shows both.
async fn kiosk_references_have_an_expiry(app: &TestApp) {
    let p = profile(app).await;
    let id = p.integration("kiosk");
    let i = intention(app, &p, 6000, &[id]).await;
    let before = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs() as i64;
    let r = pay(
        app,
        &key_for(&i, id),
        json!({"subtype": "AGGREGATOR", "identifier": "AGGREGATOR"}),
        Some(Lang::Fr),
    )
    .await;
    let reference = r["data"]["bill_reference"].as_str().unwrap_or_default();
    assert!(
        reference.len() == 12 && reference.bytes().all(|b| b.is_ascii_digit()),
        "{r}"
    );
    let expires = r["data"]["bill_reference_expires_at"].as_str().unwrap();
    // 2024-06-25T15:16:25Z
    assert!(expires.len() == 20 && expires.ends_with('Z'), "{expires}");
    let secs = epoch_of(expires);
    let hours = (secs - before) as f64 / 3600.0;
    assert!((47.9..48.1).contains(&hours), "{expires}: {hours} h");
    assert_eq!(r["pending"], "true");
    // Kassa's own pages do not send the payer anywhere for a kiosk payment.
    assert_eq!(r["redirect_url"], "");
}

fn epoch_of(iso: &str) -> i64 {
    let n = |a: usize, b: usize| iso[a..b].parse::<i64>().unwrap();
    let (y, m, d) = (n(0, 4), n(5, 7), n(8, 10));
    // Days from civil (Howard Hinnant's algorithm).
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let mp = (m + 9) % 12;
    let doy = (153 * mp + 2) / 5 + d - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    let days = era * 146_097 + doe - 719_468;
    days * 86_400 + n(11, 13) * 3600 + n(14, 16) * 60 + n(17, 19)
}

/// The legacy iframe page (`/api/acceptance/iframes/{id}?payment_token=`) is Unified Checkout
/// under Paymob's older address: it speaks `lang=`, else `Accept-Language`, else English, and its
/// switcher keeps the payment token.
async fn the_legacy_iframe_page_speaks_the_payers_language(app: &TestApp) {
    let p = profile(app).await;
    let card_id = p.integration("card-status");
    let i = intention(app, &p, 4550, &[card_id]).await;
    let token = key_for(&i, card_id);
    let iframe = format!("/api/acceptance/iframes/{}?payment_token={token}", p.iframe);
    for (lang, header, want) in [
        (Some("ar"), None, Lang::Ar),
        (Some("tr"), Some("de-DE"), Lang::Tr),
        (None, Some("es-MX,es;q=0.9"), Lang::Es),
        (None, Some("fr"), Lang::Fr),
        (None, None, Lang::En),
    ] {
        let url = match lang {
            Some(l) => format!("{iframe}&lang={l}"),
            None => iframe.clone(),
        };
        let (code, body) = page(app, &url, header).await;
        assert_eq!(code, 200, "{url}");
        assert!(
            body.contains(&html_root(want)),
            "{lang:?} {header:?}: {body}"
        );
        assert!(body.contains(&esc(want.text("pm.choose_method"))), "{body}");
        assert!(
            body.contains(&format!("payment_token={token}")),
            "the switcher keeps the token: {body}"
        );
    }
}

on_both!(
    the_legacy_iframe_page_speaks_the_payers_language,
    a_card_flow_keeps_its_language_to_the_end,
    pages_follow_accept_language,
    a_wallet_flow_keeps_its_language,
    the_script_table_is_complete_in_every_language,
    kiosk_references_have_an_expiry,
);
