//! The payment page's models. Only what may be printed is here: never a card number or CVC.
//!
//! Every page speaks the order's language (the link's `lang`, else the browser's
//! `Accept-Language`, else English): its words come from the `pw` catalog (and the shared
//! `common`, `card` and `decline` ones), its amounts from [`Lang::money`].

use askama::Template;
use kassa_i18n::Lang;
use kassa_service::paymentwall::product::{Period, PeriodUnit};
use kassa_service::paymentwall::WidgetLayout;
use kassa_service::paymentwall::{OrderView, PendingVoucher, Product};

use crate::AppState;

/// What the page shows, by the order's state.
pub enum Mode {
    /// Choose a payment system.
    Methods,
    /// The chosen system's form.
    Form {
        ps: String,
        kind: String,
        method_name: String,
        can_switch: bool,
    },
    /// The method's own step (3-D Secure, wallet code, bank, voucher).
    Action {
        kind: String,
        voucher: Option<PendingVoucher>,
    },
    Processing,
    /// Authorized, held for risk review.
    Review,
    Success {
        payment: String,
        success_url: Option<String>,
    },
    /// Cancelled: declined after review, or voided.
    Closed {
        failure_url: Option<String>,
        reviewed: bool,
    },
}

pub struct MethodLink {
    pub id: String,
    pub name: String,
    pub href: String,
    pub logo: String,
}

/// What the payer typed, echoed back into the form answering the same POST (after a decline or
/// a refused field) so only the CVC must be typed again. Never stored; never the CVC.
#[derive(Default)]
pub struct Kept {
    pub number: String,
    pub exp: String,
    pub name: String,
    pub phone: String,
}

pub struct Line {
    pub name: String,
    pub amount: String,
}

/// A cash voucher as the page shows it.
pub struct VoucherView {
    /// Digits only: what the Copy button puts on the clipboard.
    pub number: String,
    /// Groups of four for reading: `1234 5678 9012`.
    pub grouped: String,
    /// The expiry written in the page's language (UTC).
    pub expires: String,
    /// The expiry for `<time datetime>`: `2024-03-02T23:30Z`.
    pub expires_iso: String,
    pub expired: bool,
}

impl VoucherView {
    pub fn new(v: &PendingVoucher, lang: Lang, now_ms: i64) -> Self {
        let (y, mo, d, h, mi) = v.expires_utc();
        VoucherView {
            number: v.number.clone(),
            grouped: group_reference(&v.number),
            expires: format_date(lang, (y, mo, d, h, mi)),
            expires_iso: format!("{y:04}-{mo:02}-{d:02}T{h:02}:{mi:02}Z"),
            expired: v.is_expired_at(now_ms),
        }
    }
}

/// A reference in groups of four characters, for reading aloud or typing at a till.
pub fn group_reference(r: &str) -> String {
    let chars: Vec<char> = r.chars().filter(|c| !c.is_whitespace()).collect();
    chars
        .chunks(4)
        .map(|c| c.iter().collect::<String>())
        .collect::<Vec<_>>()
        .join(" ")
}

/// A UTC date and time written the way `lang` writes it (month names from the catalog).
pub fn format_date(lang: Lang, (y, mo, d, h, mi): (i64, i64, i64, i64, i64)) -> String {
    let month = lang.text(&format!("pw.date.m{mo}"));
    lang.fmt(
        "pw.date.format",
        &[
            ("month", month),
            ("day", &d.to_string()),
            ("year", &y.to_string()),
            ("time", &format!("{h:02}:{mi:02}")),
        ],
    )
}

/// The plural category a count takes in a catalog (`one`, `few`, `many`): Arabic counts 3–10
/// with the plural noun and 11–99 with the singular; the other languages need `one` and `few`.
fn plural_category(lang: Lang, n: u32) -> &'static str {
    match (lang, n) {
        (_, 1) => "one",
        (Lang::Ar, n) if (2..=10).contains(&(n % 100)) => "few",
        (Lang::Ar, _) => "many",
        _ => "few",
    }
}

fn unit_key(u: PeriodUnit) -> &'static str {
    match u {
        PeriodUnit::Day => "day",
        PeriodUnit::Week => "week",
        PeriodUnit::Month => "month",
        PeriodUnit::Year => "year",
    }
}

/// "every month", "every 3 months" in `lang`.
pub fn every(lang: Lang, p: &Period) -> String {
    let key = format!(
        "pw.every.{}.{}",
        unit_key(p.unit),
        plural_category(lang, p.length)
    );
    lang.fmt1(&key, "n", &p.length.to_string())
}

/// "1 month", "3 months" in `lang`.
pub fn duration(lang: Lang, p: &Period) -> String {
    let key = format!(
        "pw.duration.{}.{}",
        unit_key(p.unit),
        plural_category(lang, p.length)
    );
    lang.fmt1(&key, "n", &p.length.to_string())
}

