//! `vigilctl registry`: seed a synthetic province, import and export a real
//! one, and look things up. Every change is written to Kafka's compacted
//! registry topic first (the source of truth services follow) and then to
//! the database; only records that differ from the database are written.

mod boundaries;
pub mod file;
pub mod records;
mod seed;
mod show;

use std::collections::BTreeMap;
use std::path::PathBuf;

use anyhow::{Context, bail};
use futures::{StreamExt, TryStreamExt};
use vigil_bus::KafkaArgs;
use vigil_bus::registry::RegistryPublisher;
use vigil_domain::registry::RegistryCounts;
use vigil_domain::{Registry, RegistryEntity, Team};
use vigil_store::{RegistryStore, StoreArgs};

use file::{Format, Kind, LocatedRecords, Location};
use records::RegistryDocument;
use show::{CountsView, View};

/// How many database writes run at once.
const WRITE_CONCURRENCY: usize = 128;
/// How many problems an import lists before summarising.
const ERRORS_SHOWN: usize = 20;

#[derive(Debug, clap::Args)]
pub struct RegistryArgs {
    #[command(flatten)]
    kafka: KafkaArgs,
    #[command(flatten)]
    store: StoreArgs,
    #[command(subcommand)]
    command: RegistryCommand,
}

#[derive(Debug, clap::Subcommand)]
enum RegistryCommand {
    /// Generate a synthetic Thanh Hoa-like province (deterministic by seed).
    Seed {
        /// How many cameras to place.
        #[arg(long, default_value_t = 10_000, value_parser = vigil_runtime::flags::count::<usize>)]
        cameras: usize,
        /// Random seed; the same seed always yields the same province.
        #[arg(long, default_value_t = 36)]
        seed: u64,
        /// Only seed when the registry is empty.
        #[arg(long, conflicts_with = "replace")]
        if_empty: bool,
        /// Replace the synthetic province an earlier seed wrote with this
        /// one (its records nobody edited since are removed); imported
        /// records are never touched.
        #[arg(long)]
        replace: bool,
    },
    /// Load zones, members, cameras or watchlist entries from a CSV or JSON
    /// file, or zone outlines from a GeoJSON FeatureCollection (one Feature
    /// per zone, `properties.zone_id` naming it). Nothing is applied unless
    /// every record is valid.
    Import {
        file: PathBuf,
        /// File format; by default taken from the extension.
        #[arg(long, value_enum)]
        format: Option<Format>,
    },
    /// Write the registry as JSON (everything), CSV (one kind) or GeoJSON
    /// (the zones' outlines).
    Export {
        #[arg(long, value_enum, default_value = "json")]
        format: Format,
        /// Which records to write (required for CSV).
        #[arg(long, value_enum)]
        kind: Option<Kind>,
        /// Output file; standard output if omitted.
        #[arg(long, short)]
        output: Option<PathBuf>,
    },
    /// Counts per level, or one camera, zone or team in detail.
    Show {
        #[arg(long, conflicts_with_all = ["zone", "team"])]
        camera: Option<String>,
        #[arg(long, conflicts_with = "team")]
        zone: Option<String>,
        #[arg(long)]
        team: Option<String>,
        /// Print JSON instead of lines.
        #[arg(long)]
        json: bool,
    },
}

/// The database and topic a registry command works on.
struct Target {
    store: RegistryStore,
    publisher: RegistryPublisher,
}

impl Target {
    async fn connect(kafka: &KafkaArgs, store: &StoreArgs) -> anyhow::Result<Self> {
        let keyspace = store.keyspace().await?;
        Ok(Self {
            store: RegistryStore::prepare(&keyspace).await.with_context(|| {
                format!(
                    "preparing keyspace {} (run `vigilctl setup` first)",
                    store.keyspace
                )
            })?,
            publisher: RegistryPublisher::new(kafka)?,
        })
    }
}

/// What an apply did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Applied {
    written: usize,
    unchanged: usize,
}

pub async fn run(args: RegistryArgs) -> anyhow::Result<()> {
    let target = Target::connect(&args.kafka, &args.store).await?;
    match args.command {
        RegistryCommand::Seed {
            cameras,
            seed,
            if_empty,
            replace,
        } => {
            let request = seed::SeedRequest {
                cameras,
                seed,
                if_empty,
                replace,
            };
            seed::run(&target, request).await?;
        }
        RegistryCommand::Import { file, format } => {
            let format = format.map_or_else(|| Format::of(&file), Ok)?;
            let mut current = target.store.load().await?;
            let entities = match format {
                Format::Geojson => boundaries::read(&file, &current)?,
                _ => validate(file::read(&file, format)?, &current)?,
            };
            let applied = apply(&target, &mut current, entities).await?;
            println!(
                "imported {}: {} records written, {} unchanged",
                file.display(),
                applied.written,
                applied.unchanged
            );
        }
        RegistryCommand::Export {
            format,
            kind,
            output,
        } => {
            let registry = target.store.load().await?;
            let document = RegistryDocument::from_registry(&registry);
            match output {
                Some(path) => {
                    let out = std::fs::File::create(&path)
                        .with_context(|| format!("creating {}", path.display()))?;
                    file::write(std::io::BufWriter::new(out), &document, format, kind)?;
                }
                None => file::write(std::io::stdout().lock(), &document, format, kind)?,
            }
        }
        RegistryCommand::Show {
            camera,
            zone,
            team,
            json,
        } => {
            let registry = target.store.load().await?;
            let view = match (camera, zone, team) {
                (Some(id), _, _) => View::camera(&registry, &id)?,
                (_, Some(id), _) => View::zone(&registry, &id)?,
                (_, _, Some(id)) => View::team(&registry, &id)?,
                _ => View::Counts(registry.counts().into()),
            };
            view.print(json)?;
        }
    }
    Ok(())
}

