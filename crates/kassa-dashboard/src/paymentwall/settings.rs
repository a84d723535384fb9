//! Project › Settings: API type, pingback URL (and the live one, in live mode), pingback
//! signature version, custom pingback parameters, the test method, who may frame the payment
//! page, and the project settings (virtual currency, link age, risk review, renewals, client
//! callbacks). Saved with `update_project`, which checks every value and audits the change.

use std::collections::BTreeMap;

use askama::Template;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::Response;
use kassa_core::roles::Permission;
use kassa_http::AppState;
use kassa_service::audit::with_actor;
use kassa_service::paymentwall::{ApiType, Project, ProjectInput, ProjectSettings, CUSTOM_MACROS};
use serde::Deserialize;

use super::{form_error, load, project_path, Done, Head, API_TYPES};
use crate::ctx::{Ctx, Posted};
use crate::view::{self, Nav};

/// The form's fields, as text: filled from the project, or from what was posted when it was
/// refused (so nothing typed is lost).
#[derive(Debug, Default, Deserialize)]
pub struct SettingsForm {
    #[serde(default)]
    name: String,
    #[serde(default)]
    api_type: String,
    #[serde(default)]
    pingback_url: String,
    /// Sent by the live-mode form only.
    live_pingback_url: Option<String>,
    #[serde(default)]
    pingback_sign_version: String,
    #[serde(default)]
    custom_pingback: String,
    /// A checkbox: present when ticked.
    test_method: Option<String>,
    #[serde(default)]
    frame_ancestors: String,
    #[serde(default)]
    vc_name: String,
    #[serde(default)]
    vc_rate: String,
    #[serde(default)]
    link_max_age_seconds: String,
    #[serde(default)]
    risk_review_delay_seconds: String,
    #[serde(default)]
    renewal_retry_seconds: String,
    client_callbacks: Option<String>,
}

impl SettingsForm {
    fn of(p: &Project) -> SettingsForm {
        let s = &p.settings;
        SettingsForm {
            name: p.row.name.clone(),
            api_type: p.api_type.as_str().to_string(),
            pingback_url: p.row.pingback_url.clone().unwrap_or_default(),
            live_pingback_url: Some(p.row.live_pingback_url.clone().unwrap_or_default()),
            pingback_sign_version: p.row.pingback_sign_version.to_string(),
            custom_pingback: custom_lines(&p.custom_pingback),
            test_method: p.row.test_method.then(|| "1".into()),
            frame_ancestors: p.row.frame_ancestors.clone().unwrap_or_default(),
            vc_name: s.vc_name.clone(),
            vc_rate: s.vc_rate.clone(),
            link_max_age_seconds: s.link_max_age_seconds.to_string(),
            risk_review_delay_seconds: s.risk_review_delay_seconds.to_string(),
            renewal_retry_seconds: s.renewal_retry_seconds.to_string(),
            client_callbacks: s.client_callbacks.then(|| "1".into()),
        }
    }

    pub fn live_url(&self) -> &str {
        self.live_pingback_url.as_deref().unwrap_or("")
    }

    pub fn is_api(&self, v: &str) -> bool {
        self.api_type == v
    }

    pub fn is_version(&self, v: &str) -> bool {
        self.pingback_sign_version == v
    }

    /// What to save. `live` says whether the live pingback URL may change (live mode only, as
    /// with the API, where a test key cannot touch a live setting).
    fn input(&self, live: bool) -> Result<ProjectInput, String> {
        let seconds = |v: &str, what: &str| -> Result<u64, String> {
            v.trim()
                .parse::<u64>()
                .map_err(|_| format!("{what} must be a whole number of seconds."))
        };
        let version = match self.pingback_sign_version.trim() {
            "1" => 1,
            "2" => 2,
            "3" => 3,
            _ => return Err("Choose pingback signature version 1, 2 or 3.".into()),
        };
        Ok(ProjectInput {
            name: Some(self.name.trim().to_string()),
            api_type: Some(self.api_type.clone()),
            pingback_url: Some(self.pingback_url.trim().to_string()),
            live_pingback_url: if live {
                Some(self.live_url().trim().to_string())
            } else {
                None
            },
            pingback_sign_version: Some(version),
            widgets: None,
            payment_systems: None,
            test_method: Some(self.test_method.is_some()),
            custom_pingback: Some(parse_custom(&self.custom_pingback)?),
            frame_ancestors: Some(self.frame_ancestors.trim().to_string()),
            settings: Some(ProjectSettings {
                vc_name: self.vc_name.trim().to_string(),
                vc_rate: self.vc_rate.trim().to_string(),
                link_max_age_seconds: seconds(&self.link_max_age_seconds, "Link maximum age")?,
                risk_review_delay_seconds: seconds(
                    &self.risk_review_delay_seconds,
                    "Risk review delay",
                )?,
                renewal_retry_seconds: seconds(&self.renewal_retry_seconds, "Renewal retry")?,
                client_callbacks: self.client_callbacks.is_some(),
            }),
        })
    }
}

/// Custom pingback parameters as the form shows them: one `name=VALUE` a line.
fn custom_lines(custom: &[(String, String)]) -> String {
    custom
        .iter()
        .map(|(k, v)| format!("{k}={v}"))
        .collect::<Vec<_>>()
        .join("\n")
}

