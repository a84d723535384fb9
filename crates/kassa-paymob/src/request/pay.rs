//! The `payments/pay` body (`parse_pay`): its source (card, saved-card token, wallet,
//! aggregator, cash) and the card fields' checks.

use std::fmt;

use serde_json::Value;

use super::fields::{flag, int_in, not_object, opt_text, take, text, Obj};
use crate::drf::{self, Errors, BLANK, INVALID_INT, INVALID_STR, NON_FIELD, NULL, REQUIRED};
use crate::hmac::value_text;
use crate::lenient;

const INVALID_CARD: &str = "Enter a valid card number.";
const INVALID_CVN: &str = "Enter a valid CVN.";
const INVALID_YEAR: &str = "Enter a valid expiry year.";

/// The `source` of a `payments/pay` request.
#[derive(Clone, PartialEq)]
pub enum PaySource {
    Card {
        number: String,
        holder: String,
        expiry_month: u32,
        /// Four digits.
        expiry_year: u32,
        cvn: String,
    },
    Token {
        token: String,
        cvn: Option<String>,
    },
    Wallet {
        phone: String,
    },
    Aggregator,
    Cash,
}

/// A validated `POST /api/acceptance/payments/pay` body.
#[derive(Clone, PartialEq)]
pub struct PayInput {
    pub source: PaySource,
    pub payment_token: String,
    pub save_card: bool,
}

/// `****…1234`: keeps the last four characters.
fn mask_tail(s: &str) -> String {
    let n = s.chars().count();
    if n <= 4 {
        return "*".repeat(n);
    }
    let tail: String = s.chars().skip(n - 4).collect();
    format!("{}{tail}", "*".repeat(n - 4))
}

impl fmt::Debug for PaySource {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            PaySource::Card {
                number,
                holder,
                expiry_month,
                expiry_year,
                cvn: _,
            } => f
                .debug_struct("Card")
                .field("number", &mask_tail(number))
                .field("holder", holder)
                .field("expiry_month", expiry_month)
                .field("expiry_year", expiry_year)
                .field("cvn", &"***")
                .finish(),
            PaySource::Token { token, cvn } => f
                .debug_struct("Token")
                .field("token", &mask_tail(token))
                .field("cvn", &cvn.as_ref().map(|_| "***"))
                .finish(),
            PaySource::Wallet { phone } => f.debug_struct("Wallet").field("phone", phone).finish(),
            PaySource::Aggregator => f.write_str("Aggregator"),
            PaySource::Cash => f.write_str("Cash"),
        }
    }
}

impl fmt::Debug for PayInput {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("PayInput")
            .field("source", &self.source)
            .field(
                "payment_token",
                &format_args!("<redacted, {} chars>", self.payment_token.len()),
            )
            .field("save_card", &self.save_card)
            .finish()
    }
}

const SUBTYPES: [&str; 5] = ["CARD", "TOKEN", "WALLET", "AGGREGATOR", "CASH"];

fn cvn(v: &Value, key: &str, errs: &mut Errors) -> Option<String> {
    let s = text(v, key, errs, false, 4)?;
    if s.len() >= 3 && s.bytes().all(|b| b.is_ascii_digit()) {
        Some(s)
    } else {
        errs.add(key, INVALID_CVN);
        None
    }
}

fn card_number(v: &Value, key: &str, errs: &mut Errors) -> Option<String> {
    let s = text(v, key, errs, false, 64)?;
    let digits: String = s.chars().filter(|c| *c != ' ').collect();
    if (12..=19).contains(&digits.len()) && digits.bytes().all(|b| b.is_ascii_digit()) {
        Some(digits)
    } else {
        errs.add(key, INVALID_CARD);
        None
    }
}

fn expiry_year(v: &Value, key: &str, errs: &mut Errors) -> Option<u32> {
    if v.is_null() {
        errs.add(key, NULL);
        return None;
    }
    let Some(n) = lenient::int(v) else {
        errs.add(key, INVALID_INT);
        return None;
    };
    let width_ok = match v {
        Value::String(s) => s.len() == 2 || s.len() == 4,
        _ => true,
    };
    match n {
        0..=99 if width_ok => Some(2000 + n as u32),
        1000..=9999 if width_ok => Some(n as u32),
        _ => {
            errs.add(key, INVALID_YEAR);
            None
        }
    }
}

