//! The HTTP side: the page and its assets (embedded in the binary), the JSON API and the event
//! stream. The routes are documented in `docs/dashboard.md`.

use std::convert::Infallible;
use std::sync::{Arc, PoisonError};

use axum::Router;
use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, HeaderValue, StatusCode, Uri, header};
use axum::response::sse::{Event, KeepAlive, Sse};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use futures_util::Stream;
use serde::Deserialize;
use tokio::sync::broadcast::error::RecvError;
use tokio::sync::{broadcast, mpsc};

use super::access::Access;
use super::{DashboardControl, Hub};

const INDEX_HTML: &str = include_str!("assets/index.html");
const APP_JS: &str = include_str!("assets/app.js");
const STYLE_CSS: &str = include_str!("assets/style.css");
const ICON_SVG: &str = include_str!("assets/icon.svg");

/// Only our own scripts and styles, no frames: the controls cannot be clicked from another
/// page.
const CONTENT_SECURITY_POLICY: &str = "default-src 'none'; script-src 'self'; style-src 'self'; \
     img-src 'self' data:; connect-src 'self'; frame-ancestors 'none'; base-uri 'none'; \
     form-action 'none'";

/// What every handler shares.
#[derive(Clone, Debug)]
pub(crate) struct AppState {
    hub: Arc<Hub>,
    access: Arc<Access>,
    controls: mpsc::Sender<DashboardControl>,
}

impl AppState {
    /// The handlers' state.
    pub(super) fn new(
        hub: Arc<Hub>,
        access: Access,
        controls: mpsc::Sender<DashboardControl>,
    ) -> Self {
        Self {
            hub,
            access: Arc::new(access),
            controls,
        }
    }
}

/// The dashboard's routes.
pub(super) fn router(state: AppState) -> Router {
    Router::new()
        .route("/", get(index))
        .route("/app.js", get(app_js))
        .route("/style.css", get(style_css))
        .route("/icon.svg", get(icon_svg))
        .route("/api/status", get(status))
        .route("/api/history", get(history))
        .route("/api/events", get(events))
        .route("/api/capture", get(capture))
        .route("/api/stop", post(stop))
        .route("/api/authorize", post(authorize))
        .route("/api/enable", post(enable))
        .fallback(not_found)
        .with_state(state)
}

fn asset(content_type: &'static str, body: &'static str) -> Response {
    (
        [
            (header::CONTENT_TYPE, content_type),
            (header::CACHE_CONTROL, "no-cache"),
            (header::X_CONTENT_TYPE_OPTIONS, "nosniff"),
            (header::CONTENT_SECURITY_POLICY, CONTENT_SECURITY_POLICY),
            (header::X_FRAME_OPTIONS, "DENY"),
            (header::REFERRER_POLICY, "no-referrer"),
        ],
        body,
    )
        .into_response()
}

async fn index() -> Response {
    asset("text/html; charset=utf-8", INDEX_HTML)
}

async fn app_js() -> Response {
    asset("text/javascript; charset=utf-8", APP_JS)
}

async fn style_css() -> Response {
    asset("text/css; charset=utf-8", STYLE_CSS)
}

async fn icon_svg() -> Response {
    asset("image/svg+xml", ICON_SVG)
}

/// A JSON body that must not be cached.
fn json(status: StatusCode, body: String) -> Response {
    (
        status,
        [
            (header::CONTENT_TYPE, "application/json"),
            (header::CACHE_CONTROL, "no-store"),
            (header::X_CONTENT_TYPE_OPTIONS, "nosniff"),
        ],
        body,
    )
        .into_response()
}

fn error(status: StatusCode, message: &str) -> Response {
    json(status, serde_json::json!({ "error": message }).to_string())
}

fn encoded<T: serde::Serialize + ?Sized>(value: &T) -> Response {
    match serde_json::to_string(value) {
        Ok(body) => json(StatusCode::OK, body),
        Err(e) => error(StatusCode::INTERNAL_SERVER_ERROR, &e.to_string()),
    }
}

async fn not_found() -> Response {
    error(StatusCode::NOT_FOUND, "no such page")
}

async fn status(State(app): State<AppState>) -> Response {
    let state = app.hub.lock();
    encoded(state.status())
}

async fn history(State(app): State<AppState>) -> Response {
    let state = app.hub.lock();
    encoded(state.history())
}

/// The event stream: a `snapshot` first (status and history), then one `update` per change,
/// in order; a client that falls behind gets a fresh `snapshot`.
async fn events(State(app): State<AppState>) -> Sse<impl Stream<Item = Result<Event, Infallible>>> {
    let (snapshot, receiver) = app.hub.subscribe();
    let first = Event::default().event("snapshot").data(snapshot);
    let stream = futures_util::stream::unfold(
        (Some(first), receiver, app.hub),
        |(first, mut receiver, hub): (Option<Event>, broadcast::Receiver<_>, Arc<Hub>)| async move {
            if let Some(event) = first {
                return Some((Ok(event), (None, receiver, hub)));
            }
            match receiver.recv().await {
                Ok(update) => {
                    let update: Arc<super::Broadcast> = update;
                    let event = Event::default()
                        .event("update")
                        .id(update.seq.to_string())
                        .data(&update.json);
                    Some((Ok(event), (None, receiver, hub)))
                }
                Err(RecvError::Lagged(_)) => {
                    let (snapshot, receiver) = hub.subscribe();
                    let event = Event::default().event("snapshot").data(snapshot);
                    Some((Ok(event), (None, receiver, hub)))
                }
                Err(RecvError::Closed) => None,
            }
        },
    );
    Sse::new(stream).keep_alive(KeepAlive::default())
}

