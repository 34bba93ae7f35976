//! Vietnamese licence-plate normalization: turns whatever a plate reader, an
//! operator or a watchlist import wrote into one canonical key, or says
//! precisely why the text is not a plate. Everything here is pure (no I/O)
//! so it can sit on the path of every detection.
//!
//! # Canonical form
//!
//! Upper-case ASCII letters and digits, separators removed, in the order the
//! characters stand on the plate: `36A-123.45` → `36A12345`, the two-line
//! motorbike plate `36-B1 / 234.56` → `36B123456`. Readers write the same
//! plate in many ways, so the input may be in any case and may use `-`, `.`,
//! `/`, `_` and any whitespace (spaces, tabs, line breaks between the two
//! lines of a square plate) as separators; any other character is rejected
//! with its position. The Vietnamese letter `Đ` (on real plates only in the
//! `MĐ` electric-motorbike and `TĐ` pilot series; some readers emit it, others
//! `D`) is folded to `D` so that both spellings give one ASCII key;
//! [`NormalizedPlate::display`] writes it back as `Đ`. Other non-ASCII letters
//! never appear on plates and are rejected.
//!
//! # Formats handled
//!
//! `d` is a digit, `L` a series letter (the Latin alphabet without I, J, O,
//! Q, W: those are never issued, R is only for trailers), `pp` a province
//! code from 11 to 99 (36 is Thanh Hoa; 80 is used by central agencies).
//!
//! | [`PlateFormat`] | canonical shape | display | notes |
//! |---|---|---|---|
//! | `Car` | `pp L ddddd`, `pp LL ddddd` | `36A-123.45`, `29LD-123.45` | two letters only for LD, KT, DA, HC, TĐ, MK |
//! | `CarOld` | `pp L dddd`, `pp LL dddd` | `36A-1234` | 4-digit serial, issued before 2010 |
//! | `Trailer` | `pp R dddd(d)` | `36R-123.45` | trailers and semi-trailers |
//! | `Motorbike` | `pp L d ddddd`, `pp LL ddddd`, `pp MĐ d ddddd` | `36-B1 234.56`, `36-AA 123.45`, `29-MĐ1 013.53` | series digit 1–9 |
//! | `MotorbikeOld` | `pp LL dddd` | `36-AB 1234` | two-letter series, 4-digit serial |
//! | `Diplomatic` | `pp LL ddd dd` | `80NG-636-70` | NG, NN, QT, CV: series, country code, serial |
//! | `Military` | `LL dddd` | `TM-12-34` | unit codes from an allow-list, see below |
//! | `Temporary` | `T pp ddddd` | `T36-123.45` | |
//!
//! Foreign plates are also seen with the country code before the series
//! (`80-011-NG-01`); both orders normalize to the series-first key
//! (`80NG01101`) so a watchlist entry matches either.
//!
//! **One shape is ambiguous.** An old motorbike plate with a 4-digit serial
//! under a letter-and-digit series (`36-B1 2345`) and a current car plate
//! (`36B-123.45`) have the same characters, `36B12345`. The key must not
//! depend on how the plate was written, and the format is a function of the
//! key, so this shape always reports [`PlateFormat::Car`] and displays as a
//! car plate. Callers that need the vehicle class must take it from the
//! detector, not from the plate.
//!
//! # Not handled (rejected or classified loosely)
//!
//! * Military unit codes outside the allow-list in [`MILITARY_UNITS`], and
//!   military serials other than 4 digits, are rejected: only codes confirmed
//!   by more than one public description are listed.
//! * Two-letter series other than the special ones above are taken as
//!   motorbike series (mopeds, and every motorbike registered since the
//!   2023 rules); the yellow economic-zone series (LB, CT, …) and the police
//!   `CD` series are not told apart from them.
//! * Plates of the pre-2010 schemes with letters now withdrawn (I, J, O, Q),
//!   and pre-2003 plates, are rejected.
//! * Province codes 11–99 are all accepted, including the few never
//!   assigned; 00–10 are rejected.
//!
//! # Sources and uncertainty
//!
//! Civil and foreign series follow the Ministry of Public Security circulars
//! 58/2020/TT-BCA and 24/2023/TT-BCA as summarised in public write-ups; the
//! military unit codes come from public descriptions of the Ministry of
//! Defence plates, not from the (unpublished) allocation table. The least
//! certain parts are: the `T` temporary layout, the `CV` foreign series, the
//! 4-digit two-letter moped plates, and which two-letter pairs are reserved.
//!
//! # Positions in errors
//!
//! Every position in a [`PlateError`] counts characters (not bytes) from 0
//! in the raw input exactly as given, separators included, and every input
//! field holds that raw input, so a message can be checked against the read.
//!
//! # OCR-confusion key
//!
//! [`ocr_key`] maps the characters plate readers most often confuse into one
//! class each, so two reads that differ only by such confusions share a key:
//!
//! | class | members |
//! |---|---|
//! | `0` | `0 O D Q Đ` |
//! | `1` | `1 I L` (a lower-case `l` becomes `L`, hence 1) |
//! | `2` | `2 Z` |
//! | `4` | `4 A` |
//! | `5` | `5 S` |
//! | `6` | `6 G` |
//! | `8` | `8 B` |
//!
//! Letters and digits stand in different positions on Vietnamese plates, so
//! merging a letter with a digit almost never joins two valid plates (only a
//! motorbike series like `B8` against `BB`). `T` is left out on purpose: it
//! is misread as both 1 and 7, and one class cannot hold it without merging
//! 1 with 7. Digit-with-digit confusions (3/8, 6/8) are left out because
//! they would join distinct serials. Characters outside the table, including
//! non-ASCII ones such as a Cyrillic `З` standing in for 3, are kept
//! (upper-cased): dropping them could make a garbled read collide with a
//! shorter plate.

use std::fmt;
use std::ops::Range;
use std::str::FromStr;

/// Fewest plate characters (separators not counted) of any format: a
/// military plate, `TM1234`.
const MIN_LEN: usize = 6;

/// Most plate characters of any format: an electric motorbike, `29MD101353`.
const MAX_LEN: usize = 10;

