//! Frigate bridge: subscribes to the MQTT topic on which a [Frigate] NVR
//! reports the objects it tracks (`frigate/events`) and hands the
//! detections [`vigil_frigate`] makes of each message to the [`Intake`].
//! This module is the MQTT side only; what is read from a message and what
//! it yields is in `docs/edge.md` (section "Frigate").
//!
//! [Frigate]: https://docs.frigate.video/integrations/mqtt/
//!
//! Delivery: the bridge subscribes at QoS 1 with a persistent session and
//! acknowledges a message only once its detections are on disk. A message
//! the intake cannot store (spool failure, disk full) is left
//! unacknowledged and the bridge reconnects after a pause, which makes the
//! broker send it again. Messages over `--frigate-max-payload` are skipped
//! unread; unreadable ones are skipped too. Both are counted in
//! `vigil_edge_events_rejected_total` (`source="frigate"`) and acknowledged.
//!
//! Security: anyone who can publish on the broker's Frigate topic speaks
//! for the site's cameras, so a site broker should require credentials
//! and TLS (`mqtts://`, trusted through `--frigate-mqtt-ca`). The bridge
//! refuses to send a password in clear text to a broker that is not on
//! this host unless told to (`--frigate-mqtt-allow-plaintext-password`).

use std::net::IpAddr;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context as _;
use rumqttc::{
    AsyncClient, ConnectReturnCode, ConnectionError, Event, EventLoop, MqttOptions, Outgoing,
    Packet, Publish, QoS, SubscribeReasonCode, TlsConfiguration, Transport,
};
use rustls::pki_types::CertificateDer;
use rustls::pki_types::pem::PemObject as _;
use tokio_util::sync::CancellationToken;
use tracing::{debug, error, info, warn};
use url::Url;
use vigil_frigate::{CameraMap, TrackedObject, Tracker, map_object};
use vigil_runtime::retry::{RetryPolicy, WarnLimiter};

use crate::intake::{Intake, Source};
use crate::metrics;

/// Frigate bridge settings (flattened into the agent's command line).
#[derive(Clone, clap::Args)]
pub struct FrigateArgs {
    /// MQTT broker URL: `mqtts://host[:port]` for TLS (port 8883 by
    /// default; the broker's certificate must be valid for host and signed
    /// by a CA in --frigate-mqtt-ca, or in the system's trust store), or
    /// `mqtt://host[:port]` in clear text (port 1883 by default), e.g.
    /// mqtt://127.0.0.1:1883. The bridge is off when unset.
    #[arg(long = "frigate-mqtt", env = "VIGIL_FRIGATE_MQTT", value_parser = checked_broker_url)]
    pub mqtt_url: Option<String>,
    /// Topic Frigate publishes events on (`<topic_prefix>/events`).
    #[arg(
        long = "frigate-topic",
        env = "VIGIL_FRIGATE_TOPIC",
        default_value = "frigate/events"
    )]
    pub topic: String,
    /// Frigate camera name to Vigil camera id, e.g.
    /// "front_gate=cam-000017,market=cam-000018". When empty, camera `x` is
    /// sent as `frigate:x`.
    #[arg(
        long = "frigate-cameras",
        env = "VIGIL_FRIGATE_CAMERAS",
        default_value = ""
    )]
    pub cameras: CameraMap,
    /// MQTT client id. Must be unique among the broker's clients (a second
    /// client with the same id disconnects the first); the broker keeps the
    /// session, and messages for it, under this id while the agent is away.
    #[arg(
        long = "frigate-client-id",
        env = "VIGIL_FRIGATE_CLIENT_ID",
        default_value = "vigil-edge"
    )]
    pub client_id: String,
    /// MQTT user name, if the broker requires one.
    #[arg(long = "frigate-mqtt-user", env = "VIGIL_FRIGATE_MQTT_USER")]
    pub user: Option<String>,
    /// MQTT password (prefer the environment variable to the flag, which
    /// other local users can see). Sent only over mqtts://, or over
    /// mqtt:// to a broker on this host (localhost, 127.0.0.0/8, ::1):
    /// anywhere else the agent refuses to start rather than send it in
    /// clear text, unless --frigate-mqtt-allow-plaintext-password.
    #[arg(
        long = "frigate-mqtt-password",
        env = "VIGIL_FRIGATE_MQTT_PASSWORD",
        hide_env_values = true
    )]
    pub password: Option<String>,
    /// PEM file of the CA certificate(s) that sign the broker's TLS
    /// certificate (a site's private CA), for mqtts://; when unset, the
    /// system's trust store is used.
    #[arg(
        id = "frigate_mqtt_ca",
        long = "frigate-mqtt-ca",
        env = "VIGIL_FRIGATE_MQTT_CA"
    )]
    pub ca_file: Option<PathBuf>,
    /// Send the password over a clear-text mqtt:// connection to another
    /// host, where anyone on the network path can read it. For lab
    /// networks only: use mqtts:// instead.
    #[arg(
        long = "frigate-mqtt-allow-plaintext-password",
        env = "VIGIL_FRIGATE_MQTT_ALLOW_PLAINTEXT_PASSWORD"
    )]
    pub allow_plaintext_password: bool,
    /// Largest Frigate message read, in bytes (the same default as
    /// --http-max-body); a larger one is skipped without being parsed and
    /// counted as rejected with reason `too_large`.
    #[arg(
        long = "frigate-max-payload",
        env = "VIGIL_FRIGATE_MAX_PAYLOAD",
        default_value_t = crate::DEFAULT_MAX_BODY_BYTES,
        value_parser = vigil_runtime::flags::byte_size::<usize>
    )]
    pub max_payload: usize,
}

