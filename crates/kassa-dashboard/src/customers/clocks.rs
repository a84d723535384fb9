//! Test clocks (test mode only; 404 in live mode): the list with a form to create one frozen
//! at a chosen time, and a clock's page with its customers and subscriptions, buttons that
//! advance it by a day, a week, a month or to a chosen time (every renewal, retry and end it
//! passes runs on the way, as `advance_test_clock` does for the API), and deletion.

use askama::Template;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::Response;
use kassa_core::calendar::{add_interval, IntervalUnit, DAY_MS};
use kassa_core::roles::Permission;
use kassa_http::AppState;
use kassa_service::audit::with_actor;
use kassa_service::ServiceError;
use kassa_store::TestClock;
use serde::Deserialize;

use super::{sub_row, subscriptions_by_id, SubRow, PAGE_SIZE, RELATED};
use crate::ctx::{Ctx, Posted};
use crate::view::{self, Nav};

/// Clocks exist only in test mode: in live mode their pages do not exist (the 404 to answer).
fn live_mode_404(ctx: &Ctx) -> Option<Response> {
    ctx.mode.is_live().then(view::not_found)
}

/// The layout's mode switch would lead to a live clock page, which cannot exist: it goes to
/// the live subscriptions instead.
fn nav(ctx: &Ctx) -> Nav {
    let mut nav = Nav::new(ctx, "subscriptions");
    nav.switch_to = "/dashboard/live/subscriptions".to_string();
    nav
}

/// `HH:MM` or `HH:MM:SS` as milliseconds into the day; empty is midnight.
fn parse_time_of_day(s: &str) -> Option<i64> {
    let s = s.trim();
    if s.is_empty() {
        return Some(0);
    }
    let parts: Vec<&str> = s.split(':').collect();
    if !(2..=3).contains(&parts.len()) || parts.iter().any(|p| p.len() != 2) {
        return None;
    }
    let n: Vec<i64> = parts
        .iter()
        .map(|p| p.parse::<i64>().ok())
        .collect::<Option<_>>()?;
    let (h, m, sec) = (n[0], n[1], n.get(2).copied().unwrap_or(0));
    ((0..24).contains(&h) && (0..60).contains(&m) && (0..60).contains(&sec))
        .then_some(((h * 60 + m) * 60 + sec) * 1000)
}

/// A `YYYY-MM-DD` date and an optional `HH:MM[:SS]` time (UTC) as Unix seconds.
fn parse_moment(date: &str, time: &str) -> Result<i64, String> {
    let day = view::parse_date(date).ok_or("The date must be YYYY-MM-DD.")?;
    let into = parse_time_of_day(time).ok_or("The time must be HH:MM (24-hour, UTC).")?;
    Ok((day + into) / 1000)
}

/// The date and time fields' values for a moment.
fn date_and_time(ms: i64) -> (String, String) {
    let t = view::time(ms);
    (t[..10].to_string(), t[11..16].to_string())
}

pub struct ClockRow {
    pub id: String,
    pub name: String,
    pub time: String,
    pub status: String,
    pub created: String,
}

fn clock_row(c: &TestClock) -> ClockRow {
    ClockRow {
        id: c.id.clone(),
        name: c.name.clone().unwrap_or_default(),
        time: view::time(c.frozen_time),
        status: c.status.clone(),
        created: view::time(c.created),
    }
}

#[derive(Template)]
#[template(path = "dash/clocks.html")]
struct ListPage {
    nav: Nav,
    rows: Vec<ClockRow>,
    next: Option<String>,
    may_manage: bool,
    error: Option<String>,
    flash: Option<&'static str>,
    name: String,
    date: String,
    time: String,
}

#[derive(Debug, Default, Deserialize)]
pub struct ListQuery {
    #[serde(default)]
    after: String,
    #[serde(default)]
    done: String,
}