/// Letters issued as civil series letters: the Latin alphabet without I, J,
/// O, Q, W (never issued; most look like digits) and R (only for trailers).
const SERIES_LETTERS: &[u8] = b"ABCDEFGHKLMNPSTUVXYZ";

/// Two-letter series printed in the one-line car layout: LD (foreign-invested
/// enterprises, leased foreign vehicles), KT (army-run enterprises), DA
/// (foreign-funded projects), HC (vehicles restricted to an area), TĐ (pilot
/// domestically-built vehicles), MK (tractors).
const CAR_SPECIAL_SERIES: [[u8; 2]; 6] = [*b"LD", *b"KT", *b"DA", *b"HC", *b"TD", *b"MK"];

/// Series of foreign-registered vehicles: NG (diplomatic missions), QT
/// (international organisations), NN (other foreign organisations and
/// individuals), CV (seen on real plates; its allocation is not documented
/// publicly).
const FOREIGN_SERIES: [[u8; 2]; 4] = [*b"NG", *b"NN", *b"QT", *b"CV"];

/// The electric-motorbike series `MĐ`, followed by a series digit.
const ELECTRIC_SERIES: [u8; 2] = *b"MD";

/// Military unit codes (red plates) confirmed by more than one public
/// description: A = army corps, B = arms and commands, H = academies, K =
/// military regions, P = MoD departments, Q = services, T = general
/// departments, VT = Viettel. QP and QK are the air-defence and air-force
/// codes from before the two services merged; old plates may still run.
pub const MILITARY_UNITS: [[u8; 2]; 39] = [
    *b"AA", *b"AB", *b"AC", *b"AD", *b"AN", *b"AP", *b"AT", // army corps
    *b"BB", *b"BC", *b"BH", *b"BK", *b"BL", *b"BP", *b"BT", // arms, commands
    *b"HA", *b"HB", *b"HD", *b"HE", *b"HH", // academies
    *b"KA", *b"KB", *b"KC", *b"KD", *b"KK", *b"KP", *b"KT", *b"KV", // military regions
    *b"PA", // external relations department
    *b"QA", *b"QB", *b"QH", *b"QK", *b"QP", // services
    *b"TC", *b"TH", *b"TK", *b"TM", *b"TT", // general departments, general staff
    *b"VT", // Viettel
];

/// What a partial read lacks when it is only the top line of a two-line
/// plate.
const MISSING_SERIAL: &str = "serial digits";

/// What a partial read lacks when it is only the bottom line.
const MISSING_PREFIX: &str = "province code and series";

/// Why a read that starts wrongly matches no format.
const REASON_START: &str = "a plate starts with a two-digit province code, with T and a province \
     code (temporary), or is a two-letter military unit code followed by 4 digits";

/// A plate reduced to its canonical form (see the module docs).
///
/// Two plates are equal exactly when their canonical strings are: the
/// format is a function of the canonical string.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct NormalizedPlate {
    canonical: String,
    format: PlateFormat,
}

/// The layout a plate follows, as far as its characters tell.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum PlateFormat {
    /// One-line car layout with a 5-digit serial: `36A-123.45`,
    /// `29LD-123.45`. Also the key of an old 4-digit motorbike plate
    /// (`36-B1 2345`), which has the same characters (see the module docs).
    Car,
    /// Car layout with a 4-digit serial, issued before 2010: `36A-1234`.
    CarOld,
    /// Trailer or semi-trailer, series `R`: `36R-123.45`.
    Trailer,
    /// Two-line motorbike plate with a 5-digit serial: `36-B1 234.56`,
    /// `36-AA 123.45`, `29-MĐ1 013.53`.
    Motorbike,
    /// Two-line motorbike plate with a two-letter series and a 4-digit
    /// serial: `36-AB 1234`.
    MotorbikeOld,
    /// Foreign-registered vehicle (NG, NN, QT, CV series) with a 3-digit
    /// country code and a 2-digit serial: `80NG-636-70`.
    Diplomatic,
    /// Military plate: a unit code and 4 digits, `TM-12-34`.
    Military,
    /// Temporary registration: `T`, province code, 5 digits, `T36-123.45`.
    Temporary,
}

/// Why a text is not a plate. Every position counts characters from 0 in
/// the raw input, and every `input` or `seen` field holds that raw input.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PlateError {
    /// Nothing but whitespace.
    #[error("plate is empty")]
    Empty,
    /// Separators but no letter or digit.
    #[error("{input:?} has only separators, no plate characters")]
    OnlySeparators {
        /// The raw input.
        input: String,
    },
    /// A character that is neither a letter, a digit nor a separator.
    #[error("character {ch:?} at position {position} of {input:?} is not allowed in a plate")]
    InvalidCharacter {
        /// The raw input.
        input: String,
        /// The offending character.
        ch: char,
        /// Its position in the raw input.
        position: usize,
    },
    /// Fewer plate characters than any format has, and not a recognisable
    /// line of a two-line plate.
    #[error("{input:?} is too short: a plate has at least {MIN_LEN} characters besides separators")]
    TooShort {
        /// The raw input.
        input: String,
    },
    /// More plate characters than any format has.
    #[error("{input:?} is too long: a plate has at most {MAX_LEN} characters besides separators")]
    TooLong {
        /// The raw input.
        input: String,
    },
    /// Only one line of a two-line plate was read: the top line
    /// (`36-B1`) lacks the serial digits, the bottom line (`234.56`) the
    /// province code and series.
    #[error("{seen:?} looks like one line of a two-line plate: the {missing} are missing")]
    PartialRead {
        /// The raw input.
        seen: String,
        /// What the other line would have held.
        missing: &'static str,
    },
    /// A province code outside 11–99.
    #[error("{input:?} has province code {code:02}, which is not in use: codes run from 11 to 99")]
    UnknownProvince {
        /// The raw input.
        input: String,
        /// The code read.
        code: u8,
    },
    /// A letter where a digit must be, or the reverse.
    #[error("{input:?} has {found:?} at position {position} where {expected} must be")]
    UnexpectedCharacter {
        /// The raw input.
        input: String,
        /// The character found.
        found: char,
        /// Its position in the raw input.
        position: usize,
        /// What must stand there, e.g. "a digit".
        expected: &'static str,
    },
    /// A series letter that is never issued (I, J, O, Q, W, or R outside
    /// trailers); usually a misread digit or D.
    #[error("{input:?} has series letter {letter:?} at position {position}, which is never issued")]
    UnusedSeriesLetter {
        /// The raw input.
        input: String,
        /// The letter found.
        letter: char,
        /// Its position in the raw input.
        position: usize,
    },
    /// A military-shaped plate whose unit code is not in [`MILITARY_UNITS`].
    #[error("{input:?} looks like a military plate, but {unit:?} is not a known unit code")]
    UnknownMilitaryUnit {
        /// The raw input.
        input: String,
        /// The two-letter code read.
        unit: String,
    },
    /// Any other mismatch; the reason names the rule broken.
    #[error("{input:?} does not match any Vietnamese plate format: {reason}")]
    UnrecognizedFormat {
        /// The raw input.
        input: String,
        /// The rule the input breaks.
        reason: &'static str,
    },
}

