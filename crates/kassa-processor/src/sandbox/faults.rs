//! Simulated processor failures, for tests of how Kassa copes with a processor that does not
//! answer: three fault cards the sandbox always honours, and [`FaultySandbox`], a sandbox that
//! fails every call the same way.
//!
//! A simulated timeout happens *after* the (simulated) processor approved, as a real lost
//! answer can: the approval is kept in a small in-memory ledger under Kassa's attempt id, so
//! [`Processor::lookup`] finds it, as it would find it in a real processor's records. A payment
//! whose answer was lost that way stays unreliable: the first answer to each of its refunds is
//! lost too, after the refund was made, and asking again under the same refund id (the same
//! idempotency key) answers what was done, as a real processor replays an idempotent request.
//! The ledger is the sandbox's only memory; it is bounded, holds references and outcomes (never
//! card data), and is lost with the process, like everything the sandbox did.

use std::collections::{HashMap, VecDeque};
use std::future::Future;
use std::sync::{Mutex, OnceLock};
use std::time::Duration;

use kassa_core::money::Money;

use super::SandboxProcessor;
use crate::{
    AuthorizeOutcome, AuthorizeRequest, AuthorizeResult, Capabilities, ChallengeResult, Processor,
    ProcessorError, RefundOutcome,
};

/// A way for the simulated processor to fail.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Fault {
    /// The call takes effect but its answer is lost: [`ProcessorError::Unknown`]. An
    /// authorization's outcome is then found by [`Processor::lookup`].
    Timeout,
    /// The processor answers a server error and does nothing:
    /// [`ProcessorError::Unavailable`].
    Unavailable,
    /// The call answers normally after this long.
    Slow(Duration),
}

/// How long the slow fault card makes an authorization wait.
pub const SLOW_CARD_DELAY: Duration = Duration::from_secs(2);

/// The fault cards and what they do. Otherwise they behave like any approvable card (the CVC
/// rules apply).
const FAULT_CARDS: &[(&str, Fault)] = &[
    ("4000000000000507", Fault::Timeout),
    ("4000000000000515", Fault::Unavailable),
    ("4000000000000523", Fault::Slow(SLOW_CARD_DELAY)),
];

/// The sandbox's fault cards: number and fault.
pub fn fault_cards() -> &'static [(&'static str, Fault)] {
    FAULT_CARDS
}

pub(super) fn card_fault(digits: &str) -> Option<Fault> {
    FAULT_CARDS
        .iter()
        .find(|(number, _)| *number == digits)
        .map(|(_, fault)| *fault)
}

/// Entries each part of the ledger keeps before it forgets the oldest.
const LEDGER_CAP: usize = 10_000;

/// A map that forgets its oldest entries beyond [`LEDGER_CAP`].
struct Bounded<V> {
    entries: HashMap<String, V>,
    order: VecDeque<String>,
}

impl<V> Default for Bounded<V> {
    fn default() -> Self {
        Bounded {
            entries: HashMap::new(),
            order: VecDeque::new(),
        }
    }
}

impl<V: Clone> Bounded<V> {
    fn insert(&mut self, key: &str, value: V) {
        if self.entries.insert(key.to_string(), value).is_none() {
            self.order.push_back(key.to_string());
        }
        while self.order.len() > LEDGER_CAP {
            if let Some(old) = self.order.pop_front() {
                self.entries.remove(&old);
            }
        }
    }

    fn get(&self, key: &str) -> Option<V> {
        self.entries.get(key).cloned()
    }
}

#[derive(Default)]
struct Ledger {
    /// What each authorization answered with a simulated timeout really did, by attempt id.
    outcomes: Bounded<AuthorizeOutcome>,
    /// The references those authorizations handed out: their refunds lose their first answer.
    unreliable_refs: Bounded<()>,
    /// What each refund of such a payment did, by Kassa's refund id.
    refunds: Bounded<RefundOutcome>,
}

impl Ledger {
    fn remember(&mut self, attempt_id: &str, outcome: AuthorizeOutcome) {
        if let Some(processor_ref) = outcome_ref(&outcome) {
            self.unreliable_refs.insert(processor_ref, ());
        }
        self.outcomes.insert(attempt_id, outcome);
    }

    fn recall(&self, attempt_id: &str) -> Option<AuthorizeOutcome> {
        self.outcomes.get(attempt_id)
    }

    /// The answer to a refund of `processor_ref` under `refund_id`, when the ledger decides it:
    /// a refund id asked before answers what it did; the first refund of an unreliable
    /// payment is made (`make`) and its answer lost. `None` for every other refund.
    fn refund(
        &mut self,
        processor_ref: &str,
        refund_id: &str,
        make: impl FnOnce() -> RefundOutcome,
    ) -> Option<Result<RefundOutcome, ProcessorError>> {
        if let Some(done) = self.refunds.get(refund_id) {
            return Some(Ok(done));
        }
        self.unreliable_refs.get(processor_ref)?;
        self.refunds.insert(refund_id, make());
        Some(Err(lost_answer()))
    }
}

/// The reference an authorization's outcome hands out, if any.
fn outcome_ref(outcome: &AuthorizeOutcome) -> Option<&str> {
    match outcome {
        AuthorizeOutcome::Approved { processor_ref }
        | AuthorizeOutcome::UnderReview { processor_ref }
        | AuthorizeOutcome::ChallengeRequired { processor_ref, .. } => Some(processor_ref),
        AuthorizeOutcome::Declined(_) => None,
    }
}

