//! The web surface's rules applied to every request (PROTOCOL.md "Access"),
//! and the sign-in routes.
//!
//! [`guard`], a middleware, checks in this order and answers the first
//! failure through `ApiError`:
//! 1. `Host` is one of this server's names, else `421` (DNS rebinding);
//! 2. the WebSocket upgrade and every `POST` / `DELETE` come from this
//!    server's origin (or an allowed one), else `403` (cross-site requests);
//! 3. `POST` bodies are `application/json`, else `415`, so a plain HTML form
//!    on another site cannot publish. The one exception is `POST /login`, the
//!    login form itself, which takes `application/x-www-form-urlencoded` (or
//!    JSON) and is covered by rule 2 like every `POST`;
//! 4. with a password file, a user: HTTP Basic auth, or the session cookie of
//!    `POST /login`; else a browser asking for a page is sent to `/login` and
//!    anything else gets `401` (and `429` after too many failures).
//!
//! Every answer carries `Content-Security-Policy: default-src 'self';
//! frame-ancestors 'none'`, `X-Content-Type-Options: nosniff` and
//! `Referrer-Policy: no-referrer`.
//!
//! The session cookie is actix-session's cookie store: the login's user, id
//! and end, encrypted and signed with `SESSION_KEY` (HttpOnly,
//! `SameSite=Strict`, `Secure` over HTTPS). The server checks the end itself,
//! and remembers sign-outs until then, so a copied cookie does not outlive
//! either.

use std::net::{IpAddr, Ipv4Addr};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use actix_session::config::{CookieContentSecurity, PersistentSession};
use actix_session::storage::CookieSessionStore;
use actix_session::{Session, SessionExt, SessionMiddleware};
use actix_web::body::MessageBody;
use actix_web::cookie::{Key, SameSite};
use actix_web::dev::{ServiceRequest, ServiceResponse};
use actix_web::http::header::{self, HeaderMap, HeaderValue};
use actix_web::http::{Method, StatusCode};
use actix_web::middleware::Next;
use actix_web::{web, FromRequest, HttpMessage, HttpRequest, HttpResponse, ResponseError};
use base64::Engine;
use serde::Deserialize;
use serde_json::json;

use crate::error::{ApiError, Code};
use crate::gate::{CookieLogin, Gate, Login, SIGN_IN_FAILED};
use crate::pages;
use crate::state::AppState;

/// The session cookie's name.
const COOKIE: &str = "mqtt_actor_session";

/// The security headers of every answer.
const SECURITY_HEADERS: &[(&str, &str)] = &[
    (
        "content-security-policy",
        "default-src 'self'; frame-ancestors 'none'",
    ),
    ("x-content-type-options", "nosniff"),
    ("referrer-policy", "no-referrer"),
];

/// The session middleware: the login cookie, signed and encrypted with `key`,
/// `Secure` when served over HTTPS, lasting `ttl`.
pub fn session_middleware(
    key: Key,
    https: bool,
    ttl: Duration,
) -> SessionMiddleware<CookieSessionStore> {
    let ttl = actix_web::cookie::time::Duration::seconds(ttl.as_secs().min(i64::MAX as u64) as i64);
    SessionMiddleware::builder(CookieSessionStore::default(), key)
        .cookie_name(COOKIE.to_string())
        .cookie_http_only(true)
        .cookie_same_site(SameSite::Strict)
        .cookie_secure(https)
        .cookie_content_security(CookieContentSecurity::Private)
        .session_lifecycle(PersistentSession::default().session_ttl(ttl))
        .build()
}

/// The middleware of the module docs.
pub async fn guard(
    req: ServiceRequest,
    next: Next<impl MessageBody + 'static>,
) -> Result<ServiceResponse<impl MessageBody>, actix_web::Error> {
    let mut response = match admit(&req).await {
        Ok(()) => next.call(req).await?.map_into_left_body(),
        Err(refusal) => req.into_response(refusal).map_into_right_body(),
    };
    let headers = response.headers_mut();
    for (name, value) in SECURITY_HEADERS {
        if !headers.contains_key(*name) {
            headers.insert(
                header::HeaderName::from_static(name),
                HeaderValue::from_static(value),
            );
        }
    }
    Ok(response)
}

