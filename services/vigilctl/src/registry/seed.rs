//! `vigilctl registry seed`: writes a synthetic province, and replaces the
//! one an earlier seed wrote without mixing the two. The seed and camera
//! count of the province last written are recorded, so its records can be
//! generated again: a record still equal to its generated form is
//! synthetic, anything else (imported, or edited since) is left alone.

use std::time::Instant;

use anyhow::bail;
use futures::{StreamExt, TryStreamExt};
use vigil_domain::{Registry, RegistryEntity};
use vigil_store::SyntheticProvince;
use vigil_synth::ProvinceSpec;

use super::{Target, WRITE_CONCURRENCY, apply, print_counts, report_errors};

/// What seeding a province over the registry changes.
#[derive(Debug, Default)]
struct SeedPlan {
    /// New or replaced records, parents first.
    write: Vec<RegistryEntity>,
    /// Records of the earlier synthetic province the new one lacks,
    /// children first.
    remove: Vec<RegistryEntity>,
    /// Records already as the new province has them.
    unchanged: usize,
    /// Keys of records left alone because they are not synthetic: imported,
    /// or edited after an earlier seed.
    kept: Vec<String>,
}

/// The record of `like`'s kind and id in `registry`.
fn find(registry: &Registry, like: &RegistryEntity) -> Option<RegistryEntity> {
    match like {
        RegistryEntity::Zone(z) => registry.zone(&z.id).cloned().map(RegistryEntity::Zone),
        RegistryEntity::Team(t) => registry.team(&t.id).cloned().map(RegistryEntity::Team),
        RegistryEntity::Camera(c) => registry.camera(&c.id).cloned().map(RegistryEntity::Camera),
        RegistryEntity::Watchlist(w) => registry
            .watchlist_entry(&w.id)
            .cloned()
            .map(RegistryEntity::Watchlist),
    }
}

/// Plans seeding `next` over `current`, where `previous` is the synthetic
/// province an earlier seed wrote (`None` when there was none). A record of
/// `current` is replaced or removed only while it equals its form in
/// `previous`.
fn plan(current: &Registry, previous: Option<&Registry>, next: &Registry) -> SeedPlan {
    let synthetic = |record: &RegistryEntity| {
        previous.is_some_and(|p| find(p, record).as_ref() == Some(record))
    };
    let mut plan = SeedPlan::default();
    for record in next.entities() {
        match find(current, &record) {
            None => plan.write.push(record),
            Some(held) if held == record => plan.unchanged += 1,
            Some(held) if synthetic(&held) => plan.write.push(record),
            Some(held) => plan.kept.push(held.key()),
        }
    }
    if let Some(previous) = previous {
        let gone: Vec<RegistryEntity> = previous
            .entities()
            .filter(|record| find(next, record).is_none())
            .collect();
        for record in gone.into_iter().rev() {
            match find(current, &record) {
                Some(held) if held == record => plan.remove.push(record),
                Some(held) => plan.kept.push(held.key()),
                None => {}
            }
        }
    }
    plan
}

/// The registry as `plan` leaves it.
fn planned(current: &Registry, plan: &SeedPlan) -> Registry {
    let mut after = current.clone();
    for record in &plan.write {
        after.upsert(record.clone());
    }
    for record in &plan.remove {
        after.remove(&record.key());
    }
    after
}

/// `seed N, M cameras`.
fn describe(province: SyntheticProvince) -> String {
    format!("seed {}, {} cameras", province.seed, province.cameras)
}

/// What `registry seed` was asked for.
#[derive(Debug)]
pub(super) struct SeedRequest {
    pub cameras: usize,
    pub seed: u64,
    pub if_empty: bool,
    pub replace: bool,
}

