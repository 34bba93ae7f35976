//! The agent's HTTP server: JSON ingest for cameras and NVRs that push
//! events, Prometheus `/metrics`, and `/healthz`.
//!
//! `POST /v1/detections` takes one detection object or an array of them and
//! answers once every detection is on disk. Requests must be signed with
//! the site's key ([`crate::signing`]); without a key the ingest is off.
//! The schema, signatures, limits and status codes: `docs/edge.md`
//! (section "HTTP ingest").

use std::collections::HashMap;
use std::sync::Arc;

use axum::body::Bytes;
use axum::extract::rejection::BytesRejection;
use axum::extract::{DefaultBodyLimit, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use chrono::{DateTime, Utc};
use metrics_exporter_prometheus::PrometheusHandle;
use serde::{Deserialize, Serialize};
use vigil_domain::Detection;
use vigil_proto::v1 as pb;

use crate::intake::{Intake, Source};
use crate::metrics;
use vigil_signing::{SIGNATURE_HEADER, SignatureError, SigningKey, TIMESTAMP_HEADER};

/// Who may post detections.
#[derive(Debug, Clone)]
pub enum IngestAuth {
    /// No key: the ingest is off and answers 403 (the agent's other
    /// sources, `/metrics` and `/healthz` are unaffected).
    Off,
    /// Only requests signed with this site's key.
    Signed(Arc<SigningKey>),
    /// Any request, signed or not (`--ingest-allow-unsigned`, lab use).
    Unsigned,
}

#[derive(Clone)]
struct AppState {
    intake: Intake,
    metrics: PrometheusHandle,
    max_body: usize,
    auth: IngestAuth,
}

/// The router, with request bodies limited to `max_body` bytes and posts
/// checked by `auth`.
pub fn router(
    intake: Intake,
    metrics: PrometheusHandle,
    max_body: usize,
    auth: IngestAuth,
) -> Router {
    Router::new()
        .route("/v1/detections", post(ingest))
        .route("/metrics", get(render_metrics))
        .route("/healthz", get(|| async { "ok\n" }))
        .layer(DefaultBodyLimit::max(max_body))
        .with_state(AppState {
            intake,
            metrics,
            max_body,
            auth,
        })
}

#[derive(Debug, Deserialize)]
#[serde(untagged)]
enum OneOrMany {
    One(Box<HttpDetection>),
    Many(Vec<HttpDetection>),
}

/// One detection as `POST /v1/detections` takes it, in JSON (the schema:
/// `docs/edge.md`). Public so that clients in Rust (the load generator)
/// send exactly what the agent parses.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct HttpDetection {
    /// The client's id for the event (a UUID), so that a retried request
    /// repeats it; empty: the agent mints one.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub event_id: String,
    pub camera_id: String,
    pub captured_at: DateTime<Utc>,
    /// A detection kind's short name ([`pb::DetectionKind::short_name`]):
    /// `plate`, `vehicle`, `person`, `intrusion`, `loitering`,
    /// `fire_smoke`, `crowd` or `tamper`.
    pub kind: String,
    /// 0 to 1.
    pub confidence: f32,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub plate: Option<HttpPlate>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub vehicle: Option<HttpVehicle>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub bbox: Option<HttpBox>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub snapshot: Option<HttpSnapshot>,
    #[serde(default, skip_serializing_if = "HashMap::is_empty")]
    pub labels: HashMap<String, String>,
}

/// A plate as read, e.g. `36A-123.45`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct HttpPlate {
    pub text: String,
    #[serde(default)]
    pub confidence: f32,
}

/// The vehicle seen.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct HttpVehicle {
    /// A vehicle type's short name ([`pb::VehicleType::short_name`]):
    /// `motorbike`, `car`, `van`, `truck`, `bus` or `bicycle`.
    pub r#type: String,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub colour: String,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub make: String,
}

/// Where in the frame, as fractions of its width and height.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct HttpBox {
    pub x: f32,
    pub y: f32,
    pub width: f32,
    pub height: f32,
}

/// An image kept in object storage.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct HttpSnapshot {
    pub uri: String,
    /// Lower-case hex SHA-256 of the image.
    pub sha256: String,
}

