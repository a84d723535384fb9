//! The Stripe connector against localstripe, a fake but stateful Stripe run as a child process
//! (see `support`). Each test skips with a message when localstripe is not installed, unless
//! `KASSA_REQUIRE_INTEROP=1`.

mod support;

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use kassa_processor::{
    AuthorizeOutcome, ChallengeResult, ChallengeStep, Decline, Processor, ProcessorError,
    ProcessorEvent, RefundOutcome, WebhookError,
};
use support::*;

macro_rules! server_or_skip {
    () => {
        match server() {
            Some(s) => s,
            None => return,
        }
    };
}

fn approved(outcome: &AuthorizeOutcome) -> String {
    match outcome {
        AuthorizeOutcome::Approved { processor_ref } => processor_ref.clone(),
        other => panic!("expected an approval, got {other:?}"),
    }
}

async fn pi_status(server: &Server, id: &str) -> serde_json::Value {
    get(server, &format!("/v1/payment_intents/{id}")).await
}

#[tokio::test]
async fn manual_capture_partial_capture_and_refund() {
    let server = server_or_skip!();
    let p = processor(server);
    let attempt = attempt();
    let method = card("4242424242424242");
    let result = p
        .authorize(request(&attempt, &method, 1000, false))
        .await
        .unwrap();
    assert_eq!(result.details.last4, "4242");
    let pi = approved(&result.outcome);
    let held = pi_status(server, &pi).await;
    assert_eq!(held["status"], "requires_capture");
    assert_eq!(held["capture_method"], "manual");
    assert_eq!(held["metadata"]["kassa_attempt_id"], attempt.as_str());

    p.capture(&pi, usd(600)).await.unwrap();
    let captured = pi_status(server, &pi).await;
    assert_eq!(captured["status"], "succeeded");
    // localstripe releases the uncaptured rest as a refund of 400.
    assert_eq!(captured["latest_charge"]["amount_refunded"], 400);
    // Capturing again with the same amount (a retry after a lost answer) is not an error.
    p.capture(&pi, usd(600)).await.unwrap();

    let refund = p.refund(&pi, "re_kassa_1", usd(100)).await.unwrap();
    let RefundOutcome::Succeeded(refund_ref) = refund else {
        panic!("localstripe refunds at once: {refund:?}");
    };
    let stored = get(server, &format!("/v1/refunds/{refund_ref}")).await;
    assert_eq!(stored["amount"], 100);
    assert_eq!(stored["metadata"]["kassa_refund_id"], "re_kassa_1");
    // localstripe would also accept refunding 5000 of the 600 captured: refusing an
    // over-refund is Kassa's core's job (it reserves the refunded total before asking).
}

#[tokio::test]
async fn void_releases_an_authorization() {
    let server = server_or_skip!();
    let p = processor(server);
    let attempt = attempt();
    let method = card("5555555555554444");
    let pi = approved(
        &p.authorize(request(&attempt, &method, 700, false))
            .await
            .unwrap()
            .outcome,
    );
    p.void(&pi).await.unwrap();
    assert_eq!(pi_status(server, &pi).await["status"], "canceled");
    // A repeated void (a retry) is done already.
    p.void(&pi).await.unwrap();
}

#[tokio::test]
async fn three_d_secure_succeeds_through_authenticate() {
    let server = server_or_skip!();
    let p = processor(server);
    let attempt = attempt();
    let method = card("4000002760003184");
    let outcome = p
        .authorize(request(&attempt, &method, 1500, true))
        .await
        .unwrap()
        .outcome;
    let AuthorizeOutcome::ChallengeRequired {
        processor_ref,
        challenge_state,
    } = outcome
    else {
        panic!("expected a challenge, got {outcome:?}");
    };
    // localstripe has no redirect URL: the challenge is a Kassa-hosted page.
    assert_eq!(ChallengeStep::of(&challenge_state), ChallengeStep::Kassa);
    assert!(!challenge_state.contains("3184"));
    assert_eq!(
        pi_status(server, &processor_ref).await["status"],
        "requires_action"
    );
    let done = p
        .complete_challenge(
            &processor_ref,
            &challenge_state,
            ChallengeResult::Approve,
            usd(1500),
            true,
        )
        .await
        .unwrap();
    assert_eq!(approved(&done), processor_ref);
    assert_eq!(
        pi_status(server, &processor_ref).await["status"],
        "succeeded"
    );
    // A double submit reports the same result and charges nothing more.
    let again = p
        .complete_challenge(
            &processor_ref,
            &challenge_state,
            ChallengeResult::Approve,
            usd(1500),
            true,
        )
        .await
        .unwrap();
    assert_eq!(approved(&again), processor_ref);
}

