//! The payments list: filters, search by any id, keyset pages, the CSV export.

use askama::Template;
use axum::extract::{Query, State};
use axum::http::header::{CONTENT_DISPOSITION, CONTENT_TYPE};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use kassa_core::money::{Currency, Money};
use kassa_http::AppState;
use kassa_store::{Face, PaymentFilter};
use serde::Deserialize;

use crate::ctx::Ctx;
use crate::view::{self, Nav};

use super::{minor_units, row, Row, STATUSES};

const PAGE_SIZE: i64 = 50;
/// Most rows one CSV export holds (narrow the filters for more).
const EXPORT_MAX: usize = 100_000;

#[derive(Debug, Default, Deserialize)]
pub struct ListQuery {
    #[serde(default)]
    q: String,
    #[serde(default)]
    status: String,
    #[serde(default)]
    face: String,
    #[serde(default)]
    currency: String,
    #[serde(default)]
    amount_min: String,
    #[serde(default)]
    amount_max: String,
    #[serde(default)]
    from: String,
    #[serde(default)]
    to: String,
    #[serde(default)]
    customer: String,
    #[serde(default)]
    last4: String,
    #[serde(default)]
    after: String,
}

impl ListQuery {
    pub fn is_status(&self, s: &str) -> bool {
        self.status == s
    }

    fn filter(&self) -> Result<PaymentFilter, String> {
        let status = match self.status.as_str() {
            "" => None,
            s if STATUSES.contains(&s) => Some(s.to_string()),
            _ => return Err("Unknown status.".into()),
        };
        let face = match self.face.as_str() {
            "" => None,
            "native" => Some(Face::Native),
            "paymentwall" => Some(Face::Paymentwall),
            "paymob" => Some(Face::Paymob),
            _ => return Err("Unknown face.".into()),
        };
        let currency = match self.currency.trim() {
            "" => None,
            c => Some(Currency::parse(c).map_err(|_| format!("“{c}” is not a currency."))?),
        };
        let date = |s: &str, what: &str| -> Result<Option<i64>, String> {
            match s.trim() {
                "" => Ok(None),
                d => view::parse_date(d)
                    .map(Some)
                    .ok_or_else(|| format!("The {what} date must be YYYY-MM-DD.")),
            }
        };
        let last4 = match self.last4.trim() {
            "" => None,
            l if l.len() == 4 && l.bytes().all(|b| b.is_ascii_digit()) => Some(l.to_string()),
            _ => return Err("Card last 4 must be four digits.".into()),
        };
        Ok(PaymentFilter {
            status,
            face,
            amount_min: minor_units(&self.amount_min, currency.as_ref())?,
            amount_max: minor_units(&self.amount_max, currency.as_ref())?,
            currency: currency.map(|c| c.code().to_string()),
            created_from: date(&self.from, "from")?,
            // "To" includes that whole day.
            created_to: date(&self.to, "to")?.map(|d| d + 86_400_000),
            customer: Some(self.customer.trim().to_string()).filter(|c| !c.is_empty()),
            last4,
        })
    }

    /// The filters as a query string, without the cursor (for the next page and the export).
    fn query_string(&self) -> String {
        let pairs = [
            ("status", &self.status),
            ("face", &self.face),
            ("currency", &self.currency),
            ("amount_min", &self.amount_min),
            ("amount_max", &self.amount_max),
            ("from", &self.from),
            ("to", &self.to),
            ("customer", &self.customer),
            ("last4", &self.last4),
        ];
        let mut s = url::form_urlencoded::Serializer::new(String::new());
        for (k, v) in pairs {
            if !v.trim().is_empty() {
                s.append_pair(k, v.trim());
            }
        }
        s.finish()
    }
}

