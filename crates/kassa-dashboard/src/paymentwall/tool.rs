//! Project › Test Pingback Tool: a pingback of the merchant's choosing (type, uid, product,
//! ref, test flag, reason, and the values the project's custom parameters stand for), built as
//! Kassa builds a real one and sent now to the mode's pingback URL through the egress-guarded
//! client (`send_tool_pingback`, audited). The page shows what was signed (with `<secret>`
//! where the secret key goes), the signature, the URL requested and the merchant's answer.

use askama::Template;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::Response;
use kassa_core::roles::Permission;
use kassa_http::AppState;
use kassa_paymentwall::REASONS;
use kassa_service::audit::with_actor;
use kassa_service::paymentwall::{effective_sign_version, ApiType, Project, ToolInput, ToolReport};

use super::{form_error, load, Head};
use crate::ctx::{Ctx, Posted};
use crate::view::{self, Nav};

/// The types the tool sends, with what each means to the merchant.
const TYPES: [(u16, &str); 10] = [
    (0, "0: payment (deliver)"),
    (1, "1: goodwill credit (deliver)"),
    (2, "2: negative (refund, chargeback)"),
    (12, "12: subscription cancelled"),
    (13, "13: subscription expired"),
    (14, "14: subscription payment failed"),
    (200, "200: risk review pending"),
    (201, "201: risk review accepted"),
    (202, "202: risk review declined"),
    (203, "203: authorization voided"),
];

/// The form as text, as posted or as first shown.
pub struct ToolForm {
    kind: String,
    uid: String,
    goodsid: String,
    slength: String,
    speriod: String,
    vc_amount: String,
    reference: String,
    is_test: bool,
    reason: String,
    amount: String,
    currency_code: String,
    country: String,
    /// The project's `OWN` parameters with the values typed for them.
    own: Vec<(String, String)>,
}

impl ToolForm {
    fn new(p: &Project) -> ToolForm {
        ToolForm {
            kind: "0".into(),
            uid: "test_user".into(),
            goodsid: "test_product".into(),
            slength: String::new(),
            speriod: String::new(),
            vc_amount: "100".into(),
            reference: String::new(),
            is_test: true,
            reason: String::new(),
            amount: "9.99".into(),
            currency_code: "USD".into(),
            country: String::new(),
            own: own_names(p)
                .into_iter()
                .map(|n| (n, String::new()))
                .collect(),
        }
    }

    fn posted(p: &Project, pairs: &[(String, String)]) -> ToolForm {
        let get = |name: &str| {
            pairs
                .iter()
                .find(|(k, _)| k == name)
                .map(|(_, v)| v.clone())
                .unwrap_or_default()
        };
        ToolForm {
            kind: get("type"),
            uid: get("uid"),
            goodsid: get("goodsid"),
            slength: get("slength"),
            speriod: get("speriod"),
            vc_amount: get("vc_amount"),
            reference: get("ref"),
            is_test: pairs.iter().any(|(k, _)| k == "is_test"),
            reason: get("reason"),
            amount: get("amount"),
            currency_code: get("currency_code"),
            country: get("country"),
            own: own_names(p)
                .into_iter()
                .map(|n| {
                    let v = get(&format!("own:{n}"));
                    (n, v)
                })
                .collect(),
        }
    }

    fn input(&self) -> Result<ToolInput, String> {
        let type_code = self
            .kind
            .trim()
            .parse::<u16>()
            .map_err(|_| "Choose the pingback type.".to_string())?;
        let reason = match self.reason.trim() {
            "" => None,
            r => Some(
                r.parse::<u8>()
                    .map_err(|_| "Choose a reason from the list.".to_string())?,
            ),
        };
        Ok(ToolInput {
            type_code,
            uid: self.uid.clone(),
            goodsid: self.goodsid.clone(),
            slength: self.slength.clone(),
            speriod: self.speriod.clone(),
            vc_amount: self.vc_amount.clone(),
            r#ref: self.reference.clone(),
            is_test: self.is_test,
            reason,
            amount: self.amount.clone(),
            currency_code: self.currency_code.clone(),
            country: self.country.clone(),
            own: self.own.iter().cloned().collect(),
        })
    }

    pub fn is_kind(&self, k: &u16) -> bool {
        self.kind == k.to_string()
    }

    pub fn is_speriod(&self, per: &str) -> bool {
        self.speriod == per
    }

    pub fn is_reason(&self, r: &u8) -> bool {
        self.reason == r.to_string()
    }
}

/// The names of the project's custom parameters whose value is the link's own (`OWN`).
fn own_names(p: &Project) -> Vec<String> {
    p.custom_pingback
        .iter()
        .filter(|(_, v)| v == "OWN")
        .map(|(k, _)| k.clone())
        .collect()
}

#[derive(Template)]
#[template(path = "dash/pw_tool.html")]
struct ToolPage {
    nav: Nav,
    head: Head,
    f: ToolForm,
    types: [(u16, &'static str); 10],
    reasons: Vec<(u8, &'static str)>,
    goods: bool,
    cart: bool,
    vc: bool,
    custom: String,
    target: String,
    sign_version: u8,
    report: Option<ToolReport>,
}

fn render(
    ctx: &Ctx,
    p: &Project,
    f: ToolForm,
    report: Option<ToolReport>,
    error: Option<String>,
) -> Response {
    let mut head = Head::new(ctx, p, "tool");
    let status = if error.is_some() {
        StatusCode::BAD_REQUEST
    } else {
        StatusCode::OK
    };
    head.error = error;
    view::html(
        status,
        &ToolPage {
            nav: Nav::new(ctx, "paymentwall"),
            head,
            f,
            types: TYPES,
            reasons: REASONS.iter().map(|(c, t, _)| (*c, *t)).collect(),
            goods: p.api_type == ApiType::DigitalGoods,
            cart: p.api_type == ApiType::Cart,
            vc: p.api_type == ApiType::VirtualCurrency,
            custom: p
                .custom_pingback
                .iter()
                .map(|(k, v)| format!("{k}={v}"))
                .collect::<Vec<_>>()
                .join(", "),
            target: p.pingback_url().unwrap_or("").to_string(),
            sign_version: effective_sign_version(p).as_u8(),
            report,
        },
    )
}

pub async fn page(
    State(st): State<AppState>,
    ctx: Ctx,
    Path((_, id)): Path<(String, String)>,
) -> Response {
    match load(&st, &ctx, &id).await {
        Ok(p) => render(&ctx, &p, ToolForm::new(&p), None, None),
        Err(resp) => resp,
    }
}

pub async fn send(
    State(st): State<AppState>,
    Path((_, id)): Path<(String, String)>,
    posted: Posted<Vec<(String, String)>>,
) -> Response {
    let ctx = posted.ctx;
    if let Err(resp) = ctx.require(Permission::ManageIntegrations) {
        return resp;
    }
    let p = match load(&st, &ctx, &id).await {
        Ok(p) => p,
        Err(resp) => return resp,
    };
    let f = ToolForm::posted(&p, &posted.form);
    let input = match f.input() {
        Ok(i) => i,
        Err(message) => return render(&ctx, &p, f, None, Some(message)),
    };
    match with_actor(
        ctx.actor(),
        st.svc
            .paymentwall()
            .send_tool_pingback(&ctx.scope, &id, &input),
    )
    .await
    {
        Ok(report) => render(&ctx, &p, f, Some(report), None),
        Err(e) => match form_error(&e) {
            Some(message) => render(&ctx, &p, f, None, Some(message)),
            None => view::service_error(&e),
        },
    }
}