impl From<&Detection> for HttpDetection {
    fn from(d: &Detection) -> Self {
        Self {
            event_id: d.event_id.to_string(),
            camera_id: d.camera_id.clone(),
            captured_at: d.captured_at,
            kind: d.kind.short_name().to_owned(),
            confidence: d.confidence,
            plate: d.plate.as_ref().map(|p| HttpPlate {
                text: p.text.clone(),
                confidence: p.confidence,
            }),
            vehicle: d.vehicle.as_ref().map(|v| HttpVehicle {
                r#type: v.vehicle_type.short_name().to_owned(),
                colour: v.colour.clone().unwrap_or_default(),
                make: v.make.clone().unwrap_or_default(),
            }),
            bbox: d.bbox.map(|b| HttpBox {
                x: b.x,
                y: b.y,
                width: b.width,
                height: b.height,
            }),
            snapshot: d.snapshot.as_ref().map(|s| HttpSnapshot {
                uri: s.uri.clone(),
                sha256: s.sha256.clone(),
            }),
            labels: d.labels.clone().into_iter().collect(),
        }
    }
}

impl HttpDetection {
    fn into_proto(self) -> Result<pb::Detection, String> {
        let kind = pb::DetectionKind::from_short_name(&self.kind)
            .ok_or_else(|| format!("kind: unknown detection kind {:?}", self.kind))?;
        let vehicle = self
            .vehicle
            .map(|v| {
                let vehicle_type = pb::VehicleType::from_short_name(&v.r#type)
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

/// A header's value, if present and text.
fn header<'a>(headers: &'a HeaderMap, name: &str) -> Option<&'a str> {
    headers.get(name).and_then(|value| value.to_str().ok())
}

fn unauthorized(problem: &SignatureError) -> Response {
    metrics::rejected(Source::Http, problem.reason());
    error(StatusCode::UNAUTHORIZED, problem.to_string())
}

async fn ingest(
    State(state): State<AppState>,
    headers: HeaderMap,
    body: Result<Bytes, BytesRejection>,
) -> Response {
    let key = match &state.auth {
        IngestAuth::Off => {
            metrics::rejected(Source::Http, "ingest_off");
            return error(
                StatusCode::FORBIDDEN,
                "the HTTP ingest is off on this agent: it has no --ingest-key-file".to_owned(),
            );
        }
        IngestAuth::Signed(key) => Some(key),
        IngestAuth::Unsigned => None,
    };
    // Unsigned requests are turned away before their body is looked at.
    if key.is_some() {
        for name in [TIMESTAMP_HEADER, SIGNATURE_HEADER] {
            if header(&headers, name).is_none() {
                return unauthorized(&SignatureError::Missing(name));
            }
        }
    }
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
    if let Some(key) = key
        && let Err(problem) = key.verify(
            header(&headers, TIMESTAMP_HEADER),
            header(&headers, SIGNATURE_HEADER),
            &body,
            vigil_signing::unix_now(),
        )
    {
        return unauthorized(&problem);
    }
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

#[cfg(test)]
mod tests {
    use chrono::TimeZone;
    use vigil_synth::DetectionFactory;

    use super::*;

    #[test]
    fn a_detection_survives_its_json_form() {
        let mut factory = DetectionFactory::new(11);
        let at = Utc.with_ymd_and_hms(2026, 11, 28, 13, 5, 9).unwrap();
        let mut wires: Vec<_> = (0..200)
            .map(|_| factory.detection("cam-000017", at))
            .collect();
        wires.push(factory.plate_read("cam-000017", at, "36A12345", true));
        for wire in wires {
            let detection = Detection::try_from(wire).unwrap();
            let json = serde_json::to_value(HttpDetection::from(&detection)).unwrap();
            assert_eq!(json["kind"], detection.kind.short_name());
            let parsed: HttpDetection = serde_json::from_value(json).unwrap();
            let back = Detection::try_from(parsed.into_proto().unwrap()).unwrap();
            // The agent, not the client, sets these; normalizing is the enricher's.
            let mut expected = Detection {
                site_id: None,
                received_at: None,
                ..detection
            };
            if let Some(plate) = expected.plate.as_mut() {
                plate.normalized = None;
            }
            assert_eq!(back, expected);
        }
    }
}
