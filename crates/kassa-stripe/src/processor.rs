//! [`StripeProcessor`]: Kassa's [`Processor`] calls as Stripe PaymentIntents requests.

use std::fmt;
use std::time::{SystemTime, UNIX_EPOCH};

use kassa_core::money::Money;
use kassa_egress::EgressClient;
use kassa_processor::{
    idempotency_key, AuthorizeOutcome, AuthorizeRequest, AuthorizeResult, Capabilities,
    ChallengeResult, ChallengeStep, CredentialField, Decline, Processor, ProcessorError,
    ProcessorEvent, RefundOutcome, WebhookError,
};

use crate::client::{CallError, Form, StripeClient};
use crate::types::{List, PaymentIntent, Refund};
use crate::{decline, webhook, Compat, StripeConfig, CAPABILITIES, CREDENTIAL_SCHEMA};

/// Metadata key of Kassa's attempt id on every PaymentIntent, which [`Processor::lookup`]
/// searches by.
pub const ATTEMPT_KEY: &str = "kassa_attempt_id";
/// Metadata key of Kassa's refund id on every refund.
pub const REFUND_KEY: &str = "kassa_refund_id";
/// Challenge state of a localstripe `use_stripe_sdk` challenge, finished by `_authenticate`.
pub(crate) const SDK_STATE: &str = "stripe:sdk";
/// Pages of 100 PaymentIntents [`Processor::lookup`] reads before giving up (with an error,
/// never a "no record" it cannot vouch for).
const LOOKUP_PAGES: usize = 50;

/// One Stripe account, in one mode.
#[derive(Clone)]
pub struct StripeProcessor {
    pub(crate) client: StripeClient,
    pub(crate) config: StripeConfig,
    webhook_secret: Option<String>,
    pub(crate) livemode: bool,
}

impl fmt::Debug for StripeProcessor {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("StripeProcessor")
            .field("client", &self.client)
            .field("compat", &self.config.compat)
            .field(
                "webhook_secret",
                &self.webhook_secret.as_ref().map(|_| "<redacted>"),
            )
            .field("livemode", &self.livemode)
            .finish()
    }
}

pub(crate) type Judged<T> = Result<Result<T, Decline>, ProcessorError>;

pub(crate) fn processor_error(e: CallError) -> ProcessorError {
    match e {
        CallError::Unavailable(m) => ProcessorError::Unavailable(m),
        CallError::Unknown(m) => ProcessorError::Unknown(m),
        // A 2xx whose body could not be read: Stripe acted.
        CallError::Malformed(m) => ProcessorError::Unknown(m),
        CallError::Api { status, error } => ProcessorError::Rejected(format!(
            "HTTP {status} {}: {}",
            error.code.as_deref().unwrap_or("error"),
            decline::scrub(&error.message, 200)
        )),
    }
}

/// Splits a decline off a Stripe answer.
pub(crate) fn judged<T>(r: Result<T, CallError>) -> Judged<T> {
    match r {
        Ok(v) => Ok(Ok(v)),
        Err(CallError::Api { status, error }) if decline::is_decline(status, &error) => {
            Ok(Err(decline::from_stripe(&error)))
        }
        Err(e) => Err(processor_error(e)),
    }
}

/// How a refund Stripe created stands: done, pending (a webhook settles it) or refused.
pub(crate) fn refund_outcome(refund: Refund) -> Result<RefundOutcome, ProcessorError> {
    match refund.status.as_str() {
        "succeeded" => Ok(RefundOutcome::Succeeded(refund.id)),
        "pending" | "requires_action" => Ok(RefundOutcome::Pending(refund.id)),
        other => Err(ProcessorError::Rejected(format!(
            "refund {} is {other}: {}",
            refund.id,
            refund
                .failure_reason
                .as_deref()
                .unwrap_or("no reason given")
        ))),
    }
}

pub(crate) fn declined(d: Decline) -> AuthorizeOutcome {
    AuthorizeOutcome::Declined(d)
}

fn now_unix() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs() as i64)
        .unwrap_or_default()
}