#[tokio::test]
async fn three_d_secure_failure_declines() {
    let server = server_or_skip!();
    let p = processor(server);
    let attempt = attempt();
    let method = card("4000002500003155");
    let AuthorizeOutcome::ChallengeRequired {
        processor_ref,
        challenge_state,
    } = p
        .authorize(request(&attempt, &method, 1500, true))
        .await
        .unwrap()
        .outcome
    else {
        panic!("expected a challenge");
    };
    let done = p
        .complete_challenge(
            &processor_ref,
            &challenge_state,
            ChallengeResult::Fail,
            usd(1500),
            true,
        )
        .await
        .unwrap();
    assert_eq!(
        done,
        AuthorizeOutcome::Declined(Decline::authentication_failed())
    );
    assert_eq!(
        pi_status(server, &processor_ref).await["status"],
        "requires_payment_method"
    );
}

#[tokio::test]
async fn the_0341_card_declines_as_card_declined() {
    let server = server_or_skip!();
    let p = processor(server);
    let method = card("4000000000000341");
    let result = p
        .authorize(request(&attempt(), &method, 1000, true))
        .await
        .unwrap();
    match result.outcome {
        AuthorizeOutcome::Declined(d) => {
            assert_eq!(d.code, "card_declined");
            assert_eq!(d, Decline::generic());
        }
        other => panic!("expected a decline, got {other:?}"),
    }
    assert_eq!(result.details.last4, "0341");
}

#[tokio::test]
async fn test_tokens_pay_through_their_public_test_cards() {
    let server = server_or_skip!();
    let p = processor(server);
    let token = kassa_processor::PaymentMethodInput::TestToken("pm_card_mastercard".into());
    let result = p
        .authorize(request(&attempt(), &token, 300, true))
        .await
        .unwrap();
    approved(&result.outcome);
    assert_eq!(result.details.last4, "4444");
    let unknown = kassa_processor::PaymentMethodInput::TestToken("pm_card_nope".into());
    assert!(matches!(
        p.authorize(request(&attempt(), &unknown, 300, true)).await,
        Err(ProcessorError::UnknownToken(_))
    ));
}

#[tokio::test]
async fn saved_cards_renew_off_session() {
    let server = server_or_skip!();
    let p = processor(server);
    let first = attempt();
    let method = card("4242424242424242");
    let mut req = request(&first, &method, 900, true);
    req.save_method = true;
    let original = approved(&p.authorize(req).await.unwrap().outcome);
    let stored = pi_status(server, &original).await;
    assert!(stored["customer"].as_str().unwrap().starts_with("cus_"));

    let renewal = attempt();
    let renewed = approved(
        &p.charge_stored(&original, &renewal, usd(900))
            .await
            .unwrap(),
    );
    assert_ne!(renewed, original);
    let renewed_pi = pi_status(server, &renewed).await;
    assert_eq!(renewed_pi["status"], "succeeded");
    assert_eq!(renewed_pi["customer"], stored["customer"]);
    assert_eq!(renewed_pi["metadata"]["kassa_attempt_id"], renewal.as_str());
    // A renewal of a renewal works the same way.
    approved(
        &p.charge_stored(&renewed, &attempt(), usd(900))
            .await
            .unwrap(),
    );

    assert!(matches!(
        p.charge_stored("pi_doesnotexist", &attempt(), usd(1)).await,
        Err(ProcessorError::UnknownReference(_))
    ));
}

#[tokio::test]
async fn a_card_that_always_authenticates_declines_off_session() {
    let server = server_or_skip!();
    let p = processor(server);
    let method = card("4000002760003184");
    let first = attempt();
    let mut req = request(&first, &method, 900, true);
    req.save_method = true;
    let AuthorizeOutcome::ChallengeRequired {
        processor_ref,
        challenge_state,
    } = p.authorize(req).await.unwrap().outcome
    else {
        panic!("expected a challenge");
    };
    let done = p
        .complete_challenge(
            &processor_ref,
            &challenge_state,
            ChallengeResult::Approve,
            usd(900),
            true,
        )
        .await
        .unwrap();
    let original = approved(&done);
    let outcome = p
        .charge_stored(&original, &attempt(), usd(900))
        .await
        .unwrap();
    assert_eq!(
        outcome,
        AuthorizeOutcome::Declined(kassa_stripe::decline::authentication_required())
    );
}

