//! Authorizing at Stripe: the card (or test token) becomes a PaymentMethod, a card saved for
//! renewals gets a customer, and a PaymentIntent is created and confirmed at once under an
//! `Idempotency-Key` derived from Kassa's attempt id.

use kassa_core::card::{validate_cvc, CardNumber, Expiry};
use kassa_processor::{
    idempotency_key, test_token_card, test_tokens, AuthorizeOutcome, AuthorizeRequest, Decline,
    PaymentMethodDetails, PaymentMethodInput, ProcessorError,
};

use crate::client::Form;
use crate::processor::{declined, judged, processor_error, Judged, ATTEMPT_KEY};
use crate::types::{Object, PaymentIntent};
use crate::StripeProcessor;

/// Expiry given to test tokens' cards, as the sandbox does.
const TOKEN_EXPIRY: Expiry = Expiry {
    month: 12,
    year: 2034,
};

/// Where the payment method of an authorization comes from.
pub(crate) enum Source<'a> {
    /// A Stripe test token, sent as is.
    Token(&'a str),
    /// A card number, turned into a PaymentMethod first.
    Card {
        number: &'a str,
        expiry: Expiry,
        cvc: &'a str,
        holder_name: Option<&'a str>,
    },
}

/// A Stripe answer: the object, a decline, or a failure to judge at all.
impl StripeProcessor {
    /// Turns a card into a PaymentMethod. The form holds the card number; it lives for this
    /// one request and is never logged.
    async fn create_payment_method(&self, source: &Source<'_>, attempt_id: &str) -> Judged<String> {
        let id = match source {
            Source::Token(token) => return Ok(Ok(token.to_string())),
            Source::Card {
                number,
                expiry,
                cvc,
                holder_name,
            } => {
                let form = Form::new()
                    .set("type", "card")
                    .set("card[number]", *number)
                    .set("card[exp_month]", expiry.month.to_string())
                    .set("card[exp_year]", expiry.year.to_string())
                    .set("card[cvc]", *cvc)
                    .set_opt("billing_details[name]", *holder_name);
                let key = idempotency_key("payment_method", &[attempt_id]);
                let pm: Result<Object, _> = self
                    .client
                    .post("/v1/payment_methods", &form, Some(&key))
                    .await;
                match judged(pm)? {
                    Ok(pm) => pm.id,
                    Err(d) => return Ok(Err(d)),
                }
            }
        };
        Ok(Ok(id))
    }

    /// A customer for a card saved for renewals; under localstripe the card is attached to it
    /// here (Stripe attaches it through `setup_future_usage` when the payment succeeds).
    async fn customer_for(&self, pm: &str, attempt_id: &str) -> Judged<String> {
        let form = Form::new().set(&format!("metadata[{ATTEMPT_KEY}]"), attempt_id);
        let key = idempotency_key("customer", &[attempt_id]);
        let customer: Object = self
            .client
            .post("/v1/customers", &form, Some(&key))
            .await
            .map_err(processor_error)?;
        if self.localstripe() {
            let form = Form::new().set("customer", customer.id.as_str());
            let key = idempotency_key("attach", &[attempt_id]);
            let attached: Result<Object, _> = self
                .client
                .post(
                    &format!("/v1/payment_methods/{pm}/attach"),
                    &form,
                    Some(&key),
                )
                .await;
            if let Err(d) = judged(attached)? {
                return Ok(Err(d));
            }
        }
        Ok(Ok(customer.id))
    }

    /// What to send for this method, and what to store about it.
    pub(crate) fn source<'a>(
        &self,
        req: &'a AuthorizeRequest<'a>,
    ) -> Result<(PaymentMethodDetails, Result<Source<'a>, Decline>), ProcessorError> {
        match req.method {
            PaymentMethodInput::Card {
                number,
                expiry,
                cvc,
                holder_name,
            } => {
                let details = PaymentMethodDetails::for_card(number, *expiry, req.fingerprint_key);
                // Checked here as the sandbox does, so a bad card never reaches Stripe.
                if expiry.is_expired_at(req.now_year, req.now_month) {
                    return Ok((details, Err(Decline::expired_card())));
                }
                if validate_cvc(cvc, number.brand()).is_err() {
                    return Ok((details, Err(Decline::incorrect_cvc())));
                }
                // Real Stripe in test mode: a sandbox test card goes as Stripe's test token,
                // so no raw number is sent where none is needed.
                let token = (!self.livemode && !self.localstripe())
                    .then(|| {
                        test_tokens()
                            .iter()
                            .find(|t| test_token_card(t) == Some(number.digits()))
                    })
                    .flatten();
                let source = match token {
                    Some(token) => Source::Token(token),
                    None => Source::Card {
                        number: number.digits(),
                        expiry: *expiry,
                        cvc,
                        holder_name: holder_name.as_deref(),
                    },
                };
                Ok((details, Ok(source)))
            }
            PaymentMethodInput::TestToken(token) => {
                let digits = test_token_card(token)
                    .filter(|_| !self.livemode)
                    .ok_or_else(|| ProcessorError::UnknownToken(token.clone()))?;
                let card = CardNumber::parse(digits).map_err(|_| ProcessorError::InvalidState)?;
                let details =
                    PaymentMethodDetails::for_card(&card, TOKEN_EXPIRY, req.fingerprint_key);
                let source = if self.localstripe() {
                    // localstripe knows only a few tokens; the public test number it knows.
                    Source::Card {
                        number: digits,
                        expiry: TOKEN_EXPIRY,
                        cvc: "123",
                        holder_name: None,
                    }
                } else {
                    Source::Token(token)
                };
                Ok((details, Ok(source)))
            }
            _ => Err(ProcessorError::Rejected(
                "the Stripe connector takes cards only".into(),
            )),
        }
    }

    pub(crate) async fn authorize_with(
        &self,
        req: &AuthorizeRequest<'_>,
        source: Source<'_>,
    ) -> Result<AuthorizeOutcome, ProcessorError> {
        let pm = match self.create_payment_method(&source, req.attempt_id).await? {
            Ok(pm) => pm,
            Err(d) => return Ok(declined(d)),
        };
        let customer = if req.save_method {
            match self.customer_for(&pm, req.attempt_id).await? {
                Ok(c) => Some(c),
                Err(d) => return Ok(declined(d)),
            }
        } else {
            None
        };
        let capture_method = if req.capture { "automatic" } else { "manual" };
        let mut form = Form::new()
            .set("amount", req.amount.amount.to_string())
            .set("currency", req.amount.currency.code().to_ascii_lowercase())
            .set("payment_method", pm.as_str())
            .set("confirm", "true")
            .set("capture_method", capture_method)
            .set(&format!("metadata[{ATTEMPT_KEY}]"), req.attempt_id)
            .set_opt("customer", customer.clone());
        if req.three_d_secure {
            form = form.set(
                "payment_method_options[card][request_three_d_secure]",
                "any",
            );
        }
        if !self.localstripe() {
            form = form.set("payment_method_types[0]", "card");
            if customer.is_some() {
                form = form.set("setup_future_usage", "off_session");
            }
            if let Some(url) = &self.config.return_url {
                form = form.set("return_url", url.replace("{attempt_id}", req.attempt_id));
            }
        }
        let key = idempotency_key("authorize", &[req.attempt_id]);
        let pi: Result<PaymentIntent, _> = self
            .client
            .post("/v1/payment_intents", &form, Some(&key))
            .await;
        match judged(pi)? {
            Ok(pi) => self.outcome_of(&pi),
            Err(d) => Ok(declined(d)),
        }
    }
}
