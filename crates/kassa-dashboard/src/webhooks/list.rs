//! The endpoint list with each endpoint's health, and the form that adds one (its answer shows
//! the new signing secret, once).

use askama::Template;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::Response;
use kassa_core::events::EventType;
use kassa_core::roles::Permission;
use kassa_http::AppState;
use kassa_service::audit::with_actor;
use kassa_service::{EndpointParams, ServiceError};
use kassa_store::{EndpointHealth, WebhookEndpoint, FAILING_CAP};

use crate::ctx::{Ctx, Posted};
use crate::view::{self, Nav};

/// An event type the forms offer, and whether it is ticked.
pub struct EventChoice {
    pub name: &'static str,
    pub checked: bool,
}

/// What the create and edit forms hold (the values sent back when one is refused).
#[derive(Default)]
pub struct EndpointForm {
    pub url: String,
    pub description: String,
    /// `["*"]` for every event, else the ticked types.
    pub events: Vec<String>,
}

impl EndpointForm {
    /// From the posted pairs: event types come as repeated `events` fields (checkboxes),
    /// which a struct cannot hold.
    pub(super) fn from_pairs(pairs: &[(String, String)]) -> EndpointForm {
        let get = |name: &str| {
            pairs
                .iter()
                .find(|(k, _)| k == name)
                .map(|(_, v)| v.trim().to_string())
                .unwrap_or_default()
        };
        let mut events: Vec<String> = pairs
            .iter()
            .filter(|(k, _)| k == "events")
            .map(|(_, v)| v.trim().to_string())
            .collect();
        if events.iter().any(|e| e == "*") {
            events = vec!["*".into()];
        }
        events.dedup();
        EndpointForm {
            url: get("url"),
            description: get("description"),
            events,
        }
    }

    pub fn all_events(&self) -> bool {
        self.events.iter().any(|e| e == "*")
    }

    pub fn choices(&self) -> Vec<EventChoice> {
        EventType::ALL
            .iter()
            .map(|t| EventChoice {
                name: t.as_str(),
                checked: self.events.iter().any(|e| e == t.as_str()),
            })
            .collect()
    }
}

pub struct EndpointRow {
    pub id: String,
    pub url: String,
    pub description: String,
    pub enabled: bool,
    pub events: String,
    pub health: String,
    pub failing: String,
}

pub(super) fn events_text(ep: &WebhookEndpoint) -> String {
    if ep.enabled_events.iter().any(|e| e == "*") {
        "all events".into()
    } else {
        ep.enabled_events.join(", ")
    }
}

/// `96% (48 of 50)`, or why there is no figure yet.
pub(super) fn health_text(h: &EndpointHealth) -> String {
    if h.recent == 0 {
        "no deliveries tried yet".into()
    } else {
        format!(
            "{}% ({} of the last {})",
            h.recent_succeeded * 100 / h.recent,
            h.recent_succeeded,
            h.recent
        )
    }
}

pub(super) fn failing_text(h: &EndpointHealth) -> String {
    if h.failing >= FAILING_CAP {
        format!("{FAILING_CAP} or more")
    } else {
        h.failing.to_string()
    }
}

#[derive(Template)]
#[template(path = "dash/webhooks.html")]
struct ListPage {
    nav: Nav,
    rows: Vec<EndpointRow>,
    form: EndpointForm,
    choices: Vec<EventChoice>,
    error: Option<String>,
    /// The endpoint just created and its signing secret, shown this once.
    created: Option<(String, String)>,
}

async fn render_list(
    st: &AppState,
    ctx: &Ctx,
    status: StatusCode,
    form: EndpointForm,
    error: Option<String>,
    created: Option<(String, String)>,
) -> Response {
    let eps = match st.svc.store.list_endpoints(&ctx.scope).await {
        Ok(e) => e,
        Err(e) => return view::service_error(&e.into()),
    };
    let mut rows = Vec::new();
    for ep in &eps {
        let h = match st.svc.store.endpoint_health(&ctx.scope, &ep.id).await {
            Ok(h) => h,
            Err(e) => return view::service_error(&e.into()),
        };
        rows.push(EndpointRow {
            id: ep.id.clone(),
            url: ep.url.clone(),
            description: ep.description.clone().unwrap_or_default(),
            enabled: ep.status == "enabled",
            events: events_text(ep),
            health: health_text(&h),
            failing: failing_text(&h),
        });
    }
    let page = ListPage {
        nav: Nav::new(ctx, "webhooks"),
        rows,
        choices: form.choices(),
        form,
        error,
        created,
    };
    view::html(status, &page)
}

