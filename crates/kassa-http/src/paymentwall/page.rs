//! The payment page (`/pw/orders/{id}`) and its forms: the method's form (`pay`) and the
//! answer on a method's own step (`action`), each guarded by the order's form token.

use axum::extract::rejection::FormRejection;
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::Response;
use axum::Form;
use kassa_core::intent::AttemptStatus;
use kassa_core::intent::IntentStatus;
use kassa_paymentwall::methods::MethodKind;
use kassa_processor::{ChallengeResult, PaymentMethodInput};
use kassa_service::paymentwall::{OrderView, PendingVoucher};
use kassa_service::{Idem, ServiceError};
use kassa_store::{now_ms, IdemBegin};
use serde::Deserialize;

use super::view::{field_message, Kept, Mode, OrderPage};
use super::{form_error, internal, not_found, page_response, see_other};
use crate::checkout::{is_valid_nonce, parse_card, PayForm};
use crate::lang::{page_lang, Lang};
use crate::AppState;

const IDEM_LOCK_MS: i64 = 60_000;
const IDEM_RETENTION_MS: i64 = 24 * 3600 * 1000;

fn form_token(st: &AppState, order_id: &str) -> String {
    hex::encode(kassa_core::secret::hmac_sha256(
        &st.csrf_key,
        format!("pw order {order_id}").as_bytes(),
    ))
}

fn token_ok(st: &AppState, order_id: &str, token: &str) -> bool {
    kassa_core::secret::constant_time_eq(form_token(st, order_id).as_bytes(), token.as_bytes())
}

fn order_id(id: &str) -> Option<&str> {
    kassa_core::ids::is_valid_id(id, kassa_service::paymentwall::ORDER_PREFIX).then_some(id)
}

/// The order, or the page saying why not (in the browser's language: the order's is unknown).
async fn load(st: &AppState, headers: &HeaderMap, id: &str) -> Result<OrderView, Response> {
    let lang = page_lang(headers, None);
    let Some(id) = order_id(id) else {
        return Err(not_found(lang));
    };
    match st.svc.paymentwall().order_view(id).await {
        Ok(v) => Ok(v),
        Err(ServiceError::NotFound { .. }) => Err(not_found(lang)),
        Err(e) => Err(internal(lang, &e)),
    }
}

/// The order's language: the link's `lang`, else the browser's, else English. Every page and
/// every answer to a form of the order reads it here, so a flow keeps one language.
fn order_lang(headers: &HeaderMap, view: &OrderView) -> Lang {
    page_lang(headers, view.lang.as_deref())
}

/// The project's look (each field from the project's branding, else the merchant's): display
/// name in place of the project's name, logo, accent theme. A failed read keeps the plain page.
async fn apply_branding(st: &AppState, view: &OrderView, page: &mut OrderPage) {
    let scope = kassa_service::branding::BrandScope::PwProject(view.project.row.id.clone());
    match st
        .svc
        .branding()
        .page_branding(&view.project.row.merchant_id, &scope)
        .await
    {
        Ok(look) => {
            if let Some(name) = look.display_name {
                page.title = page.title.replace(&page.project, &name);
                page.project = name;
            }
            page.brand = crate::checkout::view::Brand {
                logo: look.logo_path,
                theme: look.accent_color.map(crate::native::branding::theme_href),
            };
        }
        Err(e) => tracing::warn!(error = %e, "could not load the branding for a Paymentwall page"),
    }
}

#[derive(Deserialize)]
pub(super) struct ShowQuery {
    ps: Option<String>,
}

pub(super) async fn show(
    State(st): State<AppState>,
    Path(id): Path<String>,
    headers: HeaderMap,
    q: Result<Query<ShowQuery>, axum::extract::rejection::QueryRejection>,
) -> Response {
    let view = match load(&st, &headers, &id).await {
        Ok(v) => v,
        Err(r) => return r,
    };
    let lang = order_lang(&headers, &view);
    let chosen = q.ok().and_then(|Query(q)| q.ps);
    render(&st, lang, &view, chosen.as_deref(), StatusCode::OK, None).await
}

