//! What the connector sends to real Stripe (`Compat::Stripe`), checked against a recording
//! fake: the headers (key, pinned version, idempotency keys derived from Kassa's ids), the
//! parameters localstripe would reject (`return_url`, `setup_future_usage`, …), test cards sent
//! as Stripe's test tokens, 3-D Secure by redirect, pending refunds, a paged lookup, and how
//! server errors are classified. localstripe ignores most of this, so it is checked here.

mod support;

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::extract::{OriginalUri, State};
use axum::http::{HeaderMap, Method, StatusCode};
use kassa_processor::{
    AuthorizeOutcome, ChallengeResult, ChallengeStep, Decline, Processor, ProcessorError,
    RefundOutcome,
};
use kassa_stripe::{Compat, StripeConfig, StripeProcessor};
use serde_json::{json, Value};
use support::{attempt, card, egress, request, usd};

#[derive(Debug, Clone)]
struct Seen {
    method: String,
    path: String,
    query: BTreeMap<String, String>,
    headers: HeaderMap,
    form: BTreeMap<String, String>,
    raw: String,
}

#[derive(Default)]
struct Fake {
    seen: Mutex<Vec<Seen>>,
    /// Status of the PaymentIntent GET answers (for the 3-D Secure return).
    pi_status: Mutex<String>,
    /// An HTTP status every request answers instead, if set.
    fail_with: Mutex<Option<u16>>,
}

fn pairs(s: &str) -> BTreeMap<String, String> {
    url::form_urlencoded::parse(s.as_bytes())
        .into_owned()
        .collect()
}

async fn answer(
    State(fake): State<Arc<Fake>>,
    method: Method,
    OriginalUri(uri): OriginalUri,
    headers: HeaderMap,
    body: String,
) -> (StatusCode, axum::Json<Value>) {
    let seen = Seen {
        method: method.to_string(),
        path: uri.path().to_string(),
        query: pairs(uri.query().unwrap_or_default()),
        headers,
        form: pairs(&body),
        raw: format!("{uri} {body}"),
    };
    fake.seen.lock().unwrap().push(seen.clone());
    if let Some(status) = *fake.fail_with.lock().unwrap() {
        let status = StatusCode::from_u16(status).unwrap();
        return (status, axum::Json(json!({"error": {"message": "fake"}})));
    }
    let ok = |v: Value| (StatusCode::OK, axum::Json(v));
    let form = &seen.form;
    match (seen.method.as_str(), seen.path.as_str()) {
        ("POST", "/v1/customers") => ok(json!({"id": "cus_1"})),
        ("POST", "/v1/payment_methods") => ok(json!({"id": "pm_raw"})),
        ("POST", "/v1/payment_intents") => {
            let pm = form.get("payment_method").cloned().unwrap_or_default();
            let attempt = form.get("metadata[kassa_attempt_id]").cloned();
            if pm == "pm_card_threeDSecureRequired" {
                ok(
                    json!({"id": "pi_3ds", "status": "requires_action", "metadata": {},
                    "next_action": {"type": "redirect_to_url",
                        "redirect_to_url": {"url": "https://hooks.stripe.test/3ds/pi_3ds",
                                            "return_url": form.get("return_url")}}}),
                )
            } else {
                let status = if form.get("capture_method").map(String::as_str) == Some("manual") {
                    "requires_capture"
                } else {
                    "succeeded"
                };
                ok(
                    json!({"id": "pi_1", "status": status, "metadata": {"kassa_attempt_id": attempt}}),
                )
            }
        }
        ("GET", "/v1/payment_intents") => {
            // Two pages; the attempt sought is on the second.
            if seen.query.contains_key("starting_after") {
                ok(json!({"has_more": false, "data": [
                    {"id": "pi_b", "status": "succeeded", "metadata": {"kassa_attempt_id": "pa_wanted"}}]}))
            } else {
                ok(json!({"has_more": true, "data": [
                    {"id": "pi_a", "status": "succeeded", "metadata": {"kassa_attempt_id": "pa_other"}}]}))
            }
        }
        ("GET", path) if path.starts_with("/v1/payment_intents/") => {
            let status = fake.pi_status.lock().unwrap().clone();
            ok(json!({"id": "pi_3ds", "status": status, "metadata": {}}))
        }
        ("POST", "/v1/refunds") => ok(json!({"id": "re_s1", "status": "pending"})),
        ("POST", _) => ok(json!({"id": "pi_1", "status": "succeeded", "metadata": {}})),
        _ => (
            StatusCode::NOT_FOUND,
            axum::Json(json!({"error": {"message": "no"}})),
        ),
    }
}

