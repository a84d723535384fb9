//! The simulated issuer's 3-D Secure page: the cardholder approves or fails the challenge, and
//! is sent back to the checkout, which shows the outcome.

use super::*;
use kassa_core::intent::AttemptStatus;

pub(super) async fn challenge_page(
    State(st): State<AppState>,
    headers: HeaderMap,
    RawQuery(query): RawQuery,
    path: Result<Path<String>, PathRejection>,
) -> Response {
    let flow = Flow::new(&headers, query.as_deref());
    let lang = flow.lang;
    let Some(attempt_id) = attempt_id(path) else {
        return not_found(lang);
    };
    let here = format!("/sandbox/3ds/{attempt_id}{}", flow.q());
    let (pi, attempt) = match st.svc.payments().challenge(&attempt_id).await {
        Ok(found) => found,
        Err(ServiceError::NotFound { .. }) => return not_found(lang),
        Err(e) => return internal(lang, Some(&here), &e),
    };
    if attempt.status != AttemptStatus::RequiresAction {
        return see_other(&format!("/checkout/{}{}", pi.checkout_token, flow.q()));
    }
    // A challenge at the processor (3-D Secure hosted by Stripe): the customer goes there and
    // comes back to `/checkout/processor_return/{attempt}`.
    if let kassa_processor::ChallengeStep::Redirect { url } =
        kassa_processor::ChallengeStep::of(attempt.challenge_state.as_deref().unwrap_or_default())
    {
        if url.starts_with("https://") {
            return see_other(url);
        }
        return internal(
            lang,
            Some(&here),
            &ServiceError::Processor("a challenge URL that is not https".into()),
        );
    }
    let (secret, fresh) = cookie_secret(&headers);
    let (merchant, brand) = merchant_look(&st, &pi.merchant_id, lang).await;
    let page = ChallengePage {
        lang,
        q: flow.q(),
        title: lang.text("checkout.bank_title").to_string(),
        refresh: None,
        merchant,
        brand,
        amount: lang.money(pi.amount, pi.currency.code()),
        card: view::card_label(
            attempt.payment_method.as_deref(),
            lang.text("checkout.card_generic"),
        ),
        csrf: csrf::form_token(&st.csrf_key, &secret, &csrf_scope_3ds(&attempt_id)),
        attempt_id,
    };
    with_cookie(html(StatusCode::OK, &page), &st, fresh.then_some(&secret))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct ChallengeForm {
    csrf: String,
    action: String,
}

pub(super) async fn challenge_answer(
    State(st): State<AppState>,
    headers: HeaderMap,
    RawQuery(query): RawQuery,
    path: Result<Path<String>, PathRejection>,
    form: Result<Form<ChallengeForm>, FormRejection>,
) -> Response {
    let flow = Flow::new(&headers, query.as_deref());
    let lang = flow.lang;
    let Some(attempt_id) = attempt_id(path) else {
        return not_found(lang);
    };
    let back = format!("/sandbox/3ds/{attempt_id}{}", flow.q());
    let (form, _) = match checked_form(
        &st,
        &headers,
        form,
        &back,
        &csrf_scope_3ds(&attempt_id),
        lang,
    ) {
        Ok(ok) => ok,
        Err(resp) => return resp,
    };
    let approve = match form.action.as_str() {
        "approve" => true,
        "fail" => false,
        _ => return bad_request(lang, &back),
    };
    let checkout = |pi: &PaymentIntent| format!("/checkout/{}{}", pi.checkout_token, flow.q());
    match st
        .svc
        .payments()
        .complete_challenge(&attempt_id, approve)
        .await
    {
        Ok(pi) => see_other(&checkout(&pi)),
        Err(ServiceError::NotFound { .. }) => not_found(lang),
        // Answered concurrently (another tab, a double click): show the outcome.
        Err(ServiceError::State(_) | ServiceError::Conflict) => {
            match st.svc.payments().challenge(&attempt_id).await {
                Ok((pi, _)) => see_other(&checkout(&pi)),
                Err(e) => internal(lang, Some(&back), &e),
            }
        }
        Err(e) => internal(lang, Some(&back), &e),
    }
}

/// Where the processor sends the customer back after a challenge it hosted (3-D Secure at
/// Stripe). Kassa does not trust the query the processor adds: the connector asks the
/// processor how the challenge ended, and the checkout shows the outcome.
pub(super) async fn processor_return(
    State(st): State<AppState>,
    headers: HeaderMap,
    path: Result<Path<String>, PathRejection>,
) -> Response {
    let flow = Flow::new(&headers, None);
    let lang = flow.lang;
    let Some(attempt_id) = attempt_id(path) else {
        return not_found(lang);
    };
    let checkout = |pi: &PaymentIntent| format!("/checkout/{}{}", pi.checkout_token, flow.q());
    let (pi, attempt) = match st.svc.payments().challenge(&attempt_id).await {
        Ok(found) => found,
        Err(ServiceError::NotFound { .. }) => return not_found(lang),
        Err(e) => return internal(lang, None, &e),
    };
    let at_processor = matches!(
        kassa_processor::ChallengeStep::of(attempt.challenge_state.as_deref().unwrap_or_default()),
        kassa_processor::ChallengeStep::Redirect { .. }
    );
    if attempt.status != AttemptStatus::RequiresAction || !at_processor {
        return see_other(&checkout(&pi));
    }
    match st
        .svc
        .payments()
        .complete_challenge(&attempt_id, true)
        .await
    {
        Ok(pi) => see_other(&checkout(&pi)),
        Err(ServiceError::NotFound { .. }) => not_found(lang),
        // Declined after the challenge, or answered meanwhile: the checkout shows the outcome.
        Err(ServiceError::Declined { .. } | ServiceError::State(_) | ServiceError::Conflict) => {
            see_other(&checkout(&pi))
        }
        Err(e) => internal(lang, None, &e),
    }
}

impl CsrfForm for ChallengeForm {
    fn csrf(&self) -> &str {
        &self.csrf
    }
}

fn csrf_scope_3ds(attempt_id: &str) -> String {
    format!("3ds:{attempt_id}")
}

fn attempt_id(path: Result<Path<String>, PathRejection>) -> Option<String> {
    let Path(id) = path.ok()?;
    is_valid_id(&id, prefix::PAYMENT_ATTEMPT).then_some(id)
}
