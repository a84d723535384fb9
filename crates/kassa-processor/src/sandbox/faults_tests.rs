use std::time::Instant;

use kassa_core::card::{CardNumber, Expiry};
use kassa_core::ids::new_id;
use kassa_core::money::Currency;

use super::*;
use crate::PaymentMethodInput;

fn usd(amount: i64) -> Money {
    Money::new(amount, Currency::parse("usd").unwrap()).unwrap()
}

fn card(number: &str, cvc: &str) -> PaymentMethodInput {
    PaymentMethodInput::Card {
        number: CardNumber::parse(number).unwrap(),
        expiry: Expiry {
            month: 12,
            year: 2034,
        },
        cvc: cvc.into(),
        holder_name: None,
    }
}

fn request<'a>(attempt_id: &'a str, method: &'a PaymentMethodInput) -> AuthorizeRequest<'a> {
    AuthorizeRequest {
        attempt_id,
        amount: usd(1000),
        method,
        capture: true,
        three_d_secure: false,
        save_method: false,
        fingerprint_key: b"k",
        now_year: 2026,
        now_month: 1,
    }
}

fn approved_ref(outcome: Option<AuthorizeOutcome>) -> String {
    match outcome {
        Some(AuthorizeOutcome::Approved { processor_ref }) => processor_ref,
        other => panic!("expected an approval, got {other:?}"),
    }
}

#[tokio::test]
async fn the_timeout_card_approves_loses_the_answer_and_lookup_finds_the_approval() {
    let attempt = new_id("pa");
    let method = card("4000000000000507", "123");
    let err = SandboxProcessor
        .authorize(request(&attempt, &method))
        .await
        .unwrap_err();
    assert!(matches!(err, ProcessorError::Unknown(_)), "{err:?}");
    let first = approved_ref(SandboxProcessor.lookup(&attempt).await.unwrap());
    assert!(first.starts_with("sbx_"));
    // Asking again gives the same answer: the ledger is a record, not a queue.
    let again = approved_ref(SandboxProcessor.lookup(&attempt).await.unwrap());
    assert_eq!(first, again);
    // Another attempt was never seen.
    assert_eq!(SandboxProcessor.lookup(&new_id("pa")).await.unwrap(), None);
}

#[tokio::test]
async fn the_timeout_card_keeps_the_cvc_rules() {
    let attempt = new_id("pa");
    let method = card("4000000000000507", "222");
    assert!(SandboxProcessor
        .authorize(request(&attempt, &method))
        .await
        .is_err());
    match SandboxProcessor.lookup(&attempt).await.unwrap() {
        Some(AuthorizeOutcome::Declined(d)) => {
            assert_eq!(d.decline_code.as_deref(), Some("insufficient_funds"))
        }
        other => panic!("expected the CVC rule's decline, got {other:?}"),
    }
}

#[tokio::test]
async fn the_unavailable_card_fails_without_authorizing() {
    let attempt = new_id("pa");
    let method = card("4000000000000515", "123");
    let err = SandboxProcessor
        .authorize(request(&attempt, &method))
        .await
        .unwrap_err();
    assert!(matches!(err, ProcessorError::Unavailable(_)), "{err:?}");
    assert_eq!(SandboxProcessor.lookup(&attempt).await.unwrap(), None);
}

#[tokio::test]
async fn the_slow_card_answers_after_its_delay() {
    let method = card("4000000000000523", "123");
    let started = Instant::now();
    let result = SandboxProcessor
        .authorize(request(&new_id("pa"), &method))
        .await
        .unwrap();
    assert!(started.elapsed() >= SLOW_CARD_DELAY);
    assert!(matches!(result.outcome, AuthorizeOutcome::Approved { .. }));
}

#[tokio::test]
async fn fault_cards_lists_the_three_cards_and_all_pass_luhn() {
    assert_eq!(fault_cards().len(), 3);
    for (number, _) in fault_cards() {
        assert!(CardNumber::parse(number).is_ok(), "{number}");
    }
}

#[tokio::test]
async fn a_timing_out_sandbox_records_authorizations_and_renewals_for_lookup() {
    let faulty = SandboxProcessor.with_fault(Fault::Timeout);
    let attempt = new_id("pa");
    let method = card("4242424242424242", "123");
    let err = faulty
        .authorize(request(&attempt, &method))
        .await
        .unwrap_err();
    assert!(matches!(err, ProcessorError::Unknown(_)));
    let original = approved_ref(faulty.lookup(&attempt).await.unwrap());

    let renewal = new_id("pa");
    let err = faulty
        .charge_stored(&original, &renewal, usd(1000))
        .await
        .unwrap_err();
    assert!(matches!(err, ProcessorError::Unknown(_)));
    let renewed = approved_ref(faulty.lookup(&renewal).await.unwrap());
    assert_ne!(renewed, original);

    // Calls that move money on an existing payment lose their answers too.
    for err in [
        faulty.capture(&original, usd(1000)).await.unwrap_err(),
        faulty.void(&original).await.unwrap_err(),
        faulty.refund(&original, "re_1", usd(10)).await.unwrap_err(),
    ] {
        assert!(matches!(err, ProcessorError::Unknown(_)), "{err:?}");
    }
}

#[tokio::test]
async fn a_timing_out_sandbox_still_reports_its_own_errors() {
    let faulty = SandboxProcessor.with_fault(Fault::Timeout);
    let err = faulty.capture("pi_foreign", usd(1)).await.unwrap_err();
    assert!(matches!(err, ProcessorError::InvalidState), "{err:?}");
}