// By hand, so that the password never reaches a log.
impl std::fmt::Debug for FrigateArgs {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("FrigateArgs")
            .field("mqtt_url", &self.mqtt_url)
            .field("topic", &self.topic)
            .field("cameras", &self.cameras)
            .field("client_id", &self.client_id)
            .field("user", &self.user)
            .field("password", &self.password.as_ref().map(|_| "<redacted>"))
            .field("ca_file", &self.ca_file)
            .field("allow_plaintext_password", &self.allow_plaintext_password)
            .field("max_payload", &self.max_payload)
            .finish()
    }
}

/// `url` if it is a broker URL the bridge can use, so that a wrong one
/// stops the agent at startup.
fn checked_broker_url(url: &str) -> Result<String, String> {
    Broker::parse(url)
        .map(|_| url.to_owned())
        .map_err(|e| e.to_string())
}

/// Where the broker is, and whether over TLS.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Broker {
    /// IPv6 hosts stay in brackets, which is how the client wants them.
    host: String,
    port: u16,
    tls: bool,
}

impl Broker {
    /// `mqtt://host[:port]` (or `tcp://`), `mqtts://host[:port]` (or
    /// `ssl://`).
    fn parse(text: &str) -> anyhow::Result<Self> {
        let url = Url::parse(text).with_context(|| format!("{text:?} is not a URL"))?;
        let (tls, default_port) = match url.scheme() {
            "mqtt" | "tcp" => (false, 1883),
            "mqtts" | "ssl" => (true, 8883),
            _ => anyhow::bail!("{text:?} must start with mqtts:// (TLS) or mqtt://"),
        };
        anyhow::ensure!(
            url.username().is_empty() && url.password().is_none(),
            "{text:?} must not carry credentials; give them with --frigate-mqtt-user and --frigate-mqtt-password"
        );
        anyhow::ensure!(
            matches!(url.path(), "" | "/") && url.query().is_none() && url.fragment().is_none(),
            "{text:?} must be mqtt[s]://host[:port]"
        );
        let host = url
            .host_str()
            .filter(|host| !host.is_empty())
            .with_context(|| format!("{text:?} has no host"))?;
        Ok(Self {
            host: host.to_owned(),
            port: url.port().unwrap_or(default_port),
            tls,
        })
    }

    /// On this host: what goes there never crosses a network.
    fn is_loopback(&self) -> bool {
        let host = self.host.trim_start_matches('[').trim_end_matches(']');
        host.eq_ignore_ascii_case("localhost")
            || host.parse::<IpAddr>().is_ok_and(|ip| ip.is_loopback())
    }
}