fn state_of(req: &HttpRequest) -> Option<web::Data<AppState>> {
    req.app_data::<web::Data<AppState>>().cloned()
}

/// Admits a request, with its [`Login`] in the request's extensions, or
/// says how to answer it.
async fn admit(req: &ServiceRequest) -> Result<(), HttpResponse> {
    let Some(state) = state_of(req.request()) else {
        return Err(HttpResponse::InternalServerError().finish());
    };
    let gate = &state.gate;
    let Some(rules) = gate.origin() else {
        return Err(HttpResponse::ServiceUnavailable().finish());
    };
    let host = host_of(req);
    // Load balancers' health checks often send no Host (HTTP/1.0), and these
    // two answers reveal nothing a rebinding page could use.
    let health_check = matches!(req.path(), "/healthz" | "/readyz");
    if !health_check && !rules.host_allowed(host.as_deref()) {
        let shown = host.as_deref().unwrap_or("(none)");
        log::info!(
            "refused: {} {} for the host {shown:?}",
            req.method(),
            req.path()
        );
        return Err(ApiError::new(
            Code::BadRequest,
            format!("this server does not answer to the host name {shown:?}"),
        )
        .with_status(StatusCode::MISDIRECTED_REQUEST)
        .error_response());
    }
    let origin = header_text(req.headers(), header::ORIGIN);
    if changes_state_or_upgrades(req) && !rules.origin_allowed(origin, host.as_deref()) {
        log::info!(
            "refused: {} {} from the origin {:?}",
            req.method(),
            req.path(),
            origin.unwrap_or_default()
        );
        return Err(ApiError::new(
            Code::Forbidden,
            format!(
                "requests from the origin {:?} are not allowed here",
                origin.unwrap_or_default()
            ),
        )
        .error_response());
    }
    if let Some(err) = wrong_content_type(req) {
        return Err(err.error_response());
    }
    let login = identify(req, gate).await?;
    req.extensions_mut().insert(login);
    Ok(())
}

/// The `Host` header, or for HTTP/2 the request's authority. Never
/// `X-Forwarded-Host`: a page's script can set that.
fn host_of(req: &ServiceRequest) -> Option<String> {
    match header_text(req.headers(), header::HOST) {
        Some(host) => Some(host.to_string()),
        None => req.uri().authority().map(|a| a.to_string()),
    }
}

fn header_text(headers: &HeaderMap, name: header::HeaderName) -> Option<&str> {
    headers.get(name).and_then(|v| v.to_str().ok())
}

/// A request the Origin rule covers: any method but `GET`/`HEAD`/`OPTIONS`,
/// and the WebSocket upgrade.
fn changes_state_or_upgrades(req: &ServiceRequest) -> bool {
    let safe = matches!(*req.method(), Method::GET | Method::HEAD | Method::OPTIONS);
    let upgrade = header_text(req.headers(), header::UPGRADE)
        .is_some_and(|u| u.eq_ignore_ascii_case("websocket"));
    !safe || upgrade || req.path() == "/ws"
}

fn is_json(content_type: &str) -> bool {
    let essence = content_type.split(';').next().unwrap_or_default().trim();
    essence.eq_ignore_ascii_case("application/json")
}

