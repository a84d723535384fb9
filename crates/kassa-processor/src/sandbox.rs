//! The sandbox processor: deterministic outcomes chosen by card number.
//!
//! Invariant: the sandbox is stateless and its outcome depends only on the
//! card digits (or test token), the expiry against the supplied date, the
//! CVC, the phone number or bank code, and what the customer does on the
//! challenge page — never on the amount, the time of day or earlier calls —
//! so merchants' tests are reproducible. Whatever a later call needs to know
//! (a pending risk review's verdict, whether renewals of a card decline, what
//! follows a challenge) travels in the references and challenge states the
//! sandbox hands out, not in memory. The only randomness is in the random
//! part of references and in voucher numbers, which carry no customer data.
//! The one exception is simulated failure (`faults`): an authorization whose
//! answer a simulated timeout lost is kept in a bounded in-memory ledger under
//! Kassa's attempt id (its outcome and reference, never card data), so that
//! [`Processor::lookup`] finds it as a real processor's records would, and
//! the refunds of such a payment are kept there by refund id (their first
//! answer is lost too).
//!
//! Test data beyond the card table:
//!
//! | Input | Outcome |
//! |---|---|
//! | card CVC `111` | declined, `incorrect_cvc` |
//! | card CVC `222` | declined, `card_declined` / `insufficient_funds` |
//! | card CVC `333` | declined, `card_declined` / `call_issuer` |
//! | card CVC `555` | held for review; the review accepts |
//! | card CVC `556` | held for review; the review declines |
//! | card `4000000000000341` | approved; every [`Processor::charge_stored`] declines |
//! | card `4000002760003184` | 3-D Secure on every payment; every [`Processor::charge_stored`] declines `authentication_required` |
//! | card `4000000000000507` | approved, but the answer is lost: [`ProcessorError::Unknown`]; [`Processor::lookup`] then finds the approval. The first answer to each refund of the payment is lost too (the refund is made); asking again under the same refund id answers it |
//! | card `4000000000000515` | the processor fails: [`ProcessorError::Unavailable`], nothing authorized |
//! | card `4000000000000523` | answers after 2 s, otherwise like any approvable card |
//! | wallet phone ending `0002` | declined, `wallet_declined` / `insufficient_funds` |
//! | any other valid wallet phone | one-time code; `123456` approves |
//!
//! The CVC rules apply only where the card would otherwise be approved
//! (after a successful 3-D Secure challenge for the cards that ask for one),
//! and to the timeout and slow fault cards. [`SandboxProcessor::with_fault`] makes every
//! call fail one way ([`Fault`]), for tests of captures, refunds and renewals.
//!
//! The card table and the CVC rules are in `cards`; what the references and
//! challenge states it hands out carry, in `state`.

use kassa_core::card::{validate_cvc, CardNumber, Expiry};
use kassa_core::money::Money;

use crate::{
    phone_digits, AuthorizeOutcome, AuthorizeRequest, AuthorizeResult, Capabilities,
    ChallengeResult, Currencies, Decline, PaymentMethodDetails, PaymentMethodInput, Processor,
    ProcessorError, RefundOutcome, ThreeDsStyle,
};

mod cards;
mod faults;
mod state;

/// The test tokens and the card number each stands for.
pub(crate) use cards::TOKENS as TOKEN_CARDS;
use cards::{scenario_for, CvcRule, Scenario, TOKENS, TOKEN_EXPIRY};
pub use cards::{test_token_card, test_tokens};
pub use faults::{fault_cards, Fault, FaultySandbox, SLOW_CARD_DELAY};
pub use state::{challenge_kind, voucher_number};
use state::{
    ensure_sandbox_ref, new_ref, new_voucher_number, AfterThreeDs, Challenge, RefFlags,
    STATE_APPROVE, STATE_BANK, STATE_DECLINE, STATE_VOUCHER_PREFIX, STATE_WALLET,
};

/// The one-time code that confirms a sandbox wallet payment.
const WALLET_OTP: &str = "123456";

/// A decline with the same word as code and decline code.
fn decline(code: &str, message: &str) -> Decline {
    Decline::new(code, code, message)
}

fn invalid_phone() -> Decline {
    decline("invalid_phone", "The phone number is not valid.")
}

fn wallet_insufficient_funds() -> Decline {
    Decline::new(
        "wallet_declined",
        "insufficient_funds",
        "The wallet has insufficient funds.",
    )
}

fn incorrect_otp() -> Decline {
    decline("incorrect_otp", "The confirmation code is incorrect.")
}

fn wallet_not_confirmed() -> Decline {
    decline("wallet_declined", "The wallet payment was not confirmed.")
}

fn invalid_bank() -> Decline {
    decline("invalid_bank", "The bank is not valid.")
}

fn bank_declined() -> Decline {
    decline("bank_declined", "The bank did not authorize the payment.")
}

fn voucher_expired() -> Decline {
    decline("voucher_expired", "The voucher expired before it was paid.")
}

/// A bank code the sandbox accepts: 2 to 32 characters of `a-z`, `0-9`, `_`.
fn is_bank_code(bank: &str) -> bool {
    (2..=32).contains(&bank.len())
        && bank
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_')
}

/// The end of a card payment that the issuer would approve: the CVC rule
/// decides between approval, a hold for review and a decline.
/// `processor_ref` must already carry the rule's review verdict.
fn settle_card(rule: CvcRule, processor_ref: String) -> AuthorizeOutcome {
    if let Some(decline) = rule.decline() {
        AuthorizeOutcome::Declined(decline)
    } else if rule.review().is_some() {
        AuthorizeOutcome::UnderReview { processor_ref }
    } else {
        AuthorizeOutcome::Approved { processor_ref }
    }
}

/// A processor that never moves money, for development and merchants' tests.
#[derive(Debug, Clone, Copy, Default)]
pub struct SandboxProcessor;