/// The client's options for `args`: broker, TLS, credentials and limits.
/// Fails on settings that cannot work or would leak the password.
fn mqtt_options(args: &FrigateArgs, url: &str) -> anyhow::Result<MqttOptions> {
    let broker = Broker::parse(url).context("--frigate-mqtt")?;
    if !broker.tls {
        anyhow::ensure!(
            args.ca_file.is_none(),
            "--frigate-mqtt-ca is for TLS brokers: use an mqtts:// URL in --frigate-mqtt"
        );
        anyhow::ensure!(
            args.password.is_none() || broker.is_loopback() || args.allow_plaintext_password,
            "refusing to send the MQTT password in clear text to {}: use mqtts:// in \
             --frigate-mqtt (or, on a lab network, --frigate-mqtt-allow-plaintext-password)",
            broker.host
        );
    }
    let mut options = MqttOptions::new(args.client_id.clone(), broker.host.clone(), broker.port);
    options
        .set_keep_alive(KEEP_ALIVE)
        // A persistent session: the broker keeps the subscription and queues
        // QoS 1 messages while the agent is away.
        .set_clean_session(false)
        // Acknowledged only once the detections are on disk.
        .set_manual_acks(true)
        .set_max_packet_size(
            MAX_INCOMING_PACKET.max(args.max_payload.saturating_add(PACKET_OVERHEAD)),
            MAX_OUTGOING_PACKET,
        );
    if broker.tls {
        let config = tls_config(args.ca_file.as_deref())?;
        options.set_transport(Transport::tls_with_config(TlsConfiguration::Rustls(
            Arc::new(config),
        )));
    }
    if let Some(user) = &args.user {
        options.set_credentials(user.clone(), args.password.clone().unwrap_or_default());
    }
    Ok(options)
}

/// A TLS client that trusts the CAs in `ca_file`, or the system's; the
/// broker's name is checked against its certificate. Ring is named as the
/// crypto provider so that nothing depends on a process-wide default.
fn tls_config(ca_file: Option<&Path>) -> anyhow::Result<rustls::ClientConfig> {
    let mut roots = rustls::RootCertStore::empty();
    match ca_file {
        Some(path) => {
            let certificates = CertificateDer::pem_file_iter(path)
                .and_then(|certificates| certificates.collect::<Result<Vec<_>, _>>())
                .with_context(|| format!("reading --frigate-mqtt-ca {}", path.display()))?;
            anyhow::ensure!(
                !certificates.is_empty(),
                "--frigate-mqtt-ca {} holds no PEM certificate",
                path.display()
            );
            for certificate in certificates {
                roots.add(certificate).with_context(|| {
                    format!("a certificate in --frigate-mqtt-ca {}", path.display())
                })?;
            }
        }
        None => {
            let native = rustls_native_certs::load_native_certs();
            roots.add_parsable_certificates(native.certs);
            anyhow::ensure!(
                !roots.is_empty(),
                "no CA certificates in the system's trust store for mqtts://; give --frigate-mqtt-ca"
            );
        }
    }
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    Ok(rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .context("TLS protocol versions")?
        .with_root_certificates(roots)
        .with_no_client_auth())
}

impl FrigateArgs {
    /// Fails on settings the bridge cannot run with (a bad URL, an
    /// unreadable CA file, a password that would go out in clear text), so
    /// that the agent refuses to start. Nothing to check when it is off.
    pub fn check(&self) -> anyhow::Result<()> {
        match self.mqtt_url.as_deref() {
            Some(url) => mqtt_options(self, url).map(drop),
            None => Ok(()),
        }
    }
}

/// A Frigate message holds two states of the object (with its path, in
/// recent versions) and can outgrow the client's default limit of 10 KB. A
/// packet over the client's limit drops the connection (and comes back on
/// the next one), so the limit is well above `--frigate-max-payload`, which
/// is what skips large messages.
const MAX_INCOMING_PACKET: usize = 4 * 1024 * 1024;
/// Room for a packet's header and topic on top of its payload.
const PACKET_OVERHEAD: usize = 64 * 1024;
/// The bridge only sends control packets.
const MAX_OUTGOING_PACKET: usize = 64 * 1024;
const KEEP_ALIVE: Duration = Duration::from_secs(30);
/// Pauses between attempts to reach a lost broker.
const RECONNECT: RetryPolicy =
    RetryPolicy::new(Duration::from_millis(500), Duration::from_secs(30));
/// While the broker stays unreachable, one WARN line per this interval.
const WARN_EVERY: Duration = Duration::from_secs(60);
/// Wait before a message the intake could not store is tried again.
const REFUSED_PAUSE: Duration = Duration::from_secs(5);
/// How long shutdown waits to send the last acknowledgements.
const DISCONNECT_TIMEOUT: Duration = Duration::from_secs(1);
/// How much of an unreadable payload a log line shows.
const LOGGED_PAYLOAD: usize = 256;

