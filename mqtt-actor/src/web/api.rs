//! The HTTP API of `docs/protocol.md`: publish, server-side subscriptions, the
//! last-value cache, history, retained messages, status, health, readiness
//! and metrics. The event stream (`/api/stream`) is in `stream.rs`.

use std::sync::atomic::Ordering;

use actix_web::http::StatusCode;
use actix_web::{web, HttpRequest, HttpResponse};
use serde::{Deserialize, Serialize};
use serde_json::json;

use crate::web::access::{Operation, Principal};
use crate::web::admission::{admit, Admitted};
use crate::web::error::{ApiError, ErrorCode};
use crate::web::limits::{check_web_filter, check_web_topic};
use crate::web::ownership::{Added, NotRemoved, OverLimit};
use crate::web::protocol::{parse_body, PublishBody, StatusBody, SubscriptionBody};
use crate::web::state::BridgeState;
use crate::{GetStatus, GetSubscriptions, MqttError, Publish, QoS, Subscribe, Unsubscribe};

type ApiResult = Result<HttpResponse, ApiError>;

fn body_limit(state: &BridgeState, body: &web::Bytes) -> Result<(), ApiError> {
    let limit = state.config.max_body_bytes();
    if body.len() > limit {
        return Err(ApiError::new(
            ErrorCode::TooLarge,
            format!("body of {} bytes is over the limit of {limit}", body.len()),
        ));
    }
    Ok(())
}

/// `POST /api/publish`
pub(crate) async fn publish(
    state: web::Data<BridgeState>,
    Admitted(who): Admitted,
    body: web::Bytes,
) -> ApiResult {
    body_limit(&state, &body)?;
    let body: PublishBody = parse_body(&body)?;
    state.authorize(&who, Operation::Publish, &body.topic)?;
    let request = state.publish_request(&body)?;
    state.mqtt.send(request).await??;
    Ok(HttpResponse::Ok().json(json!({ "ok": true })))
}

/// A row of `GET /api/subscriptions`.
#[derive(Debug, Serialize)]
pub(crate) struct SubscriptionRow {
    topic: String,
    qos: crate::QoS,
    sessions: usize,
    server: bool,
    /// The signed-in users who asked the server to hold it; left out when
    /// none did (2.1).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    owners: Vec<String>,
}

/// `GET /api/subscriptions`: the filters this client may read.
pub(crate) async fn subscriptions(
    Admitted(who): Admitted,
    state: web::Data<BridgeState>,
) -> ApiResult {
    let list = state.mqtt.send(GetSubscriptions).await?;
    let rows: Vec<SubscriptionRow> = list
        .into_iter()
        .filter(|s| {
            state
                .authorize(&who, Operation::Subscribe, &s.filter)
                .is_ok()
        })
        .map(|s| SubscriptionRow {
            owners: state
                .ownership
                .owners(&s.filter)
                .into_iter()
                .flatten()
                .collect(),
            topic: s.filter,
            qos: s.qos,
            sessions: s.listeners,
            server: s.app,
        })
        .collect();
    Ok(HttpResponse::Ok().json(rows))
}

/// `POST /api/subscriptions`
pub(crate) async fn add_subscription(
    state: web::Data<BridgeState>,
    Admitted(who): Admitted,
    body: web::Bytes,
) -> ApiResult {
    body_limit(&state, &body)?;
    let body: SubscriptionBody = parse_body(&body)?;
    let s = &state.config;
    check_web_filter(&body.topic, s.max_filter_levels, s.max_filter_bytes)?;
    state.authorize(&who, Operation::Subscribe, &body.topic)?;
    let owner = who.user.clone();
    let added = state
        .ownership
        .add(&owner, &body.topic)
        .map_err(over_limit)?;
    if added == Added::First && held_by_app(&state, &body.topic).await? {
        state.ownership.held_by_app(&body.topic);
    }
    let subscribe = Subscribe::new(body.topic.clone()).qos(body.qos);
    let answer = state.mqtt.send(subscribe).await;
    let granted = match answer.map_err(MqttError::from).and_then(|r| r) {
        Ok(granted) => granted,
        Err(e) => {
            if added != Added::Already {
                state.ownership.undo(&owner, &body.topic);
            }
            return Err(e.into());
        }
    };
    Ok(HttpResponse::Ok().json(json!({ "topic": body.topic, "qos": granted })))
}

