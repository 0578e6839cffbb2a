//! The bridge's errors: [`ApiError`], one of the error codes of
//! `docs/protocol.md` and a message for people, which becomes a WebSocket
//! `error` frame (see `protocol.rs`) or an HTTP answer
//! `{"error":{"code","message"}}` with the code's status (every error body of
//! the HTTP API is built here); and [`BridgeError`], why a bridge could not
//! be built.

use crate::MqttError;
use actix_web::http::StatusCode;
use actix_web::{HttpResponse, ResponseError};
use serde::Serialize;

/// The error codes of `docs/protocol.md`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[non_exhaustive]
#[serde(rename_all = "snake_case")]
pub enum ErrorCode {
    /// Not JSON, unknown type, missing or mistyped field, binary frame.
    BadRequest,
    /// A topic or filter that breaks MQTT's rules.
    InvalidTopic,
    /// Outside what this client may use.
    Forbidden,
    /// HTTP: no such route or resource.
    NotFound,
    /// HTTP 401: no valid credentials (one message for every cause).
    Unauthorized,
    /// Broker unreachable right now.
    NotConnected,
    /// Over a size limit.
    TooLarge,
    /// The broker failed the request.
    BrokerError,
}

impl ErrorCode {
    /// The HTTP status that goes with the code.
    pub fn http_status(self) -> StatusCode {
        match self {
            ErrorCode::BadRequest | ErrorCode::InvalidTopic => StatusCode::BAD_REQUEST,
            ErrorCode::Forbidden => StatusCode::FORBIDDEN,
            ErrorCode::NotFound => StatusCode::NOT_FOUND,
            ErrorCode::Unauthorized => StatusCode::UNAUTHORIZED,
            ErrorCode::TooLarge => StatusCode::PAYLOAD_TOO_LARGE,
            ErrorCode::NotConnected => StatusCode::SERVICE_UNAVAILABLE,
            ErrorCode::BrokerError => StatusCode::BAD_GATEWAY,
        }
    }
}

/// An error as `docs/protocol.md` shows it: a code and a message. An
/// application's own routes can answer with it too, in the same form.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[non_exhaustive]
pub struct ApiError {
    /// The code.
    pub code: ErrorCode,
    /// For people.
    pub message: String,
    /// The HTTP status when it is not the code's own: the same-origin and
    /// sign-in rules answer 421, 415 and 429, the session limits 429 and 503,
    /// with the contract's codes.
    #[serde(skip)]
    status: Option<StatusCode>,
}

impl ApiError {
    /// An error with `code` and `message`.
    pub fn new(code: ErrorCode, message: impl Into<String>) -> Self {
        ApiError {
            code,
            message: message.into(),
            status: None,
        }
    }

    /// The same error, answered over HTTP with `status`.
    pub fn with_status(mut self, status: StatusCode) -> Self {
        self.status = Some(status);
        self
    }

    /// The HTTP status of the answer.
    pub fn status(&self) -> StatusCode {
        self.status.unwrap_or(self.code.http_status())
    }
}

impl std::fmt::Display for ApiError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.message)
    }
}

impl std::error::Error for ApiError {}

impl ResponseError for ApiError {
    fn status_code(&self) -> StatusCode {
        self.status()
    }

    fn error_response(&self) -> HttpResponse {
        #[derive(Serialize)]
        struct ErrorBody<'a> {
            error: &'a ApiError,
        }
        HttpResponse::build(self.status_code()).json(ErrorBody { error: self })
    }
}

impl From<MqttError> for ApiError {
    fn from(e: MqttError) -> Self {
        let code = match &e {
            MqttError::InvalidTopic { .. } | MqttError::InvalidFilter { .. } => {
                ErrorCode::InvalidTopic
            }
            MqttError::InvalidQos(_)
            | MqttError::NotSubscribed { .. }
            | MqttError::InvalidProperty { .. }
            | MqttError::NeedsMqtt5 { .. }
            | MqttError::JsonEncode { .. }
            | MqttError::JsonDecode { .. }
            | MqttError::RetainUnavailable { .. }
            | MqttError::QosNotSupported { .. } => ErrorCode::BadRequest,
            MqttError::PacketTooLarge { .. } => ErrorCode::TooLarge,
            MqttError::NotConnected { .. } | MqttError::BufferFull { .. } => {
                ErrorCode::NotConnected
            }
            MqttError::Refused { .. } => ErrorCode::Forbidden,
            _ => ErrorCode::BrokerError,
        };
        ApiError::new(code, e.to_string())
    }
}

impl From<actix::MailboxError> for ApiError {
    // The `MqttActor` is gone: the app is shutting down.
    fn from(e: actix::MailboxError) -> Self {
        MqttError::from(e).into()
    }
}

/// Why a bridge (or its access files) could not be set up.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum BridgeError {
    /// A setting that is not one, e.g. an entry of
    /// [`BridgeConfig::allowed_origins`](crate::web::BridgeConfig::allowed_origins).
    #[error("invalid value {value:?} for {setting}: {reason}")]
    Setting {
        /// The setting, e.g. `allowed_origins`.
        setting: &'static str,
        /// The entry as given.
        value: String,
        /// What it should look like.
        reason: &'static str,
    },
    /// An access file could not be read (missing, unreadable, not UTF-8).
    #[error("cannot read {what} {}: {source}", path.display())]
    Read {
        /// "password file" or "ACL file".
        what: &'static str,
        /// The file.
        path: std::path::PathBuf,
        /// What the OS said.
        source: std::io::Error,
    },
    /// A line of an access file that Mosquitto would not accept either
    /// (never the password hash itself).
    #[error("{}:{line}: {reason}", path.display())]
    FileLine {
        /// The file.
        path: std::path::PathBuf,
        /// 1-based line number.
        line: usize,
        /// What is wrong.
        reason: String,
    },
}

#[cfg(test)]
mod tests {
    use super::*;
    use actix_web::body::MessageBody;

    #[test]
    fn an_http_error_is_the_code_status_and_the_error_object() {
        let response = ApiError::new(ErrorCode::NotFound, "no such route").error_response();
        assert_eq!(response.status(), StatusCode::NOT_FOUND);
        let body = response.into_body().try_into_bytes().expect("a full body");
        let value: serde_json::Value = serde_json::from_slice(&body).expect("JSON");
        assert_eq!(
            value,
            serde_json::json!({"error": {"code": "not_found", "message": "no such route"}})
        );
    }

    #[test]
    fn a_status_of_its_own_keeps_the_body_of_the_code() {
        let err = ApiError::new(ErrorCode::BadRequest, "bodies must be application/json")
            .with_status(StatusCode::UNSUPPORTED_MEDIA_TYPE);
        let response = err.error_response();
        assert_eq!(response.status(), StatusCode::UNSUPPORTED_MEDIA_TYPE);
        let body = response.into_body().try_into_bytes().expect("a full body");
        let value: serde_json::Value = serde_json::from_slice(&body).expect("JSON");
        assert_eq!(value["error"]["code"], "bad_request");
        assert_eq!(value["error"].as_object().map(|o| o.len()), Some(2));
    }
}