/// The form's `name=VALUE` lines (blank lines skipped). The service checks the names and
/// values; here only the shape of each line, and that no name comes twice.
fn parse_custom(text: &str) -> Result<BTreeMap<String, String>, String> {
    let mut out = BTreeMap::new();
    for (n, line) in text.lines().enumerate() {
        let line = line.trim();
        if line.is_empty() {
            continue;
        }
        let Some((name, value)) = line.split_once('=') else {
            return Err(format!(
                "Custom pingback parameters, line {}: write name=VALUE (for example order_id=OWN).",
                n + 1
            ));
        };
        let name = name.trim().to_string();
        if out.insert(name.clone(), value.trim().to_string()).is_some() {
            return Err(format!(
                "Custom pingback parameters: “{}” is listed twice.",
                name.chars().take(64).collect::<String>()
            ));
        }
    }
    Ok(out)
}

#[derive(Template)]
#[template(path = "dash/pw_settings.html")]
struct SettingsPage {
    nav: Nav,
    head: Head,
    f: SettingsForm,
    api_types: [(&'static str, &'static str); 3],
    macros: String,
    cart: bool,
    widgets: String,
}

fn render(ctx: &Ctx, p: &Project, head: Head, f: SettingsForm) -> Response {
    let status = if head.error.is_some() {
        StatusCode::BAD_REQUEST
    } else {
        StatusCode::OK
    };
    view::html(
        status,
        &SettingsPage {
            nav: Nav::new(ctx, "paymentwall"),
            head,
            cart: p.api_type == ApiType::Cart,
            f,
            api_types: API_TYPES,
            macros: CUSTOM_MACROS.join(", "),
            widgets: p.widgets.join(", "),
        },
    )
}

pub async fn page(
    State(st): State<AppState>,
    ctx: Ctx,
    Path((_, id)): Path<(String, String)>,
    q: Query<Done>,
) -> Response {
    let p = match load(&st, &ctx, &id).await {
        Ok(p) => p,
        Err(resp) => return resp,
    };
    let mut head = Head::new(&ctx, &p, "settings");
    head.flash = Done::flash(&q);
    render(&ctx, &p, head, SettingsForm::of(&p))
}

pub async fn save(
    State(st): State<AppState>,
    Path((_, id)): Path<(String, String)>,
    posted: Posted<SettingsForm>,
) -> Response {
    let ctx = posted.ctx;
    if let Err(resp) = ctx.require(Permission::ManageIntegrations) {
        return resp;
    }
    let p = match load(&st, &ctx, &id).await {
        Ok(p) => p,
        Err(resp) => return resp,
    };
    let form = posted.form;
    let refused = |message: String, form: SettingsForm| {
        let mut head = Head::new(&ctx, &p, "settings");
        head.error = Some(message);
        render(&ctx, &p, head, form)
    };
    let input = match form.input(ctx.mode.is_live()) {
        Ok(i) => i,
        Err(message) => return refused(message, form),
    };
    match with_actor(
        ctx.actor(),
        st.svc
            .paymentwall()
            .update_project(&ctx.merchant.id, &id, input),
    )
    .await
    {
        Ok(_) => view::see_other(&format!("{}?saved=settings", project_path(&ctx, &id))),
        Err(e) => match form_error(&e) {
            Some(message) => refused(message, form),
            None => view::service_error(&e),
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn custom_parameters_are_name_value_lines() {
        let m = parse_custom("order_id=OWN\n\n  country = COUNTRY_CODE \r\n").unwrap();
        assert_eq!(m.get("order_id").map(String::as_str), Some("OWN"));
        assert_eq!(m.get("country").map(String::as_str), Some("COUNTRY_CODE"));
        assert_eq!(
            custom_lines(&m.into_iter().collect::<Vec<_>>()),
            "country=COUNTRY_CODE\norder_id=OWN"
        );
        assert!(parse_custom("just a name").unwrap_err().contains("line 1"));
        assert!(parse_custom("a=OWN\na=USER_ID")
            .unwrap_err()
            .contains("twice"));
        assert!(parse_custom("").unwrap().is_empty());
    }

    #[test]
    fn numbers_and_versions_are_checked_before_the_service() {
        let ok = SettingsForm {
            name: "Game".into(),
            api_type: "digital_goods".into(),
            pingback_sign_version: "3".into(),
            link_max_age_seconds: "3600".into(),
            risk_review_delay_seconds: "0".into(),
            renewal_retry_seconds: "86400".into(),
            live_pingback_url: Some("https://live.example/pb".into()),
            ..Default::default()
        };
        let input = ok.input(false).unwrap();
        assert_eq!(
            input.live_pingback_url, None,
            "a test-mode form leaves the live URL alone"
        );
        assert_eq!(input.test_method, Some(false));
        assert_eq!(
            ok.input(true).unwrap().live_pingback_url.as_deref(),
            Some("https://live.example/pb")
        );
        let bad = SettingsForm {
            link_max_age_seconds: "an hour".into(),
            ..ok
        };
        assert!(bad.input(false).unwrap_err().contains("Link maximum age"));
        let bad = SettingsForm {
            pingback_sign_version: "4".into(),
            link_max_age_seconds: "1".into(),
            ..bad
        };
        assert!(bad.input(false).is_err());
    }
}
