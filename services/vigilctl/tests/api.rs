//! vigilctl's API commands against a real vigil-api (in-process, over the
//! test's topics and keyspace), checking what a person reads: errors as
//! words and the server's message, enumerations as words, `--json`.

use std::process::{Command, Output};

use anyhow::Context;
use clap::Parser;
use tokio_util::sync::CancellationToken;
use vigil_domain::Registry;
use vigil_proto::v1::Role;
use vigil_store::{TokenStore, mint_token};
use vigil_synth::{ProvinceSpec, province};
use vigil_testkit::{TestEnv, install_registry, succeeded};

/// A vigil-api serving a small synthetic province.
struct Api {
    env: TestEnv,
    registry: Registry,
    url: String,
    stop: CancellationToken,
    server: tokio::task::JoinHandle<anyhow::Result<()>>,
}

impl Api {
    async fn start(tag: &str) -> anyhow::Result<Self> {
        let env = TestEnv::new(tag).await?;
        let registry = province(&ProvinceSpec {
            cameras: 200,
            seed: 36,
        });
        install_registry(&env.kafka, &env.keyspace, &registry).await?;
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
        let url = format!("http://{}", listener.local_addr()?);
        let config = vigil_api::Config::parse_from([
            "vigil-api",
            "--topic-prefix",
            &env.kafka.topic_prefix,
            "--keyspace",
            &env.store.keyspace,
            "--metrics-listen",
            "127.0.0.1:0",
        ]);
        let stop = CancellationToken::new();
        let server = tokio::spawn(vigil_api::serve(config, listener, stop.clone()));
        Ok(Self {
            env,
            registry,
            url,
            stop,
            server,
        })
    }

    /// A token for `role` scoped to `zone`.
    async fn token(&self, role: Role, zone: &str) -> anyhow::Result<String> {
        let (token, record) = mint_token("test", role.into(), zone, None);
        TokenStore::prepare(&self.env.keyspace)
            .await?
            .insert(&record)
            .await?;
        Ok(token)
    }

    /// Communes of the province, in id order.
    fn communes(&self) -> Vec<String> {
        self.registry.communes().map(|z| z.id.clone()).collect()
    }

    /// Runs `vigilctl <args>` against this API with `token`.
    fn vigilctl(&self, token: &str, args: &[&str]) -> anyhow::Result<Output> {
        Command::new(env!("CARGO_BIN_EXE_vigilctl"))
            .args(args)
            .env("VIGIL_API_URL", &self.url)
            .env("VIGIL_API_TOKEN", token)
            .env("VIGIL_TOPIC_PREFIX", &self.env.kafka.topic_prefix)
            .env("VIGIL_CQL_KEYSPACE", &self.env.store.keyspace)
            .output()
            .context("running vigilctl")
    }

    async fn stop(self) -> anyhow::Result<()> {
        self.stop.cancel();
        self.server.await?
    }
}

fn json(output: Output) -> anyhow::Result<serde_json::Value> {
    let stdout = succeeded(output)?;
    serde_json::from_str(&stdout).with_context(|| format!("not JSON: {stdout}"))
}

#[tokio::test(flavor = "multi_thread")]
async fn a_refusal_reads_as_words_and_the_servers_message() -> anyhow::Result<()> {
    let api = Api::start("ctl_refusal").await?;
    let communes = api.communes();
    let token = api.token(Role::CommunePolice, &communes[0]).await?;

    let output = api.vigilctl(&token, &["events", "--zone", &communes[1]])?;

    assert!(!output.status.success());
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(
        stderr.trim(),
        format!(
            "error: permission denied: zone {} is outside this token's scope ({})",
            communes[1], communes[0]
        )
    );
    api.stop().await
}

