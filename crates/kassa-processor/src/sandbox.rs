//! The sandbox processor: deterministic outcomes chosen by card number.
//!
//! Invariant: the sandbox is stateless and its outcome depends only on the
//! card digits (or test token), the expiry against the supplied date, and the
//! CVC format — never on the amount, the time of day or earlier calls — so
//! merchants' tests are reproducible. The only randomness is in the
//! processor references, which carry no card data.

use kassa_core::card::{validate_cvc, CardNumber, Expiry};
use kassa_core::money::Money;

use crate::{
    AuthorizeOutcome, AuthorizeRequest, AuthorizeResult, ChallengeResult, Decline,
    PaymentMethodDetails, PaymentMethodInput, Processor, ProcessorError,
};

/// Prefix of every sandbox reference, so a live processor's reference can
/// never be mistaken for a sandbox one or the other way round.
const REF_PREFIX: &str = "sbx_";
/// Random characters after the prefix: 24 base-36 characters is about 124
/// bits, ample to make collisions and guessing irrelevant.
const REF_RANDOM_LEN: usize = 24;
const REF_ALPHABET: &[u8; 36] = b"abcdefghijklmnopqrstuvwxyz0123456789";

/// Challenge state meaning "a successful challenge approves the payment".
const STATE_APPROVE: &str = "3ds:approve";
/// Challenge state meaning "the issuer declines even after a successful
/// challenge".
const STATE_DECLINE: &str = "3ds:decline";

/// Expiry given to every test token; far enough ahead that merchants' test
/// suites keep passing for years.
const TOKEN_EXPIRY: Expiry = Expiry {
    month: 12,
    year: 2034,
};

/// Test tokens and the card whose behaviour each one borrows.
const TOKENS: &[(&str, &str)] = &[
    ("pm_card_visa", "4242424242424242"),
    ("pm_card_mastercard", "5555555555554444"),
    ("pm_card_chargeDeclined", "4000000000000002"),
    (
        "pm_card_chargeDeclinedInsufficientFunds",
        "4000000000009995",
    ),
    ("pm_card_chargeDeclinedExpiredCard", "4000000000000069"),
    ("pm_card_chargeDeclinedIncorrectCvc", "4000000000000127"),
    ("pm_card_threeDSecureRequired", "4000002500003155"),
    ("pm_card_threeDSecure2Required", "4000000000003220"),
    (
        "pm_card_threeDSecureRequiredChargeDeclined",
        "4000008400001629",
    ),
];

/// Token names only, in the same order as [`TOKENS`].
const TOKEN_NAMES: &[&str] = &[
    "pm_card_visa",
    "pm_card_mastercard",
    "pm_card_chargeDeclined",
    "pm_card_chargeDeclinedInsufficientFunds",
    "pm_card_chargeDeclinedExpiredCard",
    "pm_card_chargeDeclinedIncorrectCvc",
    "pm_card_threeDSecureRequired",
    "pm_card_threeDSecure2Required",
    "pm_card_threeDSecureRequiredChargeDeclined",
];

/// The test payment-method tokens the sandbox accepts.
pub fn test_tokens() -> &'static [&'static str] {
    TOKEN_NAMES
}

/// What the sandbox does with a given card.
enum Scenario {
    Approve,
    Decline(Decline),
    /// Ask for 3-D Secure; `state` records what happens afterwards.
    Challenge {
        state: &'static str,
    },
}

/// The fixed table of special cards; every other valid card is approved.
fn scenario_for(digits: &str) -> Scenario {
    match digits {
        "4000000000000002" => Scenario::Decline(Decline::generic()),
        "4000000000009995" => Scenario::Decline(Decline::insufficient_funds()),
        "4000000000000069" => Scenario::Decline(Decline::expired_card()),
        "4000000000000127" => Scenario::Decline(Decline::incorrect_cvc()),
        "4000002500003155" | "4000000000003220" => Scenario::Challenge {
            state: STATE_APPROVE,
        },
        "4000008400001629" => Scenario::Challenge {
            state: STATE_DECLINE,
        },
        _ => Scenario::Approve,
    }
}