/// The answer to a server-side subscription over a limit.
fn over_limit(limit: OverLimit) -> ApiError {
    let message = match limit {
        OverLimit::PerOwner(max) => format!(
            "you already own {max} server-side subscriptions, the most allowed per user \
             (API_MAX_SERVER_SUBSCRIPTIONS_PER_USER)"
        ),
        OverLimit::Total(max) => format!(
            "the server already holds {max} server-side subscriptions for web clients, \
             the most allowed (API_MAX_SERVER_SUBSCRIPTIONS)"
        ),
    };
    ApiError::new(ErrorCode::BadRequest, message).with_status(StatusCode::TOO_MANY_REQUESTS)
}

/// Whether the application holds `filter` itself.
async fn held_by_app(state: &BridgeState, filter: &str) -> Result<bool, ApiError> {
    let held = state.mqtt.send(GetSubscriptions).await?;
    Ok(held.iter().any(|s| s.app && s.filter == filter))
}

/// `?topic=` of `DELETE /api/subscriptions`.
#[derive(Debug, Deserialize)]
pub(crate) struct TopicQuery {
    topic: String,
}

/// `DELETE /api/subscriptions?topic=…`: by one of its owners, or by an
/// administrator (who may also remove the application's own).
pub(crate) async fn remove_subscription(
    state: web::Data<BridgeState>,
    Admitted(who): Admitted,
    query: web::Query<TopicQuery>,
) -> ApiResult {
    state.authorize(&who, Operation::Subscribe, &query.topic)?;
    let admin = state.is_admin(&who);
    let release = match state.ownership.remove(&who.user, &query.topic, admin) {
        Ok(release) => release,
        Err(NotRemoved::Unowned) if admin => true,
        Err(why) => return Err(not_removed(&state, &who, &query.topic, why).await),
    };
    if !release {
        return Ok(HttpResponse::Ok().json(json!({ "topic": query.topic })));
    }
    match state
        .mqtt
        .send(Unsubscribe::new(query.topic.clone()))
        .await?
    {
        Ok(()) => Ok(HttpResponse::Ok().json(json!({ "topic": query.topic }))),
        Err(e @ MqttError::NotSubscribed { .. }) => Err(ApiError::new(
            ErrorCode::NotFound,
            format!("the server holds no subscription: {e}"),
        )),
        Err(e) => Err(e.into()),
    }
}

/// Why `who` may not remove the server-side subscription to `filter`:
/// `403` when the server holds it for others (or for itself), `404` when
/// it holds none.
async fn not_removed(
    state: &BridgeState,
    who: &Principal,
    filter: &str,
    why: NotRemoved,
) -> ApiError {
    let held = match why {
        NotRemoved::NotOwner => true,
        NotRemoved::Unowned => held_by_app(state, filter).await.unwrap_or(true),
    };
    match held {
        true => {
            log::info!(
                "refused: {:?} removing the server-side subscription to {}: not its owner",
                who.user,
                filter.escape_debug()
            );
            ApiError::new(
                ErrorCode::Forbidden,
                format!("not allowed to remove the server-side subscription to {filter}: only its owner or an administrator may"),
            )
        }
        false => ApiError::new(
            ErrorCode::NotFound,
            format!("the server holds no subscription to {filter:?}"),
        ),
    }
}

/// `GET /api/topics`: the topics this client may read.
pub(crate) async fn topics(Admitted(who): Admitted, state: web::Data<BridgeState>) -> HttpResponse {
    let mut entries = state.records.cache.entries();
    entries.retain(|e| state.authorize(&who, Operation::Read, &e.topic).is_ok());
    HttpResponse::Ok().json(entries)
}

/// `?topic=&limit=` (v2) and `&from=&to=&before=` (v2.1) of
/// `GET /api/history`; numbers are read as text so that a bad one is a
/// `bad_request` naming it.
#[derive(Debug, Deserialize)]
pub(crate) struct HistoryQuery {
    topic: String,
    limit: Option<String>,
    from: Option<String>,
    to: Option<String>,
    before: Option<String>,
}

/// The page size of the range form when none is asked for.
#[cfg(feature = "history")]
pub const HISTORY_DEFAULT_LIMIT: usize = 100;
/// The largest page of the range form.
#[cfg(feature = "history")]
pub const HISTORY_MAX_LIMIT: usize = 1_000;

