//! Placeholder until this section's pages land (being written now).

use axum::Router;
use kassa_http::AppState;

pub fn routes() -> Router<AppState> {
    Router::new()
}