#[tokio::test]
async fn a_signed_webhook_from_localstripe_verifies_and_parses() {
    let server = server_or_skip!();
    let (addr, received) = webhook_receiver().await;
    let hook_id = attempt();
    register_webhook(
        server,
        &hook_id,
        &format!("http://{addr}/hook"),
        &["payment_intent.succeeded"],
    )
    .await;
    let p = processor(server);
    let method = card("4242424242424242");
    let attempt_id = attempt();
    let pi = approved(
        &p.authorize(request(&attempt_id, &method, 1200, true))
            .await
            .unwrap()
            .outcome,
    );
    // localstripe sends about a second later, once; other tests' events arrive here too.
    let deadline = std::time::Instant::now() + Duration::from_secs(15);
    let (headers, body) = loop {
        let found = received
            .lock()
            .unwrap()
            .iter()
            .find(|(_, body)| String::from_utf8_lossy(body).contains(&pi))
            .cloned();
        if let Some(found) = found {
            break found;
        }
        assert!(std::time::Instant::now() < deadline, "no webhook for {pi}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_secs() as i64;
    let event = p.handle_webhook(&headers, &body, now).await.unwrap();
    assert_eq!(
        event,
        ProcessorEvent::PaymentSucceeded {
            processor_ref: pi,
            attempt_id: Some(attempt_id),
        }
    );

    let mut tampered = body.clone();
    let at = tampered.len() / 2;
    tampered[at] ^= 1;
    assert_eq!(
        p.handle_webhook(&headers, &tampered, now).await,
        Err(WebhookError::BadSignature)
    );
    assert!(matches!(
        p.handle_webhook(&headers, &body, now + 301).await,
        Err(WebhookError::Expired { .. })
    ));
    assert_eq!(
        p.handle_webhook(&http::HeaderMap::new(), &body, now).await,
        Err(WebhookError::MissingSignature)
    );
}

#[tokio::test]
async fn a_lost_answer_is_unknown_and_lookup_finds_the_one_payment() {
    let server = server_or_skip!();
    // Every answer to "create a PaymentIntent" is lost between localstripe and the connector.
    let proxy = lossy_proxy(server.addr, "POST /v1/payment_intents HTTP").await;
    let lossy = processor_at(proxy, Duration::from_secs(1));
    let attempt = attempt();
    let method = card("4242424242424242");
    let err = lossy
        .authorize(request(&attempt, &method, 2500, true))
        .await
        .unwrap_err();
    assert!(matches!(err, ProcessorError::Unknown(_)), "{err:?}");

    // Recovery asks with a healthy connection: the charge happened, once.
    let p = processor(server);
    let found = p.lookup(&attempt).await.unwrap().expect("a record");
    let pi = approved(&found);
    let all = get(server, "/v1/payment_intents?limit=1000").await;
    let mine: Vec<_> = all["data"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|pi| pi["metadata"]["kassa_attempt_id"] == attempt.as_str())
        .collect();
    assert_eq!(mine.len(), 1, "exactly one PaymentIntent for the attempt");
    assert_eq!(mine[0]["id"], pi.as_str());
    assert_eq!(mine[0]["status"], "succeeded");
    assert_eq!(mine[0]["amount"], 2500);

    // An attempt localstripe never saw has no record.
    assert_eq!(p.lookup(&support::attempt()).await.unwrap(), None);
}

#[tokio::test]
async fn lookup_releases_a_challenge_nobody_saw() {
    let server = server_or_skip!();
    let p = processor(server);
    let attempt = attempt();
    let method = card("4000002500003155");
    let AuthorizeOutcome::ChallengeRequired { processor_ref, .. } = p
        .authorize(request(&attempt, &method, 800, true))
        .await
        .unwrap()
        .outcome
    else {
        panic!("expected a challenge");
    };
    // As if Kassa died before showing the challenge: recovery finds the intent waiting.
    assert_eq!(
        p.lookup(&attempt).await.unwrap(),
        Some(AuthorizeOutcome::Declined(Decline::authentication_failed()))
    );
    assert_eq!(
        pi_status(server, &processor_ref).await["status"],
        "canceled"
    );
}

#[tokio::test]
async fn an_unreachable_stripe_is_unavailable_not_unknown() {
    // Nothing listens on this port: the request is never sent.
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap();
    let p = processor_at(port, Duration::from_secs(2));
    let method = card("4242424242424242");
    let err = p
        .authorize(request(&attempt(), &method, 100, true))
        .await
        .unwrap_err();
    assert!(matches!(err, ProcessorError::Unavailable(_)), "{err:?}");
}
