//! A processor's webhooks applied through the core, without HTTP: a connector whose refunds
//! finish later and whose 3-D Secure happens at the processor (a fake registered like Stripe),
//! a live processor account, and the webhooks that settle a pending refund (succeeded or
//! failed), a challenge the customer finished at the processor, and their repeats.
//!
//! SQLite always; PostgreSQL too when `KASSA_TEST_POSTGRES_URL` names a server.

use std::sync::Arc;

use kassa_core::card::{CardNumber, Expiry};
use kassa_core::intent::{IntentStatus, Metadata, RefundKind, RefundStatus};
use kassa_core::money::{Currency, Money};
use kassa_core::scope::Scope;
use kassa_processor::{
    AuthorizeOutcome, AuthorizeRequest, AuthorizeResult, ChallengeResult, ChallengeStep, Connector,
    ConnectorEnv, ConnectorError, Connectors, CredentialField, Credentials, Decline,
    PaymentMethodDetails, PaymentMethodInput, Processor, ProcessorError, ProcessorEvent,
    RefundOutcome, WebhookError,
};
use kassa_service::processor_webhooks::{WebhookApplied, WebhookRefused};
use kassa_service::processors::AccountParams;
use kassa_service::{ConfirmParams, CreateIntentParams, CreateRefundParams, SaveChoice};

mod common;
use common::{databases, drop_db, services};

/// The amount the fake asks 3-D Secure for.
const CHALLENGED: i64 = 777;

struct FakeConnector;

/// Cards, partial refunds that finish later, 3-D Secure at the processor, webhooks.
const CAPABILITIES: kassa_processor::Capabilities = kassa_processor::Capabilities {
    partial_refund: true,
    async_refunds: true,
    webhooks: true,
    three_d_secure: kassa_processor::ThreeDsStyle::ProcessorRedirect,
    ..kassa_processor::Capabilities::MINIMAL
};

const SCHEMA: &[CredentialField] = &[CredentialField {
    name: "secret_key",
    label: "Secret key",
    secret: true,
    required: true,
    prefix: "fk_",
}];

impl Connector for FakeConnector {
    fn name(&self) -> &'static str {
        "fake"
    }
    fn credential_schema(&self) -> &'static [CredentialField] {
        SCHEMA
    }
    fn capabilities(&self) -> kassa_processor::Capabilities {
        CAPABILITIES
    }
    fn build(
        &self,
        _creds: &Credentials,
        _env: ConnectorEnv,
    ) -> Result<Arc<dyn Processor>, ConnectorError> {
        Ok(Arc::new(FakeProcessor))
    }
}

/// Approves at once, except [`CHALLENGED`] amounts (3-D Secure at the processor); refunds
/// answer pending. Its webhooks are `"<kind> <reference>"`, signed by `x-fake-signature: ok`.
struct FakeProcessor;