impl SandboxProcessor {
    fn authorize_card(
        req: &AuthorizeRequest<'_>,
        number: &CardNumber,
        expiry: Expiry,
        cvc: Option<&str>,
    ) -> AuthorizeResult {
        let details = PaymentMethodDetails::for_card(number, expiry, req.fingerprint_key);
        // Local checks come first, as at a real acquirer: a card past its
        // expiry or with a malformed CVC never reaches the issuer, whatever
        // the number would otherwise do.
        let local_decline = if expiry.is_expired_at(req.now_year, req.now_month) {
            Some(Decline::expired_card())
        } else if cvc.is_some_and(|cvc| validate_cvc(cvc, number.brand()).is_err()) {
            Some(Decline::incorrect_cvc())
        } else {
            None
        };
        if let Some(decline) = local_decline {
            return AuthorizeResult {
                details,
                outcome: AuthorizeOutcome::Declined(decline),
            };
        }

        let rule = CvcRule::for_cvc(cvc);
        // A card whose renewals decline keeps that through 3-D Secure: it is the card's trait.
        let renewals_decline = matches!(
            scenario_for(number.digits()),
            Scenario::Approve {
                renewals_decline: true
            }
        );
        let scenario = match scenario_for(number.digits()) {
            Scenario::Approve { .. } if req.three_d_secure => Scenario::Challenge { approve: true },
            other => other,
        };
        let outcome = match scenario {
            Scenario::Approve { renewals_decline } => {
                let flags = RefFlags {
                    review: rule.review(),
                    renewals_decline,
                    renewals_need_auth: false,
                };
                settle_card(rule, flags.new_ref())
            }
            Scenario::Decline(decline) => AuthorizeOutcome::Declined(decline),
            // The CVC rule only applies once the issuer would approve, so it
            // rides along in the challenge state (as the rule, never the
            // code) and in the reference (the review's verdict).
            Scenario::Challenge { approve: true } | Scenario::ChallengeAlways => {
                AuthorizeOutcome::ChallengeRequired {
                    processor_ref: RefFlags {
                        review: rule.review(),
                        renewals_decline,
                        renewals_need_auth: matches!(scenario, Scenario::ChallengeAlways),
                    }
                    .new_ref(),
                    challenge_state: format!("{STATE_APPROVE}{}", rule.state_suffix()),
                }
            }
            Scenario::Challenge { approve: false } => AuthorizeOutcome::ChallengeRequired {
                processor_ref: new_ref(),
                challenge_state: STATE_DECLINE.to_string(),
            },
        };
        AuthorizeResult { details, outcome }
    }

    fn authorize_wallet(phone: &str, fingerprint_key: &[u8]) -> AuthorizeResult {
        let Some(digits) = phone_digits(phone) else {
            // Nothing about a malformed number is worth storing.
            return AuthorizeResult {
                details: PaymentMethodDetails::without_number("wallet", "sandbox_wallet"),
                outcome: AuthorizeOutcome::Declined(invalid_phone()),
            };
        };
        let details = PaymentMethodDetails::for_wallet(&digits, fingerprint_key);
        let outcome = if digits.ends_with("0002") {
            AuthorizeOutcome::Declined(wallet_insufficient_funds())
        } else {
            AuthorizeOutcome::ChallengeRequired {
                processor_ref: new_ref(),
                challenge_state: STATE_WALLET.to_string(),
            }
        };
        AuthorizeResult { details, outcome }
    }

    fn authorize_bank(bank: &str) -> AuthorizeResult {
        if !is_bank_code(bank) {
            return AuthorizeResult {
                details: PaymentMethodDetails::without_number("bank_redirect", ""),
                outcome: AuthorizeOutcome::Declined(invalid_bank()),
            };
        }
        AuthorizeResult {
            details: PaymentMethodDetails::without_number("bank_redirect", bank),
            outcome: AuthorizeOutcome::ChallengeRequired {
                processor_ref: new_ref(),
                challenge_state: STATE_BANK.to_string(),
            },
        }
    }
}