/// A processor that never moves money, for development and merchants' tests.
#[derive(Debug, Clone, Copy, Default)]
pub struct SandboxProcessor;

#[async_trait::async_trait]
impl Processor for SandboxProcessor {
    fn name(&self) -> &'static str {
        "sandbox"
    }

    async fn authorize(
        &self,
        req: AuthorizeRequest<'_>,
    ) -> Result<AuthorizeResult, ProcessorError> {
        let token_card;
        let (number, expiry, cvc) = match req.method {
            PaymentMethodInput::Card {
                number,
                expiry,
                cvc,
                ..
            } => (number, *expiry, Some(cvc.as_str())),
            PaymentMethodInput::TestToken(token) => {
                let digits = TOKENS
                    .iter()
                    .find(|(name, _)| name == token)
                    .map(|(_, digits)| *digits)
                    .ok_or_else(|| ProcessorError::UnknownToken(token.clone()))?;
                // The table holds valid test numbers (a unit test checks), so
                // failure here would be a bug in this file, not bad input.
                token_card = CardNumber::parse(digits).map_err(|_| ProcessorError::InvalidState)?;
                // Tokens carry no CVC and a fixed expiry, so only the card's
                // own scenario decides their outcome.
                (&token_card, TOKEN_EXPIRY, None)
            }
        };

        let details = PaymentMethodDetails::for_card(number, expiry, req.fingerprint_key);
        let declined = |decline| {
            Ok(AuthorizeResult {
                details: details.clone(),
                outcome: AuthorizeOutcome::Declined(decline),
            })
        };

        // Local checks come first, as at a real acquirer: a card past its
        // expiry or with a malformed CVC never reaches the issuer, whatever
        // the number would otherwise do.
        if expiry.is_expired_at(req.now_year, req.now_month) {
            return declined(Decline::expired_card());
        }
        if let Some(cvc) = cvc {
            if validate_cvc(cvc, number.brand()).is_err() {
                return declined(Decline::incorrect_cvc());
            }
        }

        let outcome = match scenario_for(number.digits()) {
            Scenario::Approve => AuthorizeOutcome::Approved {
                processor_ref: new_ref(),
            },
            Scenario::Decline(decline) => AuthorizeOutcome::Declined(decline),
            Scenario::Challenge { state } => AuthorizeOutcome::ChallengeRequired {
                processor_ref: new_ref(),
                challenge_state: state.to_string(),
            },
        };
        Ok(AuthorizeResult { details, outcome })
    }

    async fn complete_challenge(
        &self,
        processor_ref: &str,
        challenge_state: &str,
        result: ChallengeResult,
        _amount: Money,
        _capture: bool,
    ) -> Result<AuthorizeOutcome, ProcessorError> {
        ensure_sandbox_ref(processor_ref)?;
        let approve_after_success = match challenge_state {
            STATE_APPROVE => true,
            STATE_DECLINE => false,
            _ => return Err(ProcessorError::InvalidState),
        };
        Ok(match (result, approve_after_success) {
            // The authorization continues under the reference issued when
            // the challenge started, so Kassa's stored ref stays valid.
            (ChallengeResult::Approve, true) => AuthorizeOutcome::Approved {
                processor_ref: processor_ref.to_string(),
            },
            (ChallengeResult::Approve, false) => AuthorizeOutcome::Declined(Decline::generic()),
            (ChallengeResult::Fail, _) => {
                AuthorizeOutcome::Declined(Decline::authentication_failed())
            }
        })
    }

    async fn capture(&self, processor_ref: &str, _amount: Money) -> Result<(), ProcessorError> {
        // Stateless: amounts and ordering are enforced by Kassa's payment
        // state machine, so the sandbox only checks that it issued the ref.
        ensure_sandbox_ref(processor_ref)
    }

    async fn void(&self, processor_ref: &str) -> Result<(), ProcessorError> {
        ensure_sandbox_ref(processor_ref)
    }

    async fn refund(&self, processor_ref: &str, _amount: Money) -> Result<String, ProcessorError> {
        ensure_sandbox_ref(processor_ref)?;
        Ok(new_ref())
    }

    /// The sandbox runs inside Kassa's process and keeps no ledger: an authorization that was
    /// interrupted together with the process never happened.
    async fn lookup(&self, _attempt_id: &str) -> Result<Option<AuthorizeOutcome>, ProcessorError> {
        Ok(None)
    }
}