#[tokio::test]
async fn an_unavailable_sandbox_fails_every_call_and_records_nothing() {
    let faulty = SandboxProcessor.with_fault(Fault::Unavailable);
    let attempt = new_id("pa");
    let method = card("4242424242424242", "123");
    let err = faulty
        .authorize(request(&attempt, &method))
        .await
        .unwrap_err();
    assert!(matches!(err, ProcessorError::Unavailable(_)));
    assert_eq!(faulty.lookup(&attempt).await.unwrap(), None);
    let good_ref = match SandboxProcessor
        .authorize(request(&new_id("pa"), &method))
        .await
        .unwrap()
        .outcome
    {
        AuthorizeOutcome::Approved { processor_ref } => processor_ref,
        other => panic!("{other:?}"),
    };
    for err in [
        faulty.capture(&good_ref, usd(1)).await.unwrap_err(),
        faulty.void(&good_ref).await.unwrap_err(),
        faulty.refund(&good_ref, "re_1", usd(1)).await.unwrap_err(),
        faulty.review_verdict(&good_ref).await.unwrap_err(),
        faulty
            .charge_stored(&good_ref, &new_id("pa"), usd(1))
            .await
            .unwrap_err(),
    ] {
        assert!(matches!(err, ProcessorError::Unavailable(_)), "{err:?}");
    }
}

#[tokio::test]
async fn a_slow_sandbox_answers_normally_after_the_delay() {
    let delay = Duration::from_millis(60);
    let faulty = SandboxProcessor.with_fault(Fault::Slow(delay));
    let method = card("4242424242424242", "123");
    let started = Instant::now();
    let result = faulty
        .authorize(request(&new_id("pa"), &method))
        .await
        .unwrap();
    assert!(started.elapsed() >= delay);
    assert!(matches!(result.outcome, AuthorizeOutcome::Approved { .. }));
    assert_eq!(faulty.fault(), Fault::Slow(delay));
    assert_eq!(faulty.name(), "sandbox");
}

#[test]
fn the_ledger_forgets_the_oldest_entries_beyond_its_cap() {
    // A ledger of its own: filling the shared one would evict other tests' entries.
    let mut ledger = Ledger::default();
    let declined = || AuthorizeOutcome::Declined(crate::Decline::generic());
    ledger.remember("pa_first", declined());
    assert!(ledger.recall("pa_first").is_some());
    for i in 0..LEDGER_CAP {
        ledger.remember(&format!("pa_{i}"), declined());
    }
    assert!(ledger.recall("pa_first").is_none());
    assert!(ledger.recall("pa_0").is_some());
    assert_eq!(ledger.outcomes.order.len(), LEDGER_CAP);
}

#[tokio::test]
async fn a_refund_of_a_timeout_card_payment_is_made_and_its_first_answer_lost() {
    let attempt = new_id("pa");
    let method = card("4000000000000507", "123");
    assert!(SandboxProcessor
        .authorize(request(&attempt, &method))
        .await
        .is_err());
    let paid = approved_ref(SandboxProcessor.lookup(&attempt).await.unwrap());
    let refund_id = new_id("re");
    let err = SandboxProcessor
        .refund(&paid, &refund_id, usd(1000))
        .await
        .unwrap_err();
    assert!(matches!(err, ProcessorError::Unknown(_)), "{err:?}");
    // Asked again under the same refund id, the processor answers what it did, every time.
    let first = SandboxProcessor
        .refund(&paid, &refund_id, usd(1000))
        .await
        .unwrap();
    let RefundOutcome::Succeeded(refund_ref) = &first else {
        panic!("expected a refund, got {first:?}");
    };
    assert!(refund_ref.starts_with("sbx_"));
    assert_eq!(
        SandboxProcessor
            .refund(&paid, &refund_id, usd(1000))
            .await
            .unwrap(),
        first
    );
    // Another refund of the same payment loses its first answer too.
    let second = new_id("re");
    assert!(matches!(
        SandboxProcessor.refund(&paid, &second, usd(10)).await,
        Err(ProcessorError::Unknown(_))
    ));
}

#[tokio::test]
async fn refunds_of_other_payments_answer_at_once() {
    let method = card("4242424242424242", "123");
    let paid = match SandboxProcessor
        .authorize(request(&new_id("pa"), &method))
        .await
        .unwrap()
        .outcome
    {
        AuthorizeOutcome::Approved { processor_ref } => processor_ref,
        other => panic!("{other:?}"),
    };
    assert!(matches!(
        SandboxProcessor.refund(&paid, &new_id("re"), usd(10)).await,
        Ok(RefundOutcome::Succeeded(_))
    ));
}

#[test]
fn the_ledger_decides_only_refunds_it_knows() {
    let mut ledger = Ledger::default();
    let made = || RefundOutcome::Succeeded("sbx_done".into());
    // A payment the ledger never saw: the sandbox answers as usual.
    assert!(ledger.refund("sbx_other", "re_1", made).is_none());
    // A declined authorization hands out no reference to remember.
    ledger.remember(
        "pa_declined",
        AuthorizeOutcome::Declined(crate::Decline::generic()),
    );
    assert_eq!(ledger.unreliable_refs.order.len(), 0);
    ledger.remember(
        "pa_1",
        AuthorizeOutcome::Approved {
            processor_ref: "sbx_paid".into(),
        },
    );
    assert!(matches!(
        ledger.refund("sbx_paid", "re_1", made),
        Some(Err(ProcessorError::Unknown(_)))
    ));
    assert_eq!(
        ledger
            .refund("sbx_paid", "re_1", || panic!("made twice"))
            .unwrap()
            .unwrap(),
        made()
    );
}
