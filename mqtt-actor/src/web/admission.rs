//! The checks every request to the bridge passes, in its own handlers (a
//! `ServiceConfig` has no middleware, and checks an application could forget
//! to mount are no checks), in this order; the first failure is the answer:
//!
//! 1. `Host` is one of this server's names, else `421` (DNS rebinding);
//! 2. the WebSocket upgrade and every `POST` / `DELETE` come from this
//!    server's origin (or an allowed one), else `403` (cross-site requests);
//! 3. `POST` bodies are `application/json`, else `415`, so that a plain HTML
//!    form on another site cannot publish;
//! 4. the [`Authenticator`](crate::web::Authenticator) names a principal,
//!    else `401` (or `429`).
//!
//! A handler takes an [`Admitted`] to have them run before it.

use std::time::SystemTime;

use actix_web::http::header::{self, HeaderMap};
use actix_web::http::{Method, StatusCode};
use actix_web::{web, FromRequest, HttpRequest, HttpResponse, ResponseError};
use futures::future::LocalBoxFuture;

use crate::web::access::{AuthError, Principal};
use crate::web::error::{ApiError, ErrorCode};
use crate::web::http::{header_text, is_json, retry_after, too_many, unauthorized};
use crate::web::state::BridgeState;

/// The `Host` header, or for HTTP/2 the request's authority. Never
/// `X-Forwarded-Host`: a page's script can set that.
fn host_of(req: &HttpRequest) -> Option<String> {
    match header_text(req.headers(), header::HOST) {
        Some(host) => Some(host.to_string()),
        None => req.uri().authority().map(|a| a.to_string()),
    }
}

/// A request the Origin rule covers: any method but `GET`/`HEAD`/`OPTIONS`,
/// and the WebSocket upgrade.
fn changes_state_or_upgrades(req: &HttpRequest) -> bool {
    let safe = matches!(*req.method(), Method::GET | Method::HEAD | Method::OPTIONS);
    let upgrade = header_text(req.headers(), header::UPGRADE)
        .is_some_and(|u| u.eq_ignore_ascii_case("websocket"));
    !safe || upgrade
}

/// `415` for a `POST` whose body is not `application/json`. A `POST`
/// without a body needs no type.
fn wrong_content_type(req: &HttpRequest) -> Option<ApiError> {
    if !matches!(*req.method(), Method::POST | Method::PUT | Method::PATCH) {
        return None;
    }
    let headers: &HeaderMap = req.headers();
    let allowed = match header_text(headers, header::CONTENT_TYPE) {
        Some(content_type) => is_json(content_type),
        None => {
            header_text(headers, header::CONTENT_LENGTH).is_none_or(|n| n.trim() == "0")
                && !headers.contains_key(header::TRANSFER_ENCODING)
        }
    };
    (!allowed).then(|| {
        ApiError::new(
            ErrorCode::BadRequest,
            "POST bodies must be application/json",
        )
        .with_status(StatusCode::UNSUPPORTED_MEDIA_TYPE)
    })
}

/// Checks 1 and 2 (and 3 when `json_only`) of the module docs.
pub(crate) fn check_origin(
    state: &BridgeState,
    req: &HttpRequest,
    json_only: bool,
) -> Result<(), ApiError> {
    if state.config.same_origin {
        let conn = req.app_config();
        let rules = state.origin.bound_to(conn.local_addr(), conn.secure());
        let host = host_of(req);
        if !rules.host_allowed(host.as_deref()) {
            let shown = host.as_deref().unwrap_or("(none)");
            log::info!(
                "refused: {} {} for the host {shown:?}",
                req.method(),
                req.path()
            );
            return Err(ApiError::new(
                ErrorCode::BadRequest,
                format!("this server does not answer to the host name {shown:?}"),
            )
            .with_status(StatusCode::MISDIRECTED_REQUEST));
        }
        let origin = header_text(req.headers(), header::ORIGIN);
        if changes_state_or_upgrades(req) && !rules.origin_allowed(origin, host.as_deref()) {
            let origin = origin.unwrap_or_default();
            log::info!(
                "refused: {} {} from the origin {origin:?}",
                req.method(),
                req.path()
            );
            return Err(ApiError::new(
                ErrorCode::Forbidden,
                format!("requests from the origin {origin:?} are not allowed here"),
            ));
        }
    }
    match wrong_content_type(req) {
        Some(err) if json_only && state.config.json_only => Err(err),
        _ => Ok(()),
    }
}

/// Check 4: who `req` acts for, or the answer that refuses it.
pub(crate) async fn authenticate(
    state: &BridgeState,
    req: &HttpRequest,
) -> Result<Principal, HttpResponse> {
    let refuse = || unauthorized(req.headers(), state.authenticator.challenge());
    match state.authenticator.authenticate(req).await {
        Ok(Some(principal)) => match state.still_valid(&principal, SystemTime::now()) {
            Ok(()) => Ok(principal),
            Err(_) => Err(refuse()),
        },
        Ok(None) | Err(AuthError::Invalid) => Err(refuse()),
        Err(AuthError::TooManyAttempts { retry_after: wait }) => {
            Err(retry_after(too_many(wait).error_response(), wait))
        }
    }
}

/// All four checks.
pub(crate) async fn admit(
    state: &BridgeState,
    req: &HttpRequest,
) -> Result<Principal, HttpResponse> {
    check_origin(state, req, true).map_err(|e| e.error_response())?;
    authenticate(state, req).await
}

/// A request that passed the checks of the module docs, and who it acts for.
pub(crate) struct Admitted(pub Principal);

impl FromRequest for Admitted {
    type Error = actix_web::Error;
    type Future = LocalBoxFuture<'static, Result<Admitted, actix_web::Error>>;

    fn from_request(req: &HttpRequest, _: &mut actix_web::dev::Payload) -> Self::Future {
        let req = req.clone();
        Box::pin(async move {
            let Some(state) = req.app_data::<web::Data<BridgeState>>().cloned() else {
                let response = HttpResponse::InternalServerError().finish();
                return Err(actix_web::error::InternalError::from_response("", response).into());
            };
            match admit(&state, &req).await {
                Ok(principal) => Ok(Admitted(principal)),
                Err(response) => {
                    Err(actix_web::error::InternalError::from_response("", response).into())
                }
            }
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use actix_web::test::TestRequest;

    #[test]
    fn only_json_bodies_may_be_posted() {
        let post = |content_type: Option<&str>, length: &str| {
            let mut req = TestRequest::post().insert_header((header::CONTENT_LENGTH, length));
            if let Some(t) = content_type {
                req = req.insert_header((header::CONTENT_TYPE, t));
            }
            wrong_content_type(&req.to_http_request())
        };
        assert!(post(Some("application/json; charset=utf-8"), "2").is_none());
        assert!(post(None, "0").is_none(), "no body needs no type");
        let refused = post(Some("text/plain"), "2").expect("refused");
        assert_eq!(refused.status(), StatusCode::UNSUPPORTED_MEDIA_TYPE);
        assert!(post(None, "5").is_some());
        assert!(wrong_content_type(&TestRequest::get().to_http_request()).is_none());
    }
}
