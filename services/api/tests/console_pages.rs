//! The console's pages in a real Chromium against the real API and
//! Cassandra (issue 18): the map shows exactly the caller's cameras; an
//! events search over a window where a camera was offline says so; a plate
//! search cannot be sent without a reason and, with one, is drawn and
//! audited; every page opens without a console error or a request to
//! another origin. The map's first render over 10,000 cameras is measured.
//!
//! Needs `console/build` and Debian's chromium + chromium-driver (both from
//! deploy/local/test). `VIGIL_CONSOLE_SCREENSHOTS=docs/console` saves a
//! screenshot of each page.

mod common;

use std::path::PathBuf;
use std::time::{Duration, Instant};

use chrono::{DateTime, FixedOffset, Utc};
use common::browser::{Browser, require_console_build};
use common::{Fixture, PLATE, ts};
use serde_json::{Value, json};
use vigil_proto::v1::ListAuditRequest;
use vigil_proto::v1::audit_service_client::AuditServiceClient;

/// Longest a page may take to show what a test waits for.
const PAGE_WITHIN: Duration = Duration::from_secs(30);

/// A `datetime-local` value in Vietnam's time, as the console's inputs take.
fn local(at: DateTime<Utc>) -> String {
    let vietnam = FixedOffset::east_opt(7 * 3600).expect("UTC+7");
    at.with_timezone(&vietnam)
        .format("%Y-%m-%dT%H:%M")
        .to_string()
}

/// Sets an input's or select's value as a person would, firing its events.
const SET_VALUE: &str = "const el = document.querySelector(`[data-testid=\"${arguments[0]}\"]`);\
    el.value = arguments[1];\
    el.dispatchEvent(new Event('input', {bubbles: true}));\
    el.dispatchEvent(new Event('change', {bubbles: true}));\
    return el.value;";

/// An attribute of the first element with a test id (null when none).
const ATTRIBUTE: &str = "const el = document.querySelector(`[data-testid=\"${arguments[0]}\"]`);\
    return el ? el.getAttribute(arguments[1]) : null;";

async fn set(desk: &Browser, testid: &str, value: &str) -> anyhow::Result<()> {
    desk.testid(testid).await?;
    let set = desk
        .run(SET_VALUE, vec![json!(testid), json!(value)])
        .await?;
    anyhow::ensure!(set == json!(value), "{testid} took {set}, not {value}");
    Ok(())
}

async fn attribute(desk: &Browser, testid: &str, name: &str) -> anyhow::Result<Value> {
    desk.run(ATTRIBUTE, vec![json!(testid), json!(name)]).await
}

/// Opens a page by its navigation link and waits for its root.
async fn open(desk: &Browser, page: &str, root: &str) -> anyhow::Result<()> {
    desk.testid(&format!("nav-{page}")).await?.click().await?;
    desk.testid(root).await?;
    Ok(())
}

async fn screenshot(desk: &Browser, name: &str) -> anyhow::Result<()> {
    if let Some(folder) = std::env::var_os("VIGIL_CONSOLE_SCREENSHOTS").map(PathBuf::from) {
        desk.screenshot(&folder.join(format!("{name}.png"))).await?;
    }
    Ok(())
}

/// Waits for the map's colouring by coverage; returns the cameras drawn.
async fn map_rendered(desk: &Browser) -> anyhow::Result<u64> {
    desk.until(
        PAGE_WITHIN,
        "the map coloured by coverage",
        "const map = document.querySelector('[data-testid=\"map\"]');\
         return map && map.dataset.rendered === '1';",
        vec![],
    )
    .await?;
    let drawn = attribute(desk, "map", "data-cameras").await?;
    Ok(drawn.as_str().unwrap_or_default().parse()?)
}

async fn no_errors_nor_foreign_loads(desk: &Browser, origin: &str) -> anyhow::Result<()> {
    assert_eq!(desk.foreign_resources(origin).await?, Vec::<String>::new());
    assert_eq!(desk.console_errors().await?, Vec::<String>::new());
    Ok(())
}

