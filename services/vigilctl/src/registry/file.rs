//! Reading and writing registry files, with every problem located by file,
//! line (CSV) or item (JSON), and field.

use std::fmt;
use std::path::{Path, PathBuf};

use anyhow::{Context, bail};
use serde::de::DeserializeOwned;

use super::records::{CameraRecord, MemberRecord, RegistryDocument, WatchlistRecord, ZoneRecord};

/// Where a record came from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Location {
    pub file: PathBuf,
    /// `line 14` for CSV, `cameras[12]` for JSON.
    pub place: String,
}

impl fmt::Display for Location {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.file.display(), self.place)
    }
}

/// Records read from a file, each with its location.
#[derive(Debug, Default)]
pub struct LocatedRecords {
    pub zones: Vec<(Location, ZoneRecord)>,
    pub members: Vec<(Location, MemberRecord)>,
    pub cameras: Vec<(Location, CameraRecord)>,
    pub watchlist: Vec<(Location, WatchlistRecord)>,
}

/// File formats.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Format {
    Csv,
    Json,
    /// Zone outlines: a FeatureCollection, one Feature per zone.
    Geojson,
}

impl Format {
    /// The format named by `path`'s extension.
    pub fn of(path: &Path) -> anyhow::Result<Self> {
        match path
            .extension()
            .and_then(|e| e.to_str())
            .map(str::to_ascii_lowercase)
            .as_deref()
        {
            Some("csv") => Ok(Self::Csv),
            Some("json") => Ok(Self::Json),
            Some("geojson") => Ok(Self::Geojson),
            _ => bail!(
                "{}: cannot tell the format from the extension; use --format csv|json|geojson",
                path.display()
            ),
        }
    }
}

/// Record kinds, for CSV files (one kind per file).
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Kind {
    Zones,
    Members,
    Cameras,
    Watchlist,
}

impl Kind {
    /// The kind whose identifying column a CSV header has.
    fn from_header(headers: &csv::StringRecord) -> Option<Self> {
        let has = |name: &str| headers.iter().any(|h| h.trim() == name);
        if has("camera_id") {
            Some(Self::Cameras)
        } else if has("member_id") {
            Some(Self::Members)
        } else if has("entry_id") {
            Some(Self::Watchlist)
        } else if has("zone_id") {
            Some(Self::Zones)
        } else {
            None
        }
    }
}

/// Reads `path` in `format`. Every unreadable record is reported, not just
/// the first.
pub fn read(path: &Path, format: Format) -> anyhow::Result<LocatedRecords> {
    match format {
        Format::Json => read_json(path),
        Format::Csv => read_csv(path),
        Format::Geojson => bail!(
            "{}: GeoJSON holds zone outlines, not records (registry::boundaries reads it)",
            path.display()
        ),
    }
}

fn read_json(path: &Path) -> anyhow::Result<LocatedRecords> {
    let file = std::fs::File::open(path).with_context(|| format!("opening {}", path.display()))?;
    let document: RegistryDocument = serde_json::from_reader(std::io::BufReader::new(file))
        .with_context(|| format!("{}: invalid registry JSON", path.display()))?;
    let at = |kind: &str, i: usize| Location {
        file: path.to_owned(),
        place: format!("{kind}[{i}]"),
    };
    fn located<T>(items: Vec<T>, at: impl Fn(usize) -> Location) -> Vec<(Location, T)> {
        items
            .into_iter()
            .enumerate()
            .map(|(i, r)| (at(i), r))
            .collect()
    }
    Ok(LocatedRecords {
        zones: located(document.zones, |i| at("zones", i)),
        members: located(document.members, |i| at("members", i)),
        cameras: located(document.cameras, |i| at("cameras", i)),
        watchlist: located(document.watchlist, |i| at("watchlist", i)),
    })
}

fn read_csv(path: &Path) -> anyhow::Result<LocatedRecords> {
    let mut reader = csv::ReaderBuilder::new()
        .trim(csv::Trim::All)
        .from_path(path)
        .with_context(|| format!("opening {}", path.display()))?;
    let headers = reader
        .headers()
        .with_context(|| format!("{}: reading the header line", path.display()))?
        .clone();
    let Some(kind) = Kind::from_header(&headers) else {
        bail!(
            "{}: line 1: the header names no known record kind (expected a zone_id, member_id, camera_id or entry_id column)",
            path.display()
        );
    };
    let mut records = LocatedRecords::default();
    let mut errors = Vec::new();
    for row in reader.records() {
        let row = row.with_context(|| format!("{}: malformed CSV", path.display()))?;
        let line = row.position().map_or(0, csv::Position::line);
        let location = Location {
            file: path.to_owned(),
            place: format!("line {line}"),
        };
        let result = match kind {
            Kind::Zones => {
                parse_row(&row, &headers).map(|r| records.zones.push((location.clone(), r)))
            }
            Kind::Members => {
                parse_row(&row, &headers).map(|r| records.members.push((location.clone(), r)))
            }
            Kind::Cameras => {
                parse_row(&row, &headers).map(|r| records.cameras.push((location.clone(), r)))
            }
            Kind::Watchlist => {
                parse_row(&row, &headers).map(|r| records.watchlist.push((location.clone(), r)))
            }
        };
        if let Err(problem) = result {
            errors.push(format!("{location}: {problem}"));
        }
    }
    if !errors.is_empty() {
        bail!(super::report_errors(&errors, "nothing was imported"));
    }
    Ok(records)
}

/// One CSV row as a record; a type error names the column.
fn parse_row<T: DeserializeOwned>(
    row: &csv::StringRecord,
    headers: &csv::StringRecord,
) -> Result<T, String> {
    row.deserialize(Some(headers)).map_err(|e| match e.kind() {
        csv::ErrorKind::Deserialize { err, .. } => {
            let field = err
                .field()
                .and_then(|i| headers.get(usize::try_from(i).ok()?))
                .unwrap_or("?");
            format!("field {field}: {}", err.kind())
        }
        _ => e.to_string(),
    })
}

/// Writes `document` as JSON, or as CSV records of `kind`.
pub fn write(
    out: impl std::io::Write,
    document: &RegistryDocument,
    format: Format,
    kind: Option<Kind>,
) -> anyhow::Result<()> {
    match (format, kind) {
        (Format::Json, _) => serde_json::to_writer_pretty(out, document).context("writing JSON"),
        (Format::Geojson, _) => super::boundaries::write(out, &document.zones),
        (Format::Csv, None) => {
            bail!("CSV holds one kind of record per file: choose one with --kind")
        }
        (Format::Csv, Some(kind)) => {
            let mut writer = csv::Writer::from_writer(out);
            match kind {
                Kind::Zones => document.zones.iter().try_for_each(|r| writer.serialize(r)),
                Kind::Members => document
                    .members
                    .iter()
                    .try_for_each(|r| writer.serialize(r)),
                Kind::Cameras => document
                    .cameras
                    .iter()
                    .try_for_each(|r| writer.serialize(r)),
                Kind::Watchlist => document
                    .watchlist
                    .iter()
                    .try_for_each(|r| writer.serialize(r)),
            }
            .context("writing CSV")?;
            writer.flush().context("writing CSV")
        }
    }
}
