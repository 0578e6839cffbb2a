//! The app's own routes (the dashboard, its assets, the login page) pass the
//! checks the bridge applies to its routes (PROTOCOL.md "Access"): [`check`],
//! a middleware, has the bridge check the `Host` and `Origin` of every
//! request, and the principal of every route but the open ones (the login
//! page and what it loads); a browser asking for a page without one is sent
//! to `/login`. The bridge's routes check themselves.
//!
//! Every answer, the bridge's too, carries [`security_headers`].

use actix_web::body::MessageBody;
use actix_web::dev::{ServiceRequest, ServiceResponse};
use actix_web::http::header;
use actix_web::http::{Method, StatusCode};
use actix_web::middleware::{DefaultHeaders, Next};
use actix_web::{web, HttpMessage, HttpResponse, ResponseError};
use mqtt_actor::web::Bridge;

/// The routes that serve without a user when a password file is set: the
/// login page (and its form), signing out (it only ends what the request's
/// own cookie holds) and the assets the login page loads.
const OPEN_ROUTES: &[&str] = &[
    "/login",
    "/logout",
    "/static/style.css",
    "/static/favicon.svg",
];

/// The page's policy: its own scripts, styles and forms only, no `<base>`
/// elsewhere, never inside a frame.
const CSP: &str = "default-src 'self'; base-uri 'self'; form-action 'self'; frame-ancestors 'none'";

/// `Content-Security-Policy` ([`CSP`]), `X-Content-Type-Options: nosniff`
/// and `Referrer-Policy: no-referrer` on every answer that has none of its
/// own; with `https`, also `Strict-Transport-Security: max-age=31536000`.
pub fn security_headers(https: bool) -> DefaultHeaders {
    let headers = DefaultHeaders::new()
        .add((header::CONTENT_SECURITY_POLICY, CSP))
        .add((header::X_CONTENT_TYPE_OPTIONS, "nosniff"))
        .add((header::REFERRER_POLICY, "no-referrer"));
    match https {
        true => headers.add((header::STRICT_TRANSPORT_SECURITY, "max-age=31536000")),
        false => headers,
    }
}

/// The middleware of the module docs; the principal goes into the request's
/// extensions for the pages.
pub async fn check(
    req: ServiceRequest,
    next: Next<impl MessageBody + 'static>,
) -> Result<ServiceResponse<impl MessageBody>, actix_web::Error> {
    let Some(bridge) = req.app_data::<web::Data<Bridge>>().cloned() else {
        let refusal = HttpResponse::InternalServerError().finish();
        return Ok(req.into_response(refusal).map_into_right_body());
    };
    let outcome = if OPEN_ROUTES.contains(&req.path()) {
        bridge
            .check_origin(req.request())
            .map_err(|e| e.error_response())
    } else {
        bridge.admit(req.request()).await.map(|principal| {
            req.extensions_mut().insert(principal);
        })
    };
    match outcome {
        Ok(()) => Ok(next.call(req).await?.map_into_left_body()),
        Err(refusal) => {
            let refusal = match refusal.status() == StatusCode::UNAUTHORIZED && wants_page(&req) {
                true => HttpResponse::SeeOther()
                    .insert_header((header::LOCATION, "/login"))
                    .finish(),
                false => refusal,
            };
            Ok(req.into_response(refusal).map_into_right_body())
        }
    }
}

/// A browser asking for a page (not the API, not the WebSocket).
fn wants_page(req: &ServiceRequest) -> bool {
    if req.path() == "/ws" || req.path().starts_with("/api/") {
        return false;
    }
    let html = req
        .headers()
        .get(header::ACCEPT)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|a| a.contains("text/html"));
    req.method() == Method::GET && html
}
