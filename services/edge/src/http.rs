//! The agent's HTTP server: JSON ingest for cameras and NVRs that push
//! events, Prometheus `/metrics`, and `/healthz`.
//!
//! `POST /v1/detections` takes one detection object or an array of them and
//! answers once every detection is on disk. The schema, limits and status
//! codes: `docs/edge.md` (section "HTTP ingest").

use std::collections::HashMap;

use axum::body::Bytes;
use axum::extract::rejection::BytesRejection;
use axum::extract::{DefaultBodyLimit, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use chrono::{DateTime, Utc};
use metrics_exporter_prometheus::PrometheusHandle;
use serde::{Deserialize, Serialize};
use vigil_proto::v1 as pb;

use crate::intake::{Intake, Source};
use crate::metrics;

#[derive(Clone)]
struct AppState {
    intake: Intake,
    metrics: PrometheusHandle,
    max_body: usize,
}

/// The router, with request bodies limited to `max_body` bytes.
pub fn router(intake: Intake, metrics: PrometheusHandle, max_body: usize) -> Router {
    Router::new()
        .route("/v1/detections", post(ingest))
        .route("/metrics", get(render_metrics))
        .route("/healthz", get(|| async { "ok\n" }))
        .layer(DefaultBodyLimit::max(max_body))
        .with_state(AppState {
            intake,
            metrics,
            max_body,
        })
}

#[derive(Debug, Deserialize)]
#[serde(untagged)]
enum OneOrMany {
    One(Box<HttpDetection>),
    Many(Vec<HttpDetection>),
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct HttpDetection {
    #[serde(default)]
    event_id: String,
    camera_id: String,
    captured_at: DateTime<Utc>,
    /// `plate`, `vehicle`, `person`, `intrusion`, `loitering`,
    /// `fire_smoke`, `crowd` or `tamper`.
    kind: String,
    confidence: f32,
    plate: Option<HttpPlate>,
    vehicle: Option<HttpVehicle>,
    bbox: Option<HttpBox>,
    snapshot: Option<HttpSnapshot>,
    #[serde(default)]
    labels: HashMap<String, String>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct HttpPlate {
    text: String,
    #[serde(default)]
    confidence: f32,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct HttpVehicle {
    /// `motorbike`, `car`, `van`, `truck`, `bus` or `bicycle`.
    r#type: String,
    #[serde(default)]
    colour: String,
    #[serde(default)]
    make: String,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct HttpBox {
    x: f32,
    y: f32,
    width: f32,
    height: f32,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct HttpSnapshot {
    uri: String,
    sha256: String,
}

impl HttpDetection {
    fn into_proto(self) -> Result<pb::Detection, String> {
        let kind = pb::DetectionKind::from_str_name(&format!(
            "DETECTION_KIND_{}",
            self.kind.to_ascii_uppercase()
        ))
        .filter(|k| *k != pb::DetectionKind::Unspecified)
        .ok_or_else(|| format!("kind: unknown detection kind {:?}", self.kind))?;
        let vehicle = self
            .vehicle
            .map(|v| {
                let vehicle_type = pb::VehicleType::from_str_name(&format!(
                    "VEHICLE_TYPE_{}",
                    v.r#type.to_ascii_uppercase()
                ))
                .filter(|t| *t != pb::VehicleType::Unspecified)
                .ok_or_else(|| format!("vehicle.type: unknown vehicle type {:?}", v.r#type))?;
                Ok::<_, String>(pb::Vehicle {
                    r#type: vehicle_type.into(),
                    colour: v.colour,
                    make: v.make,
                })
            })
            .transpose()?;
        Ok(pb::Detection {
            event_id: self.event_id,
            camera_id: self.camera_id,
            captured_at: Some(std::time::SystemTime::from(self.captured_at).into()),
            kind: kind.into(),
            confidence: self.confidence,
            bbox: self.bbox.map(|b| pb::BoundingBox {
                x: b.x,
                y: b.y,
                width: b.width,
                height: b.height,
            }),
            plate: self.plate.map(|p| pb::Plate {
                text: p.text,
                normalized: String::new(),
                confidence: p.confidence,
            }),
            vehicle,
            snapshot: self.snapshot.map(|s| pb::Snapshot {
                uri: s.uri,
                sha256: s.sha256,
            }),
            labels: self.labels,
            received_at: None,
            site_id: String::new(),
        })
    }
}

#[derive(Debug, Serialize)]
struct ItemResult {
    #[serde(skip_serializing_if = "Option::is_none")]
    event_id: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    error: Option<String>,
}

#[derive(Debug, Serialize)]
struct IngestResponse {
    results: Vec<ItemResult>,
}

fn error(status: StatusCode, message: String) -> Response {
    (status, Json(serde_json::json!({ "error": message }))).into_response()
}

async fn ingest(State(state): State<AppState>, body: Result<Bytes, BytesRejection>) -> Response {
    let body = match body {
        Ok(body) => body,
        Err(rejection) if rejection.status() == StatusCode::PAYLOAD_TOO_LARGE => {
            metrics::rejected(Source::Http, "too_large");
            return error(
                StatusCode::PAYLOAD_TOO_LARGE,
                format!("request body exceeds the limit of {} bytes", state.max_body),
            );
        }
        Err(rejection) => {
            metrics::rejected(Source::Http, "unreadable");
            return error(rejection.status(), rejection.body_text());
        }
    };
    let items = match serde_json::from_slice::<OneOrMany>(&body) {
        Ok(OneOrMany::One(item)) => vec![*item],
        Ok(OneOrMany::Many(items)) => items,
        Err(e) => {
            metrics::rejected(Source::Http, "malformed");
            // Untagged enums hide the real error; parse again as one object for it.
            let detail = serde_json::from_slice::<HttpDetection>(&body)
                .err()
                .unwrap_or(e);
            return error(
                StatusCode::BAD_REQUEST,
                format!("malformed detection JSON: {detail}"),
            );
        }
    };
    let mut results = Vec::with_capacity(items.len());
    let (mut client_errors, mut server_errors) = (0, 0);
    for (index, item) in items.into_iter().enumerate() {
        let outcome = match item.into_proto() {
            Ok(detection) => {
                state
                    .intake
                    .accept(detection, Source::Http)
                    .await
                    .map_err(|rejection| {
                        if rejection.is_client_error() {
                            client_errors += 1;
                        } else {
                            server_errors += 1;
                        }
                        rejection.to_string()
                    })
            }
            Err(problem) => {
                metrics::rejected(Source::Http, "invalid");
                client_errors += 1;
                Err(problem)
            }
        };
        results.push(match outcome {
            Ok(event_id) => ItemResult {
                event_id: Some(event_id.to_string()),
                error: None,
            },
            Err(problem) => ItemResult {
                event_id: None,
                error: Some(format!("detection {index}: {problem}")),
            },
        });
    }
    let status = if server_errors > 0 {
        StatusCode::SERVICE_UNAVAILABLE
    } else if client_errors > 0 {
        StatusCode::UNPROCESSABLE_ENTITY
    } else {
        StatusCode::ACCEPTED
    };
    (status, Json(IngestResponse { results })).into_response()
}

async fn render_metrics(State(state): State<AppState>) -> String {
    state.metrics.render()
}
