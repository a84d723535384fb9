//! Project › Payment Systems: which methods the payment page offers in which country, as a
//! country × method matrix over the project's `payment_systems` (a `CountryMethods` map: a
//! row per country code, `*` for every other country; an empty row offers nothing there), with a
//! preview of the Payment Systems API's answer for a country, from the API's own service call.
//!
//! What is saved is exactly what the payment page and the API read (`methods_for`): the
//! countries' method lists in display order. A method kept keeps its place; a method switched
//! on joins the end of its row in catalogue order. The Test method is not in the matrix: it has
//! its own switch in Settings.

use std::collections::BTreeSet;

use askama::Template;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::Response;
use kassa_core::roles::Permission;
use kassa_http::AppState;
use kassa_paymentwall::{
    catalog, encode_query, sign_widget, valid_country_code, CountryMethods, SignVersion,
    ANY_COUNTRY, TEST_METHOD_ID,
};
use kassa_service::audit::with_actor;
use kassa_service::paymentwall::{Project, ProjectInput};
use serde::Deserialize;

use super::{form_error, load, project_path, Done, Head};
use crate::ctx::{Ctx, Posted};
use crate::view::{self, Nav};

/// The methods a row can switch: the catalogue without the Test method.
fn matrix_methods() -> Vec<(&'static str, &'static str)> {
    catalog()
        .iter()
        .filter(|m| m.id != TEST_METHOD_ID)
        .map(|m| (m.id, m.name))
        .collect()
}

pub struct Cell {
    id: String,
    method: &'static str,
    label: String,
    checked: bool,
}

pub struct MatrixRow {
    key: String,
    label: String,
    /// Position, for element ids (`*` makes a poor id).
    n: usize,
    cells: Vec<Cell>,
}

fn country_label(key: &str) -> String {
    if key == ANY_COUNTRY {
        "Every other country (*)".into()
    } else {
        key.to_string()
    }
}

fn rows(map: &CountryMethods) -> Vec<MatrixRow> {
    let methods = matrix_methods();
    map.iter()
        .enumerate()
        .map(|(n, (key, list))| MatrixRow {
            label: country_label(key),
            cells: methods
                .iter()
                .map(|(id, name)| Cell {
                    id: format!("ps-{n}-{id}"),
                    method: id,
                    label: format!("{name} in {}", country_label(key)),
                    checked: list.iter().any(|m| m == id),
                })
                .collect(),
            key: key.clone(),
            n,
        })
        .collect()
}

/// The map the posted matrix describes. `rows` are the row keys the form showed, `ps:<key>`
/// the methods ticked in a row, `remove` the rows to drop, `new_country` and `ps:new` a row to
/// add. `current` gives each kept method its place.
fn matrix_from_form(
    current: &CountryMethods,
    pairs: &[(String, String)],
) -> Result<CountryMethods, String> {
    let known: BTreeSet<&str> = matrix_methods().iter().map(|(id, _)| *id).collect();
    let ticked = |key: &str| -> Result<Vec<String>, String> {
        let field = format!("ps:{key}");
        let mut out: Vec<String> = Vec::new();
        for (_, v) in pairs.iter().filter(|(k, _)| *k == field) {
            if !known.contains(v.as_str()) {
                return Err(format!(
                    "“{}” is not a payment system of the matrix.",
                    v.chars().take(32).collect::<String>()
                ));
            }
            if !out.contains(v) {
                out.push(v.clone());
            }
        }
        Ok(out)
    };
    // Kept methods stay where they were; new ones follow in catalogue order.
    let ordered = |before: Option<&Vec<String>>, on: Vec<String>| -> Vec<String> {
        let mut list: Vec<String> = before
            .into_iter()
            .flatten()
            .filter(|m| on.contains(m))
            .cloned()
            .collect();
        for (id, _) in matrix_methods() {
            if on.iter().any(|m| m == id) && !list.iter().any(|m| m == id) {
                list.push(id.to_string());
            }
        }
        list
    };
    let removed: BTreeSet<&str> = pairs
        .iter()
        .filter(|(k, _)| k == "remove")
        .map(|(_, v)| v.as_str())
        .collect();
    let mut out = CountryMethods::new();
    for (_, key) in pairs.iter().filter(|(k, _)| k == "row") {
        let valid = key == ANY_COUNTRY || valid_country_code(key).as_deref() == Some(key);
        if !valid {
            return Err("The form names a row that is not a country code.".into());
        }
        if removed.contains(key.as_str()) {
            continue;
        }
        out.insert(key.clone(), ordered(current.get(key), ticked(key)?));
    }
    let new = pairs
        .iter()
        .find(|(k, _)| k == "new_country")
        .map(|(_, v)| v.trim())
        .unwrap_or("");
    if !new.is_empty() {
        let Some(code) = valid_country_code(new) else {
            return Err(format!(
                "“{}” is not a two-letter country code (such as DE or BR).",
                new.chars().take(20).collect::<String>()
            ));
        };
        if out.contains_key(&code) {
            return Err(format!("{code} has a row already: change it there."));
        }
        out.insert(code, ordered(None, ticked("new")?));
    }
    Ok(out)
}