async fn fake() -> (SocketAddr, Arc<Fake>) {
    let fake = Arc::new(Fake::default());
    let app = axum::Router::new()
        .fallback(answer)
        .with_state(fake.clone());
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, app).await });
    (addr, fake)
}

fn stripe_at(addr: SocketAddr) -> StripeProcessor {
    let config = StripeConfig {
        base_url: format!("http://{addr}"),
        compat: Compat::Stripe,
        return_url: Some("https://kassa.example/return/{attempt_id}".into()),
        timeout: Duration::from_secs(5),
        ..StripeConfig::default()
    };
    StripeProcessor::new(egress(), config, "sk_test_wire", None, false)
}

fn header<'a>(seen: &'a Seen, name: &str) -> &'a str {
    seen.headers
        .get(name)
        .map(|v| v.to_str().unwrap())
        .unwrap_or("")
}

#[tokio::test]
async fn a_saved_test_card_goes_as_a_token_with_every_stripe_parameter() {
    let (addr, fake) = fake().await;
    let p = stripe_at(addr);
    let attempt = attempt();
    let method = card("4242424242424242");
    let mut req = request(&attempt, &method, 1000, true);
    req.save_method = true;
    req.three_d_secure = true;
    let out = p.authorize(req).await.unwrap();
    assert_eq!(
        out.outcome,
        AuthorizeOutcome::Approved {
            processor_ref: "pi_1".into()
        }
    );
    let seen = fake.seen.lock().unwrap().clone();
    assert_eq!(seen.len(), 2, "{seen:?}");
    let (customer, pi) = (&seen[0], &seen[1]);
    assert_eq!(customer.path, "/v1/customers");
    assert_eq!(
        header(customer, "idempotency-key"),
        format!("kassa-customer-{attempt}")
    );
    assert_eq!(pi.path, "/v1/payment_intents");
    assert_eq!(header(pi, "authorization"), "Bearer sk_test_wire");
    assert_eq!(
        header(pi, "stripe-version"),
        kassa_stripe::client::STRIPE_VERSION
    );
    assert_eq!(
        header(pi, "idempotency-key"),
        format!("kassa-authorize-{attempt}")
    );
    let f = &pi.form;
    assert_eq!(f["payment_method"], "pm_card_visa");
    assert_eq!(f["customer"], "cus_1");
    assert_eq!(f["setup_future_usage"], "off_session");
    assert_eq!(f["payment_method_types[0]"], "card");
    assert_eq!(
        f["payment_method_options[card][request_three_d_secure]"],
        "any"
    );
    assert_eq!(
        f["return_url"],
        format!("https://kassa.example/return/{attempt}")
    );
    assert_eq!(f["metadata[kassa_attempt_id]"], attempt);
    assert_eq!(f["capture_method"], "automatic");
    assert_eq!(f["amount"], "1000");
    assert_eq!(f["currency"], "usd");
    assert!(seen.iter().all(|s| !s.raw.contains("4242424242424242")));
}

#[tokio::test]
async fn any_other_card_becomes_a_payment_method_first() {
    let (addr, fake) = fake().await;
    let p = stripe_at(addr);
    let attempt = attempt();
    let method = card("4111111111111111");
    let out = p
        .authorize(request(&attempt, &method, 500, false))
        .await
        .unwrap();
    assert_eq!(out.details.last4, "1111");
    let seen = fake.seen.lock().unwrap().clone();
    assert_eq!(seen[0].path, "/v1/payment_methods");
    assert_eq!(seen[0].form["card[number]"], "4111111111111111");
    assert_eq!(seen[0].form["billing_details[name]"], "Ada Lovelace");
    assert_eq!(
        header(&seen[0], "idempotency-key"),
        format!("kassa-payment_method-{attempt}")
    );
    assert_eq!(seen[1].form["payment_method"], "pm_raw");
    assert_eq!(seen[1].form["capture_method"], "manual");
    assert!(!seen[1].form.contains_key("customer"));
}

