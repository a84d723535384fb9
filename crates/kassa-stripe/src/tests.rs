//! Unit tests of the connector's configuration and of how PaymentIntents read as outcomes.
//! The requests themselves are tested against localstripe in `tests/localstripe.rs`.

use std::time::Duration;

use kassa_egress::EgressPolicy;
use kassa_processor::{
    AuthorizeOutcome, ChallengeStep, ConnectorEnv, Connectors, Credentials, Decline, ProcessorError,
};

use super::*;
use crate::processor::SDK_STATE;
use crate::types::PaymentIntent;

fn egress() -> EgressClient {
    EgressClient::new(EgressPolicy::public_only(), Duration::from_secs(1), "test").unwrap()
}

fn connector(config: StripeConfig) -> StripeConnector {
    StripeConnector::new(egress(), config)
}

fn stripe_config() -> StripeConfig {
    StripeConfig {
        return_url: Some("https://kassa.example/return/{attempt_id}".into()),
        ..StripeConfig::default()
    }
}

const TEST: ConnectorEnv = ConnectorEnv { livemode: false };
const LIVE: ConnectorEnv = ConnectorEnv { livemode: true };

fn creds(key: &str) -> Credentials {
    Credentials::new().with("secret_key", key)
}

fn build_error(c: &StripeConnector, creds: &Credentials, env: ConnectorEnv) -> String {
    let registry = Connectors::new().register(Arc::new(c.clone()));
    registry.build(NAME, creds, env).err().unwrap().to_string()
}

#[test]
fn the_registry_builds_stripe_from_valid_credentials() {
    let registry = Connectors::new().register(Arc::new(connector(stripe_config())));
    assert_eq!(registry.names(), vec!["sandbox", "stripe"]);
    let p = registry
        .build(
            NAME,
            &creds("sk_test_123").with("webhook_secret", "whsec_abc"),
            TEST,
        )
        .unwrap();
    assert_eq!(p.name(), "stripe");
    assert_eq!(p.capabilities(), CAPABILITIES);
    assert_eq!(p.credential_schema(), CREDENTIAL_SCHEMA);
    registry.build(NAME, &creds("sk_live_123"), LIVE).unwrap();
}

#[test]
fn credentials_are_refused_with_readable_errors() {
    let c = connector(stripe_config());
    assert_eq!(
        build_error(&c, &Credentials::new(), TEST),
        "stripe needs `secret_key` starting with sk_"
    );
    assert_eq!(
        build_error(&c, &creds("pk_test_123"), TEST),
        "stripe needs `secret_key` starting with sk_"
    );
    assert_eq!(
        build_error(&c, &creds("sk_test_1").with("webhook_secret", "nope"), TEST),
        "stripe needs `webhook_secret` starting with whsec_"
    );
    assert_eq!(
        build_error(&c, &creds("sk_live_123"), TEST),
        "stripe: test mode needs a test secret key (sk_test_…)"
    );
    let err = build_error(&c, &creds("sk_test_123"), LIVE);
    assert_eq!(err, "stripe: live mode needs a live secret key (sk_live_…)");
    assert!(!err.contains("123"));
}

#[test]
fn localstripe_compat_is_accepted_only_for_a_loopback_fake() {
    let c = connector(StripeConfig {
        base_url: "http://127.0.0.1:8420".into(),
        compat: Compat::Localstripe,
        ..StripeConfig::default()
    });
    for (key, env) in [("sk_test_1", TEST), ("sk_live_1", LIVE)] {
        Connectors::new()
            .register(Arc::new(c.clone()))
            .build(NAME, &creds(key), env)
            .unwrap();
    }
    for base in [
        "https://api.stripe.com",
        "http://10.0.0.5:8420",
        "http://localhost.example:8420",
    ] {
        let remote = connector(StripeConfig {
            base_url: base.into(),
            compat: Compat::Localstripe,
            ..StripeConfig::default()
        });
        assert_eq!(
            build_error(&remote, &creds("sk_live_1"), LIVE),
            "stripe: the localstripe compatibility setting needs a loopback base_url (a local fake)",
            "{base}"
        );
    }
}

#[test]
fn real_stripe_needs_https_and_a_return_url() {
    let plain = connector(StripeConfig {
        base_url: "http://api.stripe.com".into(),
        ..stripe_config()
    });
    assert_eq!(
        build_error(&plain, &creds("sk_test_1"), TEST),
        "stripe: base_url must be https"
    );
    let no_return = connector(StripeConfig::default());
    assert_eq!(
        build_error(&no_return, &creds("sk_test_1"), TEST),
        "stripe: a return_url is needed for 3-D Secure redirects"
    );
}