async fn capture(State(app): State<AppState>) -> Response {
    let path = app
        .hub
        .capture
        .lock()
        .unwrap_or_else(PoisonError::into_inner)
        .clone();
    let Some(path) = path else {
        return error(StatusCode::NOT_FOUND, "no capture is being written");
    };
    let read_path = path.clone();
    let read = tokio::task::spawn_blocking(move || std::fs::read(read_path)).await;
    let bytes = match read {
        Ok(Ok(b)) => b,
        Ok(Err(e)) => {
            return error(
                StatusCode::NOT_FOUND,
                &format!("cannot read the capture {}: {e}", path.display()),
            );
        }
        Err(e) => return error(StatusCode::INTERNAL_SERVER_ERROR, &e.to_string()),
    };
    let content_type = if path.extension().is_some_and(|e| e == "pcapng") {
        "application/x-pcapng"
    } else {
        "application/vnd.tcpdump.pcap"
    };
    let name: String = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_else(|| "capture.pcap".to_owned())
        .chars()
        .filter(|c| c.is_ascii_graphic() && *c != '"' && *c != '\\')
        .collect();
    let disposition = HeaderValue::from_str(&format!("attachment; filename=\"{name}\""))
        .unwrap_or_else(|_| HeaderValue::from_static("attachment"));
    let mut response = (StatusCode::OK, bytes).into_response();
    let headers = response.headers_mut();
    headers.insert(header::CONTENT_TYPE, HeaderValue::from_static(content_type));
    headers.insert(header::CONTENT_DISPOSITION, disposition);
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    response
}

/// The refusal, if the request may not use the controls.
fn refusal(app: &AppState, headers: &HeaderMap, uri: &Uri) -> Option<Response> {
    app.access.check(headers, uri.query()).err().map(|denied| {
        let mut response = error(denied.status(), &denied.message());
        if denied.status() == StatusCode::UNAUTHORIZED {
            response.headers_mut().insert(
                header::WWW_AUTHENTICATE,
                HeaderValue::from_static("Bearer realm=\"ccsplc\""),
            );
        }
        response
    })
}

/// Hands an allowed control to the runner and records it.
fn dispatch(app: &AppState, control: DashboardControl) -> Response {
    let offered = app.hub.lock().status().controls.clone();
    let is_offered = match control {
        DashboardControl::Stop => offered.stop,
        DashboardControl::Authorize(_) => offered.authorize,
        DashboardControl::Enable(_) => offered.enable,
    };
    if !is_offered {
        return error(
            StatusCode::FORBIDDEN,
            "this control is not offered in this mode (authorize and enable are the charger's)",
        );
    }
    match app.controls.try_send(control) {
        Ok(()) => {
            tracing::info!("dashboard: {control:?}");
            app.hub.apply(|s, t| s.control(t, control));
            json(
                StatusCode::ACCEPTED,
                serde_json::json!({ "accepted": true, "control": format!("{control:?}") })
                    .to_string(),
            )
        }
        Err(mpsc::error::TrySendError::Full(_)) => error(
            StatusCode::SERVICE_UNAVAILABLE,
            "the runner has not taken the previous controls yet; try again",
        ),
        Err(mpsc::error::TrySendError::Closed(_)) => error(
            StatusCode::SERVICE_UNAVAILABLE,
            "nothing is running that could carry out the control",
        ),
    }
}

async fn stop(State(app): State<AppState>, headers: HeaderMap, uri: Uri) -> Response {
    if let Some(refused) = refusal(&app, &headers, &uri) {
        return refused;
    }
    dispatch(&app, DashboardControl::Stop)
}

/// The body of `POST /api/authorize`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct AuthorizeBody {
    authorized: bool,
}

/// The body of `POST /api/enable`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct EnableBody {
    enabled: bool,
}

async fn authorize(
    State(app): State<AppState>,
    headers: HeaderMap,
    uri: Uri,
    body: Bytes,
) -> Response {
    if let Some(refused) = refusal(&app, &headers, &uri) {
        return refused;
    }
    match serde_json::from_slice::<AuthorizeBody>(&body) {
        Ok(b) => dispatch(&app, DashboardControl::Authorize(b.authorized)),
        Err(e) => error(
            StatusCode::BAD_REQUEST,
            &format!("expected {{\"authorized\": true|false}}: {e}"),
        ),
    }
}

async fn enable(
    State(app): State<AppState>,
    headers: HeaderMap,
    uri: Uri,
    body: Bytes,
) -> Response {
    if let Some(refused) = refusal(&app, &headers, &uri) {
        return refused;
    }
    match serde_json::from_slice::<EnableBody>(&body) {
        Ok(b) => dispatch(&app, DashboardControl::Enable(b.enabled)),
        Err(e) => error(
            StatusCode::BAD_REQUEST,
            &format!("expected {{\"enabled\": true|false}}: {e}"),
        ),
    }
}