/// Writes every entity that differs from `current`: to the registry topic
/// first (in order), then to the database; updates `current`.
async fn apply(
    target: &Target,
    current: &mut Registry,
    entities: Vec<RegistryEntity>,
) -> anyhow::Result<Applied> {
    let total = entities.len();
    let changed: Vec<RegistryEntity> = entities
        .into_iter()
        .filter(|e| current.upsert(e.clone()))
        .collect();
    target.publisher.publish(changed.iter().cloned()).await?;
    futures::stream::iter(changed.iter().map(|entity| target.store.upsert(entity)))
        .buffer_unordered(WRITE_CONCURRENCY)
        .try_collect::<()>()
        .await?;
    Ok(Applied {
        written: changed.len(),
        unchanged: total - changed.len(),
    })
}

/// Turns located records into entities, or lists every problem (bad field,
/// broken reference, a team's rows disagreeing) with its location.
fn validate(records: LocatedRecords, current: &Registry) -> anyhow::Result<Vec<RegistryEntity>> {
    let mut errors = Vec::new();

    let mut zones = Vec::new();
    let mut zone_locations = BTreeMap::new();
    for (location, record) in &records.zones {
        if let Some(mut zone) = located(&mut errors, location, record.to_zone()) {
            if zone.boundary.is_none() {
                zone.boundary = current.zone(&zone.id).and_then(|z| z.boundary.clone());
            }
            zone_locations.insert(format!("zone/{}", zone.id), location.clone());
            zones.push(zone);
        }
    }
    let mut teams: BTreeMap<String, (Location, Team)> = BTreeMap::new();
    for (location, record) in &records.members {
        let (Some(team), Some(member)) = (
            located(&mut errors, location, record.to_team()),
            located(&mut errors, location, record.to_member()),
        ) else {
            continue;
        };
        let (_, entry) = teams
            .entry(team.id.clone())
            .or_insert_with(|| (location.clone(), team.clone()));
        if entry.zone_id != team.zone_id || entry.name != team.name {
            located::<()>(
                &mut errors,
                location,
                Err(records::FieldError {
                    field: "team_name",
                    problem: format!(
                        "team {} has another name or zone on an earlier line",
                        team.id
                    ),
                }),
            );
        }
        entry.members.push(member);
    }
    let mut entities = Vec::new();
    let mut locations = BTreeMap::new();
    for (location, record) in &records.cameras {
        if let Some(camera) = located(&mut errors, location, record.to_camera()) {
            entities.push((location.clone(), RegistryEntity::Camera(camera)));
        }
    }
    for (location, record) in &records.watchlist {
        if let Some(entry) = located(&mut errors, location, record.to_entry()) {
            entities.push((location.clone(), RegistryEntity::Watchlist(entry)));
        }
    }

    for id in records::assign_paths(&mut zones, current) {
        let location = zone_locations.get(&format!("zone/{id}")).cloned();
        errors.push(format!(
            "{}: field parent_id: zone {id} has no chain of parents up to the province",
            location.map(|l| l.to_string()).unwrap_or_default()
        ));
    }
    let mut all: Vec<(Location, RegistryEntity)> = zones
        .into_iter()
        .map(|z| {
            (
                zone_locations[&format!("zone/{}", z.id)].clone(),
                RegistryEntity::Zone(z),
            )
        })
        .collect();
    all.extend(
        teams
            .into_values()
            .map(|(l, t)| (l, RegistryEntity::Team(t))),
    );
    all.extend(entities);

    let mut merged = current.clone();
    for (location, entity) in &all {
        locations.insert(entity.key(), location.clone());
        merged.upsert(entity.clone());
    }
    for problem in merged.integrity_errors() {
        if let Some(location) = locations.get(&problem.key) {
            errors.push(format!("{location}: {problem}"));
        }
    }
    if !errors.is_empty() {
        bail!(report_errors(&errors, "nothing was imported"));
    }
    Ok(all.into_iter().map(|(_, entity)| entity).collect())
}

/// The value, or `None` with the problem recorded against its location.
fn located<T>(
    errors: &mut Vec<String>,
    location: &Location,
    result: Result<T, records::FieldError>,
) -> Option<T> {
    result
        .map_err(|e| errors.push(format!("{location}: field {}: {}", e.field, e.problem)))
        .ok()
}

/// The first problems, how many there are in all, and `outcome`.
fn report_errors(errors: &[String], outcome: &str) -> String {
    let mut report: Vec<String> = errors.iter().take(ERRORS_SHOWN).cloned().collect();
    if errors.len() > ERRORS_SHOWN {
        report.push(format!("... and {} more", errors.len() - ERRORS_SHOWN));
    }
    report.push(format!("{} problem(s); {outcome}", errors.len()));
    report.join("\n")
}

fn print_counts(counts: &RegistryCounts) {
    for line in CountsView::from(*counts).lines() {
        println!("{line}");
    }
}
