//! The payment page's models. Only what may be printed is here: never a card number or CVC.

use askama::Template;
use kassa_service::paymentwall::{OrderView, Product};

use crate::checkout::view::format_amount;
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
        voucher: Option<String>,
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

#[derive(Template)]
#[template(path = "pw/page.html")]
pub struct OrderPage {
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
    pub methods: Vec<MethodLink>,
    pub decline: Option<String>,
    pub form_kind: String,
    pub ps: String,
    pub method_name: String,
    pub can_switch: bool,
    pub action_kind: String,
    pub voucher: String,
    pub payment_json: String,
    pub success_url: String,
    pub failure_url: String,
    pub reviewed: bool,
    pub callbacks: bool,
    pub is_test: bool,
    pub subscription_note: Option<String>,
    pub lang: String,
    pub kept: Kept,
}

fn money(amount: i64, code: &str) -> String {
    match kassa_core::money::Currency::parse(code) {
        Ok(c) => format_amount(amount, c),
        Err(_) => format!("{code} {amount}"),
    }
}

impl OrderPage {
    pub fn new(
        st: &AppState,
        view: &OrderView,
        mode: Mode,
        decline: Option<String>,
        token: String,
    ) -> Self {
        let _ = st;
        let pi = &view.intent;
        let amount = format_amount(pi.amount, pi.currency);
        let lines = match &view.product {
            Product::Cart { items, .. } => items
                .iter()
                .map(|i| Line {
                    name: i.name.clone(),
                    amount: money(i.amount, &i.currency),
                })
                .collect(),
            _ => Vec::new(),
        };
        let subscription_note = match &view.product {
            Product::Subscription { plan } => {
                let per = |p: &kassa_service::paymentwall::product::Period| {
                    if p.length == 1 {
                        p.unit.as_str().to_string()
                    } else {
                        format!("{} {}s", p.length, p.unit.as_str())
                    }
                };
                let main = money(plan.main.amount, &plan.main.currency);
                Some(match (&plan.trial, plan.recurring) {
                    (Some((_, tp)), _) => format!(
                        "Trial for {}, then {} every {}, until cancelled.",
                        per(tp),
                        main,
                        per(&plan.period)
                    ),
                    (None, true) => format!("{main} every {}, until cancelled.", per(&plan.period)),
                    (None, false) => format!("Access for {}.", per(&plan.period)),
                })
            }
            _ => None,
        };
        let methods = view
            .methods
            .iter()
            .map(|m| MethodLink {
                id: m.id.to_string(),
                name: m.name.to_string(),
                href: format!("/pw/orders/{}?ps={}", view.order.id, m.id),
                logo: format!("/images/ps_logos/pm_{}.svg", m.id),
            })
            .collect();
        let mut page = OrderPage {
            title: format!("Pay {} — {}", amount, view.project.row.name),
            project: view.project.row.name.clone(),
            description: view.product.description(),
            amount,
            lines,
            order_id: view.order.id.clone(),
            token,
            nonce: kassa_core::ids::random_token(32),
            state: String::new(),
            methods,
            decline,
            form_kind: String::new(),
            ps: String::new(),
            method_name: String::new(),
            can_switch: false,
            action_kind: String::new(),
            voucher: String::new(),
            payment_json: String::new(),
            success_url: String::new(),
            failure_url: String::new(),
            reviewed: false,
            callbacks: view.project.settings.client_callbacks,
            is_test: view.order.is_test || view.order.method.as_deref() == Some("test"),
            subscription_note,
            lang: view.lang.clone().unwrap_or_else(|| "en".into()),
            kept: Kept::default(),
        };
        page.state = match mode {
            Mode::Methods => "methods".into(),
            Mode::Form {
                ps,
                kind,
                method_name,
                can_switch,
            } => {
                page.ps = ps;
                page.form_kind = kind;
                page.method_name = method_name;
                page.can_switch = can_switch;
                "form".into()
            }
            Mode::Action { kind, voucher } => {
                page.action_kind = kind;
                page.voucher = voucher.unwrap_or_default();
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
    pub heading: String,
    pub message: String,
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