impl StripeProcessor {
    pub fn new(
        egress: EgressClient,
        config: StripeConfig,
        secret_key: &str,
        webhook_secret: Option<&str>,
        livemode: bool,
    ) -> Self {
        let client = StripeClient::new(egress, &config.base_url, secret_key, config.timeout);
        StripeProcessor {
            client,
            config,
            webhook_secret: webhook_secret.filter(|s| !s.is_empty()).map(str::to_string),
            livemode,
        }
    }

    pub(crate) fn localstripe(&self) -> bool {
        self.config.compat == Compat::Localstripe
    }

    /// The outcome a PaymentIntent stands at.
    pub(crate) fn outcome_of(
        &self,
        pi: &PaymentIntent,
    ) -> Result<AuthorizeOutcome, ProcessorError> {
        let processor_ref = pi.id.clone();
        let last_error = || {
            pi.last_payment_error
                .as_ref()
                .map(decline::from_stripe)
                .unwrap_or_else(Decline::generic)
        };
        Ok(match pi.status.as_str() {
            "succeeded" | "requires_capture" => AuthorizeOutcome::Approved { processor_ref },
            "requires_action" => {
                let action = pi.next_action.clone().unwrap_or_default();
                let url = action.redirect_to_url.and_then(|r| r.url);
                match (action.kind.as_str(), url) {
                    ("redirect_to_url", Some(url)) => AuthorizeOutcome::ChallengeRequired {
                        processor_ref,
                        challenge_state: ChallengeStep::redirect_state(&url),
                    },
                    ("use_stripe_sdk", _) if self.localstripe() => {
                        AuthorizeOutcome::ChallengeRequired {
                            processor_ref,
                            challenge_state: SDK_STATE.into(),
                        }
                    }
                    (kind, _) => {
                        return Err(ProcessorError::Rejected(format!(
                            "Stripe asked for a `{kind}` step Kassa cannot host"
                        )))
                    }
                }
            }
            "requires_payment_method" | "canceled" => declined(last_error()),
            // Created but never confirmed: nothing was charged.
            "requires_confirmation" => declined(Decline::processing_error()),
            other => {
                return Err(ProcessorError::Unknown(format!(
                    "the PaymentIntent is {other} at Stripe"
                )))
            }
        })
    }

    pub(crate) async fn payment_intent(&self, id: &str) -> Result<PaymentIntent, CallError> {
        self.client
            .get(&format!("/v1/payment_intents/{id}"), &Form::new())
            .await
    }

    /// Cancels a PaymentIntent; one already canceled counts as done.
    async fn cancel(&self, processor_ref: &str) -> Result<(), ProcessorError> {
        let key = idempotency_key("void", &[processor_ref]);
        let r: Result<PaymentIntent, _> = self
            .client
            .post(
                &format!("/v1/payment_intents/{processor_ref}/cancel"),
                &Form::new(),
                Some(&key),
            )
            .await;
        match r {
            Ok(_) => Ok(()),
            Err(CallError::Api { status, error }) if status < 500 => {
                // A retry after a lost answer finds it canceled already.
                match self.payment_intent(processor_ref).await {
                    Ok(pi) if pi.status == "canceled" => Ok(()),
                    _ => Err(processor_error(CallError::Api { status, error })),
                }
            }
            Err(e) => Err(processor_error(e)),
        }
    }

    /// Finishes a localstripe `use_stripe_sdk` challenge through its `_authenticate`.
    async fn authenticate_at_localstripe(
        &self,
        processor_ref: &str,
        success: bool,
    ) -> Result<PaymentIntent, CallError> {
        let pi = self.payment_intent(processor_ref).await?;
        if pi.status != "requires_action" {
            return Ok(pi); // answered already (a double submit)
        }
        let form = Form::new()
            .set("client_secret", pi.client_secret.unwrap_or_default())
            .set("success", success.to_string());
        self.client
            .post(
                &format!("/v1/payment_intents/{processor_ref}/_authenticate"),
                &form,
                None,
            )
            .await
    }

