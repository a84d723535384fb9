//! The mode's event log (newest first, by type, or one event by id) and an event's page: its
//! JSON as sent and its deliveries on every channel, each with its attempts and a resend.

use std::collections::HashMap;

use askama::Template;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::Response;
use kassa_core::events::{Event, EventType};
use kassa_core::roles::Permission;
use kassa_http::AppState;
use kassa_service::audit::with_actor;
use serde::Deserialize;

use super::{delivery_rows, query_string, DeliveryRow};
use crate::ctx::{Ctx, Posted};
use crate::view::{self, Nav};

const PAGE_SIZE: i64 = 50;

#[derive(Debug, Default, Deserialize)]
pub struct ListQuery {
    #[serde(default, rename = "type")]
    kind: String,
    #[serde(default)]
    q: String,
    #[serde(default)]
    after: String,
}

impl ListQuery {
    pub fn is_type(&self, t: &str) -> bool {
        self.kind == t
    }
}

pub struct EventRow {
    pub id: String,
    pub kind: &'static str,
    pub object: String,
    pub created: String,
}

fn row(e: &Event) -> EventRow {
    EventRow {
        id: e.id.clone(),
        kind: e.event_type.as_str(),
        object: e.object["id"].as_str().unwrap_or_default().to_string(),
        created: view::time(e.created),
    }
}

#[derive(Template)]
#[template(path = "dash/events.html")]
struct ListPage {
    nav: Nav,
    q: ListQuery,
    types: Vec<&'static str>,
    rows: Vec<EventRow>,
    searched: bool,
    error: Option<String>,
    next: Option<String>,
}

pub async fn list(State(st): State<AppState>, ctx: Ctx, Query(q): Query<ListQuery>) -> Response {
    if let Err(resp) = ctx.require(Permission::Read) {
        return resp;
    }
    let mut page = ListPage {
        nav: Nav::new(&ctx, "events"),
        types: EventType::ALL.iter().map(|t| t.as_str()).collect(),
        rows: Vec::new(),
        searched: false,
        error: None,
        next: None,
        q: ListQuery::default(),
    };
    let needle = q.q.trim();
    if !needle.is_empty() {
        page.searched = true;
        if needle.len() > 100 {
            page.error = Some("That is too long to be an event id.".into());
        } else {
            match st.svc.store.event(&ctx.scope, needle).await {
                Ok(found) => page.rows = found.iter().map(row).collect(),
                Err(e) => return view::service_error(&e.into()),
            }
        }
    } else {
        let kind = match q.kind.as_str() {
            "" => Ok(None),
            t => EventType::parse(t)
                .map(|t| Some(t.as_str()))
                .ok_or("Unknown event type."),
        };
        match kind {
            Err(e) => page.error = Some(e.into()),
            Ok(kind) => {
                let after = Some(q.after.trim()).filter(|a| !a.is_empty());
                match st
                    .svc
                    .store
                    .events_of_type(&ctx.scope, kind, PAGE_SIZE + 1, after)
                    .await
                {
                    Ok(Some(mut found)) => {
                        if found.len() as i64 > PAGE_SIZE {
                            found.truncate(PAGE_SIZE as usize);
                            let last = found.last().map(|e| e.id.clone()).unwrap_or_default();
                            let qs =
                                query_string(&[("type", kind.unwrap_or("")), ("after", &last)]);
                            page.next = Some(format!("{}/developers/events?{qs}", ctx.home()));
                        }
                        page.rows = found.iter().map(row).collect();
                    }
                    Ok(None) => page.error = Some("That page does not exist any more.".into()),
                    Err(e) => return view::service_error(&e.into()),
                }
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

#[derive(Template)]
#[template(path = "dash/events_detail.html")]
struct DetailPage {
    nav: Nav,
    ev: EventRow,
    /// The event as its webhooks carry it, indented (escaped by the template).
    json: String,
    deliveries: Vec<DeliveryRow>,
    flash: Option<String>,
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
    if let Err(resp) = ctx.require(Permission::Read) {
        return resp;
    }
    let ev = match st.svc.webhooks().event(&ctx.scope, &id).await {
        Ok(ev) => ev,
        Err(e) => return view::service_error(&e),
    };
    let deliveries = match st.svc.store.deliveries_for_event(&ctx.scope, &ev.id).await {
        Ok(d) => d,
        Err(e) => return view::service_error(&e.into()),
    };
    // Webhooks are shown by their endpoint's URL (deleted endpoints by id).
    let urls: HashMap<String, String> = match st.svc.store.list_endpoints(&ctx.scope).await {
        Ok(eps) => eps.into_iter().map(|ep| (ep.id, ep.url)).collect(),
        Err(e) => return view::service_error(&e.into()),
    };
    let rows = match delivery_rows(&st, &ctx, &deliveries, &urls).await {
        Ok(r) => r,
        Err(resp) => return resp,
    };
    let flash = match q.done.as_str() {
        "resent" => Some("Sent again: the receiver accepted it.".to_string()),
        "resent_failed" => Some(
            "Sent again, and the receiver did not accept it: see the attempt below.".to_string(),
        ),
        _ => None,
    };
    let page = DetailPage {
        nav: Nav::new(&ctx, "events"),
        json: serde_json::to_string_pretty(&ev.to_json()).unwrap_or_default(),
        ev: row(&ev),
        deliveries: rows,
        flash,
    };
    view::page(&page)
}

#[derive(Deserialize)]
pub struct ResendForm {
    #[serde(default)]
    endpoint: String,
}

/// Sends the event again to one of its targets (a webhook endpoint, a Paymentwall project's
/// pingback, a Paymob callback), exactly as the API's resend does.
pub async fn resend(
    State(st): State<AppState>,
    Path((_, id)): Path<(String, String)>,
    p: Posted<ResendForm>,
) -> Response {
    let ctx = p.ctx;
    if let Err(resp) = ctx.require(Permission::MoveMoney) {
        return resp;
    }
    if p.form.endpoint.is_empty() {
        return view::bad_request("Choose where to send the event again.");
    }
    let what = match with_actor(
        ctx.actor(),
        st.svc
            .webhooks()
            .resend_event(&ctx.scope, &id, &p.form.endpoint),
    )
    .await
    {
        Ok(d) if d["status"] == "succeeded" => "resent",
        Ok(_) => "resent_failed",
        Err(e) => return view::service_error(&e),
    };
    view::see_other(&format!(
        "{}/developers/events/{id}?done={what}",
        ctx.home()
    ))
}
