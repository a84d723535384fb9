//! The Paymob-compatible face: the Intention API, the legacy Accept API, the unified checkout
//! and Pixel's pages and script, the 3-D Secure / wallet pages, and the post-payment and
//! subscription APIs. Handlers read credentials the ways Paymob's clients send them and map
//! the service's answers to Paymob's status codes and bodies.

use axum::body::Bytes;
use axum::extract::{Path, Query, RawQuery, State};
use axum::http::header::{CACHE_CONTROL, CONTENT_TYPE};
use axum::http::{HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use kassa_service::paymob::PmError;
use kassa_store::PmProfile;
use serde::Deserialize;
use serde_json::{json, Value};
use std::collections::HashMap;

use crate::lang::Lang;
use crate::AppState;

mod pages;

pub fn router() -> Router<AppState> {
    Router::new()
        // Intention API
        .route("/v1/intention/", post(create_intention))
        .route("/v1/intention", post(create_intention))
        .route("/v1/intention/{cs}", axum::routing::put(update_intention))
        .route("/v1/intention/{cs}/", axum::routing::put(update_intention))
        .route(
            "/v1/intention/element/{pk}/{cs}/",
            get(intention_element).options(preflight),
        )
        .route(
            "/v1/intention/element/{pk}/{cs}",
            get(intention_element).options(preflight),
        )
        // Pages and scripts
        .merge(pages::routes())
        .route("/pm/i18n/{lang}", get(i18n_table))
        // Legacy Accept API
        .route("/api/auth/tokens", post(auth_tokens))
        .route("/api/ecommerce/orders", post(create_order))
        .route("/api/ecommerce/orders/", post(create_order))
        .route("/api/ecommerce/orders/{id}", get(get_order))
        .route(
            "/api/ecommerce/orders/transaction_inquiry",
            post(transaction_inquiry),
        )
        .route("/api/acceptance/payment_keys", post(payment_keys))
        .route("/api/acceptance/payment_keys/", post(payment_keys))
        .route("/api/acceptance/payments/pay", post(pay).options(preflight))
        .route("/api/acceptance/transactions/{id}", get(get_transaction))
        .route(
            "/api/acceptance/transactions/{id}/hmac_calc",
            get(hmac_calc),
        )
        .route("/api/acceptance/void_refund/refund", post(refund))
        .route("/api/acceptance/void_refund/void", post(void))
        .route("/api/acceptance/capture", post(capture))
        // Subscriptions
        .route(
            "/api/acceptance/subscription-plans",
            post(create_plan).get(list_plans),
        )
        .route(
            "/api/acceptance/subscription-plans/",
            post(create_plan).get(list_plans),
        )
        .route(
            "/api/acceptance/subscription-plans/{id}",
            get(get_plan).put(update_plan),
        )
        .route(
            "/api/acceptance/subscription-plans/{id}/{action}",
            post(plan_action),
        )
        .route("/api/acceptance/subscriptions", get(list_subscriptions))
        .route("/api/acceptance/subscriptions/", get(list_subscriptions))
        .route(
            "/api/acceptance/subscriptions/{id}",
            get(get_subscription).put(update_subscription),
        )
        .route(
            "/api/acceptance/subscriptions/{id}/transactions",
            get(subscription_transactions),
        )
        .route(
            "/api/acceptance/subscriptions/{id}/last-transaction",
            get(subscription_last_transaction),
        )
        .route(
            "/api/acceptance/subscriptions/{id}/{action}",
            post(subscription_action),
        )
}

// ---- plumbing ----

/// A Paymob-shaped answer.
struct PmResponse(StatusCode, Value);

impl IntoResponse for PmResponse {
    fn into_response(self) -> Response {
        (self.0, Json(self.1)).into_response()
    }
}

fn err(e: PmError) -> Response {
    let status = StatusCode::from_u16(e.status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    PmResponse(status, e.body).into_response()
}

fn ok(status: StatusCode, body: Value) -> Response {
    PmResponse(status, body).into_response()
}

fn answer(r: Result<Value, PmError>, status: StatusCode) -> Response {
    match r {
        Ok(v) => ok(status, v),
        Err(e) => err(e),
    }
}

/// The JSON body; an empty body is `{}`. Anything else that is not a JSON object is a 400.
fn body_json(bytes: &Bytes) -> Result<Value, PmError> {
    if bytes.iter().all(u8::is_ascii_whitespace) {
        return Ok(json!({}));
    }
    match serde_json::from_slice::<Value>(bytes) {
        Ok(v @ Value::Object(_)) => Ok(v),
        Ok(_) => Err(PmError::detail(400, "Invalid data. Expected a dictionary.")),
        Err(e) => Err(PmError::detail(400, format!("JSON parse error - {e}"))),
    }
}

/// The credential a Paymob client sent, in any of the ways they send it: `Authorization:
/// Token <k>`, `Bearer <k>` or the bare key, a `token` query parameter, or `auth_token` in the
/// body.
fn credential(
    headers: &HeaderMap,
    query: &HashMap<String, String>,
    body: Option<&Value>,
) -> Option<String> {
    if let Some(v) = headers.get("authorization").and_then(|v| v.to_str().ok()) {
        let v = v.trim();
        let key = v
            .strip_prefix("Token ")
            .or_else(|| v.strip_prefix("Bearer "))
            .or_else(|| v.strip_prefix("token "))
            .or_else(|| v.strip_prefix("bearer "))
            .unwrap_or(v)
            .trim();
        if !key.is_empty() {
            return Some(key.to_string());
        }
    }
    if let Some(t) = query.get("token").filter(|t| !t.is_empty()) {
        return Some(t.clone());
    }
    body.and_then(|b| b.get("auth_token"))
        .and_then(Value::as_str)
        .filter(|t| !t.is_empty())
        .map(str::to_string)
}

async fn profile(
    st: &AppState,
    headers: &HeaderMap,
    query: &HashMap<String, String>,
    body: Option<&Value>,
) -> Result<PmProfile, PmError> {
    st.svc
        .pm_authenticate(credential(headers, query, body).as_deref())
        .await
}

fn with_cors(mut resp: Response) -> Response {
    let h = resp.headers_mut();
    h.insert("access-control-allow-origin", HeaderValue::from_static("*"));
    h.insert(
        "access-control-allow-methods",
        HeaderValue::from_static("GET, POST, OPTIONS"),
    );
    h.insert(
        "access-control-allow-headers",
        HeaderValue::from_static("content-type, authorization"),
    );
    h.insert("access-control-max-age", HeaderValue::from_static("600"));
    resp
}

async fn preflight() -> Response {
    with_cors(StatusCode::NO_CONTENT.into_response())
}

// ---- languages ----

/// The decoded pairs of a query string, in order.
fn query_pairs(raw: Option<&str>) -> Vec<(String, String)> {
    url::form_urlencoded::parse(raw.unwrap_or_default().as_bytes())
        .map(|(k, v)| (k.into_owned(), v.into_owned()))
        .collect()
}

fn pair<'a>(pairs: &'a [(String, String)], name: &str) -> Option<&'a str> {
    pairs
        .iter()
        .find(|(k, _)| k == name)
        .map(|(_, v)| v.as_str())
}