/// `415` for a `POST` whose body is not `application/json` (`POST /login`
/// excepted). A `POST` without a body needs no type.
fn wrong_content_type(req: &ServiceRequest) -> Option<ApiError> {
    if !matches!(*req.method(), Method::POST | Method::PUT | Method::PATCH)
        || req.path() == "/login"
    {
        return None;
    }
    let headers = req.headers();
    let allowed = match header_text(headers, header::CONTENT_TYPE) {
        Some(content_type) => is_json(content_type),
        None => {
            header_text(headers, header::CONTENT_LENGTH).is_none_or(|n| n.trim() == "0")
                && !headers.contains_key(header::TRANSFER_ENCODING)
        }
    };
    (!allowed).then(|| {
        ApiError::new(Code::BadRequest, "POST bodies must be application/json")
            .with_status(StatusCode::UNSUPPORTED_MEDIA_TYPE)
    })
}

fn client_ip(req: &HttpRequest) -> IpAddr {
    req.peer_addr()
        .map(|a| a.ip())
        .unwrap_or(IpAddr::V4(Ipv4Addr::UNSPECIFIED))
}

/// Who the request acts for: anonymous without a password file, or on the
/// open routes; else the user of its Basic auth or session cookie.
async fn identify(req: &ServiceRequest, gate: &Gate) -> Result<Login, HttpResponse> {
    if !gate.needs_user(req.path()) {
        return Ok(Login::anonymous());
    }
    if let Some(authorization) = header_text(req.headers(), header::AUTHORIZATION) {
        return basic_login(req.request(), authorization).await;
    }
    let session = req.get_session();
    if let Some(login) = cookie_login(&session, gate) {
        return Ok(login);
    }
    if wants_page(req) {
        return Err(HttpResponse::SeeOther()
            .insert_header((header::LOCATION, "/login"))
            .finish());
    }
    Err(unauthorized(req.headers()))
}

/// A browser asking for a page (not the API, not the WebSocket).
fn wants_page(req: &ServiceRequest) -> bool {
    req.method() == Method::GET
        && req.path() != "/ws"
        && !req.path().starts_with("/api/")
        && accepts_html(req.headers())
}

fn accepts_html(headers: &HeaderMap) -> bool {
    header_text(headers, header::ACCEPT).is_some_and(|a| a.contains("text/html"))
}

/// `401 unauthorized`. Programs get the Basic challenge; browsers' own
/// requests (they send `Sec-Fetch-Mode`) do not, so that the dashboard never
/// pops up the browser's password dialog.
fn unauthorized(headers: &HeaderMap) -> HttpResponse {
    let mut response = ApiError::new(Code::Unauthorized, SIGN_IN_FAILED).error_response();
    if !headers.contains_key("sec-fetch-mode") {
        response.headers_mut().insert(
            header::WWW_AUTHENTICATE,
            HeaderValue::from_static("Basic realm=\"mqtt-actor\", charset=\"UTF-8\""),
        );
    }
    response
}

/// `429` until the address's minute ends.
fn too_many(wait: Duration) -> ApiError {
    let seconds = wait.as_secs() + u64::from(wait.subsec_nanos() > 0);
    ApiError::new(
        Code::Unauthorized,
        format!("too many failed sign-ins from this address: try again in {seconds} s"),
    )
    .with_status(StatusCode::TOO_MANY_REQUESTS)
}

fn retry_after(mut response: HttpResponse, wait: Duration) -> HttpResponse {
    let seconds = wait.as_secs() + u64::from(wait.subsec_nanos() > 0);
    if let Ok(value) = HeaderValue::from_str(&seconds.to_string()) {
        response.headers_mut().insert(header::RETRY_AFTER, value);
    }
    response
}

/// `user:password` of an `Authorization: Basic` header.
fn basic_credentials(authorization: &str) -> Option<(String, String)> {
    let (scheme, encoded) = authorization.trim().split_once(' ')?;
    if !scheme.eq_ignore_ascii_case("basic") {
        return None;
    }
    let decoded = base64::engine::general_purpose::STANDARD
        .decode(encoded.trim())
        .ok()?;
    let text = String::from_utf8(decoded).ok()?;
    let (user, password) = text.split_once(':')?;
    Some((user.to_string(), password.to_string()))
}

