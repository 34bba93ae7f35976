//! Reports: latency percentiles from HDR histograms, a summary table on
//! the terminal, `report.json`, and `report.png` (throughput and lag over
//! time, latency distribution).

use std::path::{Path, PathBuf};

use anyhow::Context;
use comfy_table::{Table, presets::UTF8_BORDERS_ONLY};
use hdrhistogram::Histogram;
use plotters::prelude::*;
use serde::Serialize;

use crate::ingest::Second;

/// Latency percentiles in milliseconds.
#[derive(Debug, Clone, Copy, Default, Serialize, PartialEq)]
pub(crate) struct Percentiles {
    pub(crate) count: u64,
    pub(crate) p50_ms: f64,
    pub(crate) p90_ms: f64,
    pub(crate) p99_ms: f64,
    pub(crate) p999_ms: f64,
    pub(crate) max_ms: f64,
}

impl Percentiles {
    /// From a histogram of microseconds.
    pub(crate) fn of_micros(histogram: &Histogram<u64>) -> Self {
        let ms = |micros: u64| micros as f64 / 1_000.0;
        if histogram.is_empty() {
            return Self::default();
        }
        Self {
            count: histogram.len(),
            p50_ms: ms(histogram.value_at_quantile(0.50)),
            p90_ms: ms(histogram.value_at_quantile(0.90)),
            p99_ms: ms(histogram.value_at_quantile(0.99)),
            p999_ms: ms(histogram.value_at_quantile(0.999)),
            max_ms: ms(histogram.max()),
        }
    }
}

/// Where a run's files go: `--report-dir`, or
/// `.vigil/loadtest/<command>-<time>` under the current directory.
pub(crate) fn directory(given: Option<&Path>, command: &str) -> anyhow::Result<PathBuf> {
    let dir = match given {
        Some(dir) => dir.to_path_buf(),
        None => PathBuf::from(".vigil/loadtest").join(format!(
            "{command}-{}",
            chrono::Utc::now().format("%Y%m%dT%H%M%SZ")
        )),
    };
    std::fs::create_dir_all(&dir).with_context(|| format!("creating {}", dir.display()))?;
    Ok(dir)
}

/// Writes `report` as `report.json` in `dir`.
pub(crate) fn write_json(dir: &Path, report: &impl Serialize) -> anyhow::Result<PathBuf> {
    let path = dir.join("report.json");
    std::fs::write(&path, serde_json::to_vec_pretty(report)?)
        .with_context(|| format!("writing {}", path.display()))?;
    Ok(path)
}

/// Prints `rows` under `header` as a table.
pub(crate) fn print_table(title: &str, header: &[&str], rows: Vec<Vec<String>>) {
    let mut table = Table::new();
    table.load_preset(UTF8_BORDERS_ONLY);
    table.set_header(header.iter().copied());
    for row in rows {
        table.add_row(row);
    }
    println!("{title}\n{table}");
}

/// Fonts tried for chart text, in order.
const FONTS: &[&str] = &[
    "/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf",
    "/usr/share/fonts/dejavu/DejaVuSans.ttf",
    "/usr/share/fonts/truetype/liberation/LiberationSans-Regular.ttf",
];

fn register_font() -> anyhow::Result<()> {
    use std::sync::OnceLock;
    static FONT: OnceLock<Option<&'static [u8]>> = OnceLock::new();
    let bytes = FONT.get_or_init(|| {
        FONTS
            .iter()
            .find_map(|path| std::fs::read(path).ok())
            .map(|bytes| &*Box::leak(bytes.into_boxed_slice()))
    });
    let bytes = bytes
        .context("no TrueType font found for chart text (apt-get install fonts-dejavu-core)")?;
    plotters::style::register_font("sans-serif", FontStyle::Normal, bytes)
        .map_err(|_| anyhow::anyhow!("the chart font could not be loaded"))?;
    Ok(())
}

/// One latency curve: a name and its histogram (µs).
pub(crate) struct Curve<'a> {
    pub(crate) name: &'a str,
    pub(crate) histogram: &'a Histogram<u64>,
}