#[tokio::test(flavor = "multi_thread")]
async fn enumerations_print_as_words() -> anyhow::Result<()> {
    let api = Api::start("ctl_words").await?;
    let captain_zone = api
        .registry
        .cameras()
        .next()
        .context("a camera")?
        .zone_id
        .clone();
    let operator = api.token(Role::ProvinceOperator, "th").await?;
    let captain = api.token(Role::TeamCaptain, &captain_zone).await?;

    let me = json(api.vigilctl(&captain, &["whoami", "--json"])?)?;
    assert_eq!(me[0]["role"], "team-captain", "{me}");
    let table = succeeded(api.vigilctl(&captain, &["whoami"])?)?;
    assert!(table.contains("team-captain"), "{table}");

    let zones = json(api.vigilctl(&operator, &["zones", "--parent", "th", "--json"])?)?;
    let kinds: Vec<&str> = zones
        .as_array()
        .context("a list")?
        .iter()
        .filter_map(|z| z["kind"].as_str())
        .collect();
    assert_eq!(kinds.len(), 166, "{zones}");
    assert!(
        kinds.iter().all(|k| ["commune", "ward"].contains(k)),
        "{kinds:?}"
    );

    let team = json(api.vigilctl(&operator, &["team", "--zone", &captain_zone, "--json"])?)?;
    assert_eq!(team[0]["role"], "captain", "{team}");

    // `token` works on the database: the same words, and --json.
    let issued = json(api.vigilctl(
        &operator,
        &[
            "token",
            "issue",
            "--name",
            "desk-2",
            "--role",
            "team-captain",
            "--zone",
            &captain_zone,
            "--console",
            "--json",
        ],
    )?)?;
    assert_eq!(issued["role"], "team-captain", "{issued}");
    // A console token lives one shift.
    let expires: chrono::DateTime<chrono::Utc> =
        serde_json::from_value(issued["expires_at"].clone()).context("--console sets an expiry")?;
    let left = expires - chrono::Utc::now();
    assert!(
        left > chrono::Duration::hours(11) && left <= chrono::Duration::hours(12),
        "{issued}"
    );
    assert!(
        issued["token"]
            .as_str()
            .is_some_and(|t| t.starts_with("vgl_")),
        "{issued}"
    );
    let listed = json(api.vigilctl(&operator, &["token", "list", "--json"])?)?;
    let desk = listed
        .as_array()
        .context("a list")?
        .iter()
        .find(|t| t["name"] == "desk-2")
        .context("the issued token is listed")?;
    assert_eq!(desk["role"], "team-captain");
    assert_eq!(desk["state"], "active");
    assert!(
        desk.get("token").is_none(),
        "a listed token shows no secret"
    );
    let lines = succeeded(api.vigilctl(&operator, &["token", "list"])?)?;
    assert!(
        lines.contains("team-captain") && !lines.contains("ROLE_"),
        "{lines}"
    );

    let refused = api.vigilctl(
        &operator,
        &[
            "token",
            "issue",
            "--name",
            "desk-3",
            "--role",
            "team-captain",
            "--zone",
            "th",
        ],
    )?;
    let stderr = String::from_utf8_lossy(&refused.stderr);
    assert!(
        stderr.contains("a team-captain token needs a village-level zone; th is province-level"),
        "{stderr}"
    );
    api.stop().await
}

#[tokio::test(flavor = "multi_thread")]
async fn the_audit_log_reads_as_written_and_as_fields() -> anyhow::Result<()> {
    let api = Api::start("ctl_audit").await?;
    let operator = api.token(Role::ProvinceOperator, "th").await?;
    let auditor = api.token(Role::Auditor, "th").await?;
    succeeded(api.vigilctl(
        &operator,
        &[
            "watchlist",
            "add",
            "36B-123.45",
            "--reason",
            "stolen car",
            "--priority",
            "2",
            "--expires",
            "2099-12-04T01:14:00+07:00",
            "--province-wide",
        ],
    )?)?;

    let table = succeeded(api.vigilctl(&auditor, &["audit"])?)?;
    assert!(
        table.contains("plate=36B-123.45 priority=2 expires=2099-12-04 01:14 +07"),
        "{table}"
    );
    assert!(!table.contains("Some("), "no Rust Debug text: {table}");

    let entries = json(api.vigilctl(&auditor, &["audit", "--json"])?)?;
    let added = &entries[0];
    assert_eq!(added["action"], "AddWatchlistEntry", "{entries}");
    assert_eq!(added["role"], "province-operator", "{added}");
    assert_eq!(added["query"]["plate"], "36B-123.45", "{added}");
    assert_eq!(added["query"]["priority"], "2", "{added}");
    assert_eq!(added["query"]["expires"], "2099-12-04 01:14 +07", "{added}");
    assert_eq!(added["query"]["province_wide"], "true", "{added}");
    api.stop().await
}