/// Runs the bridge until `shutdown` is cancelled: connects to the broker,
/// subscribes to the topic at QoS 1, and hands the detections of each message
/// to `intake`. Reconnects with backoff when the broker is lost and never
/// stops on a bad message. With no broker URL it does nothing until
/// shutdown, so callers can run it unconditionally. Fails only on invalid
/// settings.
pub async fn run(
    args: FrigateArgs,
    intake: Intake,
    shutdown: CancellationToken,
) -> anyhow::Result<()> {
    let Some(url) = args.mqtt_url.as_deref() else {
        info!("Frigate bridge off (no --frigate-mqtt).");
        drop(intake);
        shutdown.cancelled().await;
        return Ok(());
    };
    let options = mqtt_options(&args, url)?;
    let (client, mut eventloop) = AsyncClient::new(options, 16);
    let mut bridge = Bridge {
        client,
        intake,
        cameras: args.cameras,
        tracker: Tracker::default(),
        max_payload: args.max_payload,
    };
    info!(broker = %url, topic = %args.topic, client_id = %args.client_id, "Frigate bridge starting.");
    if bridge.cameras.is_empty() {
        warn!("No --frigate-cameras: Frigate camera x is sent as camera frigate:x.");
    }
    let mut reconnect = RECONNECT.backoff();
    let connection_failures = WarnLimiter::new(WARN_EVERY);
    // Set when the intake refused a message, until the reconnection that
    // brings it back.
    let mut paused = false;
    let mut connected = false;
    loop {
        let event = tokio::select! {
            () = shutdown.cancelled() => break,
            event = eventloop.poll() => event,
        };
        match event {
            Ok(Event::Incoming(Packet::ConnAck(ack))) => {
                reconnect.reset();
                connection_failures.succeeded();
                paused = false;
                connected = true;
                info!(
                    session_present = ack.session_present,
                    "Connected to the Frigate MQTT broker."
                );
                // Also when the session survived: subscribing again is
                // harmless, and the session may predate a topic change.
                // `try_` because this task is the one draining the queue.
                if let Err(error) = bridge.client.try_subscribe(&args.topic, QoS::AtLeastOnce) {
                    warn!(%error, topic = %args.topic, "Could not subscribe to the Frigate topic.");
                }
            }
            Ok(Event::Incoming(Packet::SubAck(ack))) => {
                if ack.return_codes.contains(&SubscribeReasonCode::Failure) {
                    warn!(topic = %args.topic, "The MQTT broker refused the subscription to the Frigate topic.");
                } else {
                    info!(topic = %args.topic, "Subscribed to Frigate events.");
                }
            }
            // Left unacknowledged: the broker sends it again after the
            // reconnection.
            Ok(Event::Incoming(Packet::Publish(_))) if paused => {}
            Ok(Event::Incoming(Packet::Publish(publish))) => {
                if bridge.handle(publish).await == Outcome::Refused {
                    // A broker sends unacknowledged messages again only on
                    // a new connection: reconnect, after a pause.
                    paused = true;
                    if let Err(error) = bridge.client.try_disconnect() {
                        warn!(%error, "Could not disconnect from the Frigate MQTT broker.");
                    }
                }
            }
            Ok(_) => {}
            Err(error) => {
                connected = false;
                let retry_in = if paused {
                    info!(%error, retry_in = ?REFUSED_PAUSE, "Disconnected from the Frigate MQTT broker, to be sent the refused message again.");
                    REFUSED_PAUSE
                } else {
                    let retry_in = reconnect.next_delay();
                    match connection_failures.failed() {
                        // A person must act: no retry fixes credentials.
                        Some(failures) if refused_credentials(&error) => {
                            error!(%error, failures, ?retry_in, "The Frigate MQTT broker refused the bridge's credentials (bad user name or password, or not authorised); check --frigate-mqtt-user and --frigate-mqtt-password.")
                        }
                        Some(failures) => {
                            warn!(%error, failures, ?retry_in, "The Frigate MQTT connection failed; reconnecting.")
                        }
                        None => {
                            debug!(%error, ?retry_in, "The Frigate MQTT connection failed again; reconnecting.")
                        }
                    }
                    retry_in
                };
                tokio::select! {
                    () = shutdown.cancelled() => break,
                    () = tokio::time::sleep(retry_in) => {}
                }
            }
        }
    }
    if connected {
        disconnect(&bridge.client, &mut eventloop).await;
    }
    info!("Frigate bridge stopped.");
    Ok(())
}

/// Whether the broker turned the bridge away for its credentials.
fn refused_credentials(error: &ConnectionError) -> bool {
    matches!(
        error,
        ConnectionError::ConnectionRefused(
            ConnectReturnCode::BadUserNamePassword | ConnectReturnCode::NotAuthorized
        )
    )
}