/// Draws `report.png` in `dir`: throughput and lag per second on top (when
/// `seconds` is not empty), latency percentile curves below.
pub(crate) fn chart(
    dir: &Path,
    title: &str,
    seconds: &[Second],
    curves: &[Curve<'_>],
) -> anyhow::Result<PathBuf> {
    register_font()?;
    let path = dir.join("report.png");
    {
        let root = BitMapBackend::new(&path, (1200, 900)).into_drawing_area();
        root.fill(&WHITE)?;
        let root = root.titled(title, ("sans-serif", 24))?;
        let (top, bottom) = root.split_vertically(430);
        if !seconds.is_empty() {
            draw_timeline(&top, seconds)?;
        }
        draw_latency(if seconds.is_empty() { &root } else { &bottom }, curves)?;
        root.present()?;
    }
    Ok(path)
}

fn draw_timeline<DB: DrawingBackend>(
    area: &DrawingArea<DB, plotters::coord::Shift>,
    seconds: &[Second],
) -> anyhow::Result<()>
where
    DB::ErrorType: 'static,
{
    let end = seconds.last().map_or(1, |s| s.t_s.max(1));
    let rate_max = seconds
        .iter()
        .map(|s| s.offered_per_s.max(s.accepted_per_s))
        .max()
        .unwrap_or(1)
        .max(1) as f64
        * 1.15;
    let lag_max = seconds
        .iter()
        .map(|s| (s.enricher_lag.max(0) + s.writer_lag.max(0)) as f64)
        .fold(1.0, f64::max)
        * 1.15;
    let mut chart = ChartBuilder::on(area)
        .margin(12)
        .x_label_area_size(36)
        .y_label_area_size(64)
        .right_y_label_area_size(64)
        .caption(
            "throughput (events/s) and consumer lag (records)",
            ("sans-serif", 18),
        )
        .build_cartesian_2d(0u64..end, 0f64..rate_max)?
        .set_secondary_coord(0u64..end, 0f64..lag_max);
    chart
        .configure_mesh()
        .x_desc("seconds")
        .y_desc("events/s")
        .draw()?;
    chart.configure_secondary_axes().y_desc("lag").draw()?;
    chart
        .draw_series(LineSeries::new(
            seconds.iter().map(|s| (s.t_s, s.offered_per_s as f64)),
            BLUE.mix(0.5),
        ))?
        .label("offered/s")
        .legend(|(x, y)| PathElement::new(vec![(x, y), (x + 20, y)], BLUE.mix(0.5)));
    chart
        .draw_series(LineSeries::new(
            seconds.iter().map(|s| (s.t_s, s.accepted_per_s as f64)),
            BLUE.stroke_width(2),
        ))?
        .label("accepted/s")
        .legend(|(x, y)| PathElement::new(vec![(x, y), (x + 20, y)], BLUE.stroke_width(2)));
    chart
        .draw_secondary_series(LineSeries::new(
            seconds
                .iter()
                .map(|s| (s.t_s, (s.enricher_lag.max(0) + s.writer_lag.max(0)) as f64)),
            RED.stroke_width(2),
        ))?
        .label("lag (enricher + writer)")
        .legend(|(x, y)| PathElement::new(vec![(x, y), (x + 20, y)], RED.stroke_width(2)));
    chart
        .configure_series_labels()
        .background_style(WHITE.mix(0.8))
        .border_style(BLACK)
        .label_font(("sans-serif", 14))
        .draw()?;
    Ok(())
}

/// Percentile curves: x is the percentile on a log scale of 1/(1-q), so
/// the tail is visible, y the latency in ms.
fn draw_latency<DB: DrawingBackend>(
    area: &DrawingArea<DB, plotters::coord::Shift>,
    curves: &[Curve<'_>],
) -> anyhow::Result<()>
where
    DB::ErrorType: 'static,
{
    const QUANTILES: &[f64] = &[0.0, 0.25, 0.5, 0.75, 0.9, 0.95, 0.99, 0.995, 0.999, 0.9999];
    let x = |q: f64| (1.0 / (1.0 - q)).log10();
    let y_max = curves
        .iter()
        .filter(|c| !c.histogram.is_empty())
        .map(|c| c.histogram.max() as f64 / 1_000.0)
        .fold(1.0, f64::max)
        * 1.15;
    let mut chart = ChartBuilder::on(area)
        .margin(12)
        .x_label_area_size(36)
        .y_label_area_size(64)
        .caption("latency by percentile (ms)", ("sans-serif", 18))
        .build_cartesian_2d(0f64..x(0.9999), 0f64..y_max)?;
    chart
        .configure_mesh()
        .x_desc("percentile")
        .x_label_formatter(&|v| format!("{:.2}%", 100.0 * (1.0 - 10f64.powf(-*v))))
        .y_desc("ms")
        .draw()?;
    for (index, curve) in curves.iter().enumerate() {
        if curve.histogram.is_empty() {
            continue;
        }
        let color = Palette99::pick(index).stroke_width(2);
        chart
            .draw_series(LineSeries::new(
                QUANTILES
                    .iter()
                    .map(|&q| (x(q), curve.histogram.value_at_quantile(q) as f64 / 1_000.0)),
                color,
            ))?
            .label(curve.name)
            .legend(move |(x, y)| PathElement::new(vec![(x, y), (x + 20, y)], color));
    }
    chart
        .configure_series_labels()
        .position(SeriesLabelPosition::UpperLeft)
        .background_style(WHITE.mix(0.8))
        .border_style(BLACK)
        .label_font(("sans-serif", 14))
        .draw()?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn percentiles_are_ordered_and_in_milliseconds() {
        let mut histogram = Histogram::<u64>::new(3).unwrap();
        for micros in 1..=10_000u64 {
            histogram.record(micros * 100).unwrap();
        }
        let p = Percentiles::of_micros(&histogram);
        assert_eq!(p.count, 10_000);
        assert!((p.p50_ms - 500.0).abs() < 1.0, "{p:?}");
        assert!(p.p50_ms <= p.p90_ms && p.p90_ms <= p.p99_ms && p.p99_ms <= p.p999_ms);
        assert!((p.max_ms - 1_000.0).abs() < 1.0);
        assert_eq!(
            Percentiles::of_micros(&Histogram::new(3).unwrap()),
            Percentiles::default()
        );
    }

    #[test]
    fn a_chart_is_a_png() {
        if FONTS.iter().all(|f| !Path::new(f).exists()) {
            panic!("install fonts-dejavu-core: charts need a TrueType font");
        }
        let dir = tempfile::tempdir().unwrap();
        let mut histogram = Histogram::<u64>::new(3).unwrap();
        for micros in [1_000, 2_000, 50_000] {
            histogram.record(micros).unwrap();
        }
        let seconds: Vec<Second> = (1..=5)
            .map(|t| Second {
                t_s: t,
                offered_per_s: 100,
                accepted_per_s: 90 + t,
                enricher_lag: 10,
                writer_lag: 5,
            })
            .collect();
        let path = chart(
            dir.path(),
            "test",
            &seconds,
            &[Curve {
                name: "e2e",
                histogram: &histogram,
            }],
        )
        .unwrap();
        let bytes = std::fs::read(path).unwrap();
        assert_eq!(&bytes[..8], b"\x89PNG\r\n\x1a\n");
    }
}