/// Normalizes any common written form to the canonical key, or says why
/// not. See the module docs for the formats and separators accepted.
///
/// ```
/// use vigil_domain::plate::{PlateError, PlateFormat, normalize_plate};
///
/// let bike = normalize_plate("36-B1\n234.56")?;
/// assert_eq!(bike.as_str(), "36B123456");
/// assert_eq!(bike.format(), PlateFormat::Motorbike);
/// assert_eq!(bike.province_code(), Some(36));
/// assert_eq!(bike.display(), "36-B1 234.56");
///
/// // A reader that saw only the top line of the plate.
/// assert!(matches!(normalize_plate("36-B1"), Err(PlateError::PartialRead { .. })));
/// # Ok::<(), PlateError>(())
/// ```
pub fn normalize_plate(raw: &str) -> Result<NormalizedPlate, PlateError> {
    let read = Cleaned::new(raw)?;
    if read.len < MIN_LEN {
        return Err(read.short_error());
    }
    let b = read.bytes();
    match (b[0].is_ascii_digit(), b[1].is_ascii_digit()) {
        (true, true) => parse_civil(&read),
        // A letter in the province code is the usual misread (6 → G, 0 → D).
        (true, false) => Err(read.unexpected(1, "a digit")),
        (false, false) => parse_military(&read),
        (false, true) if b[0] == b'T' => parse_temporary(&read),
        (false, true) => Err(read.unrecognized(REASON_START)),
    }
}

/// OCR-confusion key: maps characters readers confuse into one class (table
/// in the module docs), so two reads that differ only by confusions share a
/// key. Works on any text: separators are stripped and letters upper-cased
/// first, so `ocr_key("36A-l23.45") == ocr_key("36A-123.45")`. The key is
/// only for comparing; it is not a plate and not meant for display.
pub fn ocr_key(text: &str) -> String {
    let mut key = String::with_capacity(text.len());
    for ch in text.chars().filter(|&ch| !is_separator(ch)) {
        if ch.is_ascii() {
            key.push(ocr_class(ch.to_ascii_uppercase()));
        } else {
            // Upper-casing can expand ('ß' → "SS"), so each piece is classed.
            key.extend(ch.to_uppercase().map(ocr_class));
        }
    }
    key
}

impl NormalizedPlate {
    /// The canonical key: upper-case, no separators, e.g. `36A12345`,
    /// `36B123456`.
    pub fn as_str(&self) -> &str {
        &self.canonical
    }

    /// The layout the plate follows.
    pub fn format(&self) -> PlateFormat {
        self.format
    }

    /// The two-digit province code (36 for Thanh Hoa), or `None` for
    /// military plates, which carry none.
    pub fn province_code(&self) -> Option<u8> {
        let b = self.canonical.as_bytes();
        match self.format {
            PlateFormat::Military => None,
            PlateFormat::Temporary => Some(two_digits(b[1], b[2])),
            _ => Some(two_digits(b[0], b[1])),
        }
    }

    /// The conventional written form: `36A-123.45`, `36A-1234`,
    /// `36-B1 234.56` (the two lines of a motorbike plate joined by a
    /// space), `29-MĐ1 013.53`, `80NG-636-70`, `TM-12-34`, `T36-123.45`.
    /// It normalizes back to the same plate.
    pub fn display(&self) -> String {
        let s = self.canonical.as_str();
        match self.format {
            PlateFormat::Car | PlateFormat::CarOld | PlateFormat::Trailer => {
                // The series is every letter after the province code.
                let letters = s[2..].bytes().take_while(u8::is_ascii_uppercase).count();
                let (series, serial) = s[2..].split_at(letters);
                format!("{}{}-{}", &s[..2], written_series(series), grouped(serial))
            }
            PlateFormat::Motorbike | PlateFormat::MotorbikeOld => {
                // The series may end in a digit, so count the serial instead.
                let serial_len = if self.format == PlateFormat::Motorbike {
                    5
                } else {
                    4
                };
                let (series, serial) = s[2..].split_at(s.len() - 2 - serial_len);
                format!("{}-{} {}", &s[..2], written_series(series), grouped(serial))
            }
            PlateFormat::Diplomatic => format!("{}-{}-{}", &s[..4], &s[4..7], &s[7..]),
            PlateFormat::Military => format!("{}-{}-{}", &s[..2], &s[2..4], &s[4..]),
            PlateFormat::Temporary => format!("{}-{}", &s[..3], grouped(&s[3..])),
        }
    }
}

impl fmt::Display for NormalizedPlate {
    /// Writes the canonical key ([`NormalizedPlate::as_str`]); use
    /// [`NormalizedPlate::display`] for the conventional written form.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.canonical)
    }
}

impl FromStr for NormalizedPlate {
    type Err = PlateError;

    /// Same as [`normalize_plate`].
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        normalize_plate(s)
    }
}

/// The plate characters of a raw read, upper-cased and without separators,
/// each with its character position in the raw input for error messages.
/// Fixed-size so that cleaning does not allocate.
struct Cleaned<'a> {
    raw: &'a str,
    buf: [u8; MAX_LEN],
    positions: [usize; MAX_LEN],
    len: usize,
}