/// Rejects references the sandbox cannot have issued, such as a live
/// processor's, so a misrouted call fails loudly instead of "succeeding".
fn ensure_sandbox_ref(processor_ref: &str) -> Result<(), ProcessorError> {
    let valid = processor_ref.strip_prefix(REF_PREFIX).is_some_and(|rest| {
        rest.len() == REF_RANDOM_LEN && rest.bytes().all(|b| REF_ALPHABET.contains(&b))
    });
    if valid {
        Ok(())
    } else {
        Err(ProcessorError::InvalidState)
    }
}

/// A fresh `sbx_` reference with 24 random lower-case alphanumerics.
///
/// This crate has no `rand` dependency, so randomness comes from std's
/// `RandomState`, whose SipHash keys are seeded from the operating system.
/// Hashing a process-wide counter under those keys gives unique,
/// unpredictable-enough values: references are identifiers, not secrets.
fn new_ref() -> String {
    use rand::Rng;
    let mut rng = rand::thread_rng();
    let mut out = String::with_capacity(REF_PREFIX.len() + REF_RANDOM_LEN);
    out.push_str(REF_PREFIX);
    for _ in 0..REF_RANDOM_LEN {
        out.push(char::from(
            REF_ALPHABET[rng.gen_range(0..REF_ALPHABET.len())],
        ));
    }
    out
}

#[cfg(test)]
mod tests {
    use std::future::Future;
    use std::sync::Arc;
    use std::task::{Context, Poll, Wake, Waker};

    use kassa_core::card::CardBrand;
    use kassa_core::money::Currency;

    use super::*;

    /// A waker that does nothing: the sandbox's futures never wait, so
    /// nobody needs waking.
    struct NoopWaker;

    impl Wake for NoopWaker {
        fn wake(self: Arc<Self>) {}
    }

    /// Runs a future to completion on the current thread, std only.
    fn block_on<F: Future>(future: F) -> F::Output {
        let waker = Waker::from(Arc::new(NoopWaker));
        let mut cx = Context::from_waker(&waker);
        let mut future = std::pin::pin!(future);
        loop {
            if let Poll::Ready(output) = future.as_mut().poll(&mut cx) {
                return output;
            }
            std::thread::yield_now();
        }
    }

    const KEY: &[u8] = b"test-fingerprint-key";
    const NOW_YEAR: u32 = 2026;
    const NOW_MONTH: u32 = 5;

    fn usd(amount: i64) -> Money {
        Money::new(amount, Currency::parse("usd").unwrap()).unwrap()
    }

    fn card_input(number: &str, month: u32, year: u32, cvc: &str) -> PaymentMethodInput {
        PaymentMethodInput::Card {
            number: CardNumber::parse(number).unwrap(),
            expiry: Expiry { month, year },
            cvc: cvc.to_string(),
            holder_name: Some("Jenny Rosen".to_string()),
        }
    }

    fn good_card(number: &str) -> PaymentMethodInput {
        card_input(number, 12, 2030, "123")
    }

    fn authorize(method: &PaymentMethodInput) -> Result<AuthorizeResult, ProcessorError> {
        authorize_with_key(method, KEY)
    }

    fn authorize_with_key(
        method: &PaymentMethodInput,
        key: &[u8],
    ) -> Result<AuthorizeResult, ProcessorError> {
        block_on(SandboxProcessor.authorize(AuthorizeRequest {
            attempt_id: "att_test",
            amount: usd(1000),
            method,
            capture: true,
            fingerprint_key: key,
            now_year: NOW_YEAR,
            now_month: NOW_MONTH,
        }))
    }

    fn outcome(method: &PaymentMethodInput) -> AuthorizeOutcome {
        authorize(method).unwrap().outcome
    }

    fn complete(state: &str, result: ChallengeResult) -> AuthorizeOutcome {
        let processor_ref = new_ref();
        block_on(SandboxProcessor.complete_challenge(
            &processor_ref,
            state,
            result,
            usd(1000),
            true,
        ))
        .unwrap()
    }