fn ledger() -> std::sync::MutexGuard<'static, Ledger> {
    static LEDGER: OnceLock<Mutex<Ledger>> = OnceLock::new();
    let lock = LEDGER.get_or_init(Mutex::default);
    // A panic while holding the lock cannot leave the map half-written in a way that matters.
    lock.lock().unwrap_or_else(|e| e.into_inner())
}

/// Keeps what an authorization answered with a simulated timeout really did.
pub(super) fn remember(attempt_id: &str, outcome: AuthorizeOutcome) {
    ledger().remember(attempt_id, outcome);
}

/// What the authorization under `attempt_id` did, if it was answered with a simulated timeout.
pub(super) fn recall(attempt_id: &str) -> Option<AuthorizeOutcome> {
    ledger().recall(attempt_id)
}

/// The simulated answer to a refund, when a fault decides it (see the module's doc): `None`
/// lets the sandbox answer as usual.
pub(super) fn refund_answer(
    processor_ref: &str,
    refund_id: &str,
) -> Option<Result<RefundOutcome, ProcessorError>> {
    ledger().refund(processor_ref, refund_id, || {
        RefundOutcome::Succeeded(super::state::new_ref())
    })
}

pub(super) fn lost_answer() -> ProcessorError {
    ProcessorError::Unknown("simulated timeout: the sandbox processed the call".into())
}

pub(super) fn server_error() -> ProcessorError {
    ProcessorError::Unavailable("simulated server error (HTTP 503)".into())
}

/// A sandbox that fails every call with one [`Fault`], for tests; built by
/// [`SandboxProcessor::with_fault`]. [`Processor::lookup`] never fails, so recovery can be
/// tested: it finds the authorizations a [`Fault::Timeout`] answered.
#[derive(Debug, Clone, Copy)]
pub struct FaultySandbox {
    fault: Fault,
}

impl SandboxProcessor {
    /// This sandbox, failing every call that moves money (and every review verdict) with
    /// `fault`.
    pub fn with_fault(self, fault: Fault) -> FaultySandbox {
        FaultySandbox { fault }
    }
}

impl FaultySandbox {
    pub fn fault(&self) -> Fault {
        self.fault
    }

    /// Runs `call` under the fault; `remember` keeps an authorization's outcome when its
    /// answer is lost.
    async fn under_fault<T, F>(
        &self,
        call: F,
        remember: impl FnOnce(&T),
    ) -> Result<T, ProcessorError>
    where
        F: Future<Output = Result<T, ProcessorError>>,
    {
        match self.fault {
            Fault::Unavailable => Err(server_error()),
            Fault::Slow(delay) => {
                tokio::time::sleep(delay).await;
                call.await
            }
            Fault::Timeout => {
                remember(&call.await?);
                Err(lost_answer())
            }
        }
    }
}

#[async_trait::async_trait]
impl Processor for FaultySandbox {
    fn name(&self) -> &'static str {
        SandboxProcessor.name()
    }

    fn capabilities(&self) -> Capabilities {
        SandboxProcessor.capabilities()
    }

    async fn authorize(
        &self,
        req: AuthorizeRequest<'_>,
    ) -> Result<AuthorizeResult, ProcessorError> {
        self.under_fault(SandboxProcessor.authorize(req), |r: &AuthorizeResult| {
            remember(req.attempt_id, r.outcome.clone())
        })
        .await
    }

    async fn complete_challenge(
        &self,
        processor_ref: &str,
        challenge_state: &str,
        result: ChallengeResult,
        amount: Money,
        capture: bool,
    ) -> Result<AuthorizeOutcome, ProcessorError> {
        let call = SandboxProcessor.complete_challenge(
            processor_ref,
            challenge_state,
            result,
            amount,
            capture,
        );
        self.under_fault(call, |_| {}).await
    }

    async fn review_verdict(&self, processor_ref: &str) -> Result<Option<bool>, ProcessorError> {
        self.under_fault(SandboxProcessor.review_verdict(processor_ref), |_| {})
            .await
    }

    async fn charge_stored(
        &self,
        original_ref: &str,
        attempt_id: &str,
        amount: Money,
    ) -> Result<AuthorizeOutcome, ProcessorError> {
        let call = SandboxProcessor.charge_stored(original_ref, attempt_id, amount);
        self.under_fault(call, |o: &AuthorizeOutcome| remember(attempt_id, o.clone()))
            .await
    }

    async fn capture(&self, processor_ref: &str, amount: Money) -> Result<(), ProcessorError> {
        self.under_fault(SandboxProcessor.capture(processor_ref, amount), |_| {})
            .await
    }

    async fn void(&self, processor_ref: &str) -> Result<(), ProcessorError> {
        self.under_fault(SandboxProcessor.void(processor_ref), |_| {})
            .await
    }

    async fn refund(
        &self,
        processor_ref: &str,
        refund_id: &str,
        amount: Money,
    ) -> Result<RefundOutcome, ProcessorError> {
        let call = SandboxProcessor.refund(processor_ref, refund_id, amount);
        self.under_fault(call, |_| {}).await
    }

    async fn lookup(&self, attempt_id: &str) -> Result<Option<AuthorizeOutcome>, ProcessorError> {
        SandboxProcessor.lookup(attempt_id).await
    }
}

#[cfg(test)]
#[path = "faults_tests.rs"]
mod tests;