impl<'a> Cleaned<'a> {
    /// Keeps letters and digits, drops separators, and rejects anything
    /// else, an empty read and an over-long one.
    fn new(raw: &'a str) -> Result<Self, PlateError> {
        if raw.trim().is_empty() {
            return Err(PlateError::Empty);
        }
        let mut read = Cleaned {
            raw,
            buf: [0; MAX_LEN],
            positions: [0; MAX_LEN],
            len: 0,
        };
        let mut count = 0;
        for (position, ch) in raw.chars().enumerate() {
            let byte = match ch {
                '0'..='9' | 'A'..='Z' | 'a'..='z' => ch.to_ascii_uppercase() as u8,
                'Đ' | 'đ' => b'D',
                _ if is_separator(ch) => continue,
                _ => {
                    return Err(PlateError::InvalidCharacter {
                        input: raw.to_owned(),
                        ch,
                        position,
                    });
                }
            };
            // Keep counting past the buffer so that a long read with an
            // invalid character further on reports that character.
            if count < MAX_LEN {
                read.buf[count] = byte;
                read.positions[count] = position;
            }
            count += 1;
        }
        if count == 0 {
            return Err(PlateError::OnlySeparators {
                input: raw.to_owned(),
            });
        }
        if count > MAX_LEN {
            return Err(PlateError::TooLong {
                input: raw.to_owned(),
            });
        }
        read.len = count;
        Ok(read)
    }

    fn bytes(&self) -> &[u8] {
        &self.buf[..self.len]
    }

    /// The error for a read shorter than any plate: a partial read when it
    /// is one line of a two-line plate, too short otherwise.
    fn short_error(&self) -> PlateError {
        let b = self.bytes();
        let missing = if (4..=5).contains(&b.len()) && b.iter().all(u8::is_ascii_digit) {
            Some(MISSING_PREFIX)
        } else if is_top_line(b) {
            Some(MISSING_SERIAL)
        } else {
            None
        };
        match missing {
            Some(missing) => PlateError::PartialRead {
                seen: self.raw.to_owned(),
                missing,
            },
            None => PlateError::TooShort {
                input: self.raw.to_owned(),
            },
        }
    }

    /// The province code at `start`, which must be two digits in 11–99.
    fn province(&self, start: usize) -> Result<u8, PlateError> {
        self.expect_digits(start..start + 2)?;
        let b = self.bytes();
        let code = two_digits(b[start], b[start + 1]);
        if is_province(code) {
            Ok(code)
        } else {
            Err(PlateError::UnknownProvince {
                input: self.raw.to_owned(),
                code,
            })
        }
    }

    /// Checks that the characters in `range` are digits.
    fn expect_digits(&self, range: Range<usize>) -> Result<(), PlateError> {
        let start = range.start;
        match self.bytes()[range].iter().position(|b| !b.is_ascii_digit()) {
            Some(offset) => Err(self.unexpected(start + offset, "a digit")),
            None => Ok(()),
        }
    }

    fn unexpected(&self, index: usize, expected: &'static str) -> PlateError {
        PlateError::UnexpectedCharacter {
            input: self.raw.to_owned(),
            found: char::from(self.buf[index]),
            position: self.positions[index],
            expected,
        }
    }

    fn unused_letter(&self, index: usize) -> PlateError {
        PlateError::UnusedSeriesLetter {
            input: self.raw.to_owned(),
            letter: char::from(self.buf[index]),
            position: self.positions[index],
        }
    }

    fn unrecognized(&self, reason: &'static str) -> PlateError {
        PlateError::UnrecognizedFormat {
            input: self.raw.to_owned(),
            reason,
        }
    }

    fn plate(&self, format: PlateFormat) -> NormalizedPlate {
        NormalizedPlate {
            canonical: ascii_string(self.bytes()),
            format,
        }
    }
}

/// Plates that start with a province code: cars, trailers, motorbikes and
/// foreign series.
fn parse_civil(read: &Cleaned<'_>) -> Result<NormalizedPlate, PlateError> {
    read.province(0)?;
    let b = read.bytes();
    if b[2].is_ascii_digit() {
        return parse_foreign_country_first(read);
    }
    let letters = b[2..].iter().take_while(|b| b.is_ascii_uppercase()).count();
    if letters > 2 {
        return Err(read.unexpected(4, "a digit"));
    }
    let serial_start = 2 + letters;
    read.expect_digits(serial_start..read.len)?;
    let digits = b.len() - serial_start;
    let format = if letters == 1 {
        one_letter_series(read, digits)?
    } else {
        two_letter_series(read, [b[2], b[3]], digits)?
    };
    Ok(read.plate(format))
}

/// Formats after a one-letter series; `digits` counts every digit after the
/// letter, including a motorbike's series digit.
fn one_letter_series(read: &Cleaned<'_>, digits: usize) -> Result<PlateFormat, PlateError> {
    let b = read.bytes();
    match (b[2], digits) {
        (b'R', 4 | 5) => Ok(PlateFormat::Trailer),
        (b'R', _) => Err(read.unrecognized("a trailer (R) plate has a 4- or 5-digit serial")),
        (letter, _) if !SERIES_LETTERS.contains(&letter) => Err(read.unused_letter(2)),
        (_, 4) => Ok(PlateFormat::CarOld),
        (_, 5) => Ok(PlateFormat::Car),
        (_, 6) if b[3] == b'0' => Err(read.unexpected(3, "a series digit from 1 to 9")),
        (_, 6) => Ok(PlateFormat::Motorbike),
        _ => Err(read.unrecognized(
            "a one-letter series is followed by a 4- or 5-digit serial (car) \
             or by a series digit and a 5-digit serial (motorbike)",
        )),
    }
}