    fn assert_approved(outcome: &AuthorizeOutcome) {
        match outcome {
            AuthorizeOutcome::Approved { processor_ref } => {
                assert!(ensure_sandbox_ref(processor_ref).is_ok(), "{processor_ref}");
            }
            other => panic!("expected approval, got {other:?}"),
        }
    }

    fn assert_declined(outcome: &AuthorizeOutcome, code: &str, decline_code: &str, message: &str) {
        let expected = Decline {
            code: code.to_string(),
            decline_code: Some(decline_code.to_string()),
            message: message.to_string(),
        };
        assert_eq!(outcome, &AuthorizeOutcome::Declined(expected));
    }

    /// Returns the challenge state after checking the outcome is a challenge.
    fn assert_challenge(outcome: &AuthorizeOutcome) -> String {
        match outcome {
            AuthorizeOutcome::ChallengeRequired {
                processor_ref,
                challenge_state,
            } => {
                assert!(ensure_sandbox_ref(processor_ref).is_ok(), "{processor_ref}");
                challenge_state.clone()
            }
            other => panic!("expected a challenge, got {other:?}"),
        }
    }

    fn finish(outcome: &AuthorizeOutcome, result: ChallengeResult) -> AuthorizeOutcome {
        let AuthorizeOutcome::ChallengeRequired {
            processor_ref,
            challenge_state,
        } = outcome
        else {
            panic!("expected a challenge, got {outcome:?}");
        };
        let finished = block_on(SandboxProcessor.complete_challenge(
            processor_ref,
            challenge_state,
            result,
            usd(1000),
            false,
        ))
        .unwrap();
        if let AuthorizeOutcome::Approved { processor_ref: r } = &finished {
            assert_eq!(r, processor_ref, "approval keeps the challenge's ref");
        }
        finished
    }

    const GENERIC: (&str, &str, &str) = (
        "card_declined",
        "generic_decline",
        "Your card was declined.",
    );
    const AUTH_FAILED: (&str, &str, &str) = (
        "card_declined",
        "authentication_failed",
        "The card's issuer could not authenticate the payment.",
    );

    #[test]
    fn approves_the_listed_good_cards() {
        for number in [
            "4242424242424242",
            "5555555555554444",
            "4111111111111111",
            "5123456789012346",
            "5123450000000008",
            "378282246310005",
            "6011111111111117",
        ] {
            assert_approved(&outcome(&good_card(number)));
        }
    }

    #[test]
    fn approves_any_other_luhn_valid_card() {
        for number in ["3566002020360505", "6200000000000005", "36227206271667"] {
            assert_approved(&outcome(&good_card(number)));
        }
    }

    #[test]
    fn declines_the_generic_decline_card() {
        let (code, decline_code, message) = GENERIC;
        assert_declined(
            &outcome(&good_card("4000000000000002")),
            code,
            decline_code,
            message,
        );
    }

    #[test]
    fn declines_the_insufficient_funds_card() {
        assert_declined(
            &outcome(&good_card("4000000000009995")),
            "card_declined",
            "insufficient_funds",
            "Your card has insufficient funds.",
        );
    }

    #[test]
    fn declines_the_expired_card_number_even_with_a_future_expiry() {
        assert_declined(
            &outcome(&good_card("4000000000000069")),
            "expired_card",
            "expired_card",
            "Your card has expired.",
        );
    }

    #[test]
    fn declines_the_incorrect_cvc_card_even_with_a_well_formed_cvc() {
        assert_declined(
            &outcome(&good_card("4000000000000127")),
            "incorrect_cvc",
            "incorrect_cvc",
            "Your card's security code is incorrect.",
        );
    }

    #[test]
    fn challenge_cards_approve_after_a_successful_challenge() {
        for number in ["4000002500003155", "4000000000003220"] {
            let started = outcome(&good_card(number));
            assert_challenge(&started);
            assert_approved(&finish(&started, ChallengeResult::Approve));
        }
    }

    #[test]
    fn challenge_cards_decline_after_a_failed_challenge() {
        let (code, decline_code, message) = AUTH_FAILED;
        for number in ["4000002500003155", "4000000000003220", "4000008400001629"] {
            let started = outcome(&good_card(number));
            assert_declined(
                &finish(&started, ChallengeResult::Fail),
                code,
                decline_code,
                message,
            );
        }
    }