#[tokio::test(flavor = "multi_thread")]
async fn every_page_answers_for_its_scope() -> anyhow::Result<()> {
    require_console_build();
    let fx = Fixture::start("console_pages").await?;
    let origin = fx.console_origin.clone();
    let in_commune = |commune: &str| {
        fx.registry
            .cameras()
            .filter(|camera| fx.registry.is_within(&camera.zone_id, commune))
            .count() as u64
    };

    // Commune A's police: the map holds exactly A's cameras.
    let police = Browser::start().await?;
    police.sign_in(&origin, &fx.tokens["police_a"]).await?;
    open(&police, "map", "map").await?;
    assert_eq!(map_rendered(&police).await?, in_commune(&fx.commune_a));

    // An events search over the outage of one of A's cameras names it.
    open(&police, "events", "events-search").await?;
    set(&police, "events-zone", &fx.commune_a).await?;
    set(&police, "events-from", &local(fx.outage.0)).await?;
    set(&police, "events-to", &local(fx.outage.1)).await?;
    set(&police, "events-camera", &fx.outage_camera).await?;
    police.testid("events-search").await?.click().await?;
    let offline = police
        .until(
            PAGE_WITHIN,
            "the coverage note of a thin result",
            "const note = document.querySelector('[data-testid=\"events-coverage\"]');\
             return note && note.dataset.offline;",
            vec![],
        )
        .await?;
    assert!(
        offline
            .as_str()
            .unwrap_or_default()
            .split(',')
            .any(|id| id == fx.outage_camera),
        "{offline} does not name {}",
        fx.outage_camera
    );
    let note = police.testid("events-coverage").await?.text().await?;
    assert!(note.contains(&fx.outage_camera), "{note}");
    screenshot(&police, "events").await?;
    no_errors_nor_foreign_loads(&police, &origin).await?;
    police.close().await?;

    // The province: every camera on the map; a plate search needs a reason.
    let operator = Browser::start().await?;
    operator.sign_in(&origin, &fx.tokens["operator"]).await?;
    open(&operator, "map", "map").await?;
    assert_eq!(
        map_rendered(&operator).await?,
        fx.registry.cameras().len() as u64
    );
    screenshot(&operator, "map").await?;

    open(&operator, "plate", "plate-search").await?;
    set(&operator, "plate-input", PLATE).await?;
    set(&operator, "plate-from", &local(fx.start)).await?;
    set(
        &operator,
        "plate-to",
        &local(fx.end + chrono::Duration::minutes(1)),
    )
    .await?;
    let search = operator.testid("plate-search").await?;
    assert!(
        !search.is_enabled().await?,
        "a plate search without a reason can be sent"
    );
    set(&operator, "plate-reason", "   ").await?;
    assert!(!search.is_enabled().await?, "a blank reason is no reason");
    let reason = "case TH-2026-118: stolen motorbike";
    set(&operator, "plate-reason", reason).await?;
    assert!(search.is_enabled().await?);
    search.click().await?;
    let sightings = fx.exact_sightings.len();
    operator
        .until(
            PAGE_WITHIN,
            "the trajectory's sightings",
            "return document.querySelectorAll('[data-testid=\"plate-sighting\"]').length >= arguments[0];",
            vec![json!(sightings)],
        )
        .await?;
    let points = attribute(&operator, "plate-path", "data-points").await?;
    assert!(
        points.as_str().unwrap_or_default().parse::<usize>()? >= 2,
        "the path is drawn through the sightings: {points}"
    );
    screenshot(&operator, "plate").await?;
    let audit = AuditServiceClient::new(fx.channel.clone())
        .list_audit(fx.request(
            "auditor",
            ListAuditRequest {
                window: Some(vigil_proto::v1::TimeWindow {
                    start: Some(ts(Utc::now() - chrono::Duration::minutes(10))),
                    end: Some(ts(Utc::now() + chrono::Duration::minutes(1))),
                }),
                action: "PlateTrajectory".into(),
                limit: 100,
                ..ListAuditRequest::default()
            },
        ))
        .await?
        .into_inner();
    assert!(
        audit
            .entries
            .iter()
            .any(|entry| entry.reason == reason && entry.actor_name == "operator"),
        "{:?}",
        audit.entries
    );

    // The other pages open, and show what they hold.
    for (page, root, shown) in [
        ("fleet", "fleet", "fleet-commune"),
        ("counts", "counts-chart", "counts-bar"),
        ("extractions", "extraction-stats", "extraction-stats"),
    ] {
        open(&operator, page, root).await?;
        operator.testid(shown).await?;
        screenshot(&operator, page).await?;
    }
    no_errors_nor_foreign_loads(&operator, &origin).await?;
    operator.close().await?;

    // The auditor reads the audit log, the plate search in it.
    let auditor = Browser::start().await?;
    auditor.sign_in(&origin, &fx.tokens["auditor"]).await?;
    open(&auditor, "audit", "audit-load").await?;
    auditor.testid("audit-load").await?.click().await?;
    auditor
        .until(
            PAGE_WITHIN,
            "the plate search in the audit log",
            "return [...document.querySelectorAll('[data-testid=\"audit-row\"]')]\
               .some(row => row.dataset.action === 'PlateTrajectory');",
            vec![],
        )
        .await?;
    screenshot(&auditor, "audit").await?;
    no_errors_nor_foreign_loads(&auditor, &origin).await?;
    auditor.close().await?;
    fx.stop().await
}

#[tokio::test(flavor = "multi_thread")]
async fn the_map_draws_ten_thousand_cameras() -> anyhow::Result<()> {
    require_console_build();
    let fx = Fixture::start_province("console_map", &[], 10_000).await?;
    let operator = Browser::start().await?;
    operator
        .sign_in(&fx.console_origin, &fx.tokens["operator"])
        .await?;
    let started = Instant::now();
    open(&operator, "map", "map").await?;
    operator
        .until(
            PAGE_WITHIN,
            "10,000 cameras drawn",
            "const map = document.querySelector('[data-testid=\"map\"]');\
             return map && map.dataset.cameras === '10000' && map.dataset.firstPaintMs;",
            vec![],
        )
        .await?;
    let first_paint = started.elapsed();
    assert_eq!(map_rendered(&operator).await?, 10_000);
    let coloured = started.elapsed();
    println!(
        "map of 10,000 cameras: first render {} ms after the click (page's own figure {} ms), \
         coloured by coverage after {} ms (page's own figure {} ms)",
        first_paint.as_millis(),
        attribute(&operator, "map", "data-first-paint-ms").await?,
        coloured.as_millis(),
        attribute(&operator, "map", "data-render-ms").await?,
    );
    no_errors_nor_foreign_loads(&operator, &fx.console_origin).await?;
    operator.close().await?;
    fx.stop().await
}
