//! The app's own routes (the dashboard, its assets, the login page) pass the
//! checks the bridge applies to its routes (PROTOCOL.md "Access"): [`check`],
//! a middleware, has the bridge check the `Host` and `Origin` of every
//! request, and the principal of every route but the open ones (the login
//! page and what it loads); a browser asking for a page without one is sent
//! to `/login`. The bridge's routes check themselves.
//!
//! Every answer, the bridge's too, carries [`security_headers`]; one to a
//! client on HTTPS also [`transport_security`]'s.

use actix_web::body::MessageBody;
use actix_web::dev::{ServiceRequest, ServiceResponse};
use actix_web::http::header::{self, HeaderValue};
use actix_web::http::{Method, StatusCode};
use actix_web::middleware::{DefaultHeaders, Next};
use actix_web::{web, HttpMessage, HttpResponse, ResponseError};
use mqtt_actor::web::{client_info, Bridge};

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

/// For a client on HTTPS, served under TLS or through a trusted proxy that
/// says so (`--trusted-proxies`): every cookie set is `Secure`, and the
/// answer carries `Strict-Transport-Security: max-age=31536000`. Wrap it
/// around the session middleware, so that it sees the login cookie.
pub async fn transport_security(
    req: ServiceRequest,
    next: Next<impl MessageBody>,
) -> Result<ServiceResponse<impl MessageBody>, actix_web::Error> {
    let https = client_info(req.request()).https;
    let mut response = next.call(req).await?;
    if https {
        let headers = response.headers_mut();
        let cookies: Vec<HeaderValue> = headers.get_all(header::SET_COOKIE).cloned().collect();
        headers.remove(header::SET_COOKIE);
        for cookie in cookies {
            headers.append(header::SET_COOKIE, secure(cookie));
        }
        if !headers.contains_key(header::STRICT_TRANSPORT_SECURITY) {
            headers.insert(
                header::STRICT_TRANSPORT_SECURITY,
                HeaderValue::from_static("max-age=31536000"),
            );
        }
    }
    Ok(response)
}

/// A `Set-Cookie` value with the `Secure` attribute.
fn secure(cookie: HeaderValue) -> HeaderValue {
    let Ok(text) = cookie.to_str() else {
        return cookie;
    };
    let has_secure = text
        .split(';')
        .skip(1)
        .any(|attribute| attribute.trim().eq_ignore_ascii_case("secure"));
    match has_secure {
        true => cookie,
        false => HeaderValue::from_str(&format!("{text}; Secure")).unwrap_or(cookie),
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
