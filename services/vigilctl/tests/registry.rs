//! The registry against the real stack, driven through the `vigilctl`
//! binary as an operator would.

use std::process::{Command, Output};
use std::time::Instant;

use anyhow::{Context, ensure};
use tokio_util::sync::CancellationToken;
use vigil_store::RegistryStore;
use vigil_testkit::{PATIENCE, TestEnv, succeeded};

const CAMERAS: usize = 2_000;

/// Runs `vigilctl registry <args>` against the test's topics and keyspace.
fn vigilctl(env: &TestEnv, args: &[&str]) -> anyhow::Result<Output> {
    let output = Command::new(env!("CARGO_BIN_EXE_vigilctl"))
        .arg("registry")
        .args([
            "--topic-prefix",
            &env.kafka.topic_prefix,
            "--keyspace",
            &env.store.keyspace,
        ])
        .args(args)
        .output()
        .context("running vigilctl")?;
    Ok(output)
}

async fn seeded(tag: &str) -> anyhow::Result<(TestEnv, RegistryStore)> {
    let env = TestEnv::new(tag).await?;
    succeeded(vigilctl(
        &env,
        &["seed", "--cameras", &CAMERAS.to_string(), "--seed", "5"],
    )?)?;
    let store = RegistryStore::prepare(&env.keyspace).await?;
    Ok((env, store))
}

#[tokio::test]
async fn seeding_creates_the_province_exactly_once() -> anyhow::Result<()> {
    let (env, store) = seeded("seed").await?;
    let counts = store.load().await?.counts();
    assert_eq!(
        (
            counts.provinces,
            counts.communes,
            counts.villages,
            counts.teams,
            counts.members,
            counts.cameras
        ),
        (1, 166, 4_351, 4_351, 13_053, CAMERAS)
    );

    let again = succeeded(vigilctl(
        &env,
        &["seed", "--cameras", &CAMERAS.to_string(), "--seed", "5"],
    )?)?;
    assert!(again.contains(" 0 records written"), "{again}");
    assert_eq!(store.load().await?.counts(), counts);
    Ok(())
}

