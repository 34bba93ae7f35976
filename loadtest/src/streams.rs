//! Live alert streams at scale: many StreamAlerts calls open on one API
//! process (the release binary, run as a child process as it is deployed),
//! alerts produced to the alerts topic at a fixed rate. Measures how long
//! each alert takes from being raised (produced) to being received, over
//! every stream and alert, and what the API process costs meanwhile:
//! resident memory and CPU, sampled from `/proc` once a second.

use std::path::PathBuf;
use std::time::{Duration, Instant, SystemTime};

use anyhow::Context;
use futures::StreamExt;
use hdrhistogram::Histogram;
use prost::Message as _;
use rdkafka::producer::{FutureProducer, FutureRecord};
use serde::Serialize;
use tonic::transport::{Channel, Endpoint};
use vigil_proto::v1::query_service_client::QueryServiceClient;
use vigil_proto::v1::{Alert, AlertKind, GetEventRequest, StreamAlertsRequest};

use crate::chaos::{Fleet, bin_dir};
use crate::query::{authorized, token};
use crate::target::{Namespace, TargetArgs, check_reachable, drop_keyspace};

#[derive(Debug, clap::Args)]
pub(crate) struct StreamsArgs {
    #[command(flatten)]
    pub(crate) target: TargetArgs,
    /// Concurrent StreamAlerts calls on the one API process.
    #[arg(long, default_value_t = 1_000, value_parser = vigil_runtime::flags::count::<usize>)]
    pub(crate) streams: usize,
    /// Streams sharing one HTTP/2 connection (1: each its own, as separate
    /// consoles would).
    #[arg(long, default_value_t = 1, value_parser = vigil_runtime::flags::count::<usize>)]
    pub(crate) per_connection: usize,
    /// Alerts produced per second (each one reaches every stream).
    #[arg(long, default_value_t = 10.0, value_parser = vigil_runtime::flags::rate)]
    pub(crate) rate: f64,
    /// How long alerts are produced.
    #[arg(long, default_value = "60s", value_parser = vigil_runtime::flags::duration)]
    pub(crate) duration: Duration,
    /// Folder of vigil-api; default the one this binary is in.
    #[arg(long)]
    pub(crate) bin_dir: Option<PathBuf>,
    #[arg(long)]
    pub(crate) report_dir: Option<PathBuf>,
}

/// The API process's cost over one second.
#[derive(Debug, Clone, Copy, Serialize)]
pub(crate) struct Sample {
    pub(crate) t_s: u64,
    /// CPU time used in the second, as a percentage of one core.
    pub(crate) cpu_percent: f64,
    pub(crate) rss_mib: f64,
}

/// What a run measured.
#[derive(Debug)]
pub(crate) struct StreamsRun {
    pub(crate) produced: u64,
    /// Alerts received over all streams, and how many were expected
    /// (`produced` for each stream).
    pub(crate) received: u64,
    pub(crate) expected: u64,
    /// Streams that ended before the last alert, by their status.
    pub(crate) ended: Vec<String>,
    /// Raised to received, microseconds.
    pub(crate) latency: Histogram<u64>,
    /// The API's resident memory before the streams opened, and with
    /// them open before any alert.
    pub(crate) rss_before_mib: f64,
    pub(crate) rss_open_mib: f64,
    /// One sample a second while alerts flowed.
    pub(crate) samples: Vec<Sample>,
}

/// CPU time used so far and resident memory of process `pid`.
#[derive(Debug, Clone, Copy)]
struct Usage {
    at: Instant,
    cpu: Duration,
    rss_mib: f64,
}

impl Usage {
    fn of(pid: u32) -> anyhow::Result<Self> {
        let process = procfs::process::Process::new(i32::try_from(pid)?)
            .with_context(|| format!("reading /proc/{pid}"))?;
        let stat = process.stat()?;
        let ticks = stat.utime + stat.stime;
        let kib = process.status()?.vmrss.unwrap_or(0);
        Ok(Self {
            at: Instant::now(),
            cpu: Duration::from_secs_f64(ticks as f64 / procfs::ticks_per_second() as f64),
            rss_mib: kib as f64 / 1024.0,
        })
    }