pub async fn list(State(st): State<AppState>, ctx: Ctx) -> Response {
    if let Err(resp) = ctx.require(Permission::Read) {
        return resp;
    }
    let form = EndpointForm {
        events: vec!["*".into()],
        ..Default::default()
    };
    render_list(&st, &ctx, StatusCode::OK, form, None, None).await
}

/// The refusal page unless the user may change endpoints (`ManageIntegrations`) and, when the
/// answer shows a secret, gave the password again lately.
pub(super) fn refusal(ctx: &Ctx, shows_secret: bool) -> Option<Response> {
    if let Err(resp) = ctx.require(Permission::ManageIntegrations) {
        return Some(resp);
    }
    if shows_secret {
        return ctx.require_recent_password().err();
    }
    None
}

pub async fn create(State(st): State<AppState>, p: Posted<Vec<(String, String)>>) -> Response {
    let ctx = p.ctx;
    if let Some(resp) = refusal(&ctx, true) {
        return resp;
    }
    let form = EndpointForm::from_pairs(&p.form);
    let refused =
        |msg: String, form| render_list(&st, &ctx, StatusCode::BAD_REQUEST, form, Some(msg), None);
    if form.url.is_empty() {
        return refused("Enter the URL to send events to.".into(), form).await;
    }
    if form.events.is_empty() {
        return refused("Choose the events to send, or all of them.".into(), form).await;
    }
    let params = EndpointParams {
        url: form.url.clone(),
        enabled_events: form.events.clone(),
        description: Some(form.description.clone()).filter(|d| !d.is_empty()),
    };
    match with_actor(
        ctx.actor(),
        st.svc.webhooks().create_endpoint(&ctx.scope, params, None),
    )
    .await
    {
        Ok(body) => {
            let id = body["id"].as_str().unwrap_or_default().to_string();
            let secret = body["secret"].as_str().unwrap_or_default().to_string();
            let fresh = EndpointForm {
                events: vec!["*".into()],
                ..Default::default()
            };
            render_list(&st, &ctx, StatusCode::OK, fresh, None, Some((id, secret))).await
        }
        Err(e @ (ServiceError::Invalid { .. } | ServiceError::UrlRefused { .. })) => {
            refused(e.to_string(), form).await
        }
        Err(e) => view::service_error(&e),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pairs(p: &[(&str, &str)]) -> Vec<(String, String)> {
        p.iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    #[test]
    fn the_form_reads_ticked_events_and_all_wins() {
        let f = EndpointForm::from_pairs(&pairs(&[
            ("url", " https://a.example/h "),
            ("events", "refund.created"),
            ("events", "invoice.paid"),
        ]));
        assert_eq!(f.url, "https://a.example/h");
        assert_eq!(f.events, vec!["refund.created", "invoice.paid"]);
        assert!(f
            .choices()
            .iter()
            .any(|c| c.name == "invoice.paid" && c.checked));
        let all =
            EndpointForm::from_pairs(&pairs(&[("events", "refund.created"), ("events", "*")]));
        assert_eq!(all.events, vec!["*"]);
        assert!(all.all_events());
    }

    #[test]
    fn health_reads_as_a_share() {
        let h = EndpointHealth {
            recent: 50,
            recent_succeeded: 48,
            failing: 3,
        };
        assert_eq!(health_text(&h), "96% (48 of the last 50)");
        assert_eq!(
            health_text(&EndpointHealth::default()),
            "no deliveries tried yet"
        );
        let many = EndpointHealth {
            failing: FAILING_CAP,
            ..h
        };
        assert_eq!(failing_text(&many), "10000 or more");
    }
}