    #[test]
    fn challenge_then_decline_card_declines_even_after_a_successful_challenge() {
        let (code, decline_code, message) = GENERIC;
        let started = outcome(&good_card("4000008400001629"));
        assert_challenge(&started);
        assert_declined(
            &finish(&started, ChallengeResult::Approve),
            code,
            decline_code,
            message,
        );
    }

    #[test]
    fn challenge_state_never_contains_card_digits() {
        for number in ["4000002500003155", "4000000000003220", "4000008400001629"] {
            let state = assert_challenge(&outcome(&good_card(number)));
            assert!(!state.contains(number));
            assert!(!state.contains(&number[number.len() - 4..]));
            assert!(!state.contains("123"), "no CVC either");
            assert!(state.len() <= 32, "{state}");
        }
    }

    #[test]
    fn an_expired_expiry_declines_whatever_the_number() {
        for number in [
            "4242424242424242",
            "4000002500003155",
            "4000000000000002",
            "4000000000000127",
        ] {
            let method = card_input(number, NOW_MONTH - 1, NOW_YEAR, "123");
            assert_declined(
                &outcome(&method),
                "expired_card",
                "expired_card",
                "Your card has expired.",
            );
        }
    }

    #[test]
    fn a_card_expiring_this_month_is_still_accepted() {
        let method = card_input("4242424242424242", NOW_MONTH, NOW_YEAR, "123");
        assert_approved(&outcome(&method));
    }

    #[test]
    fn a_malformed_cvc_declines_as_incorrect_cvc() {
        for cvc in ["", "12", "1234", "12a", "١٢٣"] {
            let method = card_input("4242424242424242", 12, 2030, cvc);
            assert_declined(
                &outcome(&method),
                "incorrect_cvc",
                "incorrect_cvc",
                "Your card's security code is incorrect.",
            );
        }
    }

    #[test]
    fn amex_accepts_a_four_digit_cvc() {
        let method = card_input("378282246310005", 12, 2030, "1234");
        assert_approved(&outcome(&method));
    }

    #[test]
    fn every_test_token_behaves_like_its_card() {
        for (token, digits) in TOKENS {
            let by_token = outcome(&PaymentMethodInput::TestToken(token.to_string()));
            let by_card = outcome(&good_card(digits));
            match (&by_token, &by_card) {
                (AuthorizeOutcome::Approved { .. }, AuthorizeOutcome::Approved { .. }) => {}
                (
                    AuthorizeOutcome::ChallengeRequired {
                        challenge_state: a, ..
                    },
                    AuthorizeOutcome::ChallengeRequired {
                        challenge_state: b, ..
                    },
                ) => assert_eq!(a, b, "{token}"),
                (AuthorizeOutcome::Declined(a), AuthorizeOutcome::Declined(b)) => {
                    assert_eq!(a, b, "{token}")
                }
                _ => panic!("{token}: {by_token:?} vs {by_card:?}"),
            }
        }
    }

    #[test]
    fn test_tokens_have_the_documented_outcomes() {
        let token = |name: &str| outcome(&PaymentMethodInput::TestToken(name.to_string()));
        assert_approved(&token("pm_card_visa"));
        assert_approved(&token("pm_card_mastercard"));
        let (code, decline_code, message) = GENERIC;
        assert_declined(
            &token("pm_card_chargeDeclined"),
            code,
            decline_code,
            message,
        );
        assert_declined(
            &token("pm_card_chargeDeclinedInsufficientFunds"),
            "card_declined",
            "insufficient_funds",
            "Your card has insufficient funds.",
        );
        assert_declined(
            &token("pm_card_chargeDeclinedExpiredCard"),
            "expired_card",
            "expired_card",
            "Your card has expired.",
        );
        assert_declined(
            &token("pm_card_chargeDeclinedIncorrectCvc"),
            "incorrect_cvc",
            "incorrect_cvc",
            "Your card's security code is incorrect.",
        );
        for name in [
            "pm_card_threeDSecureRequired",
            "pm_card_threeDSecure2Required",
        ] {
            let started = token(name);
            assert_approved(&finish(&started, ChallengeResult::Approve));
        }
        let started = token("pm_card_threeDSecureRequiredChargeDeclined");
        assert_declined(
            &finish(&started, ChallengeResult::Approve),
            code,
            decline_code,
            message,
        );
    }