/// The faces whose words the Paymob pages' scripts use.
const SCRIPT_FACES: [&str; 4] = ["pm", "card", "decline", "common"];

/// The word table the pages' scripts read (inline as `<script type="application/json">` and
/// from `/pm/i18n/{lang}`): `{"lang","dir","text":{"pm":{…},"card":{…},…}}`, plus `money`
/// when asked for. Only `Lang::json` output and escaped strings: safe inside a script element.
fn script_table(lang: Lang, money: Option<&str>) -> String {
    let mut out = format!(
        "{{\"lang\":\"{}\",\"dir\":\"{}\",\"text\":{{",
        lang.code(),
        lang.dir()
    );
    for (i, face) in SCRIPT_FACES.iter().enumerate() {
        if i > 0 {
            out.push(',');
        }
        out.push_str(&format!("\"{face}\":{}", lang.json(face)));
    }
    out.push('}');
    if let Some(m) = money {
        out.push_str(",\"money\":");
        out.push_str(m);
    }
    out.push('}');
    out
}

/// JSON text with `<`, `>` and `&` escaped (they only occur inside strings), so it can sit
/// inside a script element.
fn script_safe(json: &Value) -> String {
    json.to_string()
        .replace('<', "\\u003c")
        .replace('>', "\\u003e")
        .replace('&', "\\u0026")
}

/// One entry of a page's language switcher: the same address in another language.
struct LangLink {
    code: &'static str,
    name: &'static str,
    href: String,
    current: bool,
}

fn lang_links(pairs: &[(String, String)], current: Lang) -> Vec<LangLink> {
    Lang::ALL
        .into_iter()
        .map(|l| {
            let mut q = url::form_urlencoded::Serializer::new(String::new());
            for (k, v) in pairs.iter().filter(|(k, _)| k != "lang") {
                q.append_pair(k, v);
            }
            q.append_pair("lang", l.code());
            LangLink {
                code: l.code(),
                name: l.native_name(),
                href: format!("?{}", q.finish()),
                current: l == current,
            }
        })
        .collect()
}