/// Sends the acknowledgements still queued, then a DISCONNECT (which keeps
/// the session), so that fewer messages are delivered again at the next
/// start; gives up after [`DISCONNECT_TIMEOUT`].
async fn disconnect(client: &AsyncClient, eventloop: &mut EventLoop) {
    if client.try_disconnect().is_err() {
        return;
    }
    let sent = tokio::time::timeout(DISCONNECT_TIMEOUT, async {
        // Requests go out in order, and the client reports the DISCONNECT
        // once it is written.
        loop {
            match eventloop.poll().await {
                Ok(Event::Outgoing(Outgoing::Disconnect)) | Err(_) => break,
                Ok(_) => {}
            }
        }
    })
    .await;
    if sent.is_err() {
        warn!("Could not disconnect cleanly from the Frigate MQTT broker.");
    }
}

/// What became of a message.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Outcome {
    /// Spooled, or skipped for good: acknowledge it.
    Done,
    /// The intake could not store it: leave it for redelivery.
    Refused,
}

/// The bridge's state between messages.
struct Bridge {
    client: AsyncClient,
    intake: Intake,
    cameras: CameraMap,
    tracker: Tracker,
    max_payload: usize,
}

impl Bridge {
    async fn handle(&mut self, publish: Publish) -> Outcome {
        let outcome = self.process(&publish.payload).await;
        if outcome == Outcome::Done
            && let Err(error) = self.client.try_ack(&publish)
        {
            warn!(%error, "Could not acknowledge a Frigate message; the broker will send it again after a reconnection.");
        }
        outcome
    }

