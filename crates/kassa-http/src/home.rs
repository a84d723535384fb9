//! The page at `/` (what this server is and where its APIs and documents are) and the answer
//! to every path no router knows: 404, as JSON `url_invalid` under `/v1`, as a small page
//! elsewhere. Neither needs a key, so a mistyped path never looks like an authentication
//! problem.
//!
//! Both pages are static HTML without script, under a strict Content-Security-Policy.

use axum::extract::State;
use axum::http::header::{CACHE_CONTROL, CONTENT_TYPE};
use axum::http::{HeaderValue, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::Router;

use crate::error::ApiError;
use crate::AppState;

const CSP: &str = "default-src 'none'; style-src 'self'; img-src 'self'; form-action 'none'; \
                   frame-ancestors 'none'; base-uri 'none'";

const VERSION: &str = env!("CARGO_PKG_VERSION");

const CSS: &str = "\
body{font:16px/1.5 system-ui,-apple-system,\"Segoe UI\",Roboto,sans-serif;color:#1a1a2e;\
background:#f7f7fb;margin:0;padding:24px}\
main{max-width:46rem;margin:0 auto;background:#fff;border:1px solid #e2e2ea;border-radius:8px;\
padding:24px 28px}\
h1{font-size:1.6rem;margin:0 0 4px}h2{font-size:1.1rem;margin:24px 0 6px}\
.muted{color:#555a6e;margin-top:0}\
code,pre{font:14px/1.45 ui-monospace,SFMono-Regular,Menlo,Consolas,monospace;background:#f0f0f6;\
border-radius:4px}code{padding:1px 4px}pre{padding:12px;overflow-x:auto;white-space:pre}\
a{color:#2946c7}a:focus-visible{outline:3px solid #2946c7;outline-offset:2px}\
ul{padding-left:1.2rem}li{margin:4px 0}";

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/", get(home))
        .route("/assets/home.css", get(css))
}

fn page(status: StatusCode, html: String) -> Response {
    let mut resp = (status, html).into_response();
    let h = resp.headers_mut();
    h.insert(
        CONTENT_TYPE,
        HeaderValue::from_static("text/html; charset=utf-8"),
    );
    h.insert("content-security-policy", HeaderValue::from_static(CSP));
    h.insert("x-frame-options", HeaderValue::from_static("DENY"));
    h.insert(
        "x-content-type-options",
        HeaderValue::from_static("nosniff"),
    );
    resp
}

async fn css() -> Response {
    let mut resp = CSS.into_response();
    let h = resp.headers_mut();
    h.insert(
        CONTENT_TYPE,
        HeaderValue::from_static("text/css; charset=utf-8"),
    );
    h.insert(
        CACHE_CONTROL,
        HeaderValue::from_static("public, max-age=3600"),
    );
    h.insert(
        "x-content-type-options",
        HeaderValue::from_static("nosniff"),
    );
    resp
}

fn shell(title: &str, body: &str) -> String {
    format!(
        "<!doctype html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n\
         <meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n\
         <title>{title}</title>\n<link rel=\"stylesheet\" href=\"/assets/home.css\">\n</head>\n\
         <body>\n<main>\n{body}</main>\n</body>\n</html>\n"
    )
}

fn escape(text: &str) -> String {
    text.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

/// `GET /`: what this server is and where to go next.
async fn home(State(state): State<AppState>) -> Response {
    let body = format!(
        r#"<h1>Kassa {VERSION}</h1>
<p class="muted">A self-hosted payment gateway. This server is running; there is nothing to sign in to here.</p>
<h2>Native API</h2>
<ul>
<li>Base path <code>/v1</code>, authenticated with <code>Authorization: Bearer sk_test_…</code> (the demo merchant's keys are printed when the server starts in development).</li>
<li>Request bodies as JSON (<code>Content-Type: application/json</code>) or form-encoded, as <code>curl -d</code> sends them (<code>metadata[order]=42</code>).</li>
<li>The OpenAPI 3.1 document: <a href="/v1/openapi.json">/v1/openapi.json</a>.</li>
</ul>
<pre>curl -s {{base}}/v1/payment_intents -H "Authorization: Bearer $SK" \
  -d amount=1000 -d currency=usd -d return_url=https://example.com/done</pre>
<h2>Paymentwall-compatible face</h2>
<ul>
<li>Payment links <code>/api/subscription</code>, <code>/api/ps</code>, <code>/api/cart</code>; REST <code>/api/payment-systems/</code>, <code>/api/rest/payment</code>, <code>/developers/api/ticket</code>, <code>/api/delivery</code>.</li>
<li>Projects are managed with the native API: <code>/v1/paymentwall/projects</code>.</li>
</ul>
<h2>Paymob-compatible face</h2>
<ul>
<li>Intention API <code>/v1/intention/</code>, unified checkout <code>/unifiedcheckout/</code>, legacy flow <code>/api/auth/tokens</code>, <code>/api/ecommerce/orders</code>, <code>/api/acceptance/…</code>, Pixel <code>/pixel/main.js</code>.</li>
<li>Profiles are managed with the native API: <code>/v1/paymob/profiles</code>.</li>
</ul>
<h2>Documentation and operations</h2>
<ul>
<li>The <code>README.md</code> at the root of Kassa's source explains setup, configuration, test cards, webhooks and both compatible faces.</li>
<li>Liveness <a href="/healthz">/healthz</a>, readiness <a href="/readyz">/readyz</a>.</li>
</ul>
"#
    )
    .replace("{base}", &escape(&state.svc.base_url));
    page(StatusCode::OK, shell(&format!("Kassa {VERSION}"), &body))
}

/// Every path no router knows: 404 without asking for a key. Under `/v1` the native error
/// shape (`url_invalid`), elsewhere a small page.
pub async fn not_found(uri: Uri) -> Response {
    let path = uri.path();
    if path == "/v1" || path.starts_with("/v1/") {
        return ApiError::new(
            StatusCode::NOT_FOUND,
            "invalid_request_error",
            "url_invalid",
            "Unrecognized request URL. See /v1/openapi.json for the API.",
        )
        .into_response();
    }
    let body = "<h1>Not found</h1>\n\
        <p>There is nothing at this address on this Kassa server.</p>\n\
        <p>The native API is under <code>/v1</code> (see <a href=\"/v1/openapi.json\">\
        /v1/openapi.json</a>); <a href=\"/\">the start page</a> lists everything this server \
        offers.</p>\n";
    page(StatusCode::NOT_FOUND, shell("Not found · Kassa", body))
}
