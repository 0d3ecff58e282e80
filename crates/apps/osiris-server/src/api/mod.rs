//! The HTTP API: one module per resource, each handler documented for the
//! OpenAPI document that [`router`] collects while it builds the routes.

mod appliances;
mod auth;
mod checkin;
mod credentials;
pub(crate) mod dashboard;
mod evidence;
mod health;
mod incidents;
mod learning;
mod orders;
mod sites;
mod users;

pub(crate) use auth::start_session;

use axum::Router;
use axum::extract::{MatchedPath, Request};
use axum::middleware::{self, Next};
use axum::response::Response;
use tower_http::trace::TraceLayer;
use utoipa::OpenApi;
use utoipa::openapi::security::{ApiKey, ApiKeyValue, HttpAuthScheme, HttpBuilder, SecurityScheme};
use utoipa_axum::router::OpenApiRouter;

use crate::state::AppState;

/// Largest request body accepted by default (a check-in carries batches of
/// bundles, so this is generous), in bytes.
pub const BODY_LIMIT: usize = 8 * 1024 * 1024;

#[derive(OpenApi)]
#[openapi(
    info(
        title = "Osiris Central Command",
        description = "The MSP's multi-tenant API: sites, appliances, check-in, incidents, evidence, orders, users. Errors are `{\"error\": {\"code\", \"message\", \"field\"}}`.",
        license(name = "Apache-2.0")
    ),
    modifiers(&Security),
    components(schemas(crate::error::ErrorBody, crate::error::ErrorDetail))
)]
struct ApiDoc;

struct Security;

impl utoipa::Modify for Security {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        let components = openapi.components.get_or_insert_with(Default::default);
        components.add_security_scheme(
            "bearer",
            SecurityScheme::Http(HttpBuilder::new().scheme(HttpAuthScheme::Bearer).build()),
        );
        components.add_security_scheme(
            "session",
            SecurityScheme::ApiKey(ApiKey::Cookie(ApiKeyValue::new(
                crate::auth::SESSION_COOKIE,
            ))),
        );
    }
}

/// The API's routes and their OpenAPI document.
pub fn routes() -> (Router<AppState>, utoipa::openapi::OpenApi) {
    let (routes, mut document) = OpenApiRouter::with_openapi(ApiDoc::openapi())
        .merge(health::routes())
        .merge(auth::routes())
        .merge(users::routes())
        .merge(sites::routes())
        .merge(appliances::routes())
        .merge(checkin::routes())
        .merge(orders::routes())
        .merge(incidents::routes())
        .merge(evidence::routes())
        .merge(credentials::routes())
        .merge(dashboard::routes())
        .merge(learning::routes())
        .split_for_parts();
    document_errors(&mut document);
    (routes, document)
}

/// Adds the error answers every handler can give through the extractors
/// and `Caller` (malformed input, no or insufficient credentials, unknown
/// ids, oversize or non-JSON bodies) to each operation that does not
/// document them itself, so the document says everything the server
/// answers.
fn document_errors(document: &mut utoipa::openapi::OpenApi) {
    use utoipa::openapi::{RefOr, Response, ResponseBuilder};
    let error = |description: &str| -> RefOr<Response> {
        RefOr::T(
            ResponseBuilder::new()
                .description(description)
                .content(
                    "application/json",
                    utoipa::openapi::ContentBuilder::new()
                        .schema(Some(utoipa::openapi::Ref::from_schema_name("ErrorBody")))
                        .build(),
                )
                .build(),
        )
    };
    for (path, item) in &mut document.paths.paths {
        let has_params = path.contains('{');
        let operations = [
            item.get.as_mut(),
            item.put.as_mut(),
            item.post.as_mut(),
            item.delete.as_mut(),
            item.patch.as_mut(),
        ];
        for operation in operations.into_iter().flatten() {
            let has_body = operation.request_body.is_some();
            let secured = operation.security.is_some();
            let mut wanted = Vec::new();
            if has_params || has_body || operation.parameters.is_some() {
                wanted.push(("400", "Malformed request: the error names the field"));
            }
            if secured {
                wanted.push(("401", "No valid session, token or appliance signature"));
                wanted.push(("403", "The caller's role may not use this operation"));
            }
            if has_params {
                wanted.push(("404", "Not found, or not visible to the caller"));
            }
            if has_body {
                wanted.push(("413", "Body too large"));
                wanted.push(("415", "Body is not JSON"));
            }
            if has_body || has_params {
                wanted.push(("422", "A value is unacceptable: the error names the field"));
            }
            for (status, description) in wanted {
                operation
                    .responses
                    .responses
                    .entry(status.to_owned())
                    .or_insert_with(|| error(description));
            }
        }
    }
}

/// The OpenAPI document as served at `/openapi.json`.
#[must_use]
pub fn openapi_json() -> String {
    let (_, document) = routes();
    document.to_pretty_json().unwrap_or_default() + "\n"
}

/// The complete application: routes, `/openapi.json`, body limit, request
/// tracing and metrics.
pub fn router(state: AppState, body_limit: usize) -> Router {
    let (routes, document) = routes();
    let document = std::sync::Arc::new(document);
    routes
        .route(
            "/openapi.json",
            axum::routing::get(move || {
                let document = std::sync::Arc::clone(&document);
                async move { axum::Json((*document).clone()) }
            }),
        )
        // The dashboard's pages (not in the OpenAPI document).
        .merge(crate::web::routes())
        .fallback(|| async { crate::error::ApiError::not_found("route") })
        .layer(middleware::from_fn(record_metrics))
        // The extractors turn an oversize body into the JSON 413.
        .layer(axum::extract::DefaultBodyLimit::max(body_limit))
        .layer(
            TraceLayer::new_for_http().make_span_with(|request: &Request| {
                let path = request
                    .extensions()
                    .get::<MatchedPath>()
                    .map_or("unmatched", MatchedPath::as_str);
                tracing::info_span!(
                    "request",
                    method = %request.method(),
                    path = %path,
                    user_id = tracing::field::Empty,
                    appliance_id = tracing::field::Empty,
                )
            }),
        )
        .with_state(state)
}

/// Counts requests and their latency per route and status.
async fn record_metrics(request: Request, next: Next) -> Response {
    let path = request
        .extensions()
        .get::<MatchedPath>()
        .map_or_else(|| "unmatched".to_owned(), |p| p.as_str().to_owned());
    let method = request.method().to_string();
    let started = tokio::time::Instant::now();
    let response = next.run(request).await;
    let status = response.status().as_u16().to_string();
    metrics::counter!("osiris_http_requests_total", "method" => method.clone(), "path" => path.clone(), "status" => status).increment(1);
    metrics::histogram!("osiris_http_request_duration_seconds", "method" => method, "path" => path)
        .record(started.elapsed().as_secs_f64());
    response
}