/// `url` with `lang=` set when it is one of Kassa's own payer pages (3-D Secure / wallet,
/// payment status, checkout), so a flow keeps its language from page to page; a merchant's
/// URL is left as it is.
fn keep_lang(st: &AppState, url: &str, lang: Option<Lang>) -> String {
    let Some(lang) = lang else {
        return url.to_string();
    };
    let base = &st.svc.base_url;
    let own = ["/api/acceptance/challenge/", "/unifiedcheckout/"]
        .iter()
        .any(|p| url.starts_with(&format!("{base}{p}")))
        || url.starts_with(&format!("{base}/unifiedcheckout/payment-status"));
    if !own {
        return url.to_string();
    }
    let Ok(mut u) = url::Url::parse(url) else {
        return url.to_string();
    };
    let kept: Vec<(String, String)> = u
        .query_pairs()
        .filter(|(k, _)| k != "lang")
        .map(|(k, v)| (k.into_owned(), v.into_owned()))
        .collect();
    {
        let mut q = u.query_pairs_mut();
        q.clear();
        for (k, v) in &kept {
            q.append_pair(k, v);
        }
        q.append_pair("lang", lang.code());
    }
    u.to_string()
}

#[derive(Deserialize)]
struct LangQuery {
    lang: Option<String>,
}

/// `GET /pm/i18n/{lang}?currency=EGP&minor=25000&minor=…`: the word table of a language for
/// the pages' scripts and Pixel (on the merchant's page, hence CORS), with the amounts asked
/// for written the way that language writes money (`money`: minor units → text), so every
/// page shows one payment's amount the same way.
async fn i18n_table(Path(lang): Path<String>, RawQuery(raw): RawQuery) -> Response {
    let lang_code = lang.trim_end_matches(".json");
    let Some(lang) = Lang::from_tag(lang_code) else {
        return StatusCode::NOT_FOUND.into_response();
    };
    let pairs = query_pairs(raw.as_deref());
    let currency = pair(&pairs, "currency")
        .map(str::trim)
        .filter(|c| c.len() == 3 && c.bytes().all(|b| b.is_ascii_alphabetic()))
        .map(str::to_ascii_uppercase);
    let mut money = serde_json::Map::new();
    if let Some(cur) = &currency {
        for v in pairs.iter().filter(|(k, _)| k == "minor").take(100) {
            if let Ok(n) = v.1.trim().parse::<i64>() {
                money.insert(n.to_string(), json!(lang.money(n, cur)));
            }
        }
    }
    let body = script_table(lang, Some(&script_safe(&Value::Object(money))));
    with_cors(
        (
            [
                (CONTENT_TYPE, "application/json; charset=utf-8"),
                (CACHE_CONTROL, "public, max-age=300"),
            ],
            body,
        )
            .into_response(),
    )
}

fn id_of(raw: &str) -> Option<i64> {
    raw.parse::<i64>().ok().filter(|n| *n > 0)
}

fn not_found() -> Response {
    err(PmError::detail(404, "Not found."))
}

// ---- Intention API ----

async fn create_intention(
    State(st): State<AppState>,
    headers: HeaderMap,
    Query(q): Query<HashMap<String, String>>,
    bytes: Bytes,
) -> Response {
    let p = match profile(&st, &headers, &q, None).await {
        Ok(p) => p,
        Err(e) => return err(e),
    };
    let body = match body_json(&bytes) {
        Ok(b) => b,
        Err(e) => return err(e),
    };
    answer(
        st.svc.pm_create_intention(&p, &body).await,
        StatusCode::CREATED,
    )
}

async fn update_intention(
    State(st): State<AppState>,
    headers: HeaderMap,
    Query(q): Query<HashMap<String, String>>,
    Path(cs): Path<String>,
    bytes: Bytes,
) -> Response {
    let p = match profile(&st, &headers, &q, None).await {
        Ok(p) => p,
        Err(e) => return err(e),
    };
    let body = match body_json(&bytes) {
        Ok(b) => b,
        Err(e) => return err(e),
    };
    answer(
        st.svc.pm_update_intention(&p, &cs, &body).await,
        StatusCode::OK,
    )
}

async fn intention_element(
    State(st): State<AppState>,
    Path((pk, cs)): Path<(String, String)>,
) -> Response {
    with_cors(answer(
        st.svc.pm_intention_element(&pk, &cs).await,
        StatusCode::OK,
    ))
}

