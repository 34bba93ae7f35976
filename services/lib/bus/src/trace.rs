//! Trace context across Kafka, after OpenTelemetry's semantic conventions
//! for Kafka messaging: a `publish <topic>` span (kind PRODUCER) per record
//! produced, whose W3C context (`traceparent`, `tracestate`) travels in the
//! record's headers, and a `process <topic>` span (kind CONSUMER) per
//! record consumed, child of that context. One detection is one trace:
//! edge publish → enricher process → enricher publish → writer process.
//!
//! With export off (no `OTEL_*` configuration) every function here returns
//! at once: no span, no header work. Headers then pass through unchanged,
//! so a context injected upstream still reaches a service that exports.

use rdkafka::Message as _;
use rdkafka::message::{Header, Headers as _, OwnedHeaders, OwnedMessage};
use tracing::{Span, field};
use vigil_runtime::telemetry;

/// The header naming the payload's schema version.
pub const SCHEMA_HEADER: &str = "vigil-schema";

/// Headers that carry trace context; replaced, never duplicated, when a
/// record is produced with a context of its own.
const CONTEXT_HEADERS: [&str; 3] = ["traceparent", "tracestate", "baggage"];

/// Attribute names, from the OpenTelemetry messaging conventions (v1.30).
/// The span macros below need them as literals; these are for `record`
/// and for readers.
pub mod attr {
    pub const SYSTEM: &str = "messaging.system";
    pub const DESTINATION: &str = "messaging.destination.name";
    pub const OPERATION_TYPE: &str = "messaging.operation.type";
    pub const OPERATION_NAME: &str = "messaging.operation.name";
    pub const CONSUMER_GROUP: &str = "messaging.consumer.group.name";
    pub const PARTITION_ID: &str = "messaging.destination.partition.id";
    /// The pre-1.26 name of the partition, still read by some backends.
    pub const KAFKA_PARTITION: &str = "messaging.kafka.destination.partition";
    pub const KAFKA_OFFSET: &str = "messaging.kafka.offset";
    pub const KAFKA_KEY: &str = "messaging.kafka.message.key";
    pub const MESSAGE_ID: &str = "messaging.message.id";
    pub const BODY_SIZE: &str = "messaging.message.body.size";
}

/// The span of producing one record to `topic`: retries included, until
/// Kafka acknowledged it. Record where it landed with [`delivered`].
pub fn publish_span(topic: &str, key: &[u8], body_size: usize) -> Span {
    if !telemetry::enabled() {
        return Span::none();
    }
    tracing::info_span!(
        "publish",
        "otel.name" = format!("publish {topic}"),
        "otel.kind" = "producer",
        "messaging.system" = "kafka",
        "messaging.operation.type" = "send",
        "messaging.operation.name" = "publish",
        "messaging.destination.name" = topic,
        "messaging.kafka.message.key" = %String::from_utf8_lossy(key),
        "messaging.message.body.size" = body_size,
        "messaging.message.id" = field::Empty,
        "messaging.destination.partition.id" = field::Empty,
        "messaging.kafka.destination.partition" = field::Empty,
        "messaging.kafka.offset" = field::Empty,
    )
}

/// The span of processing one consumed record in consumer group `group`,
/// child of the context in the record's headers (a new trace without one).
pub fn process_span(message: &OwnedMessage, group: &str) -> Span {
    if !telemetry::enabled() {
        return Span::none();
    }
    let topic = message.topic();
    let span = tracing::info_span!(
        "process",
        "otel.name" = format!("process {topic}"),
        "otel.kind" = "consumer",
        "messaging.system" = "kafka",
        "messaging.operation.type" = "process",
        "messaging.operation.name" = "process",
        "messaging.destination.name" = topic,
        "messaging.consumer.group.name" = group,
        "messaging.kafka.message.key" = %String::from_utf8_lossy(message.key().unwrap_or_default()),
        "messaging.message.body.size" = message.payload().map_or(0, <[u8]>::len),
        "messaging.destination.partition.id" = %message.partition(),
        "messaging.kafka.destination.partition" = message.partition(),
        "messaging.kafka.offset" = message.offset(),
        "messaging.message.id" = field::Empty,
    );
    if let Some(headers) = message.headers() {
        let carrier = headers.iter().filter_map(|header| {
            let value = std::str::from_utf8(header.value?).ok()?;
            CONTEXT_HEADERS
                .contains(&header.key)
                .then_some((header.key, value))
        });
        telemetry::set_parent(&span, carrier);
    }
    span
}

/// Records the message id (the event id) on a publish or process span.
pub fn message_id(span: &Span, id: &str) {
    span.record(attr::MESSAGE_ID, id);
}

/// Records where Kafka stored a record produced under `span`.
pub fn delivered(span: &Span, partition: i32, offset: i64) {
    span.record(attr::PARTITION_ID, field::display(partition));
    span.record(attr::KAFKA_PARTITION, partition);
    span.record(attr::KAFKA_OFFSET, offset);
}

/// `headers` with `span`'s context in place of any they carried. With
/// export off (or no span) they are returned as they are, so a context
/// from upstream passes through.
pub fn with_context(headers: OwnedHeaders, span: &Span) -> OwnedHeaders {
    if !telemetry::enabled() || span.is_none() {
        return headers;
    }
    let mut context: Vec<(String, String)> = Vec::with_capacity(2);
    telemetry::inject(span, |key, value| context.push((key.to_owned(), value)));
    if context.is_empty() {
        return headers;
    }
    let mut out = OwnedHeaders::new_with_capacity(headers.count() + context.len());
    for header in headers.iter() {
        if !CONTEXT_HEADERS.contains(&header.key) {
            out = out.insert(header);
        }
    }
    for (key, value) in &context {
        out = out.insert(Header {
            key: key.as_str(),
            value: Some(value.as_str()),
        });
    }
    out
}

/// Headers with just the schema version, for a record Vigil produces.
pub fn schema_headers() -> OwnedHeaders {
    OwnedHeaders::new().insert(Header {
        key: SCHEMA_HEADER,
        value: Some(vigil_proto::SCHEMA_VERSION),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn with_export_off_nothing_is_created_and_headers_pass_through() {
        assert!(!telemetry::enabled());
        let span = publish_span("t", b"cam-1", 10);
        assert!(span.is_none());
        let headers = schema_headers().insert(Header {
            key: "traceparent",
            value: Some("00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01"),
        });
        let out = with_context(headers, &span);
        assert_eq!(out.count(), 2);
        assert_eq!(out.get(1).key, "traceparent");
    }
}