async fn list_page(
    st: &AppState,
    ctx: &Ctx,
    after: Option<&str>,
    form: Option<(&CreateForm, String)>,
    flash: Option<&'static str>,
) -> Response {
    let (date, time) = date_and_time(kassa_store::now_ms());
    let mut page = ListPage {
        nav: nav(ctx),
        rows: Vec::new(),
        next: None,
        may_manage: ctx.role.allows(Permission::ManageIntegrations),
        error: None,
        flash,
        name: String::new(),
        date,
        time,
    };
    let mut status = StatusCode::OK;
    if let Some((f, error)) = form {
        page.name = f.name.clone();
        page.date = f.date.clone();
        page.time = f.time.clone();
        page.error = Some(error);
        status = StatusCode::BAD_REQUEST;
    }
    match st
        .svc
        .billing()
        .list_test_clocks(&ctx.scope, PAGE_SIZE + 1, after)
        .await
    {
        Ok(Some(mut found)) => {
            if found.len() as i64 > PAGE_SIZE {
                found.truncate(PAGE_SIZE as usize);
                if let Some(last) = found.last() {
                    page.next = Some(format!("{}/clocks?after={}", ctx.home(), last.id));
                }
            }
            page.rows = found.iter().map(clock_row).collect();
        }
        Ok(None) => {
            page.error = Some("That page does not exist any more.".into());
            status = StatusCode::BAD_REQUEST;
        }
        Err(e) => return view::service_error(&e),
    }
    view::html(status, &page)
}

pub async fn list(State(st): State<AppState>, ctx: Ctx, Query(q): Query<ListQuery>) -> Response {
    if let Some(resp) = live_mode_404(&ctx) {
        return resp;
    }
    let after = Some(q.after.trim()).filter(|a| !a.is_empty());
    let flash = (q.done == "delete").then_some("Test clock deleted.");
    list_page(&st, &ctx, after, None, flash).await
}

#[derive(Deserialize)]
pub struct CreateForm {
    #[serde(default)]
    name: String,
    #[serde(default)]
    date: String,
    #[serde(default)]
    time: String,
}

pub async fn create(State(st): State<AppState>, p: Posted<CreateForm>) -> Response {
    let ctx = p.ctx;
    if let Some(resp) = live_mode_404(&ctx) {
        return resp;
    }
    if let Err(resp) = ctx.require(Permission::ManageIntegrations) {
        return resp;
    }
    let at = match parse_moment(&p.form.date, &p.form.time) {
        Ok(at) => at,
        Err(e) => return list_page(&st, &ctx, None, Some((&p.form, e)), None).await,
    };
    let name = Some(p.form.name.trim().to_string()).filter(|n| !n.is_empty());
    match with_actor(
        ctx.actor(),
        st.svc.billing().create_test_clock(&ctx.scope, at, name),
    )
    .await
    {
        Ok(c) => view::see_other(&format!("{}/clocks/{}?done=create", ctx.home(), c.id)),
        Err(ServiceError::Invalid { message, .. }) => {
            list_page(&st, &ctx, None, Some((&p.form, message)), None).await
        }
        Err(e) => view::service_error(&e),
    }
}

pub struct CustomerRow {
    pub id: String,
    pub email: String,
    pub name: String,
}

#[derive(Template)]
#[template(path = "dash/clocks_detail.html")]
struct DetailPage {
    nav: Nav,
    c: ClockRow,
    customers: Vec<CustomerRow>,
    subscriptions: Vec<SubRow>,
    may_manage: bool,
    error: Option<String>,
    flash: Option<&'static str>,
    date: String,
    time: String,
}

async fn detail_page(
    st: &AppState,
    ctx: &Ctx,
    id: &str,
    flash: Option<&'static str>,
    error: Option<(String, &AdvanceForm)>,
) -> Response {
    let clock = match st.svc.billing().test_clock(&ctx.scope, id).await {
        Ok(c) => c,
        Err(e) => return view::service_error(&e),
    };
    let store = &st.svc.store;
    let customer_ids = match store
        .dashboard_clock_customer_ids(&ctx.scope, &clock.id, RELATED)
        .await
    {
        Ok(ids) => ids,
        Err(e) => return view::service_error(&e.into()),
    };
    let mut customers = Vec::new();
    for cid in &customer_ids {
        match store.customer(&ctx.scope, cid).await {
            Ok(Some(c)) => customers.push(CustomerRow {
                id: c.id,
                email: c.email.unwrap_or_default(),
                name: c.name.unwrap_or_default(),
            }),
            Ok(None) => {}
            Err(e) => return view::service_error(&e.into()),
        }
    }
    let sub_ids = match store
        .dashboard_clock_subscription_ids(&ctx.scope, &clock.id, RELATED)
        .await
    {
        Ok(ids) => ids,
        Err(e) => return view::service_error(&e.into()),
    };
    let subscriptions = match subscriptions_by_id(st, &ctx.scope, &sub_ids).await {
        Ok(s) => s.iter().map(sub_row).collect(),
        Err(resp) => return resp,
    };
    // "Advance to" starts a day after the clock's time.
    let (mut date, mut time) = date_and_time(clock.frozen_time + DAY_MS);
    let mut status = StatusCode::OK;
    let error = error.map(|(message, f)| {
        date = f.date.clone();
        time = f.time.clone();
        status = StatusCode::BAD_REQUEST;
        message
    });
    let page = DetailPage {
        nav: nav(ctx),
        c: clock_row(&clock),
        customers,
        subscriptions,
        may_manage: ctx.role.allows(Permission::ManageIntegrations),
        error,
        flash,
        date,
        time,
    };
    view::html(status, &page)
}

