//! Signing in with the password file: HTTP Basic credentials, and the login
//! cookie of `POST /login` (ended by `POST /logout`).
//!
//! The cookie is actix-session's cookie store: the login's user, id, end and
//! credential fingerprint (a keyed digest of the user's password-file line),
//! encrypted and signed with the application's key (HttpOnly,
//! `SameSite=Strict`, `Secure` over HTTPS). The server checks the end itself,
//! remembers sign-outs until then, and compares the fingerprint with the file
//! in force, so a copied cookie outlives neither its end, nor a sign-out, nor
//! a change of the user's password.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use actix_session::config::{CookieContentSecurity, PersistentSession};
use actix_session::storage::CookieSessionStore;
use actix_session::{Session, SessionExt, SessionMiddleware};
use actix_web::cookie::{Key, SameSite};
use actix_web::http::{header, StatusCode};
use actix_web::{web, HttpRequest, HttpResponse, ResponseError};
use base64::Engine;
use futures::future::LocalBoxFuture;
use futures::StreamExt;
use serde::Deserialize;
use serde_json::json;

use super::MosquittoAuth;
use crate::web::access::{AuthError, Authenticator, Principal};
use crate::web::error::{ApiError, ErrorCode};
use crate::web::http::{accepts_html, header_text, is_json, retry_after, too_many, SIGN_IN_FAILED};

use crate::web::http::client_ip;

/// The login cookie's name.
const COOKIE: &str = "mqtt_actor_session";

/// Renders the application's login page with an error under its form, for
/// a browser whose `POST /login` failed (the status is set by the caller).
pub type LoginPage = fn(error: Option<&str>) -> HttpResponse;