fn pay_source(src: &Obj, se: &mut Errors) -> Option<PaySource> {
    let subtype = take(src, "subtype", se, None, |v, k, e| match v {
        Value::Null => {
            e.add(k, NULL);
            None
        }
        Value::String(s) if SUBTYPES.contains(&s.as_str()) => Some(s.clone()),
        other => {
            e.add(k, drf::invalid_choice(&value_text(other)));
            None
        }
    })?;
    let ident = |se: &mut Errors, max: usize| {
        take(src, "identifier", se, None, |v, k, e| {
            text(v, k, e, false, max)
        })
    };
    match subtype.as_str() {
        "CARD" => {
            let number = take(src, "identifier", se, None, card_number);
            let holder = take(
                src,
                "sourceholder_name",
                se,
                Some(String::new()),
                |v, k, e| opt_text(v, k, e, 255).map(Option::unwrap_or_default),
            );
            let month = take(src, "expiry_month", se, None, |v, k, e| {
                int_in(v, k, e, true, 1, 12)
            });
            let year = take(src, "expiry_year", se, None, expiry_year);
            let cvn = take(src, "cvn", se, None, cvn);
            let (Some(number), Some(holder), Some(month), Some(year), Some(cvn)) =
                (number, holder, month, year, cvn)
            else {
                return None;
            };
            Some(PaySource::Card {
                number,
                holder,
                expiry_month: month as u32,
                expiry_year: year,
                cvn,
            })
        }
        "TOKEN" => {
            let token = ident(se, 255);
            let cvn = take(src, "cvn", se, Some(None), |v, k, e| match v {
                Value::Null => Some(None),
                Value::String(s) if s.trim().is_empty() => Some(None),
                other => cvn(other, k, e).map(Some),
            });
            Some(PaySource::Token {
                token: token?,
                cvn: cvn?,
            })
        }
        "WALLET" => ident(se, 32).map(|phone| PaySource::Wallet { phone }),
        "AGGREGATOR" => Some(PaySource::Aggregator),
        _ => Some(PaySource::Cash),
    }
}

/// Validates a `payments/pay` body (spec §5 step 4b); errors as a DRF body.
/// Card numbers are not Luhn-checked here.
pub fn parse_pay(body: &Value) -> Result<PayInput, Value> {
    let Value::Object(obj) = body else {
        return Err(not_object(body));
    };
    let mut errs = Errors::default();
    let mut save_card = None;
    let source = match obj.get("source") {
        None => {
            errs.add("source", REQUIRED);
            None
        }
        Some(Value::Null) => {
            errs.add("source", NULL);
            None
        }
        Some(Value::Object(src)) => {
            let mut se = Errors::default();
            let s = pay_source(src, &mut se);
            if let Some(v) = src.get("save_card") {
                save_card = flag(v, "save_card", &mut se);
            }
            errs.nested("source", se);
            s
        }
        Some(other) => {
            let mut se = Errors::default();
            se.add(NON_FIELD, drf::not_a_dict(other));
            errs.nested("source", se);
            None
        }
    };
    let payment_token = take(obj, "payment_token", &mut errs, None, |v, k, e| match v {
        Value::String(s) if !s.trim().is_empty() => Some(s.trim().to_string()),
        Value::String(_) => {
            e.add(k, BLANK);
            None
        }
        Value::Null => {
            e.add(k, NULL);
            None
        }
        _ => {
            e.add(k, INVALID_STR);
            None
        }
    });
    let in_source = obj
        .get("source")
        .and_then(Value::as_object)
        .is_some_and(|s| s.contains_key("save_card"));
    if !in_source {
        save_card = take(obj, "save_card", &mut errs, Some(false), flag);
    }
    match (source, payment_token, save_card) {
        (Some(source), Some(payment_token), Some(save_card)) if errs.is_empty() => Ok(PayInput {
            source,
            payment_token,
            save_card,
        }),
        _ => Err(errs.to_json()),
    }
}