// ---- legacy API ----

async fn auth_tokens(State(st): State<AppState>, bytes: Bytes) -> Response {
    let body = match body_json(&bytes) {
        Ok(b) => b,
        Err(e) => return err(e),
    };
    answer(st.svc.pm_auth_token(&body).await, StatusCode::CREATED)
}

/// Authenticates a request whose body may carry `auth_token`, then calls `f`.
macro_rules! authed {
    ($st:expr, $headers:expr, $q:expr, $bytes:expr, |$p:ident, $body:ident| $call:expr, $status:expr) => {{
        let $body = match body_json(&$bytes) {
            Ok(b) => b,
            Err(e) => return err(e),
        };
        let $p = match profile(&$st, &$headers, &$q, Some(&$body)).await {
            Ok(p) => p,
            Err(e) => return err(e),
        };
        answer($call, $status)
    }};
}

async fn create_order(
    State(st): State<AppState>,
    headers: HeaderMap,
    Query(q): Query<HashMap<String, String>>,
    bytes: Bytes,
) -> Response {
    authed!(
        st,
        headers,
        q,
        bytes,
        |p, body| st.svc.pm_create_order(&p, &body).await,
        StatusCode::CREATED
    )
}

async fn payment_keys(
    State(st): State<AppState>,
    headers: HeaderMap,
    Query(q): Query<HashMap<String, String>>,
    bytes: Bytes,
) -> Response {
    authed!(
        st,
        headers,
        q,
        bytes,
        |p, body| st.svc.pm_create_payment_key(&p, &body).await,
        StatusCode::CREATED
    )
}

async fn transaction_inquiry(
    State(st): State<AppState>,
    headers: HeaderMap,
    Query(q): Query<HashMap<String, String>>,
    bytes: Bytes,
) -> Response {
    authed!(
        st,
        headers,
        q,
        bytes,
        |p, body| st.svc.pm_transaction_inquiry(&p, &body).await,
        StatusCode::OK
    )
}

async fn refund(
    State(st): State<AppState>,
    headers: HeaderMap,
    Query(q): Query<HashMap<String, String>>,
    bytes: Bytes,
) -> Response {
    authed!(
        st,
        headers,
        q,
        bytes,
        |p, body| st.svc.pm_refund(&p, &body).await,
        StatusCode::OK
    )
}

async fn void(
    State(st): State<AppState>,
    headers: HeaderMap,
    Query(q): Query<HashMap<String, String>>,
    bytes: Bytes,
) -> Response {
    authed!(
        st,
        headers,
        q,
        bytes,
        |p, body| st.svc.pm_void(&p, &body).await,
        StatusCode::OK
    )
}

async fn capture(
    State(st): State<AppState>,
    headers: HeaderMap,
    Query(q): Query<HashMap<String, String>>,
    bytes: Bytes,
) -> Response {
    authed!(
        st,
        headers,
        q,
        bytes,
        |p, body| st.svc.pm_capture(&p, &body).await,
        StatusCode::OK
    )
}

/// `POST /api/acceptance/payments/pay[?lang=]`: Kassa's pages pass the payer's language, and
/// the 3-D Secure / wallet / status page the answer sends them to keeps it.
async fn pay(State(st): State<AppState>, Query(q): Query<LangQuery>, bytes: Bytes) -> Response {
    let body = match body_json(&bytes) {
        Ok(b) => b,
        Err(e) => return with_cors(err(e)),
    };
    let lang = q.lang.as_deref().and_then(Lang::from_tag);
    with_cors(match st.svc.pm_pay(&body).await {
        Ok(mut r) => {
            for k in ["redirect_url", "redirection_url", "iframe_redirection_url"] {
                if let Some(u) = r
                    .body
                    .get(k)
                    .and_then(Value::as_str)
                    .filter(|u| !u.is_empty())
                {
                    let kept = keep_lang(&st, u, lang);
                    r.body[k] = json!(kept);
                }
            }
            ok(
                StatusCode::from_u16(r.status).unwrap_or(StatusCode::OK),
                r.body,
            )
        }
        Err(e) => err(e),
    })
}

/// A GET whose resource is named by a numeric id in the path.
macro_rules! get_by_id {
    ($name:ident, $method:ident) => {
        async fn $name(
            State(st): State<AppState>,
            headers: HeaderMap,
            Query(q): Query<HashMap<String, String>>,
            Path(id): Path<String>,
        ) -> Response {
            let Some(id) = id_of(&id) else {
                return not_found();
            };
            let p = match profile(&st, &headers, &q, None).await {
                Ok(p) => p,
                Err(e) => return err(e),
            };
            answer(st.svc.$method(&p, id).await, StatusCode::OK)
        }
    };
}

