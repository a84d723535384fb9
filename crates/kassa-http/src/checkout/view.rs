//! What the checkout pages show: pure formatting helpers and the askama page models. Nothing
//! here sees a card number or CVC; the models hold only what may be printed.

use askama::Template;
use kassa_core::card::CardBrand;
use kassa_i18n::Lang;
use serde_json::Value;

/// The merchant's `return_url` with `payment_intent` and `redirect_status` appended after any
/// query it already has (left byte for byte as it was); the fragment stays last. `None` when the
/// URL is not an absolute http(s) URL, so a bad value can never become a `javascript:` link.
pub fn return_link(return_url: &str, intent_id: &str, redirect_status: &str) -> Option<String> {
    let mut url = url::Url::parse(return_url).ok()?;
    if !matches!(url.scheme(), "http" | "https") || url.host_str().is_none() {
        return None;
    }
    url.query_pairs_mut()
        .append_pair("payment_intent", intent_id)
        .append_pair("redirect_status", redirect_status);
    Some(url.into())
}

/// "Visa •••• 3155" from an attempt's stored payment-method JSON (brand and last 4 only);
/// `unknown` names a brand Kassa does not know ("Card" in the page's language).
pub fn card_label(payment_method: Option<&str>, unknown: &str) -> Option<String> {
    let v: Value = serde_json::from_str(payment_method?).ok()?;
    let last4: String = v
        .get("last4")?
        .as_str()?
        .chars()
        .filter(char::is_ascii_digit)
        .take(4)
        .collect();
    let brand = v
        .get("brand")
        .cloned()
        .and_then(|b| serde_json::from_value::<CardBrand>(b).ok())
        .map(|b| b.display_name())
        .unwrap_or(unknown);
    Some(format!("{brand} •••• {last4}"))
}

/// Per-field problems found in a submitted card form, each a sentence in the language the form
/// was checked in (see `parse_card_in`).
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct FieldErrors {
    pub number: Option<&'static str>,
    pub exp: Option<&'static str>,
    pub cvc: Option<&'static str>,
    pub name: Option<&'static str>,
}

impl FieldErrors {
    pub fn any(&self) -> bool {
        self.number.is_some() || self.exp.is_some() || self.cvc.is_some() || self.name.is_some()
    }
}

/// The card form as rendered. Only the expiry and the name are ever written back into it.
pub struct FormView {
    pub csrf: String,
    pub nonce: String,
    /// The typed card number, echoed only into the form answering the same POST.
    pub number: String,
    pub exp: String,
    pub name: String,
    /// The last decline, in the page's language, shown when the customer is back at the form.
    pub decline: Option<String>,
    pub errors: FieldErrors,
    /// The merchant's return URL with `redirect_status=requires_payment_method`: leaving does
    /// not cancel anything, the merchant's return handler retrieves the intent.
    pub back_link: Option<String>,
    /// Whether the card is saved for the customer, and what the page says about it.
    pub save: SaveOffer,
}

/// What the form says about saving the card (the intent's `setup_future_usage`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SaveOffer {
    /// Nothing is saved.
    None,
    /// `off_session`: the merchant needs the card (a subscription): the form says it is kept.
    Notice,
    /// `on_session`: a "save this card" box, ticked or not.
    Optional { checked: bool },
}

pub struct Done {
    /// `requires_capture`: authorized, not yet captured.
    pub authorized: bool,
    pub return_link: Option<String>,
}

/// The part of the checkout page that depends on the intent's status.
pub enum Body {
    Form(Box<FormView>),
    /// 3-D Secure: the issuer page to continue to.
    Action(String),
    Processing,
    Done(Done),
    /// Canceled, with the merchant link carrying `redirect_status=failed`.
    Canceled(Option<String>),
}

/// One entry of the language switcher: `?lang=` link, the language's own name, and whether it
/// is the page's language.
pub struct LangLink {
    pub href: String,
    pub code: &'static str,
    pub name: &'static str,
    pub current: bool,
}

/// The merchant's look on a page: a logo (same-origin path) and the accent theme stylesheet.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Brand {
    pub logo: Option<String>,
    pub theme: Option<String>,
}

#[derive(Template)]
#[template(path = "checkout/page.html")]
pub struct CheckoutPage {
    pub brand: Brand,
    pub lang: Lang,
    /// `?lang=xx` when the flow carries an explicit language, else empty: appended to every
    /// URL of the flow so the language never changes mid-way.
    pub q: String,
    pub title: String,
    /// `<meta http-equiv="refresh">` content, e.g. `2` or `2;url=...`.
    pub refresh: Option<String>,
    pub token: String,
    pub merchant: String,
    pub amount: String,
    pub description: Option<String>,
    pub intent_id: String,
    /// The machine status (`data-status`); the payer reads `status_label`.
    pub status: &'static str,
    pub status_label: &'static str,
    pub body: Body,
    /// The language switcher (form page only; empty elsewhere).
    pub langs: Vec<LangLink>,
    /// A live payment: no test-mode badge, no test cards, no "sandbox".
    pub livemode: bool,
}

impl CheckoutPage {
    /// The catalog text `key` with this page's `{amount}` and `{merchant}` filled in.
    pub fn two(&self, key: &str) -> String {
        self.lang.fmt(
            key,
            &[("amount", &self.amount), ("merchant", &self.merchant)],
        )
    }
}

#[derive(Template)]
#[template(path = "checkout/challenge.html")]
pub struct ChallengePage {
    pub brand: Brand,
    pub lang: Lang,
    pub q: String,
    pub title: String,
    pub refresh: Option<String>,
    pub attempt_id: String,
    pub merchant: String,
    pub amount: String,
    pub card: Option<String>,
    pub csrf: String,
}

/// A page with a heading, a sentence and an optional way forward (errors, 404, 403).
#[derive(Template)]
#[template(path = "checkout/message.html")]
pub struct MessagePage {
    pub brand: Brand,
    pub lang: Lang,
    pub title: String,
    pub refresh: Option<String>,
    pub heading: String,
    pub message: String,
    pub link: Option<(String, String)>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_return_link_appends_to_an_existing_query_and_keeps_the_fragment() {
        assert_eq!(
            return_link("https://shop.example/done?order=42&x=a+b#top", "pi_1", "succeeded").unwrap(),
            "https://shop.example/done?order=42&x=a+b&payment_intent=pi_1&redirect_status=succeeded#top"
        );
    }

    #[test]
    fn the_return_link_starts_a_query_when_there_is_none() {
        assert_eq!(
            return_link("http://localhost:8080/back", "pi_2", "failed").unwrap(),
            "http://localhost:8080/back?payment_intent=pi_2&redirect_status=failed"
        );
    }

    #[test]
    fn the_return_link_refuses_anything_but_absolute_http_urls() {
        assert_eq!(
            return_link("javascript:alert(1)", "pi_1", "succeeded"),
            None
        );
        assert_eq!(return_link("/relative", "pi_1", "succeeded"), None);
        assert_eq!(return_link("data:text/html,hi", "pi_1", "succeeded"), None);
    }

    #[test]
    fn the_card_label_names_the_brand_and_last_four_only() {
        let pm = r#"{"kind":"card","brand":"visa","bin":"400000","last4":"3155"}"#;
        assert_eq!(card_label(Some(pm), "Card").unwrap(), "Visa •••• 3155");
        let odd = r#"{"brand":"martian","last4":"12<b>34"}"#;
        assert_eq!(card_label(Some(odd), "Karte").unwrap(), "Karte •••• 1234");
        assert_eq!(card_label(None, "Card"), None);
        assert_eq!(card_label(Some("not json"), "Card"), None);
    }
}