/// A payment system's name: the generic ones translated, brand names as they are.
pub fn method_name(lang: Lang, id: &str, name: &str) -> String {
    let key = format!("pw.method.{id}");
    let text = lang.text(&key);
    if text == key {
        name.to_string()
    } else {
        text.to_string()
    }
}

/// An English field message from the shared card parser, in `lang` (the parser's sentences are
/// the English catalog's texts); unknown sentences ask the payer to check the details.
pub fn field_message(lang: Lang, english: &str) -> String {
    const KEYS: &[&str] = &[
        "card.number_required",
        "card.number_invalid",
        "card.number_luhn",
        "card.expiry_required",
        "card.expiry_format",
        "card.expiry_past",
        "card.cvc_required",
        "card.cvc_invalid",
        "card.cvc_amex",
        "card.name_long",
        "pw.form.cvc_back",
        "pw.form.name_unprintable",
        "pw.error.method_not_offered",
    ];
    match KEYS.iter().find(|k| Lang::En.text(k) == english) {
        Some(k) => lang.text(k).to_string(),
        None if lang == Lang::En && !english.is_empty() => english.to_string(),
        None => lang.text("pw.check_details").to_string(),
    }
}

fn money(lang: Lang, amount: i64, code: &str) -> String {
    lang.money(amount, code)
}

#[derive(Template)]
#[template(path = "pw/page.html")]
pub struct OrderPage {
    pub lang: Lang,
    /// The project's (else the merchant's) logo and accent theme.
    pub brand: crate::checkout::view::Brand,
    pub title: String,
    pub project: String,
    pub description: String,
    pub amount: String,
    pub lines: Vec<Line>,
    pub order_id: String,
    pub token: String,
    pub nonce: String,
    /// `methods`, `form`, `action`, `processing`, `review`, `success`, `closed`.
    pub state: String,
    /// The payer's words for the state (`common.status.*`).
    pub status_label: String,
    pub methods: Vec<MethodLink>,
    pub decline: Option<String>,
    pub form_kind: String,
    pub ps: String,
    pub method_name: String,
    pub can_switch: bool,
    pub action_kind: String,
    pub voucher: Option<VoucherView>,
    pub payment_json: String,
    pub success_url: String,
    pub failure_url: String,
    pub reviewed: bool,
    pub callbacks: bool,
    pub is_test: bool,
    /// A live order (signed with the project's live key): nothing says "sandbox".
    pub livemode: bool,
    pub subscription_note: Option<String>,
    pub kept: Kept,
    /// `one` or `two` (columns on wide screens), from the link's widget code.
    pub layout: &'static str,
}

impl OrderPage {
    /// A catalog text with `{amount}` and `{merchant}` filled in.
    pub fn with_amount(&self, key: &str) -> String {
        self.lang.fmt(
            key,
            &[("amount", &self.amount), ("merchant", &self.project)],
        )
    }

    pub fn new(
        st: &AppState,
        view: &OrderView,
        lang: Lang,
        mode: Mode,
        decline: Option<String>,
        token: String,
    ) -> Self {
        let _ = st;
        let pi = &view.intent;
        let amount = lang.money(pi.amount, pi.currency.code());
        let lines = match &view.product {
            Product::Cart { items, .. } => items
                .iter()
                .map(|i| Line {
                    name: i.name.clone(),
                    amount: money(lang, i.amount, &i.currency),
                })
                .collect(),
            _ => Vec::new(),
        };
        let (description, subscription_note) = match &view.product {
            Product::Subscription { plan } => {
                let main = money(lang, plan.main.amount, &plan.main.currency);
                let period = every(lang, &plan.period);
                let note = match (&plan.trial, plan.recurring) {
                    (Some((_, tp)), _) => lang.fmt(
                        "pw.sub.trial",
                        &[
                            ("duration", &duration(lang, tp)),
                            ("amount", &main),
                            ("period", &period),
                        ],
                    ),
                    (None, true) => lang.fmt(
                        "pw.sub.recurring",
                        &[("amount", &main), ("period", &period)],
                    ),
                    (None, false) => {
                        lang.fmt1("pw.sub.once", "duration", &duration(lang, &plan.period))
                    }
                };
                let description = match &plan.trial {
                    Some((t, tp)) => lang.fmt(
                        "pw.sub.trial_description",
                        &[
                            ("trial", &t.name),
                            ("duration", &duration(lang, tp)),
                            ("main", &plan.main.name),
                        ],
                    ),
                    None => plan.main.name.clone(),
                };
                (description, Some(note))
            }
            other => (other.description(), None),
        };
        let methods = view
            .methods
            .iter()
            .map(|m| MethodLink {
                id: m.id.to_string(),
                name: method_name(lang, m.id, m.name),
                href: format!("/pw/orders/{}?ps={}", view.order.id, m.id),
                logo: format!("/images/ps_logos/pm_{}.svg", m.id),
            })
            .collect();
        let project = view.project.row.name.clone();
        let mut page = OrderPage {
            brand: Default::default(),
            lang,
            title: lang.fmt("pw.title", &[("amount", &amount), ("merchant", &project)]),
            project,
            description,
            amount,
            lines,
            order_id: view.order.id.clone(),
            token,
            nonce: kassa_core::ids::random_token(32),
            state: String::new(),
            status_label: lang
                .text(&format!("common.status.{}", pi.status.as_str()))
                .to_string(),
            methods,
            decline,
            form_kind: String::new(),
            ps: String::new(),
            method_name: String::new(),
            can_switch: false,
            action_kind: String::new(),
            voucher: None,
            payment_json: String::new(),
            success_url: String::new(),
            failure_url: view.failure_url.clone().unwrap_or_default(),
            reviewed: false,
            callbacks: view.project.settings.client_callbacks,
            is_test: view.order.is_test || view.order.method.as_deref() == Some("test"),
            livemode: view.order.livemode,
            subscription_note,
            kept: Kept::default(),
            layout: WidgetLayout::of(&view.order.widget).as_str(),
        };
        page.state = match mode {
            Mode::Methods => "methods".into(),
            Mode::Form {
                ps,
                kind,
                method_name: name,
                can_switch,
            } => {
                page.method_name = method_name(lang, &ps, &name);
                page.ps = ps;
                page.form_kind = kind;
                page.can_switch = can_switch;
                "form".into()
            }
            Mode::Action { kind, voucher } => {
                page.action_kind = kind;
                page.voucher = voucher.map(|v| VoucherView::new(&v, lang, kassa_store::now_ms()));
                "action".into()
            }
            Mode::Processing => "processing".into(),
            Mode::Review => "review".into(),
            Mode::Success {
                payment,
                success_url,
            } => {
                page.payment_json = payment;
                page.success_url = success_url.unwrap_or_default();
                "success".into()
            }
            Mode::Closed {
                failure_url,
                reviewed,
            } => {
                page.failure_url = failure_url.unwrap_or_default();
                page.reviewed = reviewed;
                "closed".into()
            }
        };
        page
    }
}

