//! The router of the whole console: which handler answers which route.

use crate::routes::{self, Shared};
use crate::{customer, pages, people_page};
use axum::response::Redirect;
use axum::routing::{get, post};
use axum::Router;

/// The router of the whole console.
pub fn router(state: Shared) -> Router {
    Router::new()
        .route("/", get(|| async { Redirect::to("/queue") }))
        .route("/healthz", get(routes::healthz))
        .route("/login", get(routes::login_page).post(routes::login))
        .route("/logout", post(routes::logout))
        .route("/lang/{code}", get(routes::switch_language))
        .route("/static/console.css", get(routes::stylesheet))
        .route("/static/console.js", get(routes::script))
        .route("/queue", get(pages::queue))
        .route("/queue/events", get(pages::queue_events))
        .route("/tickets/{ticket_id}", get(pages::ticket))
        .route("/tickets/{ticket_id}/{action}", post(pages::act))
        .route("/reports", get(pages::reports))
        .route("/reports/people", get(people_page::people))
        .route("/audit", get(pages::audit))
        .route(
            "/status",
            get(customer::status_page).post(customer::status_post),
        )
        .route(
            "/rate/{ticket_id}",
            get(customer::rate_page).post(customer::rate_post),
        )
        .route("/adopted", get(customer::adopted))
        .layer(axum::middleware::map_response(routes::security_headers))
        .layer(axum::middleware::from_fn(routes::server_timing))
        .with_state(state)
}
