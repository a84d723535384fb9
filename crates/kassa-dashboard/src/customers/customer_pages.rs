//! Customers: the list (newest first, found by id or e-mail) and a customer's page with their
//! saved cards (brand, last four digits and expiry only), payments and subscriptions.

use askama::Template;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::Response;
use kassa_core::customer::Customer;
use kassa_http::AppState;
use kassa_store::PaymentFilter;
use serde::Deserialize;

use super::{sub_row, SubRow, PAGE_SIZE, RELATED};
use crate::ctx::Ctx;
use crate::view::{self, Nav};

#[derive(Debug, Default, Deserialize)]
pub struct ListQuery {
    #[serde(default)]
    q: String,
    #[serde(default)]
    after: String,
}

pub struct Row {
    pub id: String,
    pub email: String,
    pub name: String,
    pub created: String,
    pub clock: String,
}

fn row(c: &Customer) -> Row {
    Row {
        id: c.id.clone(),
        email: c.email.clone().unwrap_or_default(),
        name: c.name.clone().unwrap_or_default(),
        created: view::time(c.created),
        clock: c.test_clock.clone().unwrap_or_default(),
    }
}

#[derive(Template)]
#[template(path = "dash/customers.html")]
struct ListPage {
    nav: Nav,
    q: String,
    rows: Vec<Row>,
    searched: bool,
    error: Option<String>,
    next: Option<String>,
}

/// Customers whose id is `needle`, or whose e-mail is (in any case) when it has an `@`.
async fn search(st: &AppState, ctx: &Ctx, needle: &str) -> Result<Vec<Customer>, Response> {
    let ids = if needle.contains('@') {
        st.svc
            .store
            .dashboard_customer_ids_by_email(&ctx.scope, needle, PAGE_SIZE)
            .await
            .map_err(|e| view::service_error(&e.into()))?
    } else {
        vec![needle.to_string()]
    };
    let mut found = Vec::new();
    for id in ids {
        match st.svc.store.customer(&ctx.scope, &id).await {
            Ok(Some(c)) => found.push(c),
            Ok(None) => {}
            Err(e) => return Err(view::service_error(&e.into())),
        }
    }
    Ok(found)
}

pub async fn list(State(st): State<AppState>, ctx: Ctx, Query(q): Query<ListQuery>) -> Response {
    let mut page = ListPage {
        nav: Nav::new(&ctx, "customers"),
        q: q.q.trim().to_string(),
        rows: Vec::new(),
        searched: false,
        error: None,
        next: None,
    };
    if !page.q.is_empty() {
        page.searched = true;
        if page.q.len() > 254 {
            page.error = Some("That is too long to be an id or an e-mail address.".into());
            return view::html(StatusCode::BAD_REQUEST, &page);
        }
        match search(&st, &ctx, &page.q).await {
            Ok(found) => page.rows = found.iter().map(row).collect(),
            Err(resp) => return resp,
        }
        return view::page(&page);
    }
    let after = Some(q.after.trim()).filter(|a| !a.is_empty());
    match st
        .svc
        .customers()
        .list_customers(&ctx.scope, PAGE_SIZE + 1, after, None)
        .await
    {
        Ok(Some(mut found)) => {
            if found.len() as i64 > PAGE_SIZE {
                found.truncate(PAGE_SIZE as usize);
                if let Some(last) = found.last() {
                    page.next = Some(format!("{}/customers?after={}", ctx.home(), last.id));
                }
            }
            page.rows = found.iter().map(row).collect();
            view::page(&page)
        }
        Ok(None) => {
            page.error = Some("That page does not exist any more.".into());
            view::html(StatusCode::BAD_REQUEST, &page)
        }
        Err(e) => view::service_error(&e),
    }
}

pub struct CardRow {
    pub brand: String,
    pub last4: String,
    pub expires: String,
    pub added: String,
}

pub struct PaymentRow {
    pub id: String,
    pub amount: String,
    pub status: &'static str,
    pub created: String,
}

#[derive(Template)]
#[template(path = "dash/customers_detail.html")]
struct DetailPage {
    nav: Nav,
    c: Row,
    phone: String,
    description: String,
    metadata: Vec<(String, String)>,
    clock_time: String,
    cards: Vec<CardRow>,
    payments: Vec<PaymentRow>,
    more_payments: bool,
    subscriptions: Vec<SubRow>,
    more_subscriptions: bool,
}

pub async fn detail(
    State(st): State<AppState>,
    ctx: Ctx,
    Path((_, id)): Path<(String, String)>,
) -> Response {
    let c = match st.svc.customers().customer(&ctx.scope, &id).await {
        Ok(c) => c,
        Err(e) => return view::service_error(&e),
    };
    // Only what identifies a card to a person: never its BIN or fingerprint.
    let cards = match st
        .svc
        .payments()
        .customer_payment_methods(&ctx.scope, &c.id, 100, None)
        .await
    {
        Ok(m) => m.unwrap_or_default(),
        Err(e) => return view::service_error(&e),
    };
    let filter = PaymentFilter {
        customer: Some(c.id.clone()),
        ..Default::default()
    };
    let mut payments = match st
        .svc
        .store
        .dashboard_payments(&ctx.scope, &filter, RELATED + 1, None)
        .await
    {
        Ok(p) => p.unwrap_or_default(),
        Err(e) => return view::service_error(&e.into()),
    };
    let more_payments = payments.len() as i64 > RELATED;
    payments.truncate(RELATED as usize);
    let mut subs = match st
        .svc
        .billing()
        .list_subscriptions(&ctx.scope, Some(&c.id), RELATED + 1, None)
        .await
    {
        Ok(s) => s.unwrap_or_default(),
        Err(e) => return view::service_error(&e),
    };
    let more_subscriptions = subs.len() as i64 > RELATED;
    subs.truncate(RELATED as usize);
    let clock_time = match &c.test_clock {
        Some(clock) => match st.svc.store.test_clock(&ctx.scope, clock).await {
            Ok(Some(t)) => view::time(t.frozen_time),
            Ok(None) => "deleted".to_string(),
            Err(e) => return view::service_error(&e.into()),
        },
        None => String::new(),
    };
    let page = DetailPage {
        nav: Nav::new(&ctx, "customers"),
        phone: c.phone.clone().unwrap_or_default(),
        description: c.description.clone().unwrap_or_default(),
        metadata: c
            .metadata
            .iter()
            .map(|(k, v)| (k.clone(), v.clone()))
            .collect(),
        clock_time,
        cards: cards
            .iter()
            .map(|m| CardRow {
                brand: m.details.brand.clone(),
                last4: m.details.last4.clone(),
                expires: if m.details.exp_month == 0 {
                    String::new()
                } else {
                    format!("{:02}/{}", m.details.exp_month, m.details.exp_year)
                },
                added: view::time(m.created),
            })
            .collect(),
        payments: payments
            .iter()
            .map(|p| PaymentRow {
                id: p.id.clone(),
                amount: view::money(p.amount, &p.currency),
                status: p.status.as_str(),
                created: view::time(p.created),
            })
            .collect(),
        more_payments,
        subscriptions: subs.iter().map(sub_row).collect(),
        more_subscriptions,
        c: row(&c),
    };
    view::page(&page)
}