get_by_id!(get_order, pm_get_order);
get_by_id!(get_transaction, pm_get_transaction);
get_by_id!(hmac_calc, pm_hmac_calc);
get_by_id!(get_plan, pm_get_plan);
get_by_id!(get_subscription, pm_get_subscription);
get_by_id!(subscription_transactions, pm_subscription_transactions);

async fn subscription_last_transaction(
    State(st): State<AppState>,
    headers: HeaderMap,
    Query(q): Query<HashMap<String, String>>,
    Path(id): Path<String>,
) -> Response {
    let Some(id) = id_of(&id) else {
        return not_found();
    };
    let p = match profile(&st, &headers, &q, None).await {
        Ok(p) => p,
        Err(e) => return err(e),
    };
    answer(
        st.svc
            .pm_subscription_transactions(&p, id)
            .await
            .and_then(|list| {
                list["results"]
                    .get(0)
                    .cloned()
                    .ok_or_else(|| PmError::detail(404, "No transactions."))
            }),
        StatusCode::OK,
    )
}

// ---- subscriptions ----

async fn create_plan(
    State(st): State<AppState>,
    headers: HeaderMap,
    Query(q): Query<HashMap<String, String>>,
    bytes: Bytes,
) -> Response {
    authed!(
        st,
        headers,
        q,
        bytes,
        |p, body| st.svc.pm_create_plan(&p, &body).await,
        StatusCode::CREATED
    )
}

async fn list_plans(
    State(st): State<AppState>,
    headers: HeaderMap,
    Query(q): Query<HashMap<String, String>>,
) -> Response {
    match profile(&st, &headers, &q, None).await {
        Ok(p) => answer(st.svc.pm_list_plans(&p).await, StatusCode::OK),
        Err(e) => err(e),
    }
}

async fn list_subscriptions(
    State(st): State<AppState>,
    headers: HeaderMap,
    Query(q): Query<HashMap<String, String>>,
) -> Response {
    match profile(&st, &headers, &q, None).await {
        Ok(p) => answer(st.svc.pm_list_subscriptions(&p).await, StatusCode::OK),
        Err(e) => err(e),
    }
}

async fn update_plan(
    State(st): State<AppState>,
    headers: HeaderMap,
    Query(q): Query<HashMap<String, String>>,
    Path(id): Path<String>,
    bytes: Bytes,
) -> Response {
    let Some(id) = id_of(&id) else {
        return not_found();
    };
    authed!(
        st,
        headers,
        q,
        bytes,
        |p, body| st.svc.pm_update_plan(&p, id, &body).await,
        StatusCode::OK
    )
}

async fn plan_action(
    State(st): State<AppState>,
    headers: HeaderMap,
    Query(q): Query<HashMap<String, String>>,
    Path((id, action)): Path<(String, String)>,
    bytes: Bytes,
) -> Response {
    let Some(id) = id_of(&id) else {
        return not_found();
    };
    let active = match action.as_str() {
        "suspend" => false,
        "resume" => true,
        _ => return not_found(),
    };
    authed!(
        st,
        headers,
        q,
        bytes,
        |p, _body| st
            .svc
            .pm_update_plan(&p, id, &json!({"is_active": active}))
            .await,
        StatusCode::OK
    )
}

async fn update_subscription(
    State(st): State<AppState>,
    headers: HeaderMap,
    Query(q): Query<HashMap<String, String>>,
    Path(id): Path<String>,
    bytes: Bytes,
) -> Response {
    let Some(id) = id_of(&id) else {
        return not_found();
    };
    authed!(
        st,
        headers,
        q,
        bytes,
        |p, body| st.svc.pm_change_subscription(&p, id, "update", &body).await,
        StatusCode::OK
    )
}

async fn subscription_action(
    State(st): State<AppState>,
    headers: HeaderMap,
    Query(q): Query<HashMap<String, String>>,
    Path((id, action)): Path<(String, String)>,
    bytes: Bytes,
) -> Response {
    let Some(id) = id_of(&id) else {
        return not_found();
    };
    if !["suspend", "resume", "cancel", "register_webhook"].contains(&action.as_str()) {
        return not_found();
    }
    authed!(
        st,
        headers,
        q,
        bytes,
        |p, body| st.svc.pm_change_subscription(&p, id, &action, &body).await,
        StatusCode::OK
    )
}