async fn basic_login(req: &HttpRequest, authorization: &str) -> Result<Login, HttpResponse> {
    let Some(state) = state_of(req) else {
        return Err(HttpResponse::InternalServerError().finish());
    };
    let credentials = basic_credentials(authorization);
    if let Some((user, password)) = &credentials {
        if state.gate.known_credentials(user, password) {
            return Ok(Login::basic(user.clone()));
        }
    }
    let (user, password) = credentials.unwrap_or_default();
    match check_password(req, &state, &user, &password).await {
        Ok(true) => {
            state.gate.remember_credentials(&user, &password);
            Ok(Login::basic(user))
        }
        Ok(false) => Err(unauthorized(req.headers())),
        Err(wait) => Err(retry_after(too_many(wait).error_response(), wait)),
    }
}

/// Checks a password under the sign-in limit: `Ok(right)`, or `Err(wait)`
/// when the client's address has failed too often. Every check counts as a
/// failure of the address until it turns out right.
async fn check_password(
    req: &HttpRequest,
    state: &web::Data<AppState>,
    user: &str,
    password: &str,
) -> Result<bool, Duration> {
    let ip = client_ip(req);
    state.gate.begin_sign_in(ip)?;
    let state_for_check = state.clone();
    let (user, password) = (user.to_string(), password.to_string());
    // Hashing is CPU-bound (PBKDF2): off the server's threads.
    let right = web::block(move || state_for_check.gate.access.authenticate(&user, &password))
        .await
        .unwrap_or(false);
    if right {
        state.gate.signed_in(ip);
    } else {
        log::info!("failed sign-in from {ip}");
    }
    Ok(right)
}

/// The login in the session cookie, when it still holds; a cookie that no
/// longer does is dropped.
fn cookie_login(session: &Session, gate: &Gate) -> Option<Login> {
    let user = session.get::<String>("user").ok()??;
    let id = session.get::<String>("login_id").ok()??;
    let expires = session.get::<u64>("expires").ok()??;
    let login = Login {
        user: Some(user),
        cookie: Some(CookieLogin {
            id,
            expires: UNIX_EPOCH + Duration::from_secs(expires),
        }),
    };
    match gate.lapsed(&login, SystemTime::now()) {
        None => Some(login),
        Some(_) => {
            session.purge();
            None
        }
    }
}

/// A handler's [`Login`]: what [`guard`] found (anonymous when it found no
/// user, which the access policy refuses when users are configured).
impl FromRequest for Login {
    type Error = actix_web::Error;
    type Future = std::future::Ready<Result<Login, actix_web::Error>>;

    fn from_request(req: &HttpRequest, _: &mut actix_web::dev::Payload) -> Self::Future {
        let login = req.extensions().get::<Login>().cloned().unwrap_or_default();
        std::future::ready(Ok(login))
    }
}

/// The form of `POST /login`.
#[derive(Deserialize)]
struct Credentials {
    username: String,
    password: String,
}

fn parse_credentials(req: &HttpRequest, body: &[u8]) -> Option<Credentials> {
    match header_text(req.headers(), header::CONTENT_TYPE) {
        Some(content_type) if is_json(content_type) => serde_json::from_slice(body).ok(),
        _ => serde_urlencoded::from_bytes(body).ok(),
    }
}

/// A login page with `error` shown under the form, answered with `status`.
fn login_page(status: StatusCode, error: Option<&str>) -> HttpResponse {
    match pages::render_login(error) {
        Ok(html) => HttpResponse::build(status)
            .content_type("text/html; charset=utf-8")
            .insert_header((header::CACHE_CONTROL, "no-store"))
            .body(html),
        Err(e) => {
            log::error!("rendering the login page failed: {e}");
            HttpResponse::InternalServerError().body("the login page failed to render")
        }
    }
}

/// `GET /login`: the login page (without a password file: the dashboard).
pub async fn login_form(state: web::Data<AppState>) -> HttpResponse {
    if !state.gate.access.requires_login() {
        return HttpResponse::SeeOther()
            .insert_header((header::LOCATION, "/"))
            .finish();
    }
    login_page(StatusCode::OK, None)
}