fn number<T: std::str::FromStr>(name: &str, value: &Option<String>) -> Result<Option<T>, ApiError> {
    value
        .as_deref()
        .map(|v| {
            v.parse().map_err(|_| {
                ApiError::new(
                    ErrorCode::BadRequest,
                    format!("{name}={v:?} is not a number"),
                )
            })
        })
        .transpose()
}

/// `GET /api/history?topic=T&limit=N`: the last messages of `T`, oldest
/// first; `N` defaults to 100 and is bounded by `HISTORY_PER_TOPIC` (from
/// memory) or [`HISTORY_MAX_LIMIT`] (from the recorder). With any of `from`,
/// `to`, `before`: the range form (v2.1), newest first, from the recorder.
pub(crate) async fn history(
    state: web::Data<BridgeState>,
    Admitted(who): Admitted,
    query: web::Query<HistoryQuery>,
) -> ApiResult {
    let s = &state.config;
    let limit: Option<usize> = number("limit", &query.limit)?;
    let ranged = query.from.is_some() || query.to.is_some() || query.before.is_some();
    #[cfg(feature = "history")]
    if let Some(recorder) = state.records.recorder.get().cloned() {
        return recorded(&state, recorder, who, &query, limit, ranged).await;
    }
    if ranged {
        return Err(ApiError::new(
            ErrorCode::NotConnected,
            "the range form of /api/history needs a recorder (no history database is configured)",
        ));
    }
    check_web_topic(&query.topic, s.max_filter_levels, s.max_filter_bytes)?;
    state.authorize(&who, Operation::Read, &query.topic)?;
    let history = &state.records.history;
    let limit = limit.unwrap_or(100).min(history.per_topic());
    Ok(HttpResponse::Ok().json(history.last(&query.topic, limit)))
}

/// `/api/history` from the recorder: the v2 form (one topic, oldest first)
/// or the range form (a filter, newest first, each topic asked of the
/// Authorizer).
#[cfg(feature = "history")]
async fn recorded(
    state: &web::Data<BridgeState>,
    recorder: crate::recorder::Recorder,
    who: crate::web::access::Principal,
    query: &HistoryQuery,
    limit: Option<usize>,
    ranged: bool,
) -> ApiResult {
    use crate::recorder::{Cursor, HistoryQuery as Ask};
    use crate::web::records::stored;
    let s = &state.config;
    let requested = limit;
    let limit = limit
        .unwrap_or(HISTORY_DEFAULT_LIMIT)
        .clamp(1, HISTORY_MAX_LIMIT);
    if !ranged {
        check_web_topic(&query.topic, s.max_filter_levels, s.max_filter_bytes)?;
        state.authorize(&who, Operation::Read, &query.topic)?;
        if requested == Some(0) {
            // v2: "at most N"; a query's page holds at least one.
            return Ok(HttpResponse::Ok().json(Vec::<()>::new()));
        }
        let page = recorder
            .history(&Ask::new(query.topic.clone()).limit(limit))
            .await
            .map_err(|e| ApiError::new(ErrorCode::NotConnected, e.to_string()))?;
        let mut entries: Vec<_> = page.messages.iter().map(stored::entry).collect();
        entries.reverse();
        return Ok(HttpResponse::Ok().json(entries));
    }
    check_web_filter(&query.topic, s.max_filter_levels, s.max_filter_bytes)?;
    let mut ask = Ask::new(query.topic.clone()).limit(limit);
    if let Some(from) = number::<i64>("from", &query.from)? {
        ask = ask.from_ms(from);
    }
    if let Some(to) = number::<i64>("to", &query.to)? {
        ask = ask.to_ms(to);
    }
    if let Some(before) = &query.before {
        let cursor: Cursor = before.parse().map_err(|_| {
            ApiError::new(
                ErrorCode::BadRequest,
                format!("before={before:?} is not a cursor"),
            )
        })?;
        ask = ask.before(cursor);
    }
    // A filter the principal may subscribe to answers whole; one it may not
    // (as a live subscription would be refused) answers only the recorded
    // topics it may read, and `403` when it may read none of them. Each
    // topic is asked as a live message's would be (`Read` of a topic: a
    // filter is no topic).
    let whole = state.authorize(&who, Operation::Subscribe, &query.topic);
    let checker = state.clone();
    let principal = who.clone();
    ask = ask.allow(move |topic| {
        checker
            .authorize(&principal, Operation::Read, topic)
            .is_ok()
    });
    let page = recorder
        .history(&ask)
        .await
        .map_err(|e| ApiError::new(ErrorCode::NotConnected, e.to_string()))?;
    if let Err(e) = whole {
        if page.topics == 0 {
            return Err(e);
        }
    }
    Ok(HttpResponse::Ok().json(stored::page(&page)))
}

