//! The card form's fields read into a payment method, with an error per field in the payer's
//! language. Only formats are judged here (and the expiry against the current month); the
//! issuer judges everything else.

use super::*;

/// [`parse_card_in`] with English messages.
pub(crate) fn parse_card(form: &PayForm, now: i64) -> Result<PaymentMethodInput, FieldErrors> {
    parse_card_in(form, now, Lang::En)
}

/// Turns the typed card into a payment method, or says which fields are wrong, in `lang`. Only
/// formats are judged here (and expiry against the current month); the issuer judges
/// everything else.
pub(crate) fn parse_card_in(
    form: &PayForm,
    now: i64,
    lang: Lang,
) -> Result<PaymentMethodInput, FieldErrors> {
    let t = |key: &str| Some(lang.text(key));
    let mut errors = FieldErrors::default();
    let number_text = form.number.trim();
    let number = if number_text.is_empty() {
        errors.number = t("card.number_required");
        None
    } else if number_text.len() > 32 {
        errors.number = t("card.number_invalid");
        None
    } else {
        match CardNumber::parse(number_text) {
            Ok(n) => Some(n),
            Err(CardError::FailedLuhn) => {
                errors.number = t("card.number_luhn");
                None
            }
            Err(_) => {
                errors.number = t("card.number_invalid");
                None
            }
        }
    };
    let exp_text = form.exp.trim();
    let expiry = if exp_text.is_empty() {
        errors.exp = t("card.expiry_required");
        None
    } else {
        match Expiry::parse_mm_yy(exp_text) {
            Ok(e) => {
                let (year, month) = kassa_service::year_month(now);
                if e.is_expired_at(year, month) {
                    errors.exp = t("card.expiry_past");
                    None
                } else {
                    Some(e)
                }
            }
            Err(_) => {
                errors.exp = t("card.expiry_format");
                None
            }
        }
    };
    let cvc = form.cvc.trim();
    let cvc_ok = match &number {
        Some(n) => validate_cvc(cvc, n.brand()).is_ok(),
        None => (3..=4).contains(&cvc.len()) && cvc.bytes().all(|b| b.is_ascii_digit()),
    };
    if cvc.is_empty() {
        errors.cvc = t("card.cvc_required");
    } else if !cvc_ok {
        errors.cvc = t(match &number {
            Some(n) if n.brand() == kassa_core::card::CardBrand::Amex => "card.cvc_invalid",
            Some(_) => "checkout.cvc_three",
            None => "card.cvc_invalid",
        });
    }
    let name = form.name.trim();
    if name.chars().count() > MAX_NAME_CHARS {
        errors.name = t("card.name_long");
    } else if name.chars().any(char::is_control) {
        errors.name = t("checkout.name_unprintable");
    }
    match (number, expiry) {
        (Some(number), Some(expiry)) if !errors.any() => Ok(PaymentMethodInput::Card {
            number,
            expiry,
            cvc: cvc.to_string(),
            holder_name: (!name.is_empty()).then(|| name.to_string()),
        }),
        _ => Err(errors),
    }
}