/// `POST /login`: signs in with the form fields `username` and `password`
/// (form-encoded, or JSON). A browser's form gets the dashboard or the page
/// again with the error; a program gets JSON.
pub async fn login(
    req: HttpRequest,
    state: web::Data<AppState>,
    session: Session,
    body: web::Bytes,
) -> HttpResponse {
    let page = accepts_html(req.headers());
    let refuse = |err: ApiError| match page {
        true => login_page(err.status_code(), Some(&err.message)),
        false => err.error_response(),
    };
    let credentials = parse_credentials(&req, &body);
    let (user, password) = credentials
        .map(|c| (c.username, c.password))
        .unwrap_or_default();
    match check_password(&req, &state, &user, &password).await {
        Err(wait) => return retry_after(refuse(too_many(wait)), wait),
        Ok(false) => return refuse(ApiError::new(Code::Unauthorized, SIGN_IN_FAILED)),
        Ok(true) => {}
    }
    let cookie = state.gate.new_cookie_login(SystemTime::now());
    let expires = cookie
        .expires
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or_default();
    session.renew();
    let stored = session
        .insert("user", &user)
        .and_then(|()| session.insert("login_id", &cookie.id))
        .and_then(|()| session.insert("expires", expires));
    if let Err(e) = stored {
        log::error!("cannot store the login of {user:?} in its cookie: {e}");
        return HttpResponse::InternalServerError().finish();
    }
    log::info!("user {} signed in", user.escape_debug());
    match page {
        true => HttpResponse::SeeOther()
            .insert_header((header::LOCATION, "/"))
            .finish(),
        false => HttpResponse::Ok().json(json!({ "user": user })),
    }
}

/// `POST /logout`: ends the login of the session cookie (everywhere its
/// cookie went: the server remembers it ended), and closes its sockets at
/// their next check.
pub async fn logout(
    req: HttpRequest,
    state: web::Data<AppState>,
    session: Session,
) -> HttpResponse {
    if let Some(login) = cookie_login(&session, &state.gate) {
        if let Some(cookie) = &login.cookie {
            state.gate.sign_out(cookie, SystemTime::now());
        }
        let user = login.user.unwrap_or_default();
        log::info!("user {} signed out", user.escape_debug());
    }
    session.purge();
    match accepts_html(req.headers()) {
        true => HttpResponse::SeeOther()
            .insert_header((header::LOCATION, "/login"))
            .finish(),
        false => HttpResponse::Ok().json(json!({ "ok": true })),
    }
}

/// The sign-in routes.
pub fn routes(cfg: &mut web::ServiceConfig) {
    cfg.route("/login", web::get().to(login_form))
        .route("/login", web::post().to(login))
        .route("/logout", web::post().to(logout));
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn basic_credentials_are_read_from_the_header() {
        let header = |text: &str| {
            format!(
                "Basic {}",
                base64::engine::general_purpose::STANDARD.encode(text)
            )
        };
        assert_eq!(
            basic_credentials(&header("alice:pa:ss")),
            Some(("alice".into(), "pa:ss".into()))
        );
        assert_eq!(
            basic_credentials(&header("alice:")),
            Some(("alice".into(), String::new()))
        );
        assert_eq!(basic_credentials(&header("alice")), None);
        assert_eq!(basic_credentials("Bearer abc"), None);
        assert_eq!(basic_credentials("Basic !!!"), None);
        assert!(basic_credentials(&header("alice:x").replace("Basic", "basic")).is_some());
    }

    #[test]
    fn json_is_recognised_with_parameters_and_in_any_case() {
        assert!(is_json("application/json"));
        assert!(is_json("Application/JSON; charset=utf-8"));
        assert!(!is_json("text/plain"));
        assert!(!is_json("application/json-seq"));
        assert!(!is_json("application/x-www-form-urlencoded"));
    }
}