/// `GET /api/retained?topic=F`: the retained messages seen under `F`; needs
/// read access to all of `F`, as subscribing to it would.
pub(crate) async fn retained(
    state: web::Data<BridgeState>,
    Admitted(who): Admitted,
    query: web::Query<TopicQuery>,
) -> ApiResult {
    let s = &state.config;
    check_web_filter(&query.topic, s.max_filter_levels, s.max_filter_bytes)?;
    state.authorize(&who, Operation::Subscribe, &query.topic)?;
    Ok(HttpResponse::Ok().json(state.records.retained.matching(&query.topic)))
}

/// `DELETE /api/retained?topic=T`: clears the retained message of `T` with
/// an empty retained publish (QoS 1, answered once the broker has it); needs
/// write access to `T`.
pub(crate) async fn clear_retained(
    state: web::Data<BridgeState>,
    Admitted(who): Admitted,
    query: web::Query<TopicQuery>,
) -> ApiResult {
    let s = &state.config;
    check_web_topic(&query.topic, s.max_filter_levels, s.max_filter_bytes)?;
    state.authorize(&who, Operation::Publish, &query.topic)?;
    state.require_connection()?;
    let clear = Publish::new(query.topic.clone(), web::Bytes::new())
        .qos(QoS::AtLeastOnce)
        .retain(true);
    state.mqtt.send(clear).await??;
    state.records.retained.forget(&query.topic);
    Ok(HttpResponse::Ok().json(json!({ "ok": true })))
}

async fn status_body(state: &BridgeState) -> Result<StatusBody, ApiError> {
    let s = state.mqtt.send(GetStatus).await?;
    Ok(StatusBody {
        connected: s.connected,
        broker: s.broker,
        client_id: s.client_id,
        uptime_s: state.started.elapsed().as_secs(),
        sessions: state.sessions.count(),
        messages_in: s.messages_in,
        messages_out: s.messages_out,
        dropped: s.dropped + state.dropped.load(Ordering::Relaxed),
    })
}

/// `GET /api/status`
pub(crate) async fn status(_: Admitted, state: web::Data<BridgeState>) -> ApiResult {
    Ok(HttpResponse::Ok().json(status_body(&state).await?))
}

/// `GET /healthz`
pub(crate) async fn healthz() -> HttpResponse {
    HttpResponse::Ok().json(json!({ "ok": true }))
}

/// `GET /readyz`: 200 while connected to the broker and not shutting down.
pub(crate) async fn readyz(state: web::Data<BridgeState>) -> HttpResponse {
    let connected = state.connected.load(Ordering::Acquire);
    let draining = state.draining.load(Ordering::Acquire);
    let mut response = if connected && !draining {
        HttpResponse::Ok()
    } else {
        HttpResponse::ServiceUnavailable()
    };
    response.json(json!({ "connected": connected, "draining": draining }))
}

/// `GET /metrics`: needs a principal unless `metrics_public`.
pub(crate) async fn metrics(req: HttpRequest, state: web::Data<BridgeState>) -> ApiResult {
    if !state.config.metrics_public {
        if let Err(response) = admit(&state, &req).await {
            return Ok(response);
        }
    }
    #[cfg(feature = "history")]
    if let Some(recorder) = state.records.recorder.get() {
        state.metrics.record_history(&recorder.stats());
    }
    let body = state.metrics.render(&status_body(&state).await?);
    Ok(HttpResponse::Ok()
        .content_type("text/plain; version=0.0.4; charset=utf-8")
        .body(body))
}

/// Every route of the API.
pub(crate) fn routes(cfg: &mut web::ServiceConfig) {
    cfg.route("/api/publish", web::post().to(publish))
        .route("/api/subscriptions", web::get().to(subscriptions))
        .route("/api/subscriptions", web::post().to(add_subscription))
        .route("/api/subscriptions", web::delete().to(remove_subscription))
        .route("/api/topics", web::get().to(topics))
        .route("/api/history", web::get().to(history))
        .route("/api/retained", web::get().to(retained))
        .route("/api/retained", web::delete().to(clear_retained))
        .route("/api/status", web::get().to(status))
        .route("/healthz", web::get().to(healthz))
        .route("/readyz", web::get().to(readyz))
        .route("/metrics", web::get().to(metrics));
}