    fn check_ref(processor_ref: &str) -> Result<(), ProcessorError> {
        let well_formed = processor_ref.starts_with("pi_")
            && processor_ref.len() <= 255
            && processor_ref
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'_');
        well_formed
            .then_some(())
            .ok_or(ProcessorError::InvalidState)
    }
}

#[async_trait::async_trait]
impl Processor for StripeProcessor {
    fn name(&self) -> &'static str {
        crate::NAME
    }

    fn capabilities(&self) -> Capabilities {
        CAPABILITIES
    }

    fn credential_schema(&self) -> &'static [CredentialField] {
        CREDENTIAL_SCHEMA
    }

    async fn handle_webhook(
        &self,
        headers: &http::HeaderMap,
        raw_body: &[u8],
        now_unix: i64,
    ) -> Result<ProcessorEvent, WebhookError> {
        let secret = self
            .webhook_secret
            .as_deref()
            .ok_or(WebhookError::NotConfigured)?;
        let header = headers
            .get(webhook::SIGNATURE_HEADER)
            .ok_or(WebhookError::MissingSignature)?
            .to_str()
            .map_err(|_| WebhookError::MalformedSignature)?;
        webhook::verify(header, raw_body, secret, now_unix)?;
        webhook::parse(raw_body)
    }

    async fn authorize(
        &self,
        req: AuthorizeRequest<'_>,
    ) -> Result<AuthorizeResult, ProcessorError> {
        let (details, source) = self.source(&req)?;
        let outcome = match source {
            Err(d) => declined(d),
            Ok(source) => self.authorize_with(&req, source).await?,
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
        Self::check_ref(processor_ref)?;
        let pi = match ChallengeStep::of(challenge_state) {
            ChallengeStep::Kassa if challenge_state == SDK_STATE && self.localstripe() => {
                let success = result == ChallengeResult::Approve;
                self.authenticate_at_localstripe(processor_ref, success)
                    .await
                    .map_err(processor_error)?
            }
            ChallengeStep::Kassa => return Err(ProcessorError::InvalidState),
            // The customer's return proves nothing: ask Stripe.
            ChallengeStep::Redirect { .. } => self
                .payment_intent(processor_ref)
                .await
                .map_err(processor_error)?,
        };
        if pi.status == "requires_action" {
            // Came back without finishing: release it so it cannot complete later.
            self.cancel(processor_ref).await?;
            return Ok(declined(Decline::authentication_failed()));
        }
        self.outcome_of(&pi)
    }

    /// Stripe's risk reviews are not modelled: no payment is ever held for one.
    async fn review_verdict(&self, _processor_ref: &str) -> Result<Option<bool>, ProcessorError> {
        Ok(None)
    }

    async fn charge_stored(
        &self,
        original_ref: &str,
        attempt_id: &str,
        amount: Money,
    ) -> Result<AuthorizeOutcome, ProcessorError> {
        let unknown = || ProcessorError::UnknownReference(original_ref.to_string());
        Self::check_ref(original_ref).map_err(|_| unknown())?;
        let original = match self.payment_intent(original_ref).await {
            Ok(pi) => pi,
            Err(CallError::Api { status: 404, .. }) => return Err(unknown()),
            Err(e) => return Err(processor_error(e)),
        };
        let (Some(customer), Some(pm)) = (&original.customer, &original.payment_method) else {
            return Err(unknown());
        };
        let form = Form::new()
            .set("amount", amount.amount.to_string())
            .set("currency", amount.currency.code().to_ascii_lowercase())
            .set("customer", customer.id())
            .set("payment_method", pm.id())
            .set("confirm", "true")
            .set("off_session", "true")
            .set(&format!("metadata[{ATTEMPT_KEY}]"), attempt_id);
        let key = idempotency_key("authorize", &[attempt_id]);
        let pi: Result<PaymentIntent, _> = self
            .client
            .post("/v1/payment_intents", &form, Some(&key))
            .await;
        let pi = match judged(pi)? {
            Ok(pi) => pi,
            Err(d) => return Ok(declined(d)),
        };
        if pi.status == "requires_action" {
            // Stripe declines this with authentication_required; localstripe asks for 3-D
            // Secure instead, which nobody is there to answer.
            self.cancel(&pi.id).await?;
            return Ok(declined(decline::authentication_required()));
        }
        self.outcome_of(&pi)
    }

    async fn capture(&self, processor_ref: &str, amount: Money) -> Result<(), ProcessorError> {
        Self::check_ref(processor_ref)?;
        let amount_text = amount.amount.to_string();
        let key = idempotency_key("capture", &[processor_ref, &amount_text]);
        let form = Form::new().set("amount_to_capture", amount_text.as_str());
        let r: Result<PaymentIntent, _> = self
            .client
            .post(
                &format!("/v1/payment_intents/{processor_ref}/capture"),
                &form,
                Some(&key),
            )
            .await;
        match r {
            Ok(_) => Ok(()),
            Err(CallError::Api { status, error }) if status < 500 => {
                // A retry after a lost answer finds it captured already.
                match self.payment_intent(processor_ref).await {
                    Ok(pi) if pi.status == "succeeded" => Ok(()),
                    _ => Err(processor_error(CallError::Api { status, error })),
                }
            }
            Err(e) => Err(processor_error(e)),
        }
    }

    async fn void(&self, processor_ref: &str) -> Result<(), ProcessorError> {
        Self::check_ref(processor_ref)?;
        self.cancel(processor_ref).await
    }

    async fn refund(
        &self,
        processor_ref: &str,
        refund_id: &str,
        amount: Money,
    ) -> Result<RefundOutcome, ProcessorError> {
        Self::check_ref(processor_ref)?;
        let form = Form::new()
            .set("payment_intent", processor_ref)
            .set("amount", amount.amount.to_string())
            .set(&format!("metadata[{REFUND_KEY}]"), refund_id);
        let key = idempotency_key("refund", &[refund_id]);
        let refund: Refund = self
            .client
            .post("/v1/refunds", &form, Some(&key))
            .await
            .map_err(processor_error)?;
        refund_outcome(refund)
    }

    /// Reads the PaymentIntents of the lookup window (all of them under localstripe, which
    /// filters lists by nothing) for the one carrying `attempt_id`. Lists are consistent at
    /// once, unlike Stripe's search API, so "no record" can be trusted.
    async fn lookup(&self, attempt_id: &str) -> Result<Option<AuthorizeOutcome>, ProcessorError> {
        let since = now_unix() - self.config.lookup_window.as_secs() as i64;
        let mut starting_after: Option<String> = None;
        let mut found: Vec<PaymentIntent> = Vec::new();
        for _ in 0..LOOKUP_PAGES {
            let mut query = Form::new()
                .set("limit", "100")
                .set_opt("starting_after", starting_after.clone());
            if !self.localstripe() {
                query = query.set("created[gte]", since.to_string());
            }
            let page: List<PaymentIntent> = self
                .client
                .get("/v1/payment_intents", &query)
                .await
                .map_err(processor_error)?;
            starting_after = page.data.last().map(|pi| pi.id.clone());
            found.extend(
                page.data.into_iter().filter(|pi| {
                    pi.metadata.get(ATTEMPT_KEY).map(String::as_str) == Some(attempt_id)
                }),
            );
            if !page.has_more || starting_after.is_none() {
                // Idempotency makes two impossible at Stripe; if a fake made two, the one
                // that moved money is the answer.
                let best = found
                    .iter()
                    .find(|pi| matches!(pi.status.as_str(), "succeeded" | "requires_capture"))
                    .or(found.first());
                let Some(pi) = best else {
                    return Ok(None);
                };
                if pi.status == "requires_action" {
                    // Interrupted before the customer ever saw the challenge: nothing was
                    // charged, and the intent is released so it never will be.
                    self.cancel(&pi.id).await?;
                    return Ok(Some(declined(Decline::authentication_failed())));
                }
                return self.outcome_of(pi).map(Some);
            }
        }
        Err(ProcessorError::Unavailable(format!(
            "lookup read {LOOKUP_PAGES} pages of PaymentIntents without reaching the end"
        )))
    }
}