    /// Maps and spools one message. When the intake cannot store a
    /// detection for reasons of its own, the tracker forgets the message so
    /// that its redelivery is reported.
    async fn process(&mut self, payload: &[u8]) -> Outcome {
        if payload.len() > self.max_payload {
            metrics::rejected(Source::Frigate, "too_large");
            warn!(
                bytes = payload.len(),
                max = self.max_payload,
                "Skipped a Frigate message over --frigate-max-payload, unread."
            );
            return Outcome::Done;
        }
        let object = match TrackedObject::parse(payload) {
            Ok(object) => object,
            Err(error) => {
                metrics::rejected(Source::Frigate, error.reason());
                let shown = &payload[..payload.len().min(LOGGED_PAYLOAD)];
                warn!(%error, bytes = payload.len(), payload = %String::from_utf8_lossy(shown), "Skipped an unreadable Frigate message.");
                return Outcome::Done;
            }
        };
        let checkpoint = self.tracker.checkpoint(object.id());
        let detections = match map_object(&object, &self.cameras, &mut self.tracker) {
            Ok(detections) => detections,
            Err(error) => {
                metrics::rejected(Source::Frigate, error.reason());
                warn!(%error, frigate_id = %object.id(), "Skipped a Frigate object.");
                return Outcome::Done;
            }
        };
        for detection in detections {
            match self.intake.accept(detection, Source::Frigate).await {
                Ok(event_id) => {
                    debug!(%event_id, frigate_id = %object.id(), "Accepted a Frigate detection.");
                }
                Err(rejection) if rejection.is_client_error() => {
                    warn!(error = %rejection, frigate_id = %object.id(), "The intake refused a Frigate detection.");
                }
                Err(rejection) => {
                    warn!(error = %rejection, frigate_id = %object.id(), "Could not store a Frigate detection; leaving the message for redelivery.");
                    self.tracker.restore(checkpoint);
                    return Outcome::Refused;
                }
            }
        }
        Outcome::Done
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn broker_urls_parse() {
        let ok = |url: &str| {
            let broker = Broker::parse(url).unwrap();
            (broker.host, broker.port, broker.tls)
        };
        let host = |h: &str| h.to_owned();
        assert_eq!(
            ok("mqtt://127.0.0.1:1883"),
            (host("127.0.0.1"), 1883, false)
        );
        assert_eq!(
            ok("mqtt://broker.local"),
            (host("broker.local"), 1883, false)
        );
        assert_eq!(ok("tcp://broker:11883/"), (host("broker"), 11883, false));
        assert_eq!(ok("mqtt://[::1]:1884"), (host("[::1]"), 1884, false));
        assert_eq!(ok("mqtt://[::1]"), (host("[::1]"), 1883, false));
        assert_eq!(
            ok("mqtts://broker.local"),
            (host("broker.local"), 8883, true)
        );
        assert_eq!(ok("ssl://broker:18883"), (host("broker"), 18883, true));
        for bad in [
            "127.0.0.1:1883",
            "https://broker:8883",
            "mqtts://user:pw@broker",
            "mqtt://user:pw@broker",
            "mqtt://user@broker",
            "mqtt://broker:port",
            "mqtt://broker:70000",
            "mqtt://:1883",
            "mqtt://broker/topic",
            "mqtt://broker?x=1",
        ] {
            assert!(Broker::parse(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn args_parse_and_hide_the_password() {
        use clap::Parser as _;
        #[derive(Debug, clap::Parser)]
        struct Cli {
            #[command(flatten)]
            frigate: FrigateArgs,
        }
        let cli = Cli::try_parse_from([
            "vigil-edge",
            "--frigate-mqtt=mqtt://127.0.0.1:1883",
            "--frigate-cameras=front_gate=cam-000017",
            "--frigate-mqtt-password=hunter2",
        ])
        .unwrap();
        assert_eq!(cli.frigate.topic, "frigate/events");
        assert_eq!(cli.frigate.client_id, "vigil-edge");
        assert_eq!(cli.frigate.max_payload, crate::DEFAULT_MAX_BODY_BYTES);
        assert_eq!(
            cli.frigate.cameras.camera_id("front_gate").as_deref(),
            Some("cam-000017")
        );
        assert!(!format!("{cli:?}").contains("hunter2"));
        assert!(Cli::try_parse_from(["vigil-edge", "--frigate-cameras=nonsense"]).is_err());
        assert!(Cli::try_parse_from(["vigil-edge", "--frigate-mqtt=127.0.0.1:1883"]).is_err());
    }

    /// The password goes in clear text only to this host, or when allowed.
    #[test]
    fn a_password_is_not_sent_in_clear_text_across_a_network() {
        use clap::Parser as _;
        #[derive(Debug, clap::Parser)]
        struct Cli {
            #[command(flatten)]
            frigate: FrigateArgs,
        }
        let check = |args: &[&str]| {
            let mut argv = vec!["vigil-edge", "--frigate-mqtt-user=vigil"];
            argv.extend(args);
            Cli::try_parse_from(argv).unwrap().frigate.check()
        };
        let error = check(&[
            "--frigate-mqtt=mqtt://broker.site:1883",
            "--frigate-mqtt-password=hunter2",
        ])
        .unwrap_err()
        .to_string();
        assert!(
            error.contains("clear text") && error.contains("mqtts://"),
            "{error}"
        );
        assert!(!error.contains("hunter2"), "{error}");
        for fine in [
            &[
                "--frigate-mqtt=mqtt://127.0.0.1:1883",
                "--frigate-mqtt-password=p",
            ][..],
            &[
                "--frigate-mqtt=mqtt://localhost",
                "--frigate-mqtt-password=p",
            ],
            &["--frigate-mqtt=mqtt://[::1]", "--frigate-mqtt-password=p"],
            &["--frigate-mqtt=mqtt://broker.site"],
            &[
                "--frigate-mqtt=mqtt://broker.site",
                "--frigate-mqtt-password=p",
                "--frigate-mqtt-allow-plaintext-password",
            ],
        ] {
            check(fine).unwrap();
        }
        // A CA file is for TLS, and must hold a certificate.
        let error = check(&[
            "--frigate-mqtt=mqtt://127.0.0.1",
            "--frigate-mqtt-ca=ca.pem",
        ])
        .unwrap_err()
        .to_string();
        assert!(error.contains("mqtts://"), "{error}");
        let dir = tempfile::tempdir().unwrap();
        let empty = dir.path().join("empty.pem");
        std::fs::write(&empty, "not a certificate\n").unwrap();
        let ca = format!("--frigate-mqtt-ca={}", empty.display());
        let error = format!(
            "{:#}",
            check(&["--frigate-mqtt=mqtts://127.0.0.1", &ca]).unwrap_err()
        );
        assert!(error.contains("holds no PEM certificate"), "{error}");
        let missing = format!(
            "--frigate-mqtt-ca={}",
            dir.path().join("nope.pem").display()
        );
        let error = format!(
            "{:#}",
            check(&["--frigate-mqtt=mqtts://127.0.0.1", &missing]).unwrap_err()
        );
        assert!(error.contains("reading --frigate-mqtt-ca"), "{error}");
    }
}