struct Preview {
    request: String,
    country: String,
    status: u16,
    json: String,
}

#[derive(Template)]
#[template(path = "dash/pw_systems.html")]
struct SystemsPage {
    nav: Nav,
    head: Head,
    methods: Vec<(&'static str, &'static str)>,
    rows: Vec<MatrixRow>,
    test_method: bool,
    preview_country: String,
    preview: Option<Preview>,
    preview_error: Option<String>,
}

#[derive(Debug, Default, Deserialize)]
pub struct PreviewQuery {
    #[serde(default)]
    country: String,
    #[serde(default)]
    saved: String,
}

/// The Payment Systems API's answer for `country`, asked through the same service call as
/// `GET /api/payment-systems/`, with a request signed (v3) by the mode's key pair.
async fn preview(st: &AppState, p: &Project, country: &str) -> Result<Preview, String> {
    let key = match p.mode {
        kassa_service::Mode::Test => p.row.project_key.clone(),
        kassa_service::Mode::Live => p
            .row
            .live_project_key
            .clone()
            .filter(|_| p.live_secret.is_some())
            .ok_or("This project has no live keys yet: create them on the Keys tab.")?,
    };
    let mut params: Vec<(String, String)> = vec![
        ("key".into(), key),
        ("country_code".into(), country.to_string()),
        ("sign_version".into(), "3".into()),
    ];
    let sign = sign_widget(&params, p.signing_secret(), SignVersion::V3);
    params.push(("sign".into(), sign));
    let (status, body) = match st.svc.paymentwall().payment_systems(&params).await {
        Ok(Ok(v)) => (200, v),
        Ok(Err(e)) => (e.status, e.body()),
        Err(e) => {
            tracing::error!(error = %e, "payment systems preview failed");
            return Err("The preview could not be made; try again in a moment.".into());
        }
    };
    Ok(Preview {
        // The request as a merchant's server would send it (key and signature are no secret).
        request: format!("/api/payment-systems/?{}", encode_query(&params)),
        country: country.to_string(),
        status,
        json: serde_json::to_string_pretty(&body).unwrap_or_default(),
    })
}

async fn render(
    st: &AppState,
    ctx: &Ctx,
    p: &Project,
    mut head: Head,
    country: &str,
    status: StatusCode,
) -> Response {
    let country = country.trim();
    let (preview, preview_error) = if country.is_empty() {
        (None, None)
    } else {
        match valid_country_code(country) {
            Some(code) => match preview(st, p, &code).await {
                Ok(pv) => (Some(pv), None),
                Err(e) => (None, Some(e)),
            },
            None => (
                None,
                Some("Enter a two-letter country code, such as DE.".to_string()),
            ),
        }
    };
    let status = if preview_error.is_some() && status == StatusCode::OK {
        StatusCode::BAD_REQUEST
    } else {
        status
    };
    head.tab = "systems";
    view::html(
        status,
        &SystemsPage {
            nav: Nav::new(ctx, "paymentwall"),
            head,
            methods: matrix_methods(),
            rows: rows(&p.payment_systems),
            test_method: p.row.test_method,
            preview_country: country.to_ascii_uppercase(),
            preview,
            preview_error,
        },
    )
}