    /// CPU used between `earlier` and this, as a percentage of one core.
    fn cpu_percent_since(&self, earlier: &Self) -> f64 {
        let wall = self.at.duration_since(earlier.at).as_secs_f64();
        100.0 * self.cpu.saturating_sub(earlier.cpu).as_secs_f64() / wall.max(f64::EPSILON)
    }
}

/// One stream's tally.
struct Tally {
    received: u64,
    latency: Histogram<u64>,
    /// Why it ended early, if it did.
    ended: Option<String>,
}

/// Reads `stream` until it has `want` alerts (known once production
/// ends) or `give_up`, timing each.
async fn follow(
    mut stream: tonic::Streaming<Alert>,
    mut want: tokio::sync::watch::Receiver<u64>,
    give_up: tokio_util::sync::CancellationToken,
) -> Tally {
    let mut tally = Tally {
        received: 0,
        latency: Histogram::new(3).expect("valid precision"),
        ended: None,
    };
    loop {
        if tally.received >= *want.borrow_and_update() {
            return tally;
        }
        let next = tokio::select! {
            () = give_up.cancelled() => return tally,
            _ = want.changed() => continue,
            next = stream.next() => next,
        };
        match next {
            Some(Ok(alert)) => {
                tally.received += 1;
                if let Some(raised) = alert.raised_at {
                    let raised = Duration::new(
                        u64::try_from(raised.seconds).unwrap_or(0),
                        u32::try_from(raised.nanos).unwrap_or(0),
                    );
                    let now = SystemTime::now()
                        .duration_since(SystemTime::UNIX_EPOCH)
                        .unwrap_or_default();
                    let micros = now.saturating_sub(raised).as_micros();
                    let _ = tally
                        .latency
                        .record(u64::try_from(micros).unwrap_or(u64::MAX).max(1));
                }
            }
            Some(Err(status)) => {
                tally.ended = Some(format!("{:?}: {}", status.code(), status.message()));
                return tally;
            }
            None => {
                tally.ended = Some("ended by the server".to_owned());
                return tally;
            }
        }
    }
}

/// Connects to the API, waiting while it starts.
async fn connect(address: &str) -> anyhow::Result<Channel> {
    let endpoint = Endpoint::from_shared(format!("http://{address}"))?;
    let started = Instant::now();
    loop {
        match endpoint.connect().await {
            Ok(channel) => return Ok(channel),
            Err(error) if started.elapsed() > Duration::from_secs(120) => {
                return Err(error).with_context(|| format!("the API at {address} did not come up"));
            }
            Err(_) => tokio::time::sleep(Duration::from_millis(250)).await,
        }
    }
}

/// Waits until the API answers calls (it accepts connections before it has
/// loaded the registry): a lookup of an event that does not exist.
async fn serving(channel: &Channel, token: &str) -> anyhow::Result<()> {
    let started = Instant::now();
    let mut client = QueryServiceClient::new(channel.clone());
    loop {
        let request = GetEventRequest {
            event_id: uuid::Uuid::nil().to_string(),
        };
        match client.get_event(authorized(request, token)).await {
            Err(status) if status.code() == tonic::Code::NotFound => return Ok(()),
            answer if started.elapsed() > Duration::from_secs(120) => {
                anyhow::bail!("the API does not answer as expected: {answer:?}")
            }
            _ => tokio::time::sleep(Duration::from_millis(250)).await,
        }
    }
}