#[derive(Deserialize)]
pub struct FlashQuery {
    #[serde(default)]
    done: String,
}

pub async fn detail(
    State(st): State<AppState>,
    ctx: Ctx,
    Path((_, id)): Path<(String, String)>,
    Query(q): Query<FlashQuery>,
) -> Response {
    if let Some(resp) = live_mode_404(&ctx) {
        return resp;
    }
    let flash = match q.done.as_str() {
        "create" => Some("Test clock created. Customers created with it live at its time."),
        "advance" => Some("Advanced: everything due on the way has run."),
        _ => None,
    };
    detail_page(&st, &ctx, &id, flash, None).await
}

#[derive(Deserialize)]
pub struct AdvanceForm {
    /// `day`, `week`, `month` (from the clock's time) or `date` (to the date and time given).
    #[serde(default)]
    by: String,
    #[serde(default)]
    date: String,
    #[serde(default)]
    time: String,
}

pub async fn advance(
    State(st): State<AppState>,
    Path((_, id)): Path<(String, String)>,
    p: Posted<AdvanceForm>,
) -> Response {
    let ctx = p.ctx;
    if let Some(resp) = live_mode_404(&ctx) {
        return resp;
    }
    if let Err(resp) = ctx.require(Permission::ManageIntegrations) {
        return resp;
    }
    let clock = match st.svc.billing().test_clock(&ctx.scope, &id).await {
        Ok(c) => c,
        Err(e) => return view::service_error(&e),
    };
    let now = clock.frozen_time;
    let to = match p.form.by.as_str() {
        "day" => Ok(add_interval(now, IntervalUnit::Day, 1) / 1000),
        "week" => Ok(add_interval(now, IntervalUnit::Week, 1) / 1000),
        "month" => Ok(add_interval(now, IntervalUnit::Month, 1) / 1000),
        "date" => parse_moment(&p.form.date, &p.form.time),
        _ => Err("Choose how far to advance the clock.".to_string()),
    };
    let to = match to {
        Ok(t) => t,
        Err(e) => return detail_page(&st, &ctx, &id, None, Some((e, &p.form))).await,
    };
    match with_actor(
        ctx.actor(),
        st.svc.billing().advance_test_clock(&ctx.scope, &id, to),
    )
    .await
    {
        Ok(_) => view::see_other(&format!("{}/clocks/{id}?done=advance", ctx.home())),
        Err(ServiceError::Invalid { message, .. }) => {
            detail_page(&st, &ctx, &id, None, Some((message, &p.form))).await
        }
        Err(e) => view::service_error(&e),
    }
}

/// Forms carry only the session's token.
#[derive(Deserialize)]
pub struct Empty {}

pub async fn delete(
    State(st): State<AppState>,
    Path((_, id)): Path<(String, String)>,
    p: Posted<Empty>,
) -> Response {
    let ctx = p.ctx;
    if let Some(resp) = live_mode_404(&ctx) {
        return resp;
    }
    if let Err(resp) = ctx.require(Permission::ManageIntegrations) {
        return resp;
    }
    match with_actor(
        ctx.actor(),
        st.svc.billing().delete_test_clock(&ctx.scope, &id),
    )
    .await
    {
        Ok(_) => view::see_other(&format!("{}/clocks?done=delete", ctx.home())),
        Err(e) => view::service_error(&e),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn moments_are_a_date_and_a_utc_time() {
        assert_eq!(
            parse_moment("2027-01-15", "09:00"),
            Ok(1_800_000_000 - 1_800_000_000 % 86_400 + 9 * 3600)
        );
        assert_eq!(
            parse_moment("2027-01-15", ""),
            Ok(1_800_000_000 - 1_800_000_000 % 86_400)
        );
        assert_eq!(
            parse_moment("2027-01-15", "23:59:59").map(|s| s % 86_400),
            Ok(86_399)
        );
        assert!(parse_moment("2027-01-15", "24:00").is_err());
        assert!(parse_moment("2027-01-15", "9:00").is_err());
        assert!(parse_moment("15/01/2027", "09:00").is_err());
        assert_eq!(
            date_and_time(1_800_000_000_000),
            ("2027-01-15".to_string(), "08:00".to_string())
        );
    }
}