    #[test]
    fn test_token_details_describe_the_corresponding_card() {
        let cases = [
            ("pm_card_visa", CardBrand::Visa, "424242", "4242"),
            (
                "pm_card_mastercard",
                CardBrand::Mastercard,
                "555555",
                "4444",
            ),
            ("pm_card_chargeDeclined", CardBrand::Visa, "400000", "0002"),
            (
                "pm_card_threeDSecureRequired",
                CardBrand::Visa,
                "400000",
                "3155",
            ),
        ];
        for (token, brand, bin, last4) in cases {
            let details = authorize(&PaymentMethodInput::TestToken(token.to_string()))
                .unwrap()
                .details;
            assert_eq!(details.kind, "card");
            assert_eq!(details.brand, brand.as_str());
            assert_eq!(details.bin.as_deref(), Some(bin));
            assert_eq!(details.last4, last4);
            assert_eq!((details.exp_month, details.exp_year), (12, 2034));
        }
    }

    #[test]
    fn test_token_fingerprint_matches_the_typed_card() {
        for (token, digits) in TOKENS {
            let by_token = authorize(&PaymentMethodInput::TestToken(token.to_string())).unwrap();
            let by_card = authorize(&good_card(digits)).unwrap();
            assert_eq!(by_token.details.fingerprint, by_card.details.fingerprint);
            assert_eq!(
                by_card.details.fingerprint,
                CardNumber::parse(digits).unwrap().fingerprint(KEY)
            );
        }
    }

    #[test]
    fn unknown_tokens_are_an_error_not_a_decline() {
        for token in ["pm_card_unknown", "", "PM_CARD_VISA", "4242424242424242"] {
            let err = authorize(&PaymentMethodInput::TestToken(token.to_string())).unwrap_err();
            assert!(
                matches!(&err, ProcessorError::UnknownToken(t) if t == token),
                "{err:?}"
            );
        }
    }

    #[test]
    fn test_tokens_lists_every_token_in_the_table() {
        let names: Vec<&str> = TOKENS.iter().map(|(name, _)| *name).collect();
        assert_eq!(test_tokens(), names.as_slice());
        for (_, digits) in TOKENS {
            assert!(CardNumber::parse(digits).is_ok(), "{digits}");
        }
    }

    #[test]
    fn details_never_contain_the_full_number() {
        for number in [
            "4242424242424242",
            "378282246310005",
            "4000000000000002",
            "4000002500003155",
        ] {
            let result = authorize(&good_card(number)).unwrap();
            let json = serde_json::to_string(&result.details).unwrap();
            assert!(!json.contains(number), "{json}");
            assert!(!json.contains("\"123\""), "no CVC in {json}");
            let debug = format!("{result:?}");
            assert!(!debug.contains(number), "{debug}");
        }
    }

    #[test]
    fn details_are_also_returned_for_declines() {
        let result = authorize(&card_input("4242424242424242", 1, 2020, "123")).unwrap();
        assert_eq!(result.details.last4, "4242");
        assert_eq!(
            (result.details.exp_month, result.details.exp_year),
            (1, 2020)
        );
        assert!(matches!(result.outcome, AuthorizeOutcome::Declined(_)));
    }

    #[test]
    fn fingerprints_of_the_same_card_match() {
        let a = authorize(&good_card("4242 4242 4242 4242")).unwrap();
        let b = authorize(&card_input("4242424242424242", 3, 2031, "999")).unwrap();
        let other_card = authorize(&good_card("5555555555554444")).unwrap();
        let other_key = authorize_with_key(&good_card("4242424242424242"), b"other").unwrap();
        assert_eq!(a.details.fingerprint, b.details.fingerprint);
        assert_ne!(a.details.fingerprint, other_card.details.fingerprint);
        assert_ne!(a.details.fingerprint, other_key.details.fingerprint);
    }