pub(super) async fn run(target: &Target, request: SeedRequest) -> anyhow::Result<()> {
    let started = Instant::now();
    let mut current = target.store.load().await?;
    let zones = current.zones().len();
    if request.if_empty && zones > 0 {
        println!("registry already holds {zones} zones; not seeding");
        return Ok(());
    }
    let wanted = SyntheticProvince {
        seed: request.seed,
        cameras: u64::try_from(request.cameras)?,
    };
    let recorded = target.store.synthetic_province().await?;
    let previous = match recorded {
        Some(recorded) if recorded == wanted || request.replace => Some(recorded),
        Some(recorded) => bail!(
            "the registry already holds a synthetic province ({}); pass --replace to \
             replace it with {} (imported records are kept)",
            describe(recorded),
            describe(wanted)
        ),
        None if zones > 0 => bail!(
            "the registry holds {zones} zones but no province written by `registry seed` \
             (they were imported, or seeded by a vigilctl that did not record its seed); \
             seeding would mix two provinces, so nothing was written. Seed into an empty \
             keyspace instead"
        ),
        None => None,
    };
    let spec = |p: SyntheticProvince| -> anyhow::Result<ProvinceSpec> {
        Ok(ProvinceSpec {
            cameras: usize::try_from(p.cameras)?,
            seed: p.seed,
        })
    };
    let next = vigil_synth::province(&spec(wanted)?);
    let previous_province = previous
        .map(|p| spec(p).map(|s| vigil_synth::province(&s)))
        .transpose()?;
    let plan = plan(&current, previous_province.as_ref(), &next);

    let broken_before = current.integrity_errors();
    let broken: Vec<String> = planned(&current, &plan)
        .integrity_errors()
        .into_iter()
        .filter(|e| !broken_before.contains(e))
        .map(|e| e.to_string())
        .collect();
    if !broken.is_empty() {
        bail!(report_errors(
            &broken,
            "records would lose a zone they refer to; nothing was seeded"
        ));
    }

    let applied = apply(target, &mut current, plan.write).await?;
    // Tombstones first, so the topic (what services follow) never keeps a
    // record the database has lost; then the rows.
    futures::stream::iter(plan.remove.iter().map(|record| {
        let key = record.key();
        async move { target.publisher.retract(&key).await }
    }))
    .buffered(WRITE_CONCURRENCY)
    .try_collect::<()>()
    .await?;
    futures::stream::iter(plan.remove.iter().map(|r| target.store.delete(r)))
        .buffer_unordered(WRITE_CONCURRENCY)
        .try_collect::<()>()
        .await?;
    for record in &plan.remove {
        current.remove(&record.key());
    }
    target.store.record_synthetic_province(wanted).await?;

    print_counts(&current.counts());
    match previous {
        Some(previous) if previous != wanted => println!(
            "replaced the synthetic province ({}) with {} in {:.1?}: {} records written, \
             {} removed, {} unchanged",
            describe(previous),
            describe(wanted),
            started.elapsed(),
            applied.written,
            plan.remove.len(),
            plan.unchanged
        ),
        _ => println!(
            "seeded in {:.1?}: {} records written, {} unchanged",
            started.elapsed(),
            applied.written,
            plan.unchanged
        ),
    }
    if !plan.kept.is_empty() {
        println!(
            "kept {} imported or edited records (e.g. {})",
            plan.kept.len(),
            plan.kept[0]
        );
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use chrono::NaiveDate;
    use vigil_domain::{Camera, CameraKind, CameraOwner, GeoPoint};

    use super::*;

    fn province(seed: u64) -> Registry {
        vigil_synth::province(&ProvinceSpec { cameras: 50, seed })
    }

    fn camera(id: &str, zone_id: &str) -> RegistryEntity {
        RegistryEntity::Camera(Camera {
            id: id.into(),
            zone_id: zone_id.into(),
            site_id: None,
            position: GeoPoint {
                latitude: 19.8,
                longitude: 105.7,
            },
            kind: CameraKind::Fixed,
            owner: CameraOwner::Police,
            installed_on: NaiveDate::from_ymd_opt(2024, 1, 2).unwrap(),
        })
    }

    #[test]
    fn a_first_seed_writes_everything() {
        let next = province(1);
        let plan = plan(&Registry::default(), None, &next);
        assert_eq!(plan.write.len(), next.entities().count());
        assert!(plan.remove.is_empty() && plan.kept.is_empty());
    }

    #[test]
    fn replacing_leaves_exactly_the_new_province_and_the_imported_records() {
        let (old, new) = (province(1), province(2));
        let mut current = old.clone();
        let village = "th.ba-thuoc.v001";
        assert!(old.zone(village).is_some() && new.zone(village).is_some());
        current.upsert(camera("cam-imported", village));

        let plan = plan(&current, Some(&old), &new);
        let after = planned(&current, &plan);

        let mut expected = new.clone();
        expected.upsert(camera("cam-imported", village));
        assert_eq!(after, expected);
        assert!(plan.kept.is_empty(), "{:?}", plan.kept);
        // Children go before their parents.
        let first_zone = plan
            .remove
            .iter()
            .position(|r| matches!(r, RegistryEntity::Zone(_)));
        let last_other = plan
            .remove
            .iter()
            .rposition(|r| !matches!(r, RegistryEntity::Zone(_)));
        assert!(first_zone > last_other, "{first_zone:?} {last_other:?}");
    }

    #[test]
    fn edited_records_are_neither_replaced_nor_removed() {
        let (old, new) = (province(1), province(2));
        let mut current = old.clone();
        // An operator moved a seeded camera: it is theirs now.
        let moved = camera("cam-000001", "th.ba-thuoc.v001");
        current.upsert(moved.clone());
        let gone = old
            .zones()
            .find(|z| new.zone(&z.id).is_none())
            .expect("a zone only the old province has")
            .clone();
        let mut renamed = gone.clone();
        renamed.name = "Thon Moi".into();
        current.upsert(RegistryEntity::Zone(renamed.clone()));

        let plan = plan(&current, Some(&old), &new);
        let after = planned(&current, &plan);

        assert_eq!(find(&after, &moved), Some(moved));
        assert_eq!(after.zone(&gone.id), Some(&renamed));
        assert!(plan.kept.contains(&"camera/cam-000001".to_owned()));
        assert!(plan.kept.contains(&format!("zone/{}", gone.id)));
    }

    #[test]
    fn seeding_the_same_province_again_changes_nothing() {
        let old = province(1);
        let plan = plan(&old, Some(&old), &old);
        assert_eq!(plan.unchanged, old.entities().count());
        assert!(plan.write.is_empty() && plan.remove.is_empty());
    }
}