#[async_trait::async_trait]
impl Processor for FakeProcessor {
    fn name(&self) -> &'static str {
        "fake"
    }

    fn capabilities(&self) -> kassa_processor::Capabilities {
        CAPABILITIES
    }

    async fn handle_webhook(
        &self,
        headers: &http::HeaderMap,
        raw_body: &[u8],
        _now_unix: i64,
    ) -> Result<ProcessorEvent, WebhookError> {
        if headers.get("x-fake-signature").map(|v| v.as_bytes()) != Some(b"ok") {
            return Err(WebhookError::BadSignature);
        }
        let body =
            std::str::from_utf8(raw_body).map_err(|e| WebhookError::Malformed(e.to_string()))?;
        let (kind, r) = body
            .split_once(' ')
            .ok_or(WebhookError::Malformed(body.into()))?;
        let r = r.to_string();
        Ok(match kind {
            "payment_succeeded" => ProcessorEvent::PaymentSucceeded {
                processor_ref: r,
                attempt_id: None,
            },
            "payment_failed" => ProcessorEvent::PaymentFailed {
                processor_ref: r,
                attempt_id: None,
                decline: Decline::authentication_failed(),
            },
            "refund_succeeded" => ProcessorEvent::RefundSucceeded { refund_ref: r },
            "refund_failed" => ProcessorEvent::RefundFailed { refund_ref: r },
            other => ProcessorEvent::Ignored {
                event_type: other.into(),
            },
        })
    }

    async fn authorize(
        &self,
        req: AuthorizeRequest<'_>,
    ) -> Result<AuthorizeResult, ProcessorError> {
        let details = match req.method {
            PaymentMethodInput::Card { number, expiry, .. } => {
                PaymentMethodDetails::for_card(number, *expiry, req.fingerprint_key)
            }
            _ => PaymentMethodDetails::without_number("card", ""),
        };
        let processor_ref = format!("fp_{}", req.attempt_id);
        let outcome = if req.amount.amount == CHALLENGED {
            AuthorizeOutcome::ChallengeRequired {
                processor_ref,
                challenge_state: ChallengeStep::redirect_state("https://fake.example/3ds"),
            }
        } else {
            AuthorizeOutcome::Approved { processor_ref }
        };
        Ok(AuthorizeResult { details, outcome })
    }

    async fn complete_challenge(
        &self,
        processor_ref: &str,
        _challenge_state: &str,
        _result: ChallengeResult,
        _amount: Money,
        _capture: bool,
    ) -> Result<AuthorizeOutcome, ProcessorError> {
        Ok(AuthorizeOutcome::Approved {
            processor_ref: processor_ref.into(),
        })
    }

    async fn review_verdict(&self, _r: &str) -> Result<Option<bool>, ProcessorError> {
        Ok(None)
    }

    async fn charge_stored(
        &self,
        _original_ref: &str,
        _attempt_id: &str,
        _amount: Money,
    ) -> Result<AuthorizeOutcome, ProcessorError> {
        Ok(AuthorizeOutcome::Declined(Decline::generic()))
    }

    async fn capture(&self, _r: &str, _amount: Money) -> Result<(), ProcessorError> {
        Ok(())
    }

    async fn void(&self, _r: &str) -> Result<(), ProcessorError> {
        Ok(())
    }

    async fn refund(
        &self,
        _r: &str,
        refund_id: &str,
        _amount: Money,
    ) -> Result<RefundOutcome, ProcessorError> {
        Ok(RefundOutcome::Pending(format!("fr_{refund_id}")))
    }

    async fn lookup(&self, _attempt_id: &str) -> Result<Option<AuthorizeOutcome>, ProcessorError> {
        Ok(None)
    }
}

fn signed() -> http::HeaderMap {
    let mut h = http::HeaderMap::new();
    h.insert("x-fake-signature", http::HeaderValue::from_static("ok"));
    h
}

fn card() -> ConfirmParams {
    ConfirmParams {
        method: PaymentMethodInput::Card {
            number: CardNumber::parse("4485275742308327").unwrap(),
            expiry: Expiry::parse("12", "2039").unwrap(),
            cvc: "123".into(),
            holder_name: None,
        },
        return_url: None,
        three_d_secure: false,
        save: SaveChoice::AsAsked,
    }
}

fn refund(pi: &str, amount: i64) -> CreateRefundParams {
    CreateRefundParams {
        payment_intent: pi.into(),
        amount: Some(amount),
        kind: RefundKind::Refund,
        reason: None,
        metadata: Metadata::new(),
    }
}

