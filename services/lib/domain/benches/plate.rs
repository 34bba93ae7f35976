//! Throughput of plate normalization and OCR keys over a realistic mix of
//! about a thousand reads: mostly Thanh Hoa (36) cars and motorbikes, some
//! from other provinces, written with the separators readers and operators
//! use, and a tenth that a reader gets wrong (partial lines, garbage).
//!
//! Run: `cargo bench -p vigil-domain --bench plate`.

use std::hint::black_box;

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use vigil_domain::plate::{normalize_plate, ocr_key};

/// How many reads the sample holds.
const SAMPLE_SIZE: usize = 1_000;

/// Province codes of plates seen in Thanh Hoa besides its own: neighbours
/// (Ninh Binh, Nghe An, Ha Tinh), Hanoi, Ho Chi Minh City and central
/// agencies.
const OTHER_PROVINCES: [u8; 8] = [35, 37, 38, 29, 30, 51, 80, 18];

/// Series letters in use (see the module docs of `plate`).
const LETTERS: &[u8] = b"ABCDEFGHKLMNPSTUVXYZ";

/// A small deterministic generator (xorshift64) so every run benchmarks
/// the same sample without pulling in a random-number crate.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }

    /// A number in `0..n`.
    fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }

    fn letter(&mut self) -> char {
        char::from(LETTERS[self.below(LETTERS.len())])
    }

    fn digits(&mut self, count: usize) -> String {
        (0..count)
            .map(|_| char::from(b'0' + self.below(10) as u8))
            .collect()
    }

    fn province(&mut self) -> u8 {
        // Seven reads in ten come from the province's own plates.
        if self.below(10) < 7 {
            36
        } else {
            OTHER_PROVINCES[self.below(OTHER_PROVINCES.len())]
        }
    }
}

/// One written plate; the mix of shapes and spellings roughly follows what
/// roadside readers in the province produce.
fn written_plate(rng: &mut Rng) -> String {
    let p = rng.province();
    let (l, serial) = (rng.letter(), rng.digits(5));
    let (head, tail) = serial.split_at(3);
    match rng.below(100) {
        // Cars, current 5-digit serial, in the spellings seen in practice.
        0..=14 => format!("{p}{l}-{head}.{tail}"),
        15..=24 => format!("{p}{l}{serial}"),
        25..=32 => format!("{p}{l} {head}.{tail}"),
        33..=37 => format!("{p}{}-{serial}", l.to_ascii_lowercase()),
        38..=42 => format!("{p}{l}\n{head}.{tail}"),
        // Old 4-digit car plates and special series.
        43..=47 => format!("{p}{l}-{}", rng.digits(4)),
        48..=49 => format!("{p}LD-{head}.{tail}"),
        50 => format!("{p}R-{head}.{tail}"),
        // Motorbikes: letter and digit series, two-letter series, electric.
        51..=62 => format!("{p}-{l}{} {head}.{tail}", 1 + rng.below(9)),
        63..=70 => format!("{p}{l}{}-{serial}", 1 + rng.below(9)),
        71..=75 => format!("{p}-{l}{}\n{head}.{tail}", 1 + rng.below(9)),
        76..=79 => format!("{p}-{l}{} {}", 1 + rng.below(9), rng.digits(4)),
        80..=83 => format!("{p}-{l}{} {head}.{tail}", rng.letter()),
        84 => format!("{p}-MĐ{} {head}.{tail}", 1 + rng.below(9)),
        // Military and foreign plates.
        85..=86 => format!("TM-{}-{}", rng.digits(2), rng.digits(2)),
        87 => format!("80NG-{head}-{tail}"),
        88..=89 => format!("KD {}", rng.digits(4)),
        // Reads that fail: one line of a two-line plate, a junk character,
        // a withdrawn letter (O for 0), too many characters.
        90..=92 => format!("{p}-{l}{}", 1 + rng.below(9)),
        93..=94 => format!("{head}.{tail}"),
        95..=96 => format!("{p}{l}-{head}#{tail}"),
        97..=98 => format!("{p}O-{head}.{tail}"),
        _ => format!("{p}{l}-{head}.{tail}.{serial}"),
    }
}

fn sample() -> Vec<String> {
    let mut rng = Rng(0x9E37_79B9_7F4A_7C15);
    (0..SAMPLE_SIZE).map(|_| written_plate(&mut rng)).collect()
}

fn bench_plates(c: &mut Criterion) {
    let plates = sample();
    let valid = plates.iter().filter(|p| normalize_plate(p).is_ok()).count();
    println!("sample: {} reads, {valid} valid plates", plates.len());

    let mut group = c.benchmark_group("plate");
    group.throughput(Throughput::Elements(plates.len() as u64));
    group.bench_function("normalize_plate", |b| {
        b.iter(|| {
            for plate in &plates {
                let _ = black_box(normalize_plate(black_box(plate)));
            }
        });
    });
    group.bench_function("ocr_key", |b| {
        b.iter(|| {
            for plate in &plates {
                black_box(ocr_key(black_box(plate)));
            }
        });
    });
    group.finish();
}

criterion_group!(benches, bench_plates);
criterion_main!(benches);
