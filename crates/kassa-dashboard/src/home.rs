//! Home: the last 24 hours in a server-drawn chart, the totals, and a getting-started list.

use askama::Template;
use axum::extract::State;
use axum::response::Response;
use kassa_http::AppState;

use crate::ctx::Ctx;
use crate::view::{self, Nav};

const HOURS: i64 = 24;
const CHART_W: i64 = 480;
const CHART_H: i64 = 120;

pub struct Bar {
    pub x: i64,
    pub y: i64,
    pub w: i64,
    pub h: i64,
    pub label: String,
}

pub struct Step {
    pub done: bool,
    pub text: &'static str,
    pub href: String,
}

#[derive(Template)]
#[template(path = "dash/home.html")]
struct HomePage {
    nav: Nav,
    created: i64,
    succeeded: i64,
    volume: Vec<String>,
    bars: Vec<Bar>,
    peak: i64,
    steps: Vec<Step>,
    declines: Vec<(String, i64)>,
    failing: Vec<(String, String, i64)>,
    chart_w: i64,
    chart_h: i64,
}

pub async fn home(State(st): State<AppState>, ctx: Ctx) -> Response {
    let now = kassa_store::now_ms();
    let first_hour = now / 3_600_000 - (HOURS - 1);
    let stats = match st
        .svc
        .store
        .payment_stats(&ctx.scope, first_hour * 3_600_000)
        .await
    {
        Ok(s) => s,
        Err(e) => return view::service_error(&e.into()),
    };
    let mut per_hour = [0i64; HOURS as usize];
    let mut created = 0;
    let mut succeeded = 0;
    for s in &stats {
        created += s.count;
        if s.status == "succeeded" {
            succeeded += s.count;
            if let Some(slot) = per_hour.get_mut((s.hour - first_hour) as usize) {
                *slot += s.count;
            }
        }
    }
    // Volume is per currency: amounts of different currencies do not add up.
    let volume = match st
        .svc
        .store
        .succeeded_volume(&ctx.scope, first_hour * 3_600_000)
        .await
    {
        Ok(v) => v
            .into_iter()
            .filter_map(|(code, amount)| {
                kassa_core::money::Currency::parse(&code)
                    .ok()
                    .map(|c| view::money(amount, &c))
            })
            .collect(),
        Err(e) => return view::service_error(&e.into()),
    };
    let peak = per_hour.iter().copied().max().unwrap_or(0).max(1);
    let w = CHART_W / HOURS;
    let bars = per_hour
        .iter()
        .enumerate()
        .map(|(i, &n)| {
            let h = n * (CHART_H - 10) / peak;
            Bar {
                x: i as i64 * w,
                y: CHART_H - h,
                w: w - 2,
                h,
                label: format!(
                    "{}: {n} succeeded",
                    view::time((first_hour + i as i64) * 3_600_000)
                ),
            }
        })
        .collect();
    let home = ctx.home();
    let any_paid = match st.svc.store.has_succeeded_payment(&ctx.scope).await {
        Ok(paid) => paid,
        Err(e) => return view::service_error(&e.into()),
    };
    let endpoints = match st.svc.store.list_endpoints(&ctx.scope).await {
        Ok(e) => e.len(),
        Err(e) => return view::service_error(&e.into()),
    };
    let delivered = match st.svc.store.has_delivered_webhook(&ctx.scope).await {
        Ok(d) => d,
        Err(e) => return view::service_error(&e.into()),
    };
    let steps = vec![
        Step {
            done: ctx.user.has_totp(),
            text: "Set up an authenticator for your account",
            href: format!("{home}/account/security"),
        },
        Step {
            done: any_paid,
            text: "Take a first payment (test card 4242 4242 4242 4242 in test mode)",
            href: format!("{home}/payments"),
        },
        Step {
            done: endpoints > 0,
            text: "Add a webhook endpoint",
            href: format!("{home}/developers/webhooks"),
        },
        Step {
            done: delivered,
            text: "Receive a first webhook your server accepted",
            href: format!("{home}/payments"),
        },
    ];
    let since = first_hour * 3_600_000;
    let declines = match st.svc.store.declines_by_reason(&ctx.scope, since).await {
        Ok(d) => d,
        Err(e) => return view::service_error(&e.into()),
    };
    let failing = match st.svc.store.failing_endpoints(&ctx.scope, since).await {
        Ok(f) => f,
        Err(e) => return view::service_error(&e.into()),
    };
    let mut failing_rows = Vec::new();
    for (id, n) in failing {
        let url = match st.svc.store.endpoint(&ctx.scope, &id).await {
            Ok(Some(ep)) => ep.url,
            Ok(None) => continue,
            Err(e) => return view::service_error(&e.into()),
        };
        failing_rows.push((id, url, n));
    }
    view::page(&HomePage {
        declines,
        failing: failing_rows,
        nav: Nav::new(&ctx, "home"),
        created,
        succeeded,
        volume,
        bars,
        peak,
        steps,
        chart_w: CHART_W,
        chart_h: CHART_H,
    })
}
