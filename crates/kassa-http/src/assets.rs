//! Static files shared by every payer page, whatever its face: the form rules
//! (`/static/kassa-forms.css`) and the card-field script (`/static/kassa-card.js`). Each page
//! links them from its own origin, so every page's `style-src 'self'` / `script-src 'self'`
//! allows them.

use axum::response::Response;
use axum::routing::get;
use axum::Router;

use crate::checkout::asset;
use crate::AppState;

const FORMS_CSS: &str = include_str!("../static/kassa-forms.css");
const CARD_JS: &str = include_str!("../static/kassa-card.js");

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/static/kassa-forms.css", get(forms_css))
        .route("/static/kassa-card.js", get(card_js))
}

async fn forms_css() -> Response {
    let mut resp = asset("text/css; charset=utf-8", FORMS_CSS);
    nosniff(&mut resp);
    resp
}

async fn card_js() -> Response {
    let mut resp = asset("text/javascript; charset=utf-8", CARD_JS);
    nosniff(&mut resp);
    resp
}

fn nosniff(resp: &mut Response) {
    resp.headers_mut().insert(
        "x-content-type-options",
        axum::http::HeaderValue::from_static("nosniff"),
    );
}
