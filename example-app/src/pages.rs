//! The dashboard page and the login page (`templates/`) and their assets
//! (`static/`), embedded in the binary.

use actix::Addr;
use actix_web::{http::header, web, HttpMessage, HttpRequest, HttpResponse};
use mqtt_actor::web::{ApiError, ErrorCode, MosquittoAuth, Principal};
use mqtt_actor::MqttActor;
use rust_embed::RustEmbed;

#[derive(RustEmbed)]
#[folder = "../templates/"]
struct Templates;

#[derive(RustEmbed)]
#[folder = "../static/"]
struct Assets;

/// Renders the template `name` of `templates/` with `context` (HTML-escaped).
fn render(name: &str, context: minijinja::Value) -> Result<String, minijinja::Error> {
    let file = Templates::get(name).unwrap_or_else(|| panic!("templates/{name} is embedded"));
    let source = String::from_utf8_lossy(&file.data);
    let mut env = minijinja::Environment::new();
    env.add_template(name, &source)?;
    env.get_template(name)?.render(context)
}

/// Renders `templates/index.html`; `user` is who is signed in, if anyone.
pub fn render_index(broker: &str, user: Option<&str>) -> Result<String, minijinja::Error> {
    render(
        "index.html",
        minijinja::context! {
            broker => broker,
            user => user,
            version => env!("CARGO_PKG_VERSION"),
        },
    )
}

/// Renders `templates/login.html`, with `error` shown under the form.
pub fn render_login(error: Option<&str>) -> Result<String, minijinja::Error> {
    render(
        "login.html",
        minijinja::context! {
            error => error,
            version => env!("CARGO_PKG_VERSION"),
        },
    )
}

/// A login page with `error` shown under the form (the login routes set
/// the status of a refusal).
pub fn login_page(error: Option<&str>) -> HttpResponse {
    match render_login(error) {
        Ok(html) => HttpResponse::Ok()
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
async fn login_form(auth: web::Data<MosquittoAuth>) -> HttpResponse {
    if !auth.requires_login() {
        return HttpResponse::SeeOther()
            .insert_header((header::LOCATION, "/"))
            .finish();
    }
    login_page(None)
}

/// `GET /`
async fn index(req: HttpRequest, mqtt: web::Data<Addr<MqttActor>>) -> HttpResponse {
    let broker = mqtt
        .send(mqtt_actor::GetStatus)
        .await
        .map(|s| s.broker)
        .unwrap_or_default();
    let user = req
        .extensions()
        .get::<Principal>()
        .and_then(|p| p.user.clone());
    match render_index(&broker, user.as_deref()) {
        Ok(html) => HttpResponse::Ok()
            .content_type("text/html; charset=utf-8")
            .body(html),
        Err(e) => {
            log::error!("rendering the dashboard failed: {e}");
            HttpResponse::InternalServerError().body("the dashboard template failed to render")
        }
    }
}

/// `GET /static/{path}`
async fn asset(path: web::Path<String>) -> Result<HttpResponse, ApiError> {
    match Assets::get(&path) {
        Some(file) => Ok(HttpResponse::Ok()
            .content_type(
                mime_guess::from_path(path.as_str())
                    .first_or_octet_stream()
                    .as_ref(),
            )
            .insert_header((header::CACHE_CONTROL, "no-cache"))
            .body(file.data.into_owned())),
        None => Err(ApiError::new(
            ErrorCode::NotFound,
            format!("no such asset: {}", path.as_str()),
        )),
    }
}

/// Any other route: `404` with `not_found`.
pub async fn no_such_route(req: HttpRequest) -> Result<HttpResponse, ApiError> {
    Err(ApiError::new(
        ErrorCode::NotFound,
        format!("no such route: {} {}", req.method(), req.path()),
    ))
}

/// The page routes.
pub fn routes(cfg: &mut web::ServiceConfig) {
    cfg.route("/", web::get().to(index))
        .route("/login", web::get().to(login_form))
        .route("/static/{path:.*}", web::get().to(asset));
}

#[cfg(test)]
mod tests {
    #[test]
    fn the_page_renders_with_every_automation_hook() {
        let html = super::render_index("tcp://127.0.0.1:1883", None).unwrap();
        for hook in [
            "broker-status",
            "subscribe-topic",
            "subscribe-qos",
            "subscribe-button",
            "subscription-list",
            "publish-topic",
            "publish-payload",
            "publish-qos",
            "publish-retain",
            "publish-button",
            "message-log",
            "topic-tree",
        ] {
            assert!(
                html.contains(&format!("data-testid=\"{hook}\"")),
                "missing {hook}"
            );
        }
        assert!(html.contains("127.0.0.1:1883"), "the broker is shown");
        assert!(!html.contains("data-testid=\"logout-button\""));
    }

    #[test]
    fn a_signed_in_user_is_shown_escaped_with_a_sign_out_button() {
        let html = super::render_index("b", Some("<al&ice>")).unwrap();
        assert!(html.contains("data-testid=\"current-user\""));
        assert!(html.contains("data-testid=\"logout-button\""));
        assert!(html.contains("&lt;al&amp;ice&gt;"), "{html}");
    }

    #[test]
    fn the_login_page_has_its_hooks_and_shows_an_error_escaped() {
        let html = super::render_login(None).unwrap();
        for hook in [
            "login-username",
            "login-password",
            "login-button",
            "login-error",
        ] {
            assert!(
                html.contains(&format!("data-testid=\"{hook}\"")),
                "missing {hook}"
            );
        }
        let html = super::render_login(Some("<b>no</b>")).unwrap();
        assert!(
            html.contains("&lt;b&gt;no") && !html.contains("<b>"),
            "{html}"
        );
        assert!(!html.contains("<script>") && !html.contains("style="));
    }
}