/// `user:password` of an `Authorization: Basic` header.
pub(crate) fn basic_credentials(authorization: &str) -> Option<(String, String)> {
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

/// The login of the session cookie, when it still holds; a cookie that no
/// longer does is dropped.
fn session_principal(session: &Session, auth: &MosquittoAuth) -> Option<Principal> {
    let user = session.get::<String>("user").ok()??;
    let id = session.get::<String>("login_id").ok()??;
    let expires = session.get::<u64>("expires_ms").ok()??;
    // A cookie without one predates fingerprints: it is tied to nothing, so
    // it holds nothing.
    let credential = session.get::<String>("credential").ok()??;
    let principal = Principal::user(user)
        .login_id(id)
        .expires_at(UNIX_EPOCH + Duration::from_millis(expires))
        .credential(credential);
    match auth.lapsed(&principal, SystemTime::now()) {
        None => Some(principal),
        Some(_) => {
            session.purge();
            None
        }
    }
}

/// The login of `req`'s cookie, if it holds.
pub(crate) fn cookie_principal(req: &HttpRequest, auth: &MosquittoAuth) -> Option<Principal> {
    session_principal(&req.get_session(), auth)
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

impl MosquittoAuth {
    /// The middleware that keeps the login cookie, signed and encrypted with
    /// `key`, `Secure` when served over HTTPS. Wrap the application in it
    /// when it serves [`MosquittoAuth::login_routes`]. Behind a proxy that
    /// terminates TLS, `https` is false: mark the cookie `Secure` per request
    /// where [`client_info`](crate::web::client_info) says the client is on
    /// HTTPS (the example app's `transport_security` middleware does).
    pub fn session_middleware(
        &self,
        key: Key,
        https: bool,
    ) -> SessionMiddleware<CookieSessionStore> {
        let secs = self.login_ttl.as_secs().min(i64::MAX as u64) as i64;
        let ttl = actix_web::cookie::time::Duration::seconds(secs);
        self.key_fingerprints(key.master());
        SessionMiddleware::builder(CookieSessionStore::default(), key)
            .cookie_name(COOKIE.to_string())
            .cookie_http_only(true)
            .cookie_same_site(SameSite::Strict)
            .cookie_secure(https)
            .cookie_content_security(CookieContentSecurity::Private)
            .session_lifecycle(PersistentSession::default().session_ttl(ttl))
            .build()
    }

    /// `POST /login` (the fields `username` and `password`, form-encoded or
    /// JSON; a browser is sent to `/`, or gets `page` again with the error; a
    /// program gets JSON) and `POST /logout` (ends the cookie's login, also
    /// for every copy of the cookie; a browser is sent to `/login`). The
    /// application serves `GET /login` itself.
    pub fn login_routes(&self, page: LoginPage) -> impl FnOnce(&mut web::ServiceConfig) {
        let auth = web::Data::new(self.clone());
        move |cfg| {
            cfg.app_data(auth)
                .app_data(web::Data::new(page))
                .route("/login", web::post().to(login))
                .route("/logout", web::post().to(logout));
        }
    }
}

async fn login(
    req: HttpRequest,
    auth: web::Data<MosquittoAuth>,
    page: web::Data<LoginPage>,
    session: Session,
    payload: web::Payload,
) -> HttpResponse {
    let browser = accepts_html(req.headers());
    let refuse = |err: ApiError| match browser {
        true => {
            let mut response = (page.get_ref())(Some(&err.message));
            *response.status_mut() = err.status();
            response
        }
        false => err.error_response(),
    };
    let body = match read_body(payload, auth.body_timeout).await {
        Ok(body) => body,
        Err(err) => return refuse(err),
    };
    let (user, password) = parse_credentials(&req, &body)
        .map(|c| (c.username, c.password))
        .unwrap_or_default();
    match auth.check_password(client_ip(&req), &user, &password).await {
        Err(wait) => return retry_after(refuse(too_many(wait)), wait),
        Ok(false) => return refuse(ApiError::new(ErrorCode::Unauthorized, SIGN_IN_FAILED)),
        Ok(true) => {}
    }
    let Some(credential) = auth.signed_in_user(user.clone()).credential else {
        // Removed by a reload since its password was checked.
        return refuse(ApiError::new(ErrorCode::Unauthorized, SIGN_IN_FAILED));
    };
    let (id, end) = auth.new_login(SystemTime::now());
    // In milliseconds: the sign-out list orders logins by their end.
    let expires = end
        .duration_since(UNIX_EPOCH)
        .map(|d| u64::try_from(d.as_millis()).unwrap_or(u64::MAX))
        .unwrap_or_default();
    session.renew();
    let stored = session
        .insert("user", &user)
        .and_then(|()| session.insert("login_id", &id))
        .and_then(|()| session.insert("expires_ms", expires))
        .and_then(|()| session.insert("credential", &credential));
    if let Err(e) = stored {
        log::error!("cannot store the login of {user:?} in its cookie: {e}");
        return HttpResponse::InternalServerError().finish();
    }
    log::info!("user {} signed in", user.escape_debug());
    match browser {
        true => HttpResponse::SeeOther()
            .insert_header((header::LOCATION, "/"))
            .finish(),
        false => HttpResponse::Ok().json(json!({ "user": user })),
    }
}

/// The most a login form may hold: a user name and a password.
const MAX_LOGIN_BODY: usize = 64 * 1024;

/// The body of `POST /login`, whole within `timeout` (else `408`: a client
/// trickling its body holds a connection and a handler no longer than that)
/// and at most [`MAX_LOGIN_BODY`] bytes (else `413`).
async fn read_body(mut payload: web::Payload, timeout: Duration) -> Result<Vec<u8>, ApiError> {
    let read = async {
        let mut body = Vec::new();
        while let Some(chunk) = payload.next().await {
            let chunk = chunk.map_err(|e| {
                ApiError::new(ErrorCode::BadRequest, format!("cannot read the body: {e}"))
            })?;
            if body.len() + chunk.len() > MAX_LOGIN_BODY {
                let message = format!("a login form holds at most {MAX_LOGIN_BODY} bytes");
                return Err(ApiError::new(ErrorCode::TooLarge, message)
                    .with_status(StatusCode::PAYLOAD_TOO_LARGE));
            }
            body.extend_from_slice(&chunk);
        }
        Ok(body)
    };
    match tokio::time::timeout(timeout, read).await {
        Ok(body) => body,
        Err(_) => {
            let message = format!(
                "the login form did not arrive within {} s",
                timeout.as_secs_f64()
            );
            Err(ApiError::new(ErrorCode::BadRequest, message)
                .with_status(StatusCode::REQUEST_TIMEOUT))
        }
    }
}

async fn logout(
    req: HttpRequest,
    auth: web::Data<MosquittoAuth>,
    session: Session,
) -> HttpResponse {
    if let Some(principal) = session_principal(&session, &auth) {
        if let (Some(id), Some(end)) = (&principal.login_id, principal.expires_at) {
            auth.sign_out(id, end, SystemTime::now());
        }
        let user = principal.user.unwrap_or_default();
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

impl MosquittoAuth {
    /// Who a request with these Basic credentials is.
    async fn basic(&self, req: &HttpRequest, authorization: &str) -> Result<Principal, AuthError> {
        let ip = client_ip(req);
        let credentials = basic_credentials(authorization);
        let user = credentials.as_ref().map_or("", |(user, _)| user.as_str());
        // The limiter comes first: a locked-out address or account learns
        // nothing, not even from a password that was verified before.
        if let Err(retry_after) = self.sign_in_refused(ip, user) {
            return Err(AuthError::TooManyAttempts { retry_after });
        }
        if let Some((user, password)) = &credentials {
            if self.known_credentials(user, password) {
                return Ok(self.signed_in_user(user.clone()));
            }
        }
        let (user, password) = credentials.unwrap_or_default();
        match self.check_password(ip, &user, &password).await {
            Ok(true) => {
                self.remember_credentials(&user, &password);
                Ok(self.signed_in_user(user))
            }
            Ok(false) => Err(AuthError::Invalid),
            Err(retry_after) => Err(AuthError::TooManyAttempts { retry_after }),
        }
    }
}

impl Authenticator for MosquittoAuth {
    /// Anonymous without a password file; else the user of the request's
    /// Basic auth (wrong: `401`), or of its login cookie (a cookie that no
    /// longer holds is dropped), or nobody.
    fn authenticate<'a>(
        &'a self,
        req: &'a HttpRequest,
    ) -> LocalBoxFuture<'a, Result<Option<Principal>, AuthError>> {
        Box::pin(async move {
            if !self.requires_login() {
                return Ok(Some(Principal::anonymous()));
            }
            let header = req.headers().get(actix_web::http::header::AUTHORIZATION);
            if let Some(authorization) = header.and_then(|v| v.to_str().ok()) {
                return self.basic(req, authorization).await.map(Some);
            }
            Ok(cookie_principal(req, self))
        })
    }

    fn still_valid(&self, principal: &Principal, now: SystemTime) -> Result<(), String> {
        match self.lapsed(principal, now) {
            None => Ok(()),
            Some(why) => Err(why.to_string()),
        }
    }

    fn challenge(&self) -> Option<&'static str> {
        Some("Basic realm=\"mqtt-actor\", charset=\"UTF-8\"")
    }
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
}