#[async_trait::async_trait]
impl Processor for SandboxProcessor {
    fn name(&self) -> &'static str {
        "sandbox"
    }

    fn capabilities(&self) -> Capabilities {
        Capabilities {
            methods: &["card", "wallet", "bank_redirect", "voucher", "test"],
            manual_capture: true,
            partial_capture: true,
            partial_refund: true,
            void: true,
            three_d_secure: ThreeDsStyle::KassaHosted,
            saved_cards: true,
            async_refunds: false,
            webhooks: false,
            currencies: Currencies::Any,
        }
    }

    async fn authorize(
        &self,
        req: AuthorizeRequest<'_>,
    ) -> Result<AuthorizeResult, ProcessorError> {
        if let PaymentMethodInput::Card {
            number,
            expiry,
            cvc,
            ..
        } = req.method
        {
            match faults::card_fault(number.digits()) {
                None => {}
                Some(Fault::Unavailable) => return Err(faults::server_error()),
                Some(Fault::Slow(delay)) => tokio::time::sleep(delay).await,
                Some(Fault::Timeout) => {
                    let result = Self::authorize_card(&req, number, *expiry, Some(cvc));
                    faults::remember(req.attempt_id, result.outcome);
                    return Err(faults::lost_answer());
                }
            }
        }
        Ok(match req.method {
            PaymentMethodInput::Card {
                number,
                expiry,
                cvc,
                ..
            } => Self::authorize_card(&req, number, *expiry, Some(cvc)),
            PaymentMethodInput::TestToken(token) => {
                let digits = TOKENS
                    .iter()
                    .find(|(name, _)| name == token)
                    .map(|(_, digits)| *digits)
                    .ok_or_else(|| ProcessorError::UnknownToken(token.clone()))?;
                // The table holds valid test numbers (a unit test checks), so
                // failure here would be a bug in this file, not bad input.
                let card = CardNumber::parse(digits).map_err(|_| ProcessorError::InvalidState)?;
                // Tokens carry no CVC and a fixed expiry, so only the card's
                // own scenario decides their outcome.
                Self::authorize_card(&req, &card, TOKEN_EXPIRY, None)
            }
            PaymentMethodInput::Wallet { phone } => {
                Self::authorize_wallet(phone, req.fingerprint_key)
            }
            PaymentMethodInput::BankRedirect { bank } => Self::authorize_bank(bank),
            PaymentMethodInput::Voucher => AuthorizeResult {
                details: PaymentMethodDetails::without_number("voucher", "sandbox_voucher"),
                outcome: AuthorizeOutcome::ChallengeRequired {
                    processor_ref: new_ref(),
                    challenge_state: format!("{STATE_VOUCHER_PREFIX}{}", new_voucher_number()),
                },
            },
            PaymentMethodInput::TestMethod => AuthorizeResult {
                details: PaymentMethodDetails::without_number("test", "test"),
                outcome: AuthorizeOutcome::Approved {
                    processor_ref: new_ref(),
                },
            },
        })
    }

    async fn complete_challenge(
        &self,
        processor_ref: &str,
        challenge_state: &str,
        result: ChallengeResult,
        _amount: Money,
        _capture: bool,
    ) -> Result<AuthorizeOutcome, ProcessorError> {
        let flags = RefFlags::parse(processor_ref).ok_or(ProcessorError::InvalidState)?;
        let challenge = Challenge::parse(challenge_state).ok_or(ProcessorError::InvalidState)?;
        // The sandbox issues a review verdict in a challenge's reference
        // only together with the same verdict in its state, and the
        // renewals flags only on a challenge that approves; any other
        // pairing is not one it handed out.
        let approving = match challenge {
            Challenge::ThreeDs(AfterThreeDs::Approve(rule)) => Some(rule),
            _ => None,
        };
        let expected = RefFlags {
            review: approving.and_then(CvcRule::review),
            renewals_decline: approving.is_some() && flags.renewals_decline,
            renewals_need_auth: approving.is_some() && flags.renewals_need_auth,
        };
        if flags != expected {
            return Err(ProcessorError::InvalidState);
        }

        // The authorization continues under the reference issued when the
        // challenge started, so Kassa's stored ref stays valid.
        let approved = || AuthorizeOutcome::Approved {
            processor_ref: processor_ref.to_string(),
        };
        let declined = AuthorizeOutcome::Declined;
        Ok(match challenge {
            Challenge::ThreeDs(after) => match (result, after) {
                (ChallengeResult::Approve, AfterThreeDs::Approve(rule)) => {
                    settle_card(rule, processor_ref.to_string())
                }
                (ChallengeResult::Approve, AfterThreeDs::Decline) => declined(Decline::generic()),
                (ChallengeResult::Fail | ChallengeResult::Otp(_), _) => {
                    declined(Decline::authentication_failed())
                }
            },
            Challenge::Wallet => match result {
                ChallengeResult::Otp(code) if code == WALLET_OTP => approved(),
                ChallengeResult::Otp(_) | ChallengeResult::Approve => declined(incorrect_otp()),
                ChallengeResult::Fail => declined(wallet_not_confirmed()),
            },
            Challenge::Bank => match result {
                ChallengeResult::Approve => approved(),
                ChallengeResult::Fail | ChallengeResult::Otp(_) => declined(bank_declined()),
            },
            Challenge::Voucher => match result {
                ChallengeResult::Approve => approved(),
                ChallengeResult::Fail | ChallengeResult::Otp(_) => declined(voucher_expired()),
            },
        })
    }

    /// The verdict was decided when the payment was authorized and is
    /// written in its reference, so it is available at once.
    async fn review_verdict(&self, processor_ref: &str) -> Result<Option<bool>, ProcessorError> {
        let flags = RefFlags::parse(processor_ref).ok_or(ProcessorError::InvalidState)?;
        Ok(flags.review)
    }

    async fn charge_stored(
        &self,
        original_ref: &str,
        _attempt_id: &str,
        _amount: Money,
    ) -> Result<AuthorizeOutcome, ProcessorError> {
        let flags = RefFlags::parse(original_ref)
            .ok_or_else(|| ProcessorError::UnknownReference(original_ref.to_string()))?;
        if flags.renewals_decline {
            return Ok(AuthorizeOutcome::Declined(Decline::generic()));
        }
        if flags.renewals_need_auth {
            return Ok(AuthorizeOutcome::Declined(Decline::new(
                "authentication_required",
                "authentication_required",
                "Your card was declined. This transaction requires authentication.",
            )));
        }
        // A renewal is not reviewed; the renewals flag is passed on so a
        // chain of renewals behaves like its first payment.
        Ok(AuthorizeOutcome::Approved {
            processor_ref: RefFlags {
                review: None,
                ..flags
            }
            .new_ref(),
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

    async fn refund(
        &self,
        processor_ref: &str,
        refund_id: &str,
        _amount: Money,
    ) -> Result<RefundOutcome, ProcessorError> {
        ensure_sandbox_ref(processor_ref)?;
        if let Some(answer) = faults::refund_answer(processor_ref, refund_id) {
            return answer;
        }
        Ok(RefundOutcome::Succeeded(new_ref()))
    }

    /// The sandbox runs inside Kassa's process and remembers only the authorizations whose
    /// answer a simulated timeout lost: any other authorization that was interrupted together
    /// with the process never happened.
    async fn lookup(&self, attempt_id: &str) -> Result<Option<AuthorizeOutcome>, ProcessorError> {
        Ok(faults::recall(attempt_id))
    }
}

#[cfg(test)]
mod tests {
    use std::future::Future;
    use std::sync::Arc;
    use std::task::{Context, Poll, Wake, Waker};

    use kassa_core::card::CardBrand;
    use kassa_core::money::Currency;

    use super::state::{REF_PREFIX, REF_RANDOM_LEN};
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
            three_d_secure: false,
            save_method: false,
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
    fn a_required_3ds_challenges_approvable_cards_only() {
        let required = |method: &PaymentMethodInput| {
            block_on(SandboxProcessor.authorize(AuthorizeRequest {
                three_d_secure: true,
                save_method: false,
                attempt_id: "att_test",
                amount: usd(1000),
                method,
                capture: true,
                fingerprint_key: KEY,
                now_year: NOW_YEAR,
                now_month: NOW_MONTH,
            }))
            .unwrap()
            .outcome
        };
        for number in ["5123456789012346", "5123450000000008", "4111111111111111"] {
            let started = required(&good_card(number));
            assert_challenge(&started);
            assert_approved(&finish(&started, ChallengeResult::Approve));
        }
        // The 0341 card's renewals still decline after a required challenge approved it.
        let started = required(&good_card("4000000000000341"));
        assert_challenge(&started);
        let first = approved_ref(&finish(&started, ChallengeResult::Approve));
        assert!(matches!(
            charge_stored(&first).unwrap(),
            AuthorizeOutcome::Declined(_)
        ));
        let plain = approved_ref(&finish(
            &required(&good_card("4111111111111111")),
            ChallengeResult::Approve,
        ));
        assert!(matches!(
            charge_stored(&plain).unwrap(),
            AuthorizeOutcome::Approved { .. }
        ));
        // A decline card is declined without a challenge; a failed challenge declines.
        assert!(matches!(
            required(&good_card("4000000000000002")),
            AuthorizeOutcome::Declined(_)
        ));
        let started = required(&good_card("4111111111111111"));
        assert!(matches!(
            finish(&started, ChallengeResult::Fail),
            AuthorizeOutcome::Declined(_)
        ));
        // Without the requirement the same card is approved at once.
        assert_approved(&outcome(&good_card("4111111111111111")));
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
            three_d_secure: false,
            save_method: false,
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
        let RefundOutcome::Succeeded(refund_ref) =
            block_on(SandboxProcessor.refund(&processor_ref, "re_1", usd(500))).unwrap()
        else {
            panic!("a sandbox refund succeeds at once");
        };
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
            block_on(SandboxProcessor.refund(foreign, "re_1", usd(1))),
            Err(ProcessorError::InvalidState)
        ));
    }

    #[test]
    fn works_behind_a_shared_trait_object() {
        let processor: Arc<dyn Processor> = Arc::new(SandboxProcessor);
        assert_eq!(processor.name(), "sandbox");
        let method = PaymentMethodInput::TestToken("pm_card_visa".to_string());
        let result = block_on(processor.authorize(AuthorizeRequest {
            three_d_secure: false,
            save_method: false,
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

    // --- Card security-code rules -------------------------------------

    fn card_with_cvc(number: &str, cvc: &str) -> PaymentMethodInput {
        card_input(number, 12, 2030, cvc)
    }

    fn verdict(processor_ref: &str) -> Option<bool> {
        block_on(SandboxProcessor.review_verdict(processor_ref)).unwrap()
    }

    /// Returns the reference after checking the outcome is a hold for review.
    fn assert_under_review(outcome: &AuthorizeOutcome) -> String {
        match outcome {
            AuthorizeOutcome::UnderReview { processor_ref } => {
                assert!(ensure_sandbox_ref(processor_ref).is_ok(), "{processor_ref}");
                processor_ref.clone()
            }
            other => panic!("expected a hold for review, got {other:?}"),
        }
    }

    const CVC_INCORRECT: (&str, &str, &str) = (
        "incorrect_cvc",
        "incorrect_cvc",
        "Please ensure the CVV/CSC number is correct.",
    );
    const CVC_BALANCE: (&str, &str, &str) = (
        "card_declined",
        "insufficient_funds",
        "The card has insufficient balance.",
    );
    const CVC_ISSUER: (&str, &str, &str) = (
        "card_declined",
        "call_issuer",
        "Please contact your issuing bank to approve the payment.",
    );

    #[test]
    fn cvc_111_222_and_333_decline_an_otherwise_approved_card() {
        for number in ["4242424242424242", "5555555555554444", "4000000000000341"] {
            for (cvc, (code, decline_code, message)) in [
                ("111", CVC_INCORRECT),
                ("222", CVC_BALANCE),
                ("333", CVC_ISSUER),
            ] {
                assert_declined(
                    &outcome(&card_with_cvc(number, cvc)),
                    code,
                    decline_code,
                    message,
                );
            }
        }
    }

    #[test]
    fn cvc_555_holds_for_a_review_that_accepts() {
        let held = outcome(&card_with_cvc("4242424242424242", "555"));
        let processor_ref = assert_under_review(&held);
        assert_eq!(verdict(&processor_ref), Some(true));
        block_on(SandboxProcessor.capture(&processor_ref, usd(1000))).unwrap();
        let RefundOutcome::Succeeded(refund_ref) =
            block_on(SandboxProcessor.refund(&processor_ref, "re_1", usd(1000))).unwrap()
        else {
            panic!("a sandbox refund succeeds at once");
        };
        assert!(ensure_sandbox_ref(&refund_ref).is_ok());
    }

    #[test]
    fn cvc_556_holds_for_a_review_that_declines() {
        let held = outcome(&card_with_cvc("5555555555554444", "556"));
        let processor_ref = assert_under_review(&held);
        assert_eq!(verdict(&processor_ref), Some(false));
        block_on(SandboxProcessor.void(&processor_ref)).unwrap();
    }

    #[test]
    fn a_held_authorization_is_not_captured_even_when_capture_is_requested() {
        // `authorize` in these tests always asks for capture.
        let method = card_with_cvc("4242424242424242", "555");
        let result = block_on(SandboxProcessor.authorize(AuthorizeRequest {
            three_d_secure: false,
            save_method: false,
            attempt_id: "att_hold",
            amount: usd(1000),
            method: &method,
            capture: true,
            fingerprint_key: KEY,
            now_year: NOW_YEAR,
            now_month: NOW_MONTH,
        }))
        .unwrap();
        assert_under_review(&result.outcome);
        assert_eq!(result.details.last4, "4242");
    }

    #[test]
    fn other_cvcs_approve_and_are_not_under_review() {
        for cvc in ["123", "000", "999", "112", "554", "557"] {
            let approved = outcome(&card_with_cvc("4242424242424242", cvc));
            assert_approved(&approved);
            let AuthorizeOutcome::Approved { processor_ref } = approved else {
                unreachable!()
            };
            assert_eq!(verdict(&processor_ref), None, "{cvc}");
        }
        // Only the exact three-digit codes are special: an Amex "1111" or
        // "5555" is an ordinary code.
        for cvc in ["1111", "5555"] {
            assert_approved(&outcome(&card_with_cvc("378282246310005", cvc)));
        }
        // Amex also takes a three-digit code, and then the rules apply.
        assert_under_review(&outcome(&card_with_cvc("378282246310005", "555")));
    }

    #[test]
    fn cvc_rules_do_not_change_a_decline() {
        let (code, decline_code, message) = GENERIC;
        for cvc in ["111", "222", "333", "555", "556"] {
            assert_declined(
                &outcome(&card_with_cvc("4000000000000002", cvc)),
                code,
                decline_code,
                message,
            );
            assert_declined(
                &outcome(&card_with_cvc("4000000000009995", cvc)),
                "card_declined",
                "insufficient_funds",
                "Your card has insufficient funds.",
            );
        }
        // And an expired card is expired whatever its code.
        assert_declined(
            &outcome(&card_input("4242424242424242", 1, 2020, "555")),
            "expired_card",
            "expired_card",
            "Your card has expired.",
        );
    }

    #[test]
    fn cvc_rules_apply_after_a_successful_3ds_challenge() {
        for number in ["4000002500003155", "4000000000003220"] {
            for (cvc, (code, decline_code, message)) in [
                ("111", CVC_INCORRECT),
                ("222", CVC_BALANCE),
                ("333", CVC_ISSUER),
            ] {
                let started = outcome(&card_with_cvc(number, cvc));
                let state = assert_challenge(&started);
                assert_eq!(challenge_kind(&state), Some("3ds"));
                assert_declined(
                    &finish(&started, ChallengeResult::Approve),
                    code,
                    decline_code,
                    message,
                );
            }
            for (cvc, accept) in [("555", true), ("556", false)] {
                let started = outcome(&card_with_cvc(number, cvc));
                let AuthorizeOutcome::ChallengeRequired { processor_ref, .. } = &started else {
                    panic!("expected a challenge, got {started:?}");
                };
                let finished = finish(&started, ChallengeResult::Approve);
                assert_eq!(
                    &assert_under_review(&finished),
                    processor_ref,
                    "the hold keeps the challenge's ref"
                );
                assert_eq!(verdict(processor_ref), Some(accept));
            }
        }
    }

    #[test]
    fn a_failed_3ds_challenge_declines_whatever_the_cvc() {
        let (code, decline_code, message) = AUTH_FAILED;
        for cvc in ["111", "222", "333", "555", "556", "123"] {
            let started = outcome(&card_with_cvc("4000002500003155", cvc));
            for result in [
                ChallengeResult::Fail,
                ChallengeResult::Otp("123456".to_string()),
            ] {
                assert_declined(&finish(&started, result), code, decline_code, message);
            }
        }
    }

    #[test]
    fn the_issuer_declines_after_3ds_whatever_the_cvc() {
        let (code, decline_code, message) = GENERIC;
        for cvc in ["111", "555", "556"] {
            let started = outcome(&card_with_cvc("4000008400001629", cvc));
            assert_declined(
                &finish(&started, ChallengeResult::Approve),
                code,
                decline_code,
                message,
            );
        }
    }

    #[test]
    fn challenge_state_carries_the_cvc_rule_but_never_the_cvc() {
        for cvc in ["111", "222", "333", "555", "556"] {
            let state = assert_challenge(&outcome(&card_with_cvc("4000002500003155", cvc)));
            assert!(!state.contains(cvc), "{state}");
            assert!(!state.contains("3155"), "{state}");
            assert!(state.len() <= 32, "{state}");
            assert_ne!(state, STATE_APPROVE);
        }
    }

    #[test]
    fn complete_challenge_rejects_a_reference_that_does_not_match_the_state() {
        let review_ref = RefFlags {
            review: Some(true),
            renewals_decline: false,
            renewals_need_auth: false,
        }
        .new_ref();
        let renewals_ref = RefFlags {
            review: None,
            renewals_decline: true,
            renewals_need_auth: false,
        }
        .new_ref();
        let plain_ref = new_ref();
        for (processor_ref, state) in [
            (review_ref.as_str(), STATE_APPROVE),
            (review_ref.as_str(), "3ds:approve:review_decline"),
            (review_ref.as_str(), STATE_WALLET),
            (renewals_ref.as_str(), STATE_WALLET),
            (renewals_ref.as_str(), STATE_DECLINE),
            (plain_ref.as_str(), "3ds:approve:review_accept"),
            (plain_ref.as_str(), "3ds:approve:review"),
            (plain_ref.as_str(), "3ds:decline:cvc_incorrect"),
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
                "{processor_ref} {state}: {result:?}"
            );
        }
    }

    // --- Risk review ---------------------------------------------------

    #[test]
    fn review_verdict_is_none_for_references_not_under_review() {
        assert_eq!(verdict(&new_ref()), None);
        let started = outcome(&good_card("4000002500003155"));
        let AuthorizeOutcome::ChallengeRequired { processor_ref, .. } = &started else {
            panic!("expected a challenge");
        };
        assert_eq!(verdict(processor_ref), None);
    }

    #[test]
    fn review_verdict_rejects_foreign_refs() {
        for foreign in ["pi_3Mtw", "sbx_", "sbx_rvaccept", "sbx_rvaccept_"] {
            assert!(
                matches!(
                    block_on(SandboxProcessor.review_verdict(foreign)),
                    Err(ProcessorError::InvalidState)
                ),
                "{foreign}"
            );
        }
    }

    // --- Stored (merchant-initiated) charges ---------------------------

    fn charge_stored(original_ref: &str) -> Result<AuthorizeOutcome, ProcessorError> {
        block_on(SandboxProcessor.charge_stored(original_ref, "att_renewal", usd(1000)))
    }

    fn approved_ref(outcome: &AuthorizeOutcome) -> String {
        assert_approved(outcome);
        let AuthorizeOutcome::Approved { processor_ref } = outcome else {
            unreachable!()
        };
        processor_ref.clone()
    }

    #[test]
    fn charge_stored_approves_a_chain_of_renewals() {
        let first = approved_ref(&outcome(&good_card("4242424242424242")));
        let second = approved_ref(&charge_stored(&first).unwrap());
        let third = approved_ref(&charge_stored(&second).unwrap());
        assert_ne!(first, second);
        assert_ne!(second, third);
        for r in [&second, &third] {
            assert_eq!(verdict(r), None);
            block_on(SandboxProcessor.refund(r, "re_1", usd(1000))).unwrap();
        }
    }

    #[test]
    fn charge_stored_declines_every_renewal_of_the_0341_card() {
        let first = approved_ref(&outcome(&good_card("4000000000000341")));
        let (code, decline_code, message) = GENERIC;
        for _ in 0..2 {
            assert_declined(&charge_stored(&first).unwrap(), code, decline_code, message);
        }
        // The customer-present payment itself is an ordinary approval.
        block_on(SandboxProcessor.capture(&first, usd(1000))).unwrap();
        assert_eq!(verdict(&first), None);
    }

    #[test]
    fn the_3184_card_authenticates_every_payment_and_declines_off_session_charges() {
        let AuthorizeOutcome::ChallengeRequired {
            processor_ref,
            challenge_state: state,
        } = outcome(&good_card("4000002760003184"))
        else {
            panic!("the 3184 card asks for 3-D Secure");
        };
        let paid = block_on(SandboxProcessor.complete_challenge(
            &processor_ref,
            &state,
            ChallengeResult::Approve,
            usd(1000),
            true,
        ))
        .unwrap();
        let first = approved_ref(&paid);
        for _ in 0..2 {
            assert_declined(
                &charge_stored(&first).unwrap(),
                "authentication_required",
                "authentication_required",
                "Your card was declined. This transaction requires authentication.",
            );
        }
        // The token borrows the same card.
        assert!(matches!(
            outcome(&PaymentMethodInput::TestToken(
                "pm_card_authenticationRequired".into()
            )),
            AuthorizeOutcome::ChallengeRequired { .. }
        ));
        // A failed challenge declines as any other.
        assert!(matches!(
            block_on(SandboxProcessor.complete_challenge(
                &processor_ref,
                &state,
                ChallengeResult::Fail,
                usd(1000),
                true,
            ))
            .unwrap(),
            AuthorizeOutcome::Declined(_)
        ));
    }

    #[test]
    fn charge_stored_declines_renewals_of_a_reviewed_0341_payment() {
        let held = outcome(&card_with_cvc("4000000000000341", "555"));
        let processor_ref = assert_under_review(&held);
        assert_eq!(verdict(&processor_ref), Some(true));
        let (code, decline_code, message) = GENERIC;
        assert_declined(
            &charge_stored(&processor_ref).unwrap(),
            code,
            decline_code,
            message,
        );
    }

    #[test]
    fn charge_stored_after_an_accepted_review_is_not_reviewed_again() {
        let held = outcome(&card_with_cvc("4242424242424242", "555"));
        let processor_ref = assert_under_review(&held);
        let renewal = approved_ref(&charge_stored(&processor_ref).unwrap());
        assert_eq!(verdict(&renewal), None);
    }

    #[test]
    fn the_renewals_flag_survives_in_renewal_references() {
        // No renewal of a flagged payment succeeds, so this checks the
        // reference encoding directly: whatever carries the flag keeps it.
        let flagged = RefFlags {
            review: None,
            renewals_decline: true,
            renewals_need_auth: false,
        };
        let r = flagged.new_ref();
        assert_eq!(RefFlags::parse(&r), Some(flagged));
        assert!(matches!(
            charge_stored(&r).unwrap(),
            AuthorizeOutcome::Declined(_)
        ));
    }

    #[test]
    fn charge_stored_approves_wallet_bank_voucher_and_test_payments() {
        let wallet = finish(
            &outcome(&wallet("+4915112345678")),
            ChallengeResult::Otp("123456".to_string()),
        );
        let bank = finish(&outcome(&bank("ing_nl")), ChallengeResult::Approve);
        let voucher = finish(
            &outcome(&PaymentMethodInput::Voucher),
            ChallengeResult::Approve,
        );
        let test = outcome(&PaymentMethodInput::TestMethod);
        for paid in [wallet, bank, voucher, test] {
            let first = approved_ref(&paid);
            let second = approved_ref(&charge_stored(&first).unwrap());
            approved_ref(&charge_stored(&second).unwrap());
        }
    }

    #[test]
    fn charge_stored_rejects_references_the_sandbox_did_not_issue() {
        for foreign in [
            "pi_3Mtw",
            "",
            "sbx_",
            "sbx_ABCDEFGHIJKLMNOPQRSTUVWX",
            "sbx_unknowntag_abcdefghijklmnopqrstuvwx",
        ] {
            let err = charge_stored(foreign).unwrap_err();
            assert!(
                matches!(&err, ProcessorError::UnknownReference(r) if r == foreign),
                "{err:?}"
            );
        }
    }

    #[test]
    fn flagged_references_round_trip_and_work_everywhere() {
        for review in [None, Some(true), Some(false)] {
            for (renewals_decline, renewals_need_auth) in
                [(false, false), (true, false), (false, true), (true, true)]
            {
                let flags = RefFlags {
                    review,
                    renewals_decline,
                    renewals_need_auth,
                };
                let r = flags.new_ref();
                assert_eq!(RefFlags::parse(&r), Some(flags), "{r}");
                assert!(r.starts_with("sbx_"), "{r}");
                block_on(SandboxProcessor.capture(&r, usd(1))).unwrap();
                block_on(SandboxProcessor.void(&r)).unwrap();
                block_on(SandboxProcessor.refund(&r, "re_1", usd(1))).unwrap();
                assert_eq!(verdict(&r), review);
            }
        }
    }

    #[test]
    fn references_with_misplaced_or_unknown_tags_are_rejected() {
        let random = "abcdefghijklmnopqrstuvwx";
        for bad in [
            format!("sbx_mitdecline_rvaccept_{random}"),
            format!("sbx_rvaccept_rvdecline_{random}"),
            format!("sbx_rvaccept_rvaccept_{random}"),
            format!("sbx_mitdecline_mitdecline_{random}"),
            format!("sbx_RVACCEPT_{random}"),
            format!("sbx__{random}"),
            format!("sbx_rvaccept__{random}"),
            format!("sbx_rvaccept_{random}x"),
            format!("sbx_rvaccept_{}", &random[1..]),
            format!("xbx_rvaccept_{random}"),
        ] {
            assert_eq!(RefFlags::parse(&bad), None, "{bad}");
            assert!(ensure_sandbox_ref(&bad).is_err(), "{bad}");
        }
    }

    // --- Wallets -------------------------------------------------------

    fn wallet(phone: &str) -> PaymentMethodInput {
        PaymentMethodInput::Wallet {
            phone: phone.to_string(),
        }
    }

    fn wallet_fingerprint(digits: &str, key: &[u8]) -> String {
        let tag = kassa_core::secret::hmac_sha256(key, format!("phone:{digits}").as_bytes());
        tag[..16].iter().map(|b| format!("{b:02x}")).collect()
    }

    #[test]
    fn a_wallet_asks_for_a_one_time_code_that_approves() {
        for phone in [
            "+4915112345678",
            "4915112345678",
            "+49 151 1234 5678",
            "+49-151-1234-5678",
            "12345678",
            "123456789012345",
        ] {
            let started = outcome(&wallet(phone));
            let state = assert_challenge(&started);
            assert_eq!(challenge_kind(&state), Some("wallet"), "{phone}");
            assert_eq!(voucher_number(&state), None);
            assert_approved(&finish(
                &started,
                ChallengeResult::Otp("123456".to_string()),
            ));
        }
    }

    #[test]
    fn a_wrong_code_or_no_code_declines_a_wallet() {
        let started = outcome(&wallet("+4915112345678"));
        for result in [
            ChallengeResult::Otp("654321".to_string()),
            ChallengeResult::Otp(String::new()),
            ChallengeResult::Otp(" 123456".to_string()),
            ChallengeResult::Approve,
        ] {
            assert_declined(
                &finish(&started, result),
                "incorrect_otp",
                "incorrect_otp",
                "The confirmation code is incorrect.",
            );
        }
        assert_declined(
            &finish(&started, ChallengeResult::Fail),
            "wallet_declined",
            "wallet_declined",
            "The wallet payment was not confirmed.",
        );
    }

    #[test]
    fn a_wallet_phone_ending_in_0002_has_insufficient_funds() {
        for phone in ["+4915112340002", "1234 0002", "+1-555-000-0002"] {
            let result = authorize(&wallet(phone)).unwrap();
            assert_declined(
                &result.outcome,
                "wallet_declined",
                "insufficient_funds",
                "The wallet has insufficient funds.",
            );
            assert_eq!(result.details.last4, "0002");
        }
    }

    #[test]
    fn a_malformed_phone_declines_as_invalid_phone() {
        for phone in [
            "",
            "+",
            "1234567",
            "1234567890123456",
            "++4915112345678",
            "49+15112345678",
            "+49 (151) 12345678",
            "+49.151.12345678",
            "4915112345678x",
            "١٢٣٤٥٦٧٨٩",
            "+49\t15112345678",
        ] {
            let result = authorize(&wallet(phone)).unwrap();
            assert_declined(
                &result.outcome,
                "invalid_phone",
                "invalid_phone",
                "The phone number is not valid.",
            );
            assert_eq!(result.details.kind, "wallet", "{phone:?}");
            assert_eq!(result.details.last4, "", "{phone:?}");
            assert_eq!(result.details.fingerprint, "", "{phone:?}");
        }
    }

    #[test]
    fn wallet_details_keep_only_the_last_four_digits_and_a_keyed_fingerprint() {
        let a = authorize(&wallet("+49 151 1234 5678")).unwrap().details;
        assert_eq!(
            a,
            PaymentMethodDetails {
                kind: "wallet".to_string(),
                brand: "sandbox_wallet".to_string(),
                bin: None,
                last4: "5678".to_string(),
                exp_month: 0,
                exp_year: 0,
                fingerprint: wallet_fingerprint("4915112345678", KEY),
                id: None,
            }
        );
        assert_eq!(a.fingerprint.len(), 32);
        let same = authorize(&wallet("4915112345678")).unwrap().details;
        let other_phone = authorize(&wallet("4915112345679")).unwrap().details;
        let other_key = authorize_with_key(&wallet("4915112345678"), b"other")
            .unwrap()
            .details;
        assert_eq!(a.fingerprint, same.fingerprint);
        assert_ne!(a.fingerprint, other_phone.fingerprint);
        assert_ne!(a.fingerprint, other_key.fingerprint);
        // A card made of the same digits does not share the fingerprint.
        let card = CardNumber::parse("378282246310005").unwrap();
        let as_phone = authorize(&wallet("378282246310005")).unwrap().details;
        assert_ne!(as_phone.fingerprint, card.fingerprint(KEY));
        let json = serde_json::to_string(&a).unwrap();
        assert!(!json.contains("4915112345678"), "{json}");
    }

    #[test]
    fn wallet_state_and_reference_never_contain_the_phone() {
        let started = outcome(&wallet("+4915112345678"));
        let AuthorizeOutcome::ChallengeRequired {
            processor_ref,
            challenge_state,
        } = &started
        else {
            panic!("expected a challenge");
        };
        assert_eq!(challenge_state, STATE_WALLET);
        // Beyond the prefix, the reference is only its random part.
        assert_eq!(RefFlags::parse(processor_ref), Some(RefFlags::default()));
        assert_eq!(processor_ref.len(), REF_PREFIX.len() + REF_RANDOM_LEN);
    }

    #[test]
    fn wallet_debug_shows_only_the_last_two_digits() {
        let method = wallet("+49 151 1234 5678");
        let debug = format!("{method:?}");
        assert!(debug.contains("***78"), "{debug}");
        for leaked in ["5678", "678", "1234", "49 151", "+49"] {
            assert!(!debug.contains(leaked), "{leaked} in {debug}");
        }
        let request = AuthorizeRequest {
            three_d_secure: false,
            save_method: false,
            attempt_id: "att_1",
            amount: usd(1),
            method: &method,
            capture: false,
            fingerprint_key: KEY,
            now_year: NOW_YEAR,
            now_month: NOW_MONTH,
        };
        let debug = format!("{request:?}");
        assert!(!debug.contains("5678"), "{debug}");
        assert!(debug.contains("***78"), "{debug}");
        assert_eq!(format!("{:?}", wallet("")), "Wallet { phone: \"***\" }");
    }

    #[test]
    fn card_debug_hides_number_cvc_and_name_for_every_rule_cvc() {
        for cvc in ["111", "222", "333", "555", "556"] {
            let method = card_with_cvc("4000000000000341", cvc);
            let debug = format!("{method:?}");
            assert!(!debug.contains("4000000000000341"), "{debug}");
            assert!(!debug.contains(cvc), "{debug}");
            assert!(!debug.contains("Jenny"), "{debug}");
            assert!(debug.contains("0341"), "{debug}");
        }
    }

    #[test]
    fn otp_debug_hides_the_code() {
        let debug = format!("{:?}", ChallengeResult::Otp("123456".to_string()));
        assert!(!debug.contains("123456"), "{debug}");
        assert_eq!(format!("{:?}", ChallengeResult::Approve), "Approve");
    }

    // --- Bank redirects ------------------------------------------------

    fn bank(code: &str) -> PaymentMethodInput {
        PaymentMethodInput::BankRedirect {
            bank: code.to_string(),
        }
    }

    #[test]
    fn a_bank_redirect_approves_when_the_bank_authorizes() {
        let long = "a".repeat(32);
        for code in ["ing_nl", "ab", "bank_2", long.as_str()] {
            let result = authorize(&bank(code)).unwrap();
            assert_eq!(
                result.details,
                PaymentMethodDetails {
                    kind: "bank_redirect".to_string(),
                    brand: code.to_string(),
                    bin: None,
                    last4: String::new(),
                    exp_month: 0,
                    exp_year: 0,
                    fingerprint: String::new(),
                    id: None,
                }
            );
            let state = assert_challenge(&result.outcome);
            assert_eq!(challenge_kind(&state), Some("bank"));
            assert_approved(&finish(&result.outcome, ChallengeResult::Approve));
        }
    }

    #[test]
    fn a_bank_redirect_declines_when_the_bank_refuses() {
        let started = outcome(&bank("ing_nl"));
        for result in [
            ChallengeResult::Fail,
            ChallengeResult::Otp("123456".to_string()),
        ] {
            assert_declined(
                &finish(&started, result),
                "bank_declined",
                "bank_declined",
                "The bank did not authorize the payment.",
            );
        }
    }

    #[test]
    fn a_malformed_bank_code_declines_as_invalid_bank() {
        let long = "a".repeat(33);
        for code in ["", "a", long.as_str(), "ING", "ing-nl", "ing nl", "ïng"] {
            let result = authorize(&bank(code)).unwrap();
            assert_declined(
                &result.outcome,
                "invalid_bank",
                "invalid_bank",
                "The bank is not valid.",
            );
            assert_eq!(result.details.kind, "bank_redirect");
            assert_eq!(result.details.brand, "", "{code:?}");
        }
    }

    // --- Vouchers and the test method ----------------------------------

    #[test]
    fn a_voucher_shows_a_number_and_approves_once_paid() {
        let result = authorize(&PaymentMethodInput::Voucher).unwrap();
        assert_eq!(
            result.details,
            PaymentMethodDetails::without_number("voucher", "sandbox_voucher")
        );
        let state = assert_challenge(&result.outcome);
        assert_eq!(challenge_kind(&state), Some("voucher"));
        let number = voucher_number(&state).unwrap();
        assert_eq!(number.len(), 12);
        assert!(number.bytes().all(|b| b.is_ascii_digit()), "{number}");
        assert_approved(&finish(&result.outcome, ChallengeResult::Approve));
    }

    #[test]
    fn an_unpaid_voucher_expires() {
        let started = outcome(&PaymentMethodInput::Voucher);
        for result in [
            ChallengeResult::Fail,
            ChallengeResult::Otp("123456".to_string()),
        ] {
            assert_declined(
                &finish(&started, result),
                "voucher_expired",
                "voucher_expired",
                "The voucher expired before it was paid.",
            );
        }
    }

    #[test]
    fn voucher_numbers_differ() {
        let numbers: std::collections::HashSet<String> = (0..50)
            .map(|_| {
                let state = assert_challenge(&outcome(&PaymentMethodInput::Voucher));
                voucher_number(&state).unwrap()
            })
            .collect();
        assert!(numbers.len() > 45, "{numbers:?}");
    }

    #[test]
    fn the_test_method_is_approved_at_once() {
        let result = authorize(&PaymentMethodInput::TestMethod).unwrap();
        assert_approved(&result.outcome);
        assert_eq!(
            result.details,
            PaymentMethodDetails {
                kind: "test".to_string(),
                brand: "test".to_string(),
                bin: None,
                last4: String::new(),
                exp_month: 0,
                exp_year: 0,
                fingerprint: String::new(),
                id: None,
            }
        );
    }

    // --- Challenge kinds -----------------------------------------------

    #[test]
    fn challenge_kind_names_every_state_the_sandbox_issues() {
        for (state, kind) in [
            (STATE_APPROVE, "3ds"),
            (STATE_DECLINE, "3ds"),
            ("3ds:approve:cvc_incorrect", "3ds"),
            ("3ds:approve:cvc_balance", "3ds"),
            ("3ds:approve:cvc_issuer", "3ds"),
            ("3ds:approve:review_accept", "3ds"),
            ("3ds:approve:review_decline", "3ds"),
            (STATE_WALLET, "wallet"),
            (STATE_BANK, "bank"),
            ("voucher:012345678901", "voucher"),
        ] {
            assert_eq!(challenge_kind(state), Some(kind), "{state}");
        }
        for state in [
            "",
            "3ds",
            "3ds:maybe",
            "3ds:approve:",
            "3ds:approve:review",
            "3ds:decline:cvc_incorrect",
            "wallet",
            "bank:",
            "voucher:",
            "voucher:12345678901",
            "voucher:1234567890123",
            "voucher:12345678901a",
        ] {
            assert_eq!(challenge_kind(state), None, "{state}");
            assert_eq!(voucher_number(state), None, "{state}");
        }
        assert_eq!(
            voucher_number("voucher:012345678901").as_deref(),
            Some("012345678901")
        );
        assert_eq!(voucher_number(STATE_WALLET), None);
    }
}