#[tokio::test]
async fn a_moved_camera_reaches_registry_followers() -> anyhow::Result<()> {
    let (env, store) = seeded("follow").await?;
    let shutdown = CancellationToken::new();
    let (registry, follower) = vigil_bus::registry::follow(&env.kafka, shutdown.clone()).await?;
    let before = registry
        .read()
        .unwrap()
        .camera("cam-000001")
        .cloned()
        .context("seeded camera")?;
    let stored = store.load().await?.counts();
    assert_eq!(registry.read().unwrap().counts(), stored);

    let target_village = store
        .load()
        .await?
        .zones()
        .find(|z| {
            z.id.ends_with(".v002") && z.id != before.zone_id && !before.zone_id.starts_with(&z.id)
        })
        .map(|z| z.id.clone())
        .context("another village")?;
    let csv = tempfile(&format!(
        "camera_id,zone_id,site_id,latitude,longitude,kind,owner,installed_on\n\
         cam-000001,{target_village},site-moved,19.9,105.6,ptz,commune,2023-04-05\n"
    ))?;
    succeeded(vigilctl(&env, &["import", csv.to_str().unwrap()])?)?;

    let started = Instant::now();
    loop {
        let zone = registry
            .read()
            .unwrap()
            .camera("cam-000001")
            .map(|c| c.zone_id.clone());
        if zone.as_deref() == Some(target_village.as_str()) {
            break;
        }
        ensure!(
            started.elapsed() < PATIENCE,
            "the move never reached the follower (zone {zone:?})"
        );
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    shutdown.cancel();
    follower.await?;
    Ok(())
}

#[tokio::test]
async fn an_import_with_one_bad_row_changes_nothing() -> anyhow::Result<()> {
    let (env, store) = seeded("import").await?;
    let before = store.load().await?;
    let village = before.cameras().next().context("a camera")?.zone_id.clone();
    let csv = tempfile(&format!(
        "camera_id,zone_id,site_id,latitude,longitude,kind,owner,installed_on\n\
         cam-new-1,{village},site-x,19.9,105.6,fixed,police,2024-01-02\n\
         cam-new-2,{village},site-x,19.9,105.6,banana,police,2024-01-02\n\
         cam-new-3,{village},site-x,19.9,105.6,ptz,household,2024-01-02\n"
    ))?;

    let output = vigilctl(&env, &["import", csv.to_str().unwrap()])?;

    assert!(!output.status.success());
    let stderr = String::from_utf8_lossy(&output.stderr);
    let path = csv.display().to_string();
    assert!(
        stderr.contains(&format!("{path}: line 3: field kind")),
        "{stderr}"
    );
    assert!(stderr.contains("nothing was imported"), "{stderr}");
    assert_eq!(store.load().await?, before);
    Ok(())
}

#[tokio::test]
async fn another_seed_replaces_the_synthetic_province_and_keeps_imported_records()
-> anyhow::Result<()> {
    let (env, store) = seeded("reseed").await?;
    // Ba Thuoc is a named commune, so its first village exists for every seed.
    let csv = tempfile(
        "camera_id,zone_id,site_id,latitude,longitude,kind,owner,installed_on\n\
         cam-imported-1,th.ba-thuoc.v001,site-x,20.3,105.2,fixed,police,2024-01-02\n",
    )?;
    succeeded(vigilctl(&env, &["import", csv.to_str().unwrap()])?)?;
    let before = store.load().await?;
    let seed_7 = ["seed", "--cameras", &CAMERAS.to_string(), "--seed", "7"];

    let refused = vigilctl(&env, &seed_7)?;
    assert!(!refused.status.success());
    let stderr = String::from_utf8_lossy(&refused.stderr);
    assert!(
        stderr.contains("already holds a synthetic province (seed 5, 2000 cameras)")
            && stderr.contains("--replace"),
        "{stderr}"
    );
    assert_eq!(store.load().await?, before);

    let replaced = succeeded(vigilctl(&env, &[&seed_7[..], &["--replace"]].concat())?)?;
    assert!(
        replaced.contains("replaced the synthetic province (seed 5, 2000 cameras) with seed 7"),
        "{replaced}"
    );
    let after = store.load().await?;
    let counts = after.counts();
    assert_eq!(
        (
            counts.provinces,
            counts.communes,
            counts.villages,
            counts.teams,
            counts.members,
            counts.cameras
        ),
        (1, 166, 4_351, 4_351, 13_053, CAMERAS + 1)
    );
    let mut expected = vigil_synth::province(&vigil_synth::ProvinceSpec {
        cameras: CAMERAS,
        seed: 7,
    });
    expected.upsert(vigil_domain::RegistryEntity::Camera(
        before.camera("cam-imported-1").context("imported")?.clone(),
    ));
    assert_eq!(after, expected);

    // The topic says the same: the old province's records are tombstoned.
    let shutdown = CancellationToken::new();
    let (followed, follower) = vigil_bus::registry::follow(&env.kafka, shutdown.clone()).await?;
    assert_eq!(*followed.read().unwrap(), expected);
    shutdown.cancel();
    follower.await?;
    Ok(())
}

#[tokio::test]
async fn seeding_over_an_imported_province_is_refused() -> anyhow::Result<()> {
    let env = TestEnv::new("seed_imported").await?;
    let csv = tempfile(
        "zone_id,kind,name,parent_id,police_unit\n\
         th,province,Thanh Hoa,,\n\
         th.a,commune,A,th,\n\
         th.a.v1,village,Thon 1,th.a,\n",
    )?;
    succeeded(vigilctl(&env, &["import", csv.to_str().unwrap()])?)?;

    let refused = vigilctl(&env, &["seed", "--cameras", "10"])?;

    assert!(!refused.status.success());
    let stderr = String::from_utf8_lossy(&refused.stderr);
    assert!(stderr.contains("would mix two provinces"), "{stderr}");
    let store = RegistryStore::prepare(&env.keyspace).await?;
    assert_eq!(store.load().await?.zones().len(), 3);
    Ok(())
}

#[tokio::test]
async fn commune_outlines_import_from_geojson_with_names_as_people_write_them() -> anyhow::Result<()>
{
    let env = TestEnv::new("outlines").await?;
    let csv = tempfile(
        "zone_id,kind,name,parent_id,police_unit\n\
         th,province,Thanh Hóa,,Công an tỉnh Thanh Hóa\n\
         th.ba-thuoc,commune,Bá Thước,th,Công an xã Bá Thước\n\
         th.ba-thuoc.v001,village,Thôn Đông,th.ba-thuoc,\n",
    )?;
    succeeded(vigilctl(&env, &["import", csv.to_str().unwrap()])?)?;
    let outlines = tempfile_named(
        "communes.geojson",
        r#"{"type":"FeatureCollection","features":[
          {"type":"Feature","properties":{"zone_id":"th.ba-thuoc","name":"Bá Thước"},
           "geometry":{"type":"Polygon","coordinates":
             [[[105.1,20.3],[105.4,20.3],[105.4,20.5],[105.1,20.5],[105.1,20.3]]]}}]}"#,
    )?;
    let imported = succeeded(vigilctl(&env, &["import", outlines.to_str().unwrap()])?)?;
    ensure!(imported.contains("1 records written"), "{imported}");
    let store = RegistryStore::prepare(&env.keyspace).await?;
    let registry = store.load().await?;
    let commune = registry.zone("th.ba-thuoc").context("the commune")?;
    ensure!(commune.name == "Bá Thước", "{commune:?}");
    ensure!(
        registry.zone("th.ba-thuoc.v001").unwrap().path == ["Thanh Hóa", "Bá Thước", "Thôn Đông"]
    );
    let outline = commune.boundary.as_ref().context("an outline")?;
    ensure!(outline.contains((105.25, 20.4)) && !outline.contains((105.5, 20.4)));

    // Importing the zones again keeps the outline; exporting writes it back.
    succeeded(vigilctl(&env, &["import", csv.to_str().unwrap()])?)?;
    let exported = succeeded(vigilctl(&env, &["export", "--format", "geojson"])?)?;
    let document: serde_json::Value = serde_json::from_str(&exported)?;
    ensure!(
        document["features"][0]["properties"]["zone_id"] == "th.ba-thuoc",
        "{exported}"
    );
    ensure!(
        document["features"][0]["properties"]["name"] == "Bá Thước",
        "{exported}"
    );

    // A bad file names every bad feature and changes nothing.
    let bad = tempfile_named(
        "bad.geojson",
        r#"{"type":"FeatureCollection","features":[
          {"type":"Feature","properties":{"zone_id":"th.nowhere"},
           "geometry":{"type":"Polygon","coordinates":[[[105,20],[106,20],[106,21],[105,20]]]}},
          {"type":"Feature","properties":{"zone_id":"th.ba-thuoc"},
           "geometry":{"type":"Polygon","coordinates":[[[105,20],[106,20],[105,20]]]}}]}"#,
    )?;
    let refused = vigilctl(&env, &["import", bad.to_str().unwrap()])?;
    ensure!(!refused.status.success());
    let stderr = String::from_utf8_lossy(&refused.stderr);
    ensure!(
        stderr.contains("feature 1: zone th.nowhere is not in the registry"),
        "{stderr}"
    );
    ensure!(
        stderr.contains("feature 2 (th.ba-thuoc): a ring has 3 points"),
        "{stderr}"
    );
    ensure!(
        store.load().await? == registry,
        "a refused import changed the registry"
    );
    Ok(())
}

/// Writes `contents` to a fresh .csv file under the temporary directory.
fn tempfile(contents: &str) -> anyhow::Result<std::path::PathBuf> {
    tempfile_named("records.csv", contents)
}

/// Writes `contents` to a fresh file called `name` under the temporary
/// directory.
fn tempfile_named(name: &str, contents: &str) -> anyhow::Result<std::path::PathBuf> {
    let dir = std::env::temp_dir().join(vigil_testkit::unique_name("registry-file"));
    std::fs::create_dir_all(&dir)?;
    let path = dir.join(name);
    std::fs::write(&path, contents)?;
    Ok(path)
}