#[tokio::test]
async fn three_d_secure_redirects_and_the_return_is_checked_with_stripe() {
    let (addr, fake) = fake().await;
    let p = stripe_at(addr);
    let method = card("4000002500003155");
    let outcome = p
        .authorize(request(&attempt(), &method, 500, true))
        .await
        .unwrap()
        .outcome;
    let AuthorizeOutcome::ChallengeRequired {
        processor_ref,
        challenge_state,
    } = outcome
    else {
        panic!("{outcome:?}");
    };
    assert_eq!(
        ChallengeStep::of(&challenge_state),
        ChallengeStep::Redirect {
            url: "https://hooks.stripe.test/3ds/pi_3ds"
        }
    );
    // The customer came back and Stripe says paid.
    *fake.pi_status.lock().unwrap() = "succeeded".into();
    let done = p
        .complete_challenge(
            &processor_ref,
            &challenge_state,
            ChallengeResult::Approve,
            usd(500),
            true,
        )
        .await
        .unwrap();
    assert_eq!(
        done,
        AuthorizeOutcome::Approved {
            processor_ref: "pi_3ds".into()
        }
    );
    // Came back claiming success, but Stripe still waits: released and declined.
    *fake.pi_status.lock().unwrap() = "requires_action".into();
    let done = p
        .complete_challenge(
            &processor_ref,
            &challenge_state,
            ChallengeResult::Approve,
            usd(500),
            true,
        )
        .await
        .unwrap();
    assert_eq!(
        done,
        AuthorizeOutcome::Declined(Decline::authentication_failed())
    );
    let seen = fake.seen.lock().unwrap().clone();
    let cancel = seen.last().unwrap();
    assert_eq!(cancel.path, "/v1/payment_intents/pi_3ds/cancel");
    assert_eq!(header(cancel, "idempotency-key"), "kassa-void-pi_3ds");
}

#[tokio::test]
async fn captures_and_refunds_carry_their_idempotency_keys() {
    let (addr, fake) = fake().await;
    let p = stripe_at(addr);
    p.capture("pi_1", usd(600)).await.unwrap();
    let refund = p.refund("pi_1", "re_kassa", usd(100)).await.unwrap();
    assert_eq!(refund, RefundOutcome::Pending("re_s1".into()));
    let seen = fake.seen.lock().unwrap().clone();
    assert_eq!(seen[0].path, "/v1/payment_intents/pi_1/capture");
    assert_eq!(seen[0].form["amount_to_capture"], "600");
    assert_eq!(
        header(&seen[0], "idempotency-key"),
        "kassa-capture-pi_1-600"
    );
    assert_eq!(seen[1].form["payment_intent"], "pi_1");
    assert_eq!(seen[1].form["metadata[kassa_refund_id]"], "re_kassa");
    assert_eq!(header(&seen[1], "idempotency-key"), "kassa-refund-re_kassa");
    // A reference Stripe never issued is refused before anything is sent.
    assert!(matches!(
        p.capture("../v1/charges", usd(1)).await,
        Err(ProcessorError::InvalidState)
    ));
}

#[tokio::test]
async fn lookup_pages_through_the_recent_payment_intents() {
    let (addr, fake) = fake().await;
    let p = stripe_at(addr);
    let found = p.lookup("pa_wanted").await.unwrap();
    assert_eq!(
        found,
        Some(AuthorizeOutcome::Approved {
            processor_ref: "pi_b".into()
        })
    );
    assert_eq!(p.lookup("pa_never").await.unwrap(), None);
    let seen = fake.seen.lock().unwrap().clone();
    assert!(seen[0].query.contains_key("created[gte]"), "{:?}", seen[0]);
    assert_eq!(seen[0].query["limit"], "100");
    assert_eq!(seen[1].query["starting_after"], "pi_a");
}

#[tokio::test]
async fn server_errors_are_unknown_and_rate_limits_unavailable() {
    let (addr, fake) = fake().await;
    let p = stripe_at(addr);
    let method = card("4242424242424242");
    *fake.fail_with.lock().unwrap() = Some(500);
    let err = p
        .authorize(request(&attempt(), &method, 100, true))
        .await
        .unwrap_err();
    assert!(matches!(err, ProcessorError::Unknown(_)), "{err:?}");
    // A read that fails moves no money: unavailable, so recovery tries again.
    assert!(matches!(
        p.lookup("pa_x").await,
        Err(ProcessorError::Unavailable(_))
    ));
    *fake.fail_with.lock().unwrap() = Some(429);
    let err = p
        .authorize(request(&attempt(), &method, 100, true))
        .await
        .unwrap_err();
    assert!(matches!(err, ProcessorError::Unavailable(_)), "{err:?}");
    *fake.fail_with.lock().unwrap() = Some(401);
    let err = p
        .authorize(request(&attempt(), &method, 100, true))
        .await
        .unwrap_err();
    assert!(matches!(err, ProcessorError::Rejected(_)), "{err:?}");
}
