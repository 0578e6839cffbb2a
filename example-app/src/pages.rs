//! The dashboard page (`templates/`) and its assets (`static/`), embedded in the binary.

use actix_web::{http::header, web, HttpResponse};
use rust_embed::RustEmbed;

use crate::error::{ApiError, Code};
use crate::state::AppState;

#[derive(RustEmbed)]
#[folder = "../templates/"]
struct Templates;

#[derive(RustEmbed)]
#[folder = "../static/"]
struct Assets;

/// Renders `templates/index.html`.
pub fn render_index(broker: &str) -> Result<String, minijinja::Error> {
    let file = Templates::get("index.html").expect("templates/index.html is embedded");
    let source = String::from_utf8_lossy(&file.data);
    let mut env = minijinja::Environment::new();
    env.add_template("index.html", &source)?;
    env.get_template("index.html")?.render(minijinja::context! {
        broker => broker,
        version => env!("CARGO_PKG_VERSION"),
    })
}

/// `GET /`
pub async fn index(state: web::Data<AppState>) -> HttpResponse {
    let broker = state
        .mqtt
        .send(mqtt_actor::GetStatus)
        .await
        .map(|s| s.broker)
        .unwrap_or_default();
    match render_index(&broker) {
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
pub async fn asset(path: web::Path<String>) -> Result<HttpResponse, ApiError> {
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
            Code::NotFound,
            format!("no such asset: {}", path.as_str()),
        )),
    }
}

/// The page routes.
pub fn routes(cfg: &mut web::ServiceConfig) {
    cfg.route("/", web::get().to(index))
        .route("/static/{path:.*}", web::get().to(asset));
}

#[cfg(test)]
mod tests {
    #[test]
    fn the_page_renders_with_every_automation_hook() {
        let html = super::render_index("tcp://127.0.0.1:1883").unwrap();
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
    }
}