/// Runs the load: starts the API on a fresh namespace, opens the streams,
/// produces alerts, and waits for every stream to receive them all (or 30 s
/// after the last).
pub(crate) async fn run(
    args: &StreamsArgs,
    progress: &indicatif::ProgressBar,
) -> anyhow::Result<StreamsRun> {
    anyhow::ensure!(
        !args.target.external,
        "streams measures an API process it starts itself; --external is not supported"
    );
    check_reachable(&args.target.kafka, &args.target.store).await?;
    let bin = bin_dir(args.bin_dir.as_deref(), &["api"])?;
    let ns = Namespace::fresh(&args.target, "streams").await?;
    let token = token(&ns.keyspace, &ns.registry, None).await?;
    let communes: Vec<String> = ns.registry.communes().map(|z| z.id.clone()).collect();
    let mut fleet = Fleet::new(ns, bin)?;
    // Every stream uses the one token: lift the per-token cap (the
    // process-wide one stays).
    fleet.env = vec![(
        "VIGIL_API_ALERT_STREAMS_PER_TOKEN".into(),
        args.streams.to_string(),
    )];
    fleet.spawn("api")?;
    let pid = fleet.pid("api").context("the API process has no id")?;
    let first = connect(&fleet.api_listen).await?;
    serving(&first, &token).await?;
    let rss_before_mib = Usage::of(pid)?.rss_mib;

    // The streams, `per_connection` to a connection.
    progress.set_message(format!("opening {} streams", args.streams));
    let (want_tx, want) = tokio::sync::watch::channel(u64::MAX);
    let give_up = tokio_util::sync::CancellationToken::new();
    let mut channel = first;
    let mut followers = Vec::with_capacity(args.streams);
    for n in 0..args.streams {
        if n > 0 && n % args.per_connection == 0 {
            channel = connect(&fleet.api_listen).await?;
        }
        let stream = QueryServiceClient::new(channel.clone())
            .stream_alerts(authorized(StreamAlertsRequest::default(), &token))
            .await
            .with_context(|| format!("opening stream {n}"))?
            .into_inner();
        followers.push(tokio::spawn(follow(stream, want.clone(), give_up.clone())));
    }
    tokio::time::sleep(Duration::from_secs(2)).await;
    let mut last = Usage::of(pid)?;
    let rss_open_mib = last.rss_mib;

    // Alerts at `rate`, each raised (timestamped) as it is produced.
    progress.set_message(format!("{} alerts/s", args.rate));
    let producer: FutureProducer = fleet.ns.kafka.producer_config().create()?;
    let topic = fleet.ns.kafka.topics().alerts;
    let interval = Duration::from_secs_f64(1.0 / args.rate);
    let started = Instant::now();
    let mut deliveries = Vec::new();
    let mut samples = Vec::new();
    let mut produced: u64 = 0;
    while started.elapsed() < args.duration {
        let due = started + interval.mul_f64(produced as f64);
        tokio::time::sleep_until(due.into()).await;
        let now = chrono::Utc::now();
        let commune = &communes[usize::try_from(produced).unwrap_or(0) % communes.len()];
        let alert = Alert {
            alert_id: format!("loadtest-{produced}"),
            kind: AlertKind::Watchlist.into(),
            raised_at: Some(prost_types::Timestamp {
                seconds: now.timestamp(),
                nanos: i32::try_from(now.timestamp_subsec_nanos()).unwrap_or(0),
            }),
            commune_id: commune.clone(),
            summary: "vigil-loadtest streams".to_owned(),
            ..Alert::default()
        };
        let payload = alert.encode_to_vec();
        let record = FutureRecord::to(&topic).key(commune).payload(&payload);
        let delivery = producer
            .send_result(record)
            .map_err(|(error, _)| error)
            .context("producing an alert")?;
        deliveries.push(delivery);
        produced += 1;
        if last.at.elapsed() >= Duration::from_secs(1) {
            fleet.check()?;
            let usage = Usage::of(pid)?;
            samples.push(Sample {
                t_s: started.elapsed().as_secs(),
                cpu_percent: usage.cpu_percent_since(&last),
                rss_mib: usage.rss_mib,
            });
            progress.set_position(started.elapsed().as_secs());
            last = usage;
        }
    }
    for delivery in deliveries {
        delivery
            .await
            .context("the producer was dropped")?
            .map_err(|(error, _)| error)
            .context("an alert was not acknowledged")?;
    }
    let _ = want_tx.send(produced);
    let grace = tokio::spawn({
        let give_up = give_up.clone();
        async move {
            tokio::time::sleep(Duration::from_secs(30)).await;
            give_up.cancel();
        }
    });
    let mut run = StreamsRun {
        produced,
        received: 0,
        expected: produced * args.streams as u64,
        ended: Vec::new(),
        latency: Histogram::new(3).expect("valid precision"),
        rss_before_mib,
        rss_open_mib,
        samples,
    };
    for follower in followers {
        let tally = follower.await?;
        run.received += tally.received;
        run.latency.add(&tally.latency)?;
        run.ended.extend(tally.ended);
    }
    grace.abort();
    fleet.stop("api").await?;
    drop_keyspace(&fleet.ns.keyspace).await?;
    Ok(run)
}