fn processor(compat: Compat) -> StripeProcessor {
    StripeProcessor::new(
        egress(),
        StripeConfig {
            compat,
            ..stripe_config()
        },
        "sk_test_secret_value",
        Some("whsec_secret_value"),
        false,
    )
}

fn pi(json: &str) -> PaymentIntent {
    serde_json::from_str(json).unwrap()
}

#[test]
fn payment_intents_read_as_outcomes() {
    let p = processor(Compat::Stripe);
    for status in ["succeeded", "requires_capture"] {
        assert_eq!(
            p.outcome_of(&pi(&format!(r#"{{"id":"pi_1","status":"{status}"}}"#)))
                .unwrap(),
            AuthorizeOutcome::Approved {
                processor_ref: "pi_1".into()
            }
        );
    }
    let redirect = pi(
        r#"{"id":"pi_2","status":"requires_action","next_action":{"type":"redirect_to_url","redirect_to_url":{"url":"https://hooks.stripe.com/3d_secure_2/x","return_url":"https://k"}}}"#,
    );
    match p.outcome_of(&redirect).unwrap() {
        AuthorizeOutcome::ChallengeRequired {
            processor_ref,
            challenge_state,
        } => {
            assert_eq!(processor_ref, "pi_2");
            assert_eq!(
                ChallengeStep::of(&challenge_state),
                ChallengeStep::Redirect {
                    url: "https://hooks.stripe.com/3d_secure_2/x"
                }
            );
        }
        other => panic!("{other:?}"),
    }
    let failed = pi(
        r#"{"id":"pi_3","status":"requires_payment_method","last_payment_error":{"code":"payment_intent_authentication_failure","message":"m"}}"#,
    );
    assert_eq!(
        p.outcome_of(&failed).unwrap(),
        AuthorizeOutcome::Declined(Decline::authentication_failed())
    );
    assert!(matches!(
        p.outcome_of(&pi(r#"{"id":"pi_4","status":"processing"}"#)),
        Err(ProcessorError::Unknown(_))
    ));
    assert_eq!(
        p.outcome_of(&pi(r#"{"id":"pi_5","status":"requires_confirmation"}"#))
            .unwrap(),
        AuthorizeOutcome::Declined(Decline::processing_error())
    );
}

#[test]
fn the_sdk_step_is_hosted_by_kassa_under_localstripe_only() {
    let sdk = pi(
        r#"{"id":"pi_6","status":"requires_action","next_action":{"type":"use_stripe_sdk","use_stripe_sdk":{"type":"three_d_secure_redirect"}}}"#,
    );
    assert_eq!(
        processor(Compat::Localstripe).outcome_of(&sdk).unwrap(),
        AuthorizeOutcome::ChallengeRequired {
            processor_ref: "pi_6".into(),
            challenge_state: SDK_STATE.into()
        }
    );
    assert_eq!(ChallengeStep::of(SDK_STATE), ChallengeStep::Kassa);
    assert!(matches!(
        processor(Compat::Stripe).outcome_of(&sdk),
        Err(ProcessorError::Rejected(_))
    ));
}

#[test]
fn debug_output_hides_keys_and_secrets() {
    let shown = format!("{:?}", processor(Compat::Stripe));
    assert!(!shown.contains("secret_value"), "{shown}");
    let c = format!("{:?}", creds("sk_test_secret_value"));
    assert!(!c.contains("secret_value"), "{c}");
}

#[test]
fn refunds_read_as_done_pending_or_refused() {
    use crate::processor::refund_outcome;
    use kassa_processor::RefundOutcome;
    let refund = |status: &str| {
        serde_json::from_str::<crate::types::Refund>(&format!(
            r#"{{"id":"re_1","status":"{status}","failure_reason":"expired_or_canceled_card"}}"#
        ))
        .unwrap()
    };
    assert_eq!(
        refund_outcome(refund("succeeded")).unwrap(),
        RefundOutcome::Succeeded("re_1".into())
    );
    for status in ["pending", "requires_action"] {
        assert_eq!(
            refund_outcome(refund(status)).unwrap(),
            RefundOutcome::Pending("re_1".into())
        );
    }
    for status in ["failed", "canceled"] {
        match refund_outcome(refund(status)) {
            Err(ProcessorError::Rejected(m)) => assert!(m.contains("expired_or_canceled_card")),
            other => panic!("{other:?}"),
        }
    }
}