#[derive(Template)]
#[template(path = "dash/payments.html")]
struct ListPage {
    nav: Nav,
    q: ListQuery,
    statuses: [&'static str; 6],
    rows: Vec<Row>,
    searched: bool,
    error: Option<String>,
    next: Option<String>,
    export: String,
}

pub async fn list(State(st): State<AppState>, ctx: Ctx, Query(q): Query<ListQuery>) -> Response {
    let nav = Nav::new(&ctx, "payments");
    let mut page = ListPage {
        export: format!("{}/payments.csv?{}", ctx.home(), q.query_string()),
        nav,
        statuses: STATUSES,
        rows: Vec::new(),
        searched: false,
        error: None,
        next: None,
        q: ListQuery::default(),
    };
    let needle = q.q.trim().to_string();
    if !needle.is_empty() {
        page.searched = true;
        if needle.len() > 200 {
            page.error = Some("That is too long to be an id.".into());
        } else {
            match st
                .svc
                .store
                .find_payments_by_reference(&ctx.scope, &needle)
                .await
            {
                Ok(found) => page.rows = found.iter().map(row).collect(),
                Err(e) => return view::service_error(&e.into()),
            }
        }
        page.q = q;
        return view::page(&page);
    }
    match q.filter() {
        Err(e) => page.error = Some(e),
        Ok(filter) => {
            let after = Some(q.after.trim()).filter(|a| !a.is_empty());
            match st
                .svc
                .store
                .dashboard_payments(&ctx.scope, &filter, PAGE_SIZE + 1, after)
                .await
            {
                Ok(Some(mut found)) => {
                    if found.len() as i64 > PAGE_SIZE {
                        found.truncate(PAGE_SIZE as usize);
                        let last = found.last().map(|p| p.id.clone()).unwrap_or_default();
                        let qs = q.query_string();
                        let sep = if qs.is_empty() { "" } else { "&" };
                        page.next = Some(format!("{}/payments?{qs}{sep}after={last}", ctx.home()));
                    }
                    page.rows = found.iter().map(row).collect();
                }
                Ok(None) => page.error = Some("That page does not exist any more.".into()),
                Err(e) => return view::service_error(&e.into()),
            }
        }
    }
    let status = if page.error.is_some() {
        StatusCode::BAD_REQUEST
    } else {
        StatusCode::OK
    };
    page.q = q;
    view::html(status, &page)
}

/// A CSV cell: quoted, and a leading `=`, `+`, `-` or `@` defused so a spreadsheet does not
/// run it as a formula.
fn csv_cell(s: &str) -> String {
    let s = if s.starts_with(['=', '+', '-', '@']) {
        format!("'{s}")
    } else {
        s.to_string()
    };
    format!("\"{}\"", s.replace('"', "\"\""))
}

pub async fn export_csv(
    State(st): State<AppState>,
    ctx: Ctx,
    Query(q): Query<ListQuery>,
) -> Response {
    let filter = match q.filter() {
        Ok(f) => f,
        Err(e) => return view::bad_request(&e),
    };
    let mut out = String::from(
        "id,created,amount,currency,status,amount_received,amount_refunded,card_brand,card_last4,customer,description\n",
    );
    let mut after: Option<String> = None;
    let mut n = 0usize;
    loop {
        let found = match st
            .svc
            .store
            .dashboard_payments(&ctx.scope, &filter, 500, after.as_deref())
            .await
        {
            Ok(Some(f)) => f,
            Ok(None) => break,
            Err(e) => return view::service_error(&e.into()),
        };
        for pi in &found {
            let (brand, last4) = pi
                .payment_method
                .as_ref()
                .map(|m| (m.brand.clone(), m.last4.clone()))
                .unwrap_or_default();
            let cells = [
                pi.id.clone(),
                view::time(pi.created),
                Money::new(pi.amount, pi.currency)
                    .map(|m| m.to_decimal_string())
                    .unwrap_or_default(),
                pi.currency.code().to_string(),
                pi.status.as_str().to_string(),
                pi.amount_received.to_string(),
                pi.amount_refunded.to_string(),
                brand,
                last4,
                pi.customer.clone().unwrap_or_default(),
                pi.description.clone().unwrap_or_default(),
            ];
            out.push_str(
                &cells
                    .iter()
                    .map(|c| csv_cell(c))
                    .collect::<Vec<_>>()
                    .join(","),
            );
            out.push('\n');
        }
        n += found.len();
        if found.len() < 500 || n >= EXPORT_MAX {
            break;
        }
        after = found.last().map(|p| p.id.clone());
    }
    (
        [
            (CONTENT_TYPE, "text/csv; charset=utf-8"),
            (
                CONTENT_DISPOSITION,
                "attachment; filename=\"kassa-payments.csv\"",
            ),
        ],
        out,
    )
        .into_response()
}

/// A notification of one of the payment's events: the delivery as the log shows it, and what
/// its signature covers.
#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn csv_cells_are_quoted_and_formulas_defused() {
        assert_eq!(csv_cell("plain"), "\"plain\"");
        assert_eq!(csv_cell("say \"hi\""), "\"say \"\"hi\"\"\"");
        assert_eq!(csv_cell("=HYPERLINK(1)"), "\"'=HYPERLINK(1)\"");
        assert_eq!(csv_cell("-5"), "\"'-5\"");
    }

    #[test]
    fn filter_amounts_are_major_units_of_the_currency() {
        let q = ListQuery {
            currency: "jpy".into(),
            amount_min: "500".into(),
            ..Default::default()
        };
        assert_eq!(q.filter().unwrap().amount_min, Some(500));
        let q = ListQuery {
            amount_min: "12.5".into(),
            to: "2026-12-03".into(),
            ..Default::default()
        };
        let f = q.filter().unwrap();
        assert_eq!(f.amount_min, Some(1250));
        assert_eq!(f.created_to, Some(1_796_256_000_000 + 86_400_000));
        for bad in [
            ListQuery {
                status: "paid".into(),
                ..Default::default()
            },
            ListQuery {
                last4: "42".into(),
                ..Default::default()
            },
            ListQuery {
                from: "yesterday".into(),
                ..Default::default()
            },
            ListQuery {
                currency: "xxx1".into(),
                ..Default::default()
            },
        ] {
            assert!(bad.filter().is_err());
        }
    }
}