#[tokio::test]
async fn webhooks_settle_pending_refunds_and_processor_challenges_once() {
    for db in databases().await {
        let mut svc = services(&db.store);
        svc.allow_live_mode();
        svc.set_connectors(Connectors::new().register(Arc::new(FakeConnector)));
        let m = svc.create_merchant("Live Shop").await.unwrap();
        let live = Scope::live(&m.id);
        let account = svc
            .processors()
            .add_account(
                &live,
                AccountParams {
                    connector: "fake".into(),
                    credentials: [("secret_key".to_string(), "fk_live_1".to_string())].into(),
                },
            )
            .await
            .unwrap();
        let account = account["id"].as_str().unwrap().to_string();
        let payments = svc.payments();
        let usd = Currency::parse("usd").unwrap();
        let intent = |amount: i64| CreateIntentParams {
            amount,
            currency: Some(usd),
            ..Default::default()
        };

        // A live payment through the account, and a refund that answers pending.
        let pi = payments
            .create_intent(&live, intent(1000), None)
            .await
            .unwrap();
        let pi = payments
            .confirm_intent(&live, &pi.id, card(), None)
            .await
            .unwrap();
        assert_eq!(pi.status, IntentStatus::Succeeded);
        assert_eq!(pi.processor_account.as_deref(), Some(account.as_str()));
        let r = payments
            .create_refund(&live, refund(&pi.id, 300), None)
            .await
            .unwrap();
        assert_eq!(r.status, RefundStatus::Pending);
        let refund_ref = r.processor_ref.clone().unwrap();

        // Unsigned: refused, nothing changes. Unknown account: refused.
        let unsigned = svc
            .processors()
            .handle_webhook(
                &account,
                &http::HeaderMap::new(),
                format!("refund_succeeded {refund_ref}").as_bytes(),
            )
            .await;
        assert!(matches!(
            unsigned,
            Err(WebhookRefused::Invalid(WebhookError::BadSignature))
        ));
        assert!(matches!(
            svc.processors()
                .handle_webhook("pa_nope", &signed(), b"x y")
                .await,
            Err(WebhookRefused::UnknownAccount)
        ));
        assert_eq!(
            payments.refund(&live, &r.id).await.unwrap().status,
            RefundStatus::Pending
        );

        // Signed: the refund succeeds with its event; the same webhook again changes nothing.
        let body = format!("refund_succeeded {refund_ref}");
        let applied = svc
            .processors()
            .handle_webhook(&account, &signed(), body.as_bytes())
            .await
            .unwrap();
        assert_eq!(applied, WebhookApplied::Settled(r.id.clone()));
        assert_eq!(
            payments.refund(&live, &r.id).await.unwrap().status,
            RefundStatus::Succeeded
        );
        let again = svc
            .processors()
            .handle_webhook(&account, &signed(), body.as_bytes())
            .await
            .unwrap();
        assert_eq!(again, WebhookApplied::Ignored);
        let events = db
            .store
            .list_events(&live, 100, None)
            .await
            .unwrap()
            .unwrap();
        let succeeded: Vec<_> = events
            .iter()
            .filter(|e| {
                e.event_type.as_str() == "refund.succeeded" && e.object["id"] == r.id.as_str()
            })
            .collect();
        assert_eq!(succeeded.len(), 1);
        assert!(succeeded[0].livemode);

        // A pending refund that fails gives its amount back.
        let r2 = payments
            .create_refund(&live, refund(&pi.id, 200), None)
            .await
            .unwrap();
        assert_eq!(
            payments
                .intent(&live, &pi.id)
                .await
                .unwrap()
                .amount_refunded,
            500
        );
        let body = format!("refund_failed {}", r2.processor_ref.clone().unwrap());
        svc.processors()
            .handle_webhook(&account, &signed(), body.as_bytes())
            .await
            .unwrap();
        assert_eq!(
            payments.refund(&live, &r2.id).await.unwrap().status,
            RefundStatus::Failed
        );
        assert_eq!(
            payments
                .intent(&live, &pi.id)
                .await
                .unwrap()
                .amount_refunded,
            300
        );

        // 3-D Secure at the processor: the customer finished it there; the webhook settles it.
        let challenged = payments
            .create_intent(&live, intent(CHALLENGED), None)
            .await
            .unwrap();
        let challenged = payments
            .confirm_intent(&live, &challenged.id, card(), None)
            .await
            .unwrap();
        assert_eq!(challenged.status, IntentStatus::RequiresAction);
        let attempt = db
            .store
            .open_attempt(&challenged.id)
            .await
            .unwrap()
            .unwrap();
        let body = format!("payment_succeeded {}", attempt.processor_ref.unwrap());
        let applied = svc
            .processors()
            .handle_webhook(&account, &signed(), body.as_bytes())
            .await
            .unwrap();
        assert_eq!(applied, WebhookApplied::Settled(challenged.id.clone()));
        let now = payments.intent(&live, &challenged.id).await.unwrap();
        assert_eq!(now.status, IntentStatus::Succeeded);
        assert_eq!(now.amount_received, CHALLENGED);
        let again = svc
            .processors()
            .handle_webhook(&account, &signed(), body.as_bytes())
            .await
            .unwrap();
        assert_eq!(again, WebhookApplied::Ignored);

        // The account's webhooks never touch the merchant's test data: a test payment's
        // reference is not this account's.
        let test = Scope::test(&m.id);
        let tpi = payments
            .create_intent(&test, intent(CHALLENGED), None)
            .await
            .unwrap();
        let mut three_ds = card();
        three_ds.method = PaymentMethodInput::TestToken("pm_card_threeDSecureRequired".into());
        let tpi = payments
            .confirm_intent(&test, &tpi.id, three_ds, None)
            .await
            .unwrap();
        assert_eq!(
            tpi.status,
            IntentStatus::RequiresAction,
            "the sandbox's 3-D Secure"
        );
        let tattempt = db.store.open_attempt(&tpi.id).await.unwrap().unwrap();
        let body = format!("payment_succeeded {}", tattempt.processor_ref.unwrap());
        let applied = svc
            .processors()
            .handle_webhook(&account, &signed(), body.as_bytes())
            .await
            .unwrap();
        assert_eq!(applied, WebhookApplied::Ignored);
        assert_eq!(
            payments.intent(&test, &tpi.id).await.unwrap().status,
            IntentStatus::RequiresAction
        );
        drop_db(db).await;
    }
}