#[derive(Template)]
#[template(path = "pw/error.html")]
pub struct ErrorPage {
    pub lang: Lang,
    /// Error pages show no merchant look (the link may not even name a project).
    pub brand: crate::checkout::view::Brand,
    pub heading: String,
    pub message: String,
    /// The developer's detail (English, marked `lang="en"`), e.g. which value a link got wrong.
    pub detail: Option<String>,
    /// Where the payer can go back to: the order's page, when the error came from its forms.
    pub retry_href: Option<String>,
    /// Test mode: which check refused the link.
    pub diagnosis: Option<LinkDiagnosis>,
}

/// What a refused link's page tells the developer: the check that failed and, for a wrong
/// signature, the strings Kassa signed (the secret key appended to them is not shown).
pub struct LinkDiagnosis {
    pub check: String,
    pub base_strings: Vec<String>,
}

impl LinkDiagnosis {
    pub fn of(r: &kassa_service::paymentwall::LinkRefusal) -> Self {
        let base_strings = match r {
            kassa_service::paymentwall::LinkRefusal::WrongSignature { base_strings, .. } => {
                base_strings.clone()
            }
            _ => Vec::new(),
        };
        LinkDiagnosis {
            check: r.check(),
            base_strings,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn references_are_grouped_by_four() {
        assert_eq!(group_reference("123456789012"), "1234 5678 9012");
        assert_eq!(group_reference("12345"), "1234 5");
        assert_eq!(group_reference(""), "");
    }

    #[test]
    fn dates_and_periods_are_written_per_language() {
        let t = (2024, 3, 2, 9, 5);
        assert_eq!(format_date(Lang::En, t), "March 2, 2024, 09:05 UTC");
        assert_eq!(format_date(Lang::De, t), "2. März 2024, 09:05 UTC");
        let p = |length, unit| Period { length, unit };
        assert_eq!(every(Lang::En, &p(1, PeriodUnit::Month)), "every month");
        assert_eq!(every(Lang::En, &p(3, PeriodUnit::Month)), "every 3 months");
        assert_eq!(duration(Lang::Ar, &p(12, PeriodUnit::Month)), "12 شهرًا");
        assert_eq!(duration(Lang::Ar, &p(3, PeriodUnit::Month)), "3 أشهر");
    }

    #[test]
    fn generic_methods_are_translated_and_field_errors_too() {
        assert_eq!(
            method_name(Lang::Fr, "sandboxcash", "Cash voucher"),
            "Bon de paiement en espèces"
        );
        assert_eq!(method_name(Lang::Fr, "brandpay", "BrandPay"), "BrandPay");
        assert_eq!(
            field_message(Lang::Es, "Enter your card number."),
            Lang::Es.text("card.number_required")
        );
        assert_eq!(field_message(Lang::En, "Odd."), "Odd.");
        assert_eq!(
            field_message(Lang::De, "Odd."),
            Lang::De.text("pw.check_details")
        );
    }
}