/// Renders the page for the order's current state.
async fn render(
    st: &AppState,
    lang: Lang,
    view: &OrderView,
    chosen: Option<&str>,
    status: StatusCode,
    field_error: Option<String>,
) -> Response {
    render_kept(st, lang, view, chosen, status, field_error, Kept::default()).await
}

/// [`render`], with the fields the payer typed echoed back into the form (after a decline or a
/// refused field, answering the same POST; never the CVC, and the response is `no-store`).
async fn render_kept(
    st: &AppState,
    lang: Lang,
    view: &OrderView,
    chosen: Option<&str>,
    status: StatusCode,
    field_error: Option<String>,
    kept: Kept,
) -> Response {
    let pi = &view.intent;
    let mode = match pi.status {
        IntentStatus::Succeeded => {
            let payment = match st.svc.paymentwall().payment_object(&view.order).await {
                Ok(p) => p,
                Err(e) => return internal(lang, &e),
            };
            Mode::Success {
                payment: payment.to_string(),
                success_url: view.success_url.clone(),
            }
        }
        IntentStatus::RequiresCapture => Mode::Review,
        IntentStatus::Canceled => Mode::Closed {
            failure_url: view.failure_url.clone(),
            reviewed: view.order.r#ref.is_some(),
        },
        IntentStatus::Processing => Mode::Processing,
        IntentStatus::RequiresAction => match st.svc.store.open_attempt(&pi.id).await {
            Ok(Some(attempt)) if attempt.status == AttemptStatus::RequiresAction => {
                let state = attempt.challenge_state.clone().unwrap_or_default();
                let kind = kassa_processor::challenge_kind(&state).unwrap_or("3ds");
                Mode::Action {
                    kind: kind.to_string(),
                    voucher: PendingVoucher::of(&attempt, pi.pay_before),
                }
            }
            Ok(_) => Mode::Processing,
            Err(e) => return internal(lang, &e),
        },
        IntentStatus::RequiresPaymentMethod => {
            let pick = chosen
                .and_then(|c| view.methods.iter().find(|m| m.id == c).copied())
                .or(view.preselected)
                .or_else(|| (view.methods.len() == 1).then(|| view.methods[0]));
            match pick {
                Some(m) => Mode::Form {
                    ps: m.id.to_string(),
                    kind: match m.kind {
                        MethodKind::Card => "card",
                        MethodKind::Wallet => "wallet",
                        MethodKind::BankRedirect => "bank",
                        MethodKind::Voucher => "voucher",
                        MethodKind::Test => "test",
                    }
                    .to_string(),
                    method_name: m.name.to_string(),
                    can_switch: view.methods.len() > 1 && view.preselected.is_none(),
                },
                None => Mode::Methods,
            }
        }
    };
    let decline = match (&mode, &pi.last_payment_error) {
        (Mode::Form { .. } | Mode::Methods, Some(e)) => {
            Some(lang.decline(&e.code, e.decline_code.as_deref(), &e.message))
        }
        _ => None,
    };
    let mut page = OrderPage::new(
        st,
        view,
        lang,
        mode,
        decline.or(field_error),
        form_token(st, &view.order.id),
    );
    if page.state == "form" {
        page.kept = kept;
    }
    apply_branding(st, view, &mut page).await;
    let fa = view
        .project
        .row
        .frame_ancestors
        .clone()
        .unwrap_or_else(|| "*".to_string());
    page_response(status, &page, &fa)
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct PwPayForm {
    token: String,
    nonce: String,
    ps: String,
    #[serde(default)]
    number: String,
    #[serde(default)]
    exp: String,
    #[serde(default)]
    cvc: String,
    #[serde(default)]
    name: String,
    #[serde(default)]
    phone: String,
    #[serde(default)]
    bank: String,
}

pub(super) async fn pay(
    State(st): State<AppState>,
    Path(id): Path<String>,
    headers: HeaderMap,
    form: Result<Form<PwPayForm>, FormRejection>,
) -> Response {
    let view = match load(&st, &headers, &id).await {
        Ok(v) => v,
        Err(r) => return r,
    };
    let lang = order_lang(&headers, &view);
    let back = format!("/pw/orders/{}", view.order.id);
    let Ok(Form(form)) = form else {
        return form_error(
            StatusCode::BAD_REQUEST,
            lang,
            &view.order.id,
            "pw.error.form_unreadable",
        );
    };
    if !token_ok(&st, &view.order.id, &form.token) || !is_valid_nonce(&form.nonce) {
        return form_error(
            StatusCode::FORBIDDEN,
            lang,
            &view.order.id,
            "pw.error.form_expired",
        );
    }
    if view.intent.status != IntentStatus::RequiresPaymentMethod {
        return see_other(&back);
    }
    let Some(system) = view.methods.iter().find(|m| m.id == form.ps).copied() else {
        return form_error(
            StatusCode::BAD_REQUEST,
            lang,
            &view.order.id,
            "pw.error.method_not_offered",
        );
    };
    let kept = Kept {
        number: form.number.chars().take(23).collect(),
        exp: form.exp.chars().take(10).collect(),
        name: form.name.trim().chars().take(100).collect(),
        phone: form.phone.trim().chars().take(20).collect(),
    };
    let method = match system.kind {
        MethodKind::Card => {
            let card = PayForm {
                csrf: String::new(),
                nonce: form.nonce.clone(),
                number: form.number.clone(),
                exp: form.exp.clone(),
                cvc: form.cvc.clone(),
                name: form.name.clone(),
                save: None,
            };
            match parse_card(&card, now_ms()) {
                Ok(m) => m,
                Err(errors) => {
                    let msg = [errors.number, errors.exp, errors.cvc, errors.name]
                        .into_iter()
                        .flatten()
                        .map(|m| field_message(lang, m))
                        .collect::<Vec<_>>()
                        .join(" ");
                    return render_kept(
                        &st,
                        lang,
                        &view,
                        Some(system.id),
                        StatusCode::BAD_REQUEST,
                        Some(msg),
                        kept,
                    )
                    .await;
                }
            }
        }
        MethodKind::Wallet => PaymentMethodInput::Wallet {
            phone: form.phone.trim().chars().take(32).collect(),
        },
        MethodKind::BankRedirect => PaymentMethodInput::BankRedirect {
            bank: form.bank.trim().chars().take(40).collect(),
        },
        MethodKind::Voucher => PaymentMethodInput::Voucher,
        MethodKind::Test => PaymentMethodInput::TestMethod,
    };
    let key = format!("pw:{}", form.nonce);
    drop(form);
    let merchant = view.order.scope();
    let hash = kassa_core::secret::hash_api_key(&view.order.id);
    match st
        .svc
        .store
        .idempotency_begin(
            &merchant,
            &key,
            &hash,
            now_ms(),
            IDEM_LOCK_MS,
            IDEM_RETENTION_MS,
        )
        .await
    {
        Ok(IdemBegin::Proceed) => {}
        Ok(_) => return see_other(&back),
        Err(e) => return internal(lang, &e),
    }
    let idem = Idem {
        scope: merchant.clone(),
        key: key.clone(),
    };
    let result = st
        .svc
        .paymentwall()
        .pay(&view, system.id, method, Some(&idem))
        .await;
    let declined = matches!(result, Err(ServiceError::Declined { .. }));
    match result {
        Ok(_)
        | Err(ServiceError::Declined { .. } | ServiceError::State(_) | ServiceError::Conflict) => {}
        Err(e) => {
            if let Err(re) = st.svc.store.idempotency_release(&merchant, &key).await {
                tracing::warn!(error = %re, "could not release a payment page idempotency key");
            }
            return match e {
                ServiceError::Invalid { message, .. } => {
                    render(
                        &st,
                        lang,
                        &view,
                        Some(system.id),
                        StatusCode::BAD_REQUEST,
                        Some(field_message(lang, &message)),
                    )
                    .await
                }
                // A live order the server cannot take: no processor account
                // (`processor_account_missing`), or live mode off here (`livemode_disabled`).
                // Nothing was written; the page says why, with the code for the merchant.
                ServiceError::LiveMode { code, message } => {
                    tracing::warn!(code, order = %view.order.id, "paymentwall live payment refused");
                    let status = if code == "livemode_disabled" {
                        StatusCode::FORBIDDEN
                    } else {
                        StatusCode::BAD_REQUEST
                    };
                    render(
                        &st,
                        lang,
                        &view,
                        Some(system.id),
                        status,
                        Some(format!("{message} ({code})")),
                    )
                    .await
                }
                other => internal(lang, &other),
            };
        }
    }
    if let Err(e) = st
        .svc
        .store
        .idempotency_complete(&merchant, &key, 303, &back)
        .await
    {
        tracing::warn!(error = %e, "could not complete a payment page idempotency key");
    }
    if declined {
        // The form again in answer to this POST, every field but the CVC kept.
        if let Ok(fresh) = load(&st, &headers, &id).await {
            if fresh.intent.status == IntentStatus::RequiresPaymentMethod {
                return render_kept(
                    &st,
                    lang,
                    &fresh,
                    Some(system.id),
                    StatusCode::OK,
                    None,
                    kept,
                )
                .await;
            }
        }
    }
    back_to_page(&st, &view, system.id).await
}

/// After the customer answered: the order page, which shows the outcome; after a decline, the
/// chosen method's form again (with the message).
async fn back_to_page(st: &AppState, view: &OrderView, ps: &str) -> Response {
    let back = format!("/pw/orders/{}", view.order.id);
    match st
        .svc
        .store
        .intent_by_id_any_merchant(&view.intent.id)
        .await
    {
        Ok(Some(pi)) if pi.status == IntentStatus::RequiresPaymentMethod => {
            see_other(&format!("{back}?ps={ps}"))
        }
        _ => see_other(&back),
    }
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct ActionForm {
    token: String,
    action: String,
    #[serde(default)]
    otp: String,
}

/// The customer's answer on a method's own step: 3-D Secure, wallet code, bank approval,
/// voucher paid in cash (sandbox).
pub(super) async fn action(
    State(st): State<AppState>,
    Path(id): Path<String>,
    headers: HeaderMap,
    form: Result<Form<ActionForm>, FormRejection>,
) -> Response {
    let view = match load(&st, &headers, &id).await {
        Ok(v) => v,
        Err(r) => return r,
    };
    let lang = order_lang(&headers, &view);
    let back = format!("/pw/orders/{}", view.order.id);
    let Ok(Form(form)) = form else {
        return form_error(
            StatusCode::BAD_REQUEST,
            lang,
            &view.order.id,
            "pw.error.form_unreadable",
        );
    };
    if !token_ok(&st, &view.order.id, &form.token) {
        return form_error(
            StatusCode::FORBIDDEN,
            lang,
            &view.order.id,
            "pw.error.form_expired",
        );
    }
    let result = match form.action.as_str() {
        "approve" => ChallengeResult::Approve,
        "fail" => ChallengeResult::Fail,
        "otp" => ChallengeResult::Otp(form.otp.trim().chars().take(12).collect()),
        _ => {
            return form_error(
                StatusCode::BAD_REQUEST,
                lang,
                &view.order.id,
                "pw.error.unknown_action",
            )
        }
    };
    let attempt = match st.svc.store.open_attempt(&view.intent.id).await {
        Ok(Some(a)) if a.status == AttemptStatus::RequiresAction => a,
        Ok(_) => return see_other(&back),
        Err(e) => return internal(lang, &e),
    };
    // A voucher past its expiry can no longer be paid: the core declines it as expired.
    match st
        .svc
        .payments()
        .complete_challenge_with(&attempt.id, result)
        .await
    {
        Ok(_) | Err(ServiceError::State(_) | ServiceError::Conflict) => {}
        Err(ServiceError::NotFound { .. }) => return not_found(lang),
        Err(e) => return internal(lang, &e),
    }
    back_to_page(&st, &view, view.order.method.as_deref().unwrap_or("")).await
}
