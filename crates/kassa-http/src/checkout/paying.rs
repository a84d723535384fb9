//! Paying from the card form (`POST /checkout/{token}/pay`): the form and its checks, the
//! one-time idempotency key it carries, the confirmation, and the form again (every field but
//! the CVC kept) after a decline or a format error.

use super::*;

/// A form submission holds its idempotency key at most this long if its process dies.
const IDEM_LOCK_MS: i64 = 60_000;
/// Same retention as the native API's keys: long enough for any back-button resubmit.
const IDEM_RETENTION_MS: i64 = 24 * 3600 * 1000;

/// The card form. Field names are the page's contract with its tests and with `checkout.js`.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct PayForm {
    pub(crate) csrf: String,
    pub(crate) nonce: String,
    pub(crate) number: String,
    pub(crate) exp: String,
    pub(crate) cvc: String,
    #[serde(default)]
    pub(crate) name: String,
    /// The "save this card" box, present only when ticked.
    #[serde(default)]
    pub(crate) save: Option<String>,
}

impl CsrfForm for PayForm {
    fn csrf(&self) -> &str {
        &self.csrf
    }
}

pub(super) async fn pay(
    State(st): State<AppState>,
    headers: HeaderMap,
    RawQuery(query): RawQuery,
    path: Result<Path<String>, PathRejection>,
    form: Result<Form<PayForm>, FormRejection>,
) -> Response {
    let flow = Flow::new(&headers, query.as_deref());
    let lang = flow.lang;
    let Some(token) = checkout_token(path) else {
        return not_found(lang);
    };
    let back = format!("/checkout/{token}{}", flow.q());
    let (form, secret) = match checked_form(
        &st,
        &headers,
        form,
        &back,
        &csrf_scope_checkout(&token),
        lang,
    ) {
        Ok(ok) => ok,
        Err(resp) => return resp,
    };
    let pi = match load_by_token(&st, &token, flow).await {
        Ok(pi) => pi,
        Err(resp) => return resp,
    };
    if pi.status != IntentStatus::RequiresPaymentMethod {
        // Paid, pending or canceled meanwhile: the page says which.
        return see_other(&back);
    }
    if !is_valid_nonce(&form.nonce) {
        return bad_request(lang, &back);
    }
    let method = match parse_card_in(&form, now_ms(), lang) {
        Ok(m) => m,
        Err(errors) => {
            let mut input = kept_fields(&form);
            if errors.number.is_some() {
                // A number the form refused is typed again, never echoed.
                input.number.clear();
            }
            input.errors = errors;
            let page = checkout_page(&st, &pi, &secret, input, flow).await;
            return no_store(html(StatusCode::BAD_REQUEST, &page));
        }
    };
    // What a decline re-renders; the CVC now lives only in `method`: drop the raw text at once.
    let kept = kept_fields(&form);
    // An optional save the customer did not tick is refused; a required one (off_session) was
    // stated on the form they paid with.
    let save = if pi.setup_future_usage == Some(SetupFutureUsage::OnSession) && form.save.is_none()
    {
        SaveChoice::Refused
    } else {
        SaveChoice::AsAsked
    };
    let key = format!("checkout:{}", form.nonce);
    drop(form);

    let hash = hex::encode(Sha256::digest(token.as_bytes()));
    match st
        .svc
        .store
        .idempotency_begin(
            &pi.scope(),
            &key,
            &hash,
            now_ms(),
            IDEM_LOCK_MS,
            IDEM_RETENTION_MS,
        )
        .await
    {
        Ok(IdemBegin::Proceed) => {}
        // Already submitted (or being submitted right now): show where things stand.
        Ok(_) => return see_other(&back),
        Err(e) => return internal(lang, Some(&back), &e),
    }
    let idem = Idem {
        scope: pi.scope(),
        key: key.clone(),
    };
    let result = st
        .svc
        .payments()
        .confirm_intent(
            &pi.scope(),
            &pi.id,
            ConfirmParams {
                method,
                return_url: None,
                three_d_secure: false,
                save,
            },
            Some(&idem),
        )
        .await;
    let store = &st.svc.store;
    let location = match result {
        Ok(done) => match (&done.status, &done.next_action) {
            (IntentStatus::RequiresAction, Some(a)) => flow.url(&a.redirect_to_url.url),
            _ => back.clone(),
        },
        // A decline: the form again, every field but the CVC kept, with the decline's alert.
        // (A resubmission of this POST finds its key taken and is sent to the page.)
        Err(ServiceError::Declined { .. }) => {
            if let Err(e) = store
                .idempotency_complete(&pi.scope(), &key, 303, &back)
                .await
            {
                tracing::warn!(error = %e, "could not complete a checkout idempotency key");
            }
            return match load_by_token(&st, &token, flow).await {
                Ok(pi) if pi.status == IntentStatus::RequiresPaymentMethod => {
                    let page = checkout_page(&st, &pi, &secret, kept, flow).await;
                    no_store(html(StatusCode::OK, &page))
                }
                _ => see_other(&back),
            };
        }
        // The intent was claimed by someone else: the page says where it stands.
        Err(ServiceError::State(_) | ServiceError::Conflict) => back.clone(),
        Err(e) => {
            // Nothing happened: let the same form be submitted again.
            if let Err(re) = store.idempotency_release(&pi.scope(), &key).await {
                tracing::warn!(error = %re, "could not release a checkout idempotency key");
            }
            return match e {
                ServiceError::NotFound { .. } => not_found(lang),
                ServiceError::Invalid { .. } => bad_request(lang, &back),
                other => internal(lang, Some(&back), &other),
            };
        }
    };
    // A no-op when the confirmation already completed the key in its own transaction.
    if let Err(e) = store
        .idempotency_complete(&pi.scope(), &key, 303, &location)
        .await
    {
        tracing::warn!(error = %e, "could not complete a checkout idempotency key");
    }
    see_other(&location)
}

/// The fields a re-rendered form keeps: all but the CVC, trimmed to what the form allows.
fn kept_fields(form: &PayForm) -> FormInput {
    FormInput {
        number: form.number.chars().take(23).collect(),
        exp: form.exp.chars().take(10).collect(),
        name: form.name.trim().chars().take(MAX_NAME_CHARS).collect(),
        save: form.save.is_some(),
        errors: FieldErrors::default(),
    }
}

/// A page that echoes typed card data must not be kept by any cache.
fn no_store(mut resp: Response) -> Response {
    resp.headers_mut()
        .insert(CACHE_CONTROL, HeaderValue::from_static("no-store"));
    resp
}

pub(crate) fn is_valid_nonce(n: &str) -> bool {
    (16..=64).contains(&n.len()) && n.bytes().all(|b| b.is_ascii_alphanumeric())
}
