//! Stripe's error codes mapped to Kassa's [`Decline`]. Kassa speaks Stripe's vocabulary
//! already, so most codes pass through; the known ones get Kassa's own customer-facing
//! sentence, so a payer sees the same words whatever processor served them.

use kassa_processor::Decline;

use crate::types::ApiError;

fn decline(code: &str, decline_code: &str, message: &str) -> Decline {
    Decline {
        code: code.into(),
        decline_code: Some(decline_code.into()),
        message: message.into(),
    }
}

/// An off-session charge the issuer wants the cardholder to authenticate.
pub fn authentication_required() -> Decline {
    decline(
        "authentication_required",
        "authentication_required",
        "Your card was declined. This transaction requires authentication.",
    )
}

/// The decline Stripe's error (or a PaymentIntent's `last_payment_error`) describes.
pub fn from_stripe(error: &ApiError) -> Decline {
    let code = error.code.as_deref().unwrap_or("card_declined");
    let decline_code = error.decline_code.as_deref();
    match (code, decline_code) {
        ("card_declined", Some("insufficient_funds")) | ("insufficient_funds", _) => {
            Decline::insufficient_funds()
        }
        ("card_declined", Some("authentication_required")) | ("authentication_required", _) => {
            authentication_required()
        }
        ("card_declined", Some(dc)) if dc != "generic_decline" => Decline {
            code: "card_declined".into(),
            decline_code: Some(dc.into()),
            message: non_empty(&error.message, "Your card was declined."),
        },
        ("card_declined", _) => Decline::generic(),
        ("expired_card", _) => Decline::expired_card(),
        ("incorrect_cvc" | "invalid_cvc", _) => Decline::incorrect_cvc(),
        ("incorrect_number" | "invalid_number", _) => Decline::incorrect_number(),
        ("payment_intent_authentication_failure", _) => Decline::authentication_failed(),
        ("processing_error", _) => Decline::processing_error(),
        (other, dc) => Decline {
            code: other.into(),
            decline_code: dc.map(str::to_string),
            message: non_empty(&error.message, "Your card was declined."),
        },
    }
}

fn non_empty(message: &str, fallback: &str) -> String {
    if message.trim().is_empty() {
        fallback.into()
    } else {
        scrub(message, 300)
    }
}

/// `text` cut to `max` characters with every run of 12 or more digits (spaces and dashes
/// between them included) replaced by `[redacted]`: a processor's message is stored and
/// logged, so it must not carry a card number even if the processor echoed one.
pub fn scrub(text: &str, max: usize) -> String {
    let chars: Vec<char> = text.chars().take(max).collect();
    let mut out = String::with_capacity(chars.len());
    let mut i = 0;
    while i < chars.len() {
        if chars[i].is_ascii_digit() {
            let mut j = i;
            let mut digits = 0;
            while j < chars.len() && (chars[j].is_ascii_digit() || matches!(chars[j], ' ' | '-')) {
                digits += usize::from(chars[j].is_ascii_digit());
                j += 1;
            }
            // Give back trailing separators, which belong to the text around.
            while j > i && !chars[j - 1].is_ascii_digit() {
                j -= 1;
            }
            if digits >= 12 {
                out.push_str("[redacted]");
            } else {
                out.extend(&chars[i..j]);
            }
            i = j;
        } else {
            out.push(chars[i]);
            i += 1;
        }
    }
    out
}

/// Whether a Stripe error answer is a decline (the payment was judged and refused) rather than
/// a request Stripe could not judge: card errors (HTTP 402, or any error whose code is a
/// card decline code, since localstripe types its declines `invalid_request_error`).
pub fn is_decline(status: u16, error: &ApiError) -> bool {
    status == 402
        || error.kind.as_deref() == Some("card_error")
        || matches!(
            error.code.as_deref(),
            Some(
                "card_declined"
                    | "expired_card"
                    | "incorrect_cvc"
                    | "invalid_cvc"
                    | "incorrect_number"
                    | "invalid_number"
                    | "authentication_required"
                    | "payment_intent_authentication_failure"
            )
        )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn err(code: Option<&str>, decline_code: Option<&str>, message: &str) -> ApiError {
        ApiError {
            kind: Some("card_error".into()),
            code: code.map(Into::into),
            decline_code: decline_code.map(Into::into),
            message: message.into(),
            param: None,
        }
    }

    #[test]
    fn stripe_codes_map_to_kassa_declines() {
        let cases: &[(Option<&str>, Option<&str>, Decline)] = &[
            (Some("card_declined"), None, Decline::generic()),
            (
                Some("card_declined"),
                Some("generic_decline"),
                Decline::generic(),
            ),
            (
                Some("card_declined"),
                Some("insufficient_funds"),
                Decline::insufficient_funds(),
            ),
            (Some("expired_card"), None, Decline::expired_card()),
            (Some("incorrect_cvc"), None, Decline::incorrect_cvc()),
            (Some("invalid_cvc"), None, Decline::incorrect_cvc()),
            (Some("incorrect_number"), None, Decline::incorrect_number()),
            (
                Some("authentication_required"),
                None,
                authentication_required(),
            ),
            (
                Some("card_declined"),
                Some("authentication_required"),
                authentication_required(),
            ),
            (
                Some("payment_intent_authentication_failure"),
                None,
                Decline::authentication_failed(),
            ),
            (Some("processing_error"), None, Decline::processing_error()),
            (None, None, Decline::generic()),
        ];
        for (code, dc, want) in cases {
            assert_eq!(
                &from_stripe(&err(*code, *dc, "Stripe's words")),
                want,
                "{code:?}/{dc:?}"
            );
        }
    }

    #[test]
    fn other_decline_codes_pass_through_with_stripes_message() {
        let d = from_stripe(&err(
            Some("card_declined"),
            Some("lost_card"),
            "Your card was declined.",
        ));
        assert_eq!(d.code, "card_declined");
        assert_eq!(d.decline_code.as_deref(), Some("lost_card"));
        let d = from_stripe(&err(Some("card_velocity_exceeded"), None, ""));
        assert_eq!(d.code, "card_velocity_exceeded");
        assert_eq!(d.message, "Your card was declined.");
    }

    #[test]
    fn messages_never_carry_a_card_number() {
        assert_eq!(
            scrub("Card 4242 4242 4242 4242 was declined on 2026-01-05.", 300),
            "Card [redacted] was declined on 2026-01-05."
        );
        assert_eq!(scrub("pan=4000000000000341.", 300), "pan=[redacted].");
        assert_eq!(
            scrub("amount 123456 too large", 300),
            "amount 123456 too large"
        );
        assert_eq!(scrub("abcdef", 3), "abc");
        let d = from_stripe(&err(
            Some("card_declined"),
            Some("lost_card"),
            "x 4242424242424242",
        ));
        assert_eq!(d.message, "x [redacted]");
    }

    #[test]
    fn declines_are_told_from_requests_stripe_could_not_judge() {
        assert!(is_decline(402, &err(Some("card_declined"), None, "")));
        // localstripe: a decline typed invalid_request_error.
        let mut ls = err(Some("card_declined"), None, "");
        ls.kind = Some("invalid_request_error".into());
        assert!(is_decline(402, &ls));
        assert!(is_decline(400, &ls));
        let bad = ApiError {
            kind: Some("invalid_request_error".into()),
            code: Some("parameter_missing".into()),
            ..ApiError::default()
        };
        assert!(!is_decline(400, &bad));
    }
}