/// Formats after a two-letter series; `digits` counts every digit after it.
fn two_letter_series(
    read: &Cleaned<'_>,
    series: [u8; 2],
    digits: usize,
) -> Result<PlateFormat, PlateError> {
    let b = read.bytes();
    if series == ELECTRIC_SERIES && digits == 6 {
        return if b[4] == b'0' {
            Err(read.unexpected(4, "a series digit from 1 to 9"))
        } else {
            Ok(PlateFormat::Motorbike)
        };
    }
    if FOREIGN_SERIES.contains(&series) {
        return if digits == 5 {
            Ok(PlateFormat::Diplomatic)
        } else {
            Err(read.unrecognized(
                "a foreign series is followed by a 3-digit country code and a 2-digit serial",
            ))
        };
    }
    if CAR_SPECIAL_SERIES.contains(&series) {
        return match digits {
            4 => Ok(PlateFormat::CarOld),
            5 => Ok(PlateFormat::Car),
            _ => {
                Err(read.unrecognized("a special car series is followed by a 4- or 5-digit serial"))
            }
        };
    }
    if let Some(offset) = series.iter().position(|l| !SERIES_LETTERS.contains(l)) {
        return Err(read.unused_letter(2 + offset));
    }
    match digits {
        4 => Ok(PlateFormat::MotorbikeOld),
        5 => Ok(PlateFormat::Motorbike),
        _ => Err(read.unrecognized("a two-letter series is followed by a 4- or 5-digit serial")),
    }
}

/// The other foreign layout, country code before the series:
/// `80-011-NG-01`, rewritten to the series-first key `80NG01101`.
fn parse_foreign_country_first(read: &Cleaned<'_>) -> Result<NormalizedPlate, PlateError> {
    let b = read.bytes();
    let shaped = b.len() == 9
        && b[2..5].iter().all(u8::is_ascii_digit)
        && FOREIGN_SERIES.contains(&[b[5], b[6]])
        && b[7..].iter().all(u8::is_ascii_digit);
    if !shaped {
        return Err(read.unexpected(2, "a series letter"));
    }
    let reordered = [b[0], b[1], b[5], b[6], b[2], b[3], b[4], b[7], b[8]];
    Ok(NormalizedPlate {
        canonical: ascii_string(&reordered),
        format: PlateFormat::Diplomatic,
    })
}

/// Red military plates: a unit code and 4 digits.
fn parse_military(read: &Cleaned<'_>) -> Result<NormalizedPlate, PlateError> {
    let b = read.bytes();
    let letters = b.iter().take_while(|b| b.is_ascii_uppercase()).count();
    if letters != 2 || b.len() != 6 {
        return Err(read.unrecognized(REASON_START));
    }
    read.expect_digits(2..6)?;
    if !MILITARY_UNITS.contains(&[b[0], b[1]]) {
        return Err(PlateError::UnknownMilitaryUnit {
            input: read.raw.to_owned(),
            unit: ascii_string(&b[..2]),
        });
    }
    Ok(read.plate(PlateFormat::Military))
}

/// Temporary plates: `T`, a province code and a 5-digit serial.
fn parse_temporary(read: &Cleaned<'_>) -> Result<NormalizedPlate, PlateError> {
    if read.len != 8 {
        return Err(read.unrecognized(
            "a temporary plate is T, a two-digit province code and a 5-digit serial",
        ));
    }
    read.province(1)?;
    read.expect_digits(3..8)?;
    Ok(read.plate(PlateFormat::Temporary))
}

/// Whether a short read is exactly the top line of a two-line plate: a
/// province code and a series (`36A`, `36-B1`, `36-AA`, `29-MĐ1`), or a
/// military unit code.
fn is_top_line(b: &[u8]) -> bool {
    let [p0, p1, series @ ..] = b else {
        return false;
    };
    if series.is_empty() {
        return MILITARY_UNITS.contains(&[*p0, *p1]);
    }
    if !(p0.is_ascii_digit() && p1.is_ascii_digit() && is_province(two_digits(*p0, *p1))) {
        return false;
    }
    let is_series_letter = |l: &u8| SERIES_LETTERS.contains(l);
    let is_series_digit = |d: &u8| (b'1'..=b'9').contains(d);
    match series {
        [l] => is_series_letter(l) || *l == b'R',
        [l, d] if d.is_ascii_digit() => is_series_letter(l) && is_series_digit(d),
        [l1, l2] => {
            FOREIGN_SERIES.contains(&[*l1, *l2]) || (is_series_letter(l1) && is_series_letter(l2))
        }
        [m, d, digit] => [*m, *d] == ELECTRIC_SERIES && is_series_digit(digit),
        _ => false,
    }
}

fn is_separator(ch: char) -> bool {
    matches!(ch, '-' | '.' | '/' | '_') || ch.is_whitespace()
}

fn is_province(code: u8) -> bool {
    (11..=99).contains(&code)
}

/// The value of two ASCII digits.
fn two_digits(tens: u8, ones: u8) -> u8 {
    (tens - b'0') * 10 + (ones - b'0')
}

fn ascii_string(bytes: &[u8]) -> String {
    bytes.iter().copied().map(char::from).collect()
}

/// A series as printed: the `D` of the `MĐ` and `TĐ` series is a `Đ`.
fn written_series(series: &str) -> String {
    match series.as_bytes() {
        [b'M' | b'T', b'D', ..] => format!("{}Đ{}", &series[..1], &series[2..]),
        _ => series.to_owned(),
    }
}

/// A serial as printed: five digits are grouped `123.45`, four are not.
fn grouped(serial: &str) -> String {
    if serial.len() == 5 {
        format!("{}.{}", &serial[..3], &serial[3..])
    } else {
        serial.to_owned()
    }
}