#[tokio::test(flavor = "multi_thread")]
async fn an_alert_is_taken_and_closed_from_the_command_line() -> anyhow::Result<()> {
    let api = Api::start("ctl_alerts").await?;
    let commune = api.communes()[0].clone();
    let police = api.token(Role::CommunePolice, &commune).await?;
    let alert_id = uuid::Uuid::new_v4().to_string();
    let started = chrono::Utc::now() - chrono::Duration::seconds(5);
    let raised = vigil_proto::v1::Alert {
        alert_id: alert_id.clone(),
        kind: vigil_proto::v1::AlertKind::CameraOffline.into(),
        raised_at: Some(prost_types::Timestamp {
            seconds: chrono::Utc::now().timestamp() - 60,
            nanos: 0,
        }),
        priority: 2,
        commune_id: commune.clone(),
        summary: "camera went silent".into(),
        ..vigil_proto::v1::Alert::default()
    };
    vigil_store::AlertStore::prepare(&api.env.keyspace)
        .await?
        .raise(&raised, &vigil_alerting::Actor::system("vigil-writer"))
        .await?;

    let acked = succeeded(api.vigilctl(
        &police,
        &["alerts", "ack", &alert_id, "--note", "on my way"],
    )?)?;
    assert!(
        acked.contains("acknowledged") && acked.contains("camera_offline"),
        "{acked}"
    );
    let closed = succeeded(api.vigilctl(
        &police,
        &[
            "alerts",
            "close",
            &alert_id,
            "--outcome",
            "confirmed",
            "--note",
            "cable cut",
        ],
    )?)?;
    assert!(
        closed.contains("closed") && closed.contains("confirmed"),
        "{closed}"
    );

    let again = api.vigilctl(
        &police,
        &["alerts", "close", &alert_id, "--outcome", "no_action"],
    )?;
    assert!(!again.status.success());
    let stderr = String::from_utf8_lossy(&again.stderr);
    assert!(
        stderr.contains("already closed (confirmed) by test at "),
        "{stderr}"
    );
    let unknown = api.vigilctl(
        &police,
        &["alerts", "close", &alert_id, "--outcome", "maybe"],
    )?;
    let stderr = String::from_utf8_lossy(&unknown.stderr);
    assert!(
        stderr.contains("expected confirmed, false_positive, no_action or duplicate"),
        "{stderr}"
    );

    let shown = succeeded(api.vigilctl(&police, &["alerts", "show", &alert_id])?)?;
    for step in ["raise", "acknowledge", "close", "confirmed: cable cut"] {
        assert!(shown.contains(step), "{step}: {shown}");
    }
    let listed = json(api.vigilctl(&police, &["alerts", "list", "--state", "closed", "--json"])?)?;
    assert_eq!(listed.as_array().map(Vec::len), Some(1), "{listed}");
    assert_eq!(listed[0]["alert"], alert_id.as_str(), "{listed}");
    assert_eq!(listed[0]["outcome"], "confirmed", "{listed}");

    // Live streams saw both moves, as state changes of the alert.
    let from = started.to_rfc3339();
    let followed = succeeded(api.vigilctl(
        &police,
        &[
            "alerts",
            "--from",
            &from,
            "--limit",
            "2",
            "--duration",
            "60s",
            "--json",
        ],
    )?)?;
    let states: Vec<(String, String)> = followed
        .lines()
        .map(|line| {
            let row: serde_json::Value = serde_json::from_str(line).expect("a JSON line");
            (
                row["alert"].as_str().unwrap_or_default().to_owned(),
                row["state"].as_str().unwrap_or_default().to_owned(),
            )
        })
        .collect();
    assert_eq!(
        states,
        [
            (alert_id.clone(), "acknowledged".to_owned()),
            (alert_id.clone(), "closed".to_owned())
        ],
        "{followed}"
    );

    // How the commune's alerts were taken.
    let stats = json(api.vigilctl(&police, &["alerts", "stats", "--since", "1h", "--json"])?)?;
    let total = &stats[stats.as_array().map_or(0, Vec::len) - 1];
    assert_eq!(total["commune"], "(total)", "{stats}");
    assert_eq!(
        (&total["raised"], &total["acked"], &total["confirmed"]),
        (&"1".into(), &"1".into(), &"1".into()),
        "{stats}"
    );
    api.stop().await
}
