//! What the bridge reads of request headers, and the answers of a refused
//! sign-in (`401` with its challenge, `429` with `Retry-After`), shared by the
//! bridge's own checks and the login routes.

use std::net::{IpAddr, Ipv4Addr};
use std::time::Duration;

use actix_web::http::header::{self, HeaderMap, HeaderValue};
use actix_web::http::StatusCode;
use actix_web::{HttpRequest, HttpResponse, ResponseError};

use crate::web::error::{ApiError, ErrorCode};

/// The one message of every failed sign-in, whatever the cause: unknown
/// user, wrong password, missing or malformed credentials.
pub(crate) const SIGN_IN_FAILED: &str = "sign in with a valid user name and password";

/// A header as text, when it is.
pub(crate) fn header_text(headers: &HeaderMap, name: header::HeaderName) -> Option<&str> {
    headers.get(name).and_then(|v| v.to_str().ok())
}

/// `application/json`, with parameters and in any case.
pub(crate) fn is_json(content_type: &str) -> bool {
    let essence = content_type.split(';').next().unwrap_or_default().trim();
    essence.eq_ignore_ascii_case("application/json")
}

/// A browser asking for HTML.
pub(crate) fn accepts_html(headers: &HeaderMap) -> bool {
    header_text(headers, header::ACCEPT).is_some_and(|a| a.contains("text/html"))
}

/// The client's address (unspecified when unknown).
pub(crate) fn client_ip(req: &HttpRequest) -> IpAddr {
    req.peer_addr()
        .map(|a| a.ip())
        .unwrap_or(IpAddr::V4(Ipv4Addr::UNSPECIFIED))
}

/// `401 unauthorized`. Programs get `challenge`; browsers' own requests
/// (they send `Sec-Fetch-Mode`) do not, so that no password dialog pops up.
pub(crate) fn unauthorized(headers: &HeaderMap, challenge: Option<&'static str>) -> HttpResponse {
    let mut response = ApiError::new(ErrorCode::Unauthorized, SIGN_IN_FAILED).error_response();
    if let Some(challenge) = challenge.filter(|_| !headers.contains_key("sec-fetch-mode")) {
        response.headers_mut().insert(
            header::WWW_AUTHENTICATE,
            HeaderValue::from_static(challenge),
        );
    }
    response
}

fn whole_seconds(wait: Duration) -> u64 {
    wait.as_secs() + u64::from(wait.subsec_nanos() > 0)
}

/// `429` until the address's minute (or the account's ten minutes) ends.
pub(crate) fn too_many(wait: Duration) -> ApiError {
    ApiError::new(
        ErrorCode::Unauthorized,
        format!(
            "too many failed sign-ins: try again in {} s",
            whole_seconds(wait)
        ),
    )
    .with_status(StatusCode::TOO_MANY_REQUESTS)
}

/// `response` with `Retry-After: wait`.
pub(crate) fn retry_after(mut response: HttpResponse, wait: Duration) -> HttpResponse {
    if let Ok(value) = HeaderValue::from_str(&whole_seconds(wait).to_string()) {
        response.headers_mut().insert(header::RETRY_AFTER, value);
    }
    response
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn json_is_recognised_with_parameters_and_in_any_case() {
        assert!(is_json("application/json"));
        assert!(is_json("Application/JSON; charset=utf-8"));
        assert!(!is_json("text/plain"));
        assert!(!is_json("application/json-seq"));
        assert!(!is_json("application/x-www-form-urlencoded"));
    }
}