/// The class an upper-case character belongs to (table in the module docs).
fn ocr_class(ch: char) -> char {
    match ch {
        'O' | 'D' | 'Q' | 'Đ' => '0',
        'I' | 'L' => '1',
        'Z' => '2',
        'A' => '4',
        'S' => '5',
        'G' => '6',
        'B' => '8',
        other => other,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn plate(raw: &str) -> NormalizedPlate {
        normalize_plate(raw).unwrap_or_else(|e| panic!("{raw:?} should normalize: {e}"))
    }

    fn error(raw: &str) -> PlateError {
        match normalize_plate(raw) {
            Ok(p) => panic!("{raw:?} should be rejected, got {p:?}"),
            Err(e) => e,
        }
    }

    #[test]
    fn accepted_forms_normalize_to_canonical_format_and_display() {
        use PlateFormat::*;
        // (written form, canonical, format, display)
        let cases = [
            ("36A-123.45", "36A12345", Car, "36A-123.45"),
            ("36A12345", "36A12345", Car, "36A-123.45"),
            ("36A 123.45", "36A12345", Car, "36A-123.45"),
            ("36a-123.45", "36A12345", Car, "36A-123.45"),
            ("  36A/123_45 ", "36A12345", Car, "36A-123.45"),
            ("36A\n123.45", "36A12345", Car, "36A-123.45"),
            ("36A\r\n123.45", "36A12345", Car, "36A-123.45"),
            ("36A\t123 45", "36A12345", Car, "36A-123.45"),
            ("11A-000.01", "11A00001", Car, "11A-000.01"),
            ("99Z-999.99", "99Z99999", Car, "99Z-999.99"),
            ("80A-123.45", "80A12345", Car, "80A-123.45"),
            ("36A-1234", "36A1234", CarOld, "36A-1234"),
            ("29LD-123.45", "29LD12345", Car, "29LD-123.45"),
            ("36KT-012.34", "36KT01234", Car, "36KT-012.34"),
            ("36DA-1234", "36DA1234", CarOld, "36DA-1234"),
            ("50TĐ-821.08", "50TD82108", Car, "50TĐ-821.08"),
            ("50TD82108", "50TD82108", Car, "50TĐ-821.08"),
            ("36MK-012.34", "36MK01234", Car, "36MK-012.34"),
            ("36R-012.34", "36R01234", Trailer, "36R-012.34"),
            ("36R-1234", "36R1234", Trailer, "36R-1234"),
            ("36-B1 234.56", "36B123456", Motorbike, "36-B1 234.56"),
            ("36B1-23456", "36B123456", Motorbike, "36-B1 234.56"),
            ("36-B1\n234.56", "36B123456", Motorbike, "36-B1 234.56"),
            ("36 b1 234 56", "36B123456", Motorbike, "36-B1 234.56"),
            ("36-A1 234.56", "36A123456", Motorbike, "36-A1 234.56"),
            ("36-AA 123.45", "36AA12345", Motorbike, "36-AA 123.45"),
            ("36-AB 1234", "36AB1234", MotorbikeOld, "36-AB 1234"),
            ("29-MĐ1 013.53", "29MD101353", Motorbike, "29-MĐ1 013.53"),
            ("29-mđ1 013.53", "29MD101353", Motorbike, "29-MĐ1 013.53"),
            ("29MD1-01353", "29MD101353", Motorbike, "29-MĐ1 013.53"),
            // The ambiguous shape: an old motorbike plate keys like a car.
            ("36-B1 2345", "36B12345", Car, "36B-123.45"),
            ("80NG-636-70", "80NG63670", Diplomatic, "80NG-636-70"),
            ("80-011-NG-01", "80NG01101", Diplomatic, "80NG-011-01"),
            ("41-291-QT-05", "41QT29105", Diplomatic, "41QT-291-05"),
            ("80NN-381-35", "80NN38135", Diplomatic, "80NN-381-35"),
            ("80-631-CV-01", "80CV63101", Diplomatic, "80CV-631-01"),
            ("TM-12-34", "TM1234", Military, "TM-12-34"),
            ("KA 12 34", "KA1234", Military, "KA-12-34"),
            ("QH-1234", "QH1234", Military, "QH-12-34"),
            ("tc3386", "TC3386", Military, "TC-33-86"),
            ("KT\n12-34", "KT1234", Military, "KT-12-34"),
            ("T36-123.45", "T3612345", Temporary, "T36-123.45"),
        ];
        for (raw, canonical, format, display) in cases {
            let p = plate(raw);
            assert_eq!(p.as_str(), canonical, "canonical of {raw:?}");
            assert_eq!(p.format(), format, "format of {raw:?}");
            assert_eq!(p.display(), display, "display of {raw:?}");
            assert_eq!(plate(display), p, "display of {raw:?} re-normalizes");
        }
    }

    #[test]
    fn province_code_is_read_from_the_right_place() {
        assert_eq!(plate("36A-123.45").province_code(), Some(36));
        assert_eq!(plate("11A-123.45").province_code(), Some(11));
        assert_eq!(plate("36-B1 234.56").province_code(), Some(36));
        assert_eq!(plate("80-011-NG-01").province_code(), Some(80));
        assert_eq!(plate("T36-123.45").province_code(), Some(36));
        assert_eq!(plate("TM-12-34").province_code(), None);
    }

    #[test]
    fn display_and_from_str_agree_with_the_canonical_key() {
        let p: NormalizedPlate = "36-b1 234.56".parse().expect("valid plate");
        assert_eq!(p.to_string(), "36B123456");
        assert_eq!(format!("{p}"), p.as_str());
        assert_eq!("36A#1".parse::<NormalizedPlate>(), Err(error("36A#1")));
    }

    #[test]
    fn every_military_unit_is_accepted_and_keys_apart_from_civil_series() {
        for unit in MILITARY_UNITS {
            let raw = format!("{}-12-34", ascii_string(&unit));
            assert_eq!(plate(&raw).format(), PlateFormat::Military, "{raw}");
        }
        // KT is both a military region and a civil series; the province
        // code tells them apart.
        assert_eq!(plate("KT-12-34").format(), PlateFormat::Military);
        assert_eq!(plate("36KT-123.45").format(), PlateFormat::Car);
    }

    #[test]
    fn rejected_inputs_name_the_problem() {
        use PlateError::*;
        let cases: Vec<(&str, PlateError)> = vec![
            ("", Empty),
            ("   ", Empty),
            ("\n\t", Empty),
            (
                "-- . /",
                OnlySeparators {
                    input: "-- . /".into(),
                },
            ),
            (
                "36A#12345",
                InvalidCharacter {
                    input: "36A#12345".into(),
                    ch: '#',
                    position: 3,
                },
            ),
            // Positions count characters, not bytes, and include separators.
            (
                " 36A-12é.45",
                InvalidCharacter {
                    input: " 36A-12é.45".into(),
                    ch: 'é',
                    position: 7,
                },
            ),
            (
                "36A-12З.45",
                InvalidCharacter {
                    input: "36A-12З.45".into(),
                    ch: 'З',
                    position: 6,
                },
            ),
            (
                "36Ă-123.45",
                InvalidCharacter {
                    input: "36Ă-123.45".into(),
                    ch: 'Ă',
                    position: 2,
                },
            ),
            (
                "123",
                TooShort {
                    input: "123".into(),
                },
            ),
            (
                "3A12",
                TooShort {
                    input: "3A12".into(),
                },
            ),
            (
                "05B1",
                TooShort {
                    input: "05B1".into(),
                },
            ),
            (
                "36A-123.45.678.9",
                TooLong {
                    input: "36A-123.45.678.9".into(),
                },
            ),
            (
                "36-B1",
                PartialRead {
                    seen: "36-B1".into(),
                    missing: MISSING_SERIAL,
                },
            ),
            (
                "36B1\n",
                PartialRead {
                    seen: "36B1\n".into(),
                    missing: MISSING_SERIAL,
                },
            ),
            (
                "36A",
                PartialRead {
                    seen: "36A".into(),
                    missing: MISSING_SERIAL,
                },
            ),
            (
                "36LD",
                PartialRead {
                    seen: "36LD".into(),
                    missing: MISSING_SERIAL,
                },
            ),
            (
                "36-AA",
                PartialRead {
                    seen: "36-AA".into(),
                    missing: MISSING_SERIAL,
                },
            ),
            (
                "29-MĐ1",
                PartialRead {
                    seen: "29-MĐ1".into(),
                    missing: MISSING_SERIAL,
                },
            ),
            (
                "TM",
                PartialRead {
                    seen: "TM".into(),
                    missing: MISSING_SERIAL,
                },
            ),
            (
                "234.56",
                PartialRead {
                    seen: "234.56".into(),
                    missing: MISSING_PREFIX,
                },
            ),
            (
                "12-34",
                PartialRead {
                    seen: "12-34".into(),
                    missing: MISSING_PREFIX,
                },
            ),
            (
                "05A-123.45",
                UnknownProvince {
                    input: "05A-123.45".into(),
                    code: 5,
                },
            ),
            (
                "10A12345",
                UnknownProvince {
                    input: "10A12345".into(),
                    code: 10,
                },
            ),
            (
                "00-B1 234.56",
                UnknownProvince {
                    input: "00-B1 234.56".into(),
                    code: 0,
                },
            ),
            (
                "T05-123.45",
                UnknownProvince {
                    input: "T05-123.45".into(),
                    code: 5,
                },
            ),
            (
                "36A-12B.45",
                UnexpectedCharacter {
                    input: "36A-12B.45".into(),
                    found: 'B',
                    position: 6,
                    expected: "a digit",
                },
            ),
            (
                "3GA-123.45",
                UnexpectedCharacter {
                    input: "3GA-123.45".into(),
                    found: 'G',
                    position: 1,
                    expected: "a digit",
                },
            ),
            (
                "36ABC-123",
                UnexpectedCharacter {
                    input: "36ABC-123".into(),
                    found: 'C',
                    position: 4,
                    expected: "a digit",
                },
            ),
            (
                "3612345678",
                UnexpectedCharacter {
                    input: "3612345678".into(),
                    found: '1',
                    position: 2,
                    expected: "a series letter",
                },
            ),
            (
                "36-B0 123.45",
                UnexpectedCharacter {
                    input: "36-B0 123.45".into(),
                    found: '0',
                    position: 4,
                    expected: "a series digit from 1 to 9",
                },
            ),
            (
                "TM-12-3A",
                UnexpectedCharacter {
                    input: "TM-12-3A".into(),
                    found: 'A',
                    position: 7,
                    expected: "a digit",
                },
            ),
            (
                "36O-123.45",
                UnusedSeriesLetter {
                    input: "36O-123.45".into(),
                    letter: 'O',
                    position: 2,
                },
            ),
            (
                "36W-123.45",
                UnusedSeriesLetter {
                    input: "36W-123.45".into(),
                    letter: 'W',
                    position: 2,
                },
            ),
            (
                "36-AO 123.45",
                UnusedSeriesLetter {
                    input: "36-AO 123.45".into(),
                    letter: 'O',
                    position: 4,
                },
            ),
            (
                "XY-12-34",
                UnknownMilitaryUnit {
                    input: "XY-12-34".into(),
                    unit: "XY".into(),
                },
            ),
            (
                "ABCDEFG",
                UnrecognizedFormat {
                    input: "ABCDEFG".into(),
                    reason: REASON_START,
                },
            ),
            (
                "A1234567",
                UnrecognizedFormat {
                    input: "A1234567".into(),
                    reason: REASON_START,
                },
            ),
        ];
        for (raw, expected) in cases {
            assert_eq!(error(raw), expected, "error for {raw:?}");
        }
        // The remaining shape errors only differ by reason.
        for raw in [
            "36A-123",
            "36R-123.456",
            "36NG-123.4",
            "36LD-123.456",
            "36AA-123.456",
            "T36-1234",
        ] {
            assert!(
                matches!(error(raw), UnrecognizedFormat { .. }),
                "{raw:?} should not match any format"
            );
        }
    }

    #[test]
    fn error_messages_read_as_reasons() {
        let cases = [
            ("", "plate is empty"),
            (
                "36A#12345",
                r#"character '#' at position 3 of "36A#12345" is not allowed in a plate"#,
            ),
            (
                "36B",
                r#""36B" looks like one line of a two-line plate: the serial digits are missing"#,
            ),
            (
                "234.56",
                r#""234.56" looks like one line of a two-line plate: the province code and series are missing"#,
            ),
            (
                "3A1",
                r#""3A1" is too short: a plate has at least 6 characters besides separators"#,
            ),
            (
                "05A-123.45",
                r#""05A-123.45" has province code 05, which is not in use: codes run from 11 to 99"#,
            ),
            (
                "36A-12B.45",
                r#""36A-12B.45" has 'B' at position 6 where a digit must be"#,
            ),
            (
                "ABCDEFG",
                r#""ABCDEFG" does not match any Vietnamese plate format: a plate starts with a two-digit province code, with T and a province code (temporary), or is a two-letter military unit code followed by 4 digits"#,
            ),
        ];
        for (raw, message) in cases {
            assert_eq!(error(raw).to_string(), message);
        }
    }

    #[test]
    fn ocr_key_merges_common_confusions() {
        let reference = ocr_key("36A-123.45");
        for read in [
            "36A-l23.45",
            "36A-I23.45",
            "36A-123.4S",
            "36A 123 45",
            "364-IZ3.4S",
            "36a12345",
        ] {
            assert_eq!(ocr_key(read), reference, "{read:?}");
        }
        assert_eq!(ocr_key("0ODQĐđo"), "0000000");
        assert_eq!(ocr_key("1IiLl"), "11111");
        assert_eq!(ocr_key("2Zz 4Aa 5Ss 6Gg 8Bb"), "222444555666888");
        // T is confused with both 1 and 7, so it keeps its own class.
        assert_eq!(ocr_key("T71"), "T71");
        assert_eq!(ocr_key(" 36-B1\n234.56 "), ocr_key("36B123456"));
        assert_eq!(ocr_key(""), "");
        assert_eq!(ocr_key("-. _/"), "");
    }

    #[test]
    fn ocr_key_keeps_non_ascii_upper_cased() {
        // A Cyrillic Ze standing in for 3 is kept, so the read stays apart
        // from the plate it imitates rather than colliding with a shorter one.
        let key = ocr_key("36A-I2З.45");
        assert_eq!(key, "36412З45");
        assert_ne!(key, ocr_key("36A-123.45"));
        assert_eq!(ocr_key("з#"), "З#");
        // Upper-casing may expand; every piece is classed.
        assert_eq!(ocr_key("ß"), "55");
    }

    #[test]
    fn ocr_key_is_idempotent_on_every_char() {
        for ch in (0..=u32::from(char::MAX)).filter_map(char::from_u32) {
            let text = ch.to_string();
            let key = ocr_key(&text);
            assert_eq!(ocr_key(&key), key, "{ch:?} (U+{:04X})", u32::from(ch));
        }
    }

    /// Canonical keys of valid plates, one strategy per shape.
    fn canonical_plate() -> impl Strategy<Value = String> {
        let province = || 11u8..=99;
        let letter = || prop::sample::select(SERIES_LETTERS.to_vec()).prop_map(char::from);
        let pair = |pairs: Vec<[u8; 2]>| prop::sample::select(pairs).prop_map(|p| ascii_string(&p));
        prop_oneof![
            (province(), letter(), "[0-9]{4,5}").prop_map(|(p, l, s)| format!("{p}{l}{s}")),
            (province(), "R[0-9]{4,5}").prop_map(|(p, s)| format!("{p}{s}")),
            (province(), pair(CAR_SPECIAL_SERIES.to_vec()), "[0-9]{4,5}")
                .prop_map(|(p, l, s)| format!("{p}{l}{s}")),
            (province(), letter(), "[1-9][0-9]{5}").prop_map(|(p, l, s)| format!("{p}{l}{s}")),
            // Foreign pairs such as NG take exactly 5 digits; they have their own arm.
            (province(), letter(), letter(), "[0-9]{4,5}")
                .prop_filter("foreign series", |(_, a, b, _)| {
                    !FOREIGN_SERIES.contains(&[*a as u8, *b as u8])
                })
                .prop_map(|(p, a, b, s)| format!("{p}{a}{b}{s}")),
            (province(), "MD[1-9][0-9]{5}").prop_map(|(p, s)| format!("{p}{s}")),
            (province(), pair(FOREIGN_SERIES.to_vec()), "[0-9]{5}")
                .prop_map(|(p, l, s)| format!("{p}{l}{s}")),
            (pair(MILITARY_UNITS.to_vec()), "[0-9]{4}").prop_map(|(u, s)| format!("{u}{s}")),
            (province(), "[0-9]{5}").prop_map(|(p, s)| format!("T{p}{s}")),
        ]
    }

    /// A valid plate written with random separators between characters and
    /// random case, with its canonical key.
    fn written_plate() -> impl Strategy<Value = (String, String)> {
        let separator =
            prop::sample::select(vec!["", "", "", "-", ".", " ", "\n", "/", "_", " - "]);
        (
            canonical_plate(),
            prop::collection::vec((separator, any::<bool>()), MAX_LEN + 1),
        )
            .prop_map(|(canonical, noise)| {
                let mut written = String::new();
                for (ch, (sep, lower)) in canonical.chars().zip(&noise) {
                    written.push_str(sep);
                    match ch {
                        'D' if *lower => written.push('đ'),
                        _ if *lower => written.push(ch.to_ascii_lowercase()),
                        _ => written.push(ch),
                    }
                }
                written.push_str(noise[MAX_LEN].0);
                (written, canonical)
            })
    }

    proptest! {
        #[test]
        fn normalizing_is_idempotent(canonical in canonical_plate()) {
            let once = normalize_plate(&canonical).expect("generated plates are valid");
            prop_assert_eq!(once.as_str(), canonical.as_str());
            prop_assert_eq!(normalize_plate(once.as_str()), Ok(once.clone()));
        }

        #[test]
        fn separators_and_case_do_not_change_the_key((written, canonical) in written_plate()) {
            let p = normalize_plate(&written).expect("separators are accepted");
            prop_assert_eq!(p.as_str(), canonical.as_str());
            prop_assert_eq!(normalize_plate(&written), normalize_plate(&canonical));
        }

        #[test]
        fn display_renormalizes_to_the_same_plate((written, _) in written_plate()) {
            let p = normalize_plate(&written).expect("valid plate");
            prop_assert_eq!(normalize_plate(&p.display()), Ok(p));
        }

        #[test]
        fn ocr_key_of_a_plate_ignores_how_it_was_written((written, canonical) in written_plate()) {
            prop_assert_eq!(ocr_key(&written), ocr_key(&canonical));
        }

        #[test]
        fn ocr_key_is_idempotent(text in any::<String>()) {
            let key = ocr_key(&text);
            prop_assert_eq!(ocr_key(&key), key);
        }

        #[test]
        fn normalize_never_panics(text in any::<String>()) {
            let _ = normalize_plate(&text);
        }

        #[test]
        fn normalize_never_panics_on_plate_like_text(text in "[0-9A-Za-zĐđ .\\-\n]{0,14}") {
            if let Ok(p) = normalize_plate(&text) {
                // Whatever is accepted is stable under re-normalization.
                prop_assert_eq!(normalize_plate(p.as_str()), Ok(p.clone()));
                prop_assert_eq!(normalize_plate(&p.display()), Ok(p));
            }
        }
    }
}