pub async fn page(
    State(st): State<AppState>,
    ctx: Ctx,
    Path((_, id)): Path<(String, String)>,
    Query(q): Query<PreviewQuery>,
) -> Response {
    let p = match load(&st, &ctx, &id).await {
        Ok(p) => p,
        Err(resp) => return resp,
    };
    let mut head = Head::new(&ctx, &p, "systems");
    head.flash = Done::flash(&Query(Done {
        saved: q.saved.clone(),
    }));
    render(&st, &ctx, &p, head, &q.country, StatusCode::OK).await
}

pub async fn save(
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
    let refused = |message: String| {
        let mut head = Head::new(&ctx, &p, "systems");
        head.error = Some(message);
        render(&st, &ctx, &p, head, "", StatusCode::BAD_REQUEST)
    };
    let map = match matrix_from_form(&p.payment_systems, &posted.form) {
        Ok(m) => m,
        Err(message) => return refused(message).await,
    };
    let input = ProjectInput {
        payment_systems: Some(map),
        ..Default::default()
    };
    match with_actor(
        ctx.actor(),
        st.svc
            .paymentwall()
            .update_project(&ctx.merchant.id, &id, input),
    )
    .await
    {
        Ok(_) => view::see_other(&format!(
            "{}/payment-systems?saved=systems",
            project_path(&ctx, &id)
        )),
        Err(e) => match form_error(&e) {
            Some(message) => refused(message).await,
            None => view::service_error(&e),
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pairs(v: &[(&str, &str)]) -> Vec<(String, String)> {
        v.iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    fn map(v: &[(&str, &[&str])]) -> CountryMethods {
        v.iter()
            .map(|(k, l)| (k.to_string(), l.iter().map(|s| s.to_string()).collect()))
            .collect()
    }

    #[test]
    fn the_matrix_round_trips_and_keeps_the_order() {
        let current = map(&[("*", &["sandboxbank", "cc"]), ("DE", &["cc"])]);
        // The form as the page renders it, unchanged: the same map.
        let same = pairs(&[
            ("row", "*"),
            ("ps:*", "cc"),
            ("ps:*", "sandboxbank"),
            ("row", "DE"),
            ("ps:DE", "cc"),
        ]);
        assert_eq!(matrix_from_form(&current, &same).unwrap(), current);
        // Wallet on in DE joins the end; cc off in "*"; a new row for BR; nothing ticked in FR
        // means nothing is offered there.
        let changed = pairs(&[
            ("row", "*"),
            ("ps:*", "sandboxbank"),
            ("row", "DE"),
            ("ps:DE", "cc"),
            ("ps:DE", "sandboxwallet"),
            ("new_country", "br"),
            ("ps:new", "sandboxcash"),
            ("ps:new", "cc"),
        ]);
        assert_eq!(
            matrix_from_form(&current, &changed).unwrap(),
            map(&[
                ("*", &["sandboxbank"]),
                ("DE", &["cc", "sandboxwallet"]),
                ("BR", &["cc", "sandboxcash"])
            ])
        );
        let empty = pairs(&[
            ("row", "*"),
            ("row", "DE"),
            ("remove", "DE"),
            ("new_country", "FR"),
        ]);
        assert_eq!(
            matrix_from_form(&current, &empty).unwrap(),
            map(&[("*", &[]), ("FR", &[])])
        );
    }

    #[test]
    fn bad_matrices_are_refused() {
        let current = map(&[("*", &["cc"])]);
        for bad in [
            pairs(&[("row", "*"), ("ps:*", "test")]),
            pairs(&[("row", "*"), ("ps:*", "paypal")]),
            pairs(&[("row", "de")]),
            pairs(&[("row", "*"), ("new_country", "Germany")]),
            pairs(&[("row", "DE"), ("new_country", "de")]),
        ] {
            assert!(matrix_from_form(&current, &bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn rows_show_every_matrix_method() {
        let r = rows(&map(&[("*", &["cc"]), ("DE", &[])]));
        assert_eq!(r.len(), 2);
        assert_eq!(r[0].label, "Every other country (*)");
        assert!(r[0].cells.iter().any(|c| c.method == "cc" && c.checked));
        assert!(r[1].cells.iter().all(|c| !c.checked));
        assert!(r[0].cells.iter().all(|c| c.method != "test"));
    }
}