    #[test]
    fn input_debug_hides_number_cvc_and_name() {
        let method = card_input("4242424242424242", 12, 2030, "987");
        let debug = format!("{method:?}");
        assert!(!debug.contains("4242424242424242"), "{debug}");
        assert!(!debug.contains("987"), "{debug}");
        assert!(!debug.contains("Jenny"), "{debug}");
        let request = AuthorizeRequest {
            attempt_id: "att_1",
            amount: usd(1),
            method: &method,
            capture: false,
            fingerprint_key: b"super-secret-key",
            now_year: NOW_YEAR,
            now_month: NOW_MONTH,
        };
        let debug = format!("{request:?}");
        assert!(!debug.contains("4242424242424242"), "{debug}");
        assert!(!debug.contains("super-secret"), "{debug}");
    }

    #[test]
    fn processor_refs_are_well_formed_and_unique() {
        let refs: Vec<String> = (0..1000).map(|_| new_ref()).collect();
        for r in &refs {
            assert_eq!(r.len(), 28, "{r}");
            assert!(r.starts_with("sbx_"));
            assert!(r[4..]
                .bytes()
                .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit()));
        }
        let unique: std::collections::HashSet<&String> = refs.iter().collect();
        assert_eq!(unique.len(), refs.len());
    }

    #[test]
    fn complete_challenge_rejects_unknown_state_and_foreign_refs() {
        let good_ref = new_ref();
        for (processor_ref, state) in [
            (good_ref.as_str(), "3ds:maybe"),
            (good_ref.as_str(), ""),
            ("ch_live_123", STATE_APPROVE),
            ("sbx_", STATE_APPROVE),
            ("sbx_ABCDEFGHIJKLMNOPQRSTUVWX", STATE_APPROVE),
        ] {
            let result = block_on(SandboxProcessor.complete_challenge(
                processor_ref,
                state,
                ChallengeResult::Approve,
                usd(1),
                true,
            ));
            assert!(
                matches!(result, Err(ProcessorError::InvalidState)),
                "{processor_ref} {state}"
            );
        }
    }

    #[test]
    fn complete_challenge_never_asks_for_another_challenge() {
        for state in [STATE_APPROVE, STATE_DECLINE] {
            for result in [ChallengeResult::Approve, ChallengeResult::Fail] {
                assert!(!matches!(
                    complete(state, result),
                    AuthorizeOutcome::ChallengeRequired { .. }
                ));
            }
        }
    }

    #[test]
    fn capture_void_and_refund_accept_sandbox_refs() {
        let processor_ref = new_ref();
        block_on(SandboxProcessor.capture(&processor_ref, usd(500))).unwrap();
        block_on(SandboxProcessor.void(&processor_ref)).unwrap();
        let refund_ref = block_on(SandboxProcessor.refund(&processor_ref, usd(500))).unwrap();
        assert!(ensure_sandbox_ref(&refund_ref).is_ok());
        assert_ne!(refund_ref, processor_ref);
    }

    #[test]
    fn capture_void_and_refund_reject_foreign_refs() {
        let foreign = "pi_3Mtw";
        assert!(matches!(
            block_on(SandboxProcessor.capture(foreign, usd(1))),
            Err(ProcessorError::InvalidState)
        ));
        assert!(matches!(
            block_on(SandboxProcessor.void(foreign)),
            Err(ProcessorError::InvalidState)
        ));
        assert!(matches!(
            block_on(SandboxProcessor.refund(foreign, usd(1))),
            Err(ProcessorError::InvalidState)
        ));
    }

    #[test]
    fn works_behind_a_shared_trait_object() {
        let processor: Arc<dyn Processor> = Arc::new(SandboxProcessor);
        assert_eq!(processor.name(), "sandbox");
        let method = PaymentMethodInput::TestToken("pm_card_visa".to_string());
        let result = block_on(processor.authorize(AuthorizeRequest {
            attempt_id: "att_dyn",
            amount: usd(1),
            method: &method,
            capture: false,
            fingerprint_key: KEY,
            now_year: NOW_YEAR,
            now_month: NOW_MONTH,
        }))
        .unwrap();
        assert_approved(&result.outcome);
    }
}
