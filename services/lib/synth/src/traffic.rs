//! Synthetic detection traffic: what a province's cameras report, and when.
//!
//! [`DetectionFactory`] mints `vigil.v1` detections shaped like what the
//! edge agents receive from plate readers, fixed cameras and NVR analytics
//! in Thanh Hoa: mostly plate reads of local (`36`) motorbikes and cars,
//! people, and a thin tail of intrusion, loitering, tamper, fire/smoke and
//! crowd alarms, each with the attribute labels real analytics attach, so
//! that an encoded event is about 1.5 KB like the province's load model.
//!
//! [`RateModel`] and [`Arrivals`] say when events happen: a non-homogeneous
//! Poisson process over the fleet that follows Vietnam's daily traffic
//! curve, with cameras of very unequal activity and occasional bursts.
//!
//! Everything is deterministic for a seed: the same seed yields the same
//! detections and the same arrival times, so load tests are repeatable.

use std::collections::HashMap;
use std::f64::consts::TAU;
use std::sync::Arc;

use chrono::{DateTime, Datelike, Duration, Timelike, Utc};
use rand::seq::index;
use rand::{Rng, RngCore, SeedableRng};
use rand_chacha::ChaCha8Rng;
use uuid::Builder;
use vigil_domain::plate::{PlateFormat, normalize_plate};
use vigil_proto::v1::{
    BoundingBox, Detection, DetectionKind, Plate, Snapshot, Vehicle, VehicleType,
};

/// Vietnam is UTC+7 all year (no daylight saving).
const VIETNAM_OFFSET_SECONDS: i64 = 7 * 3600;
const SECONDS_PER_DAY: i64 = 86_400;

// ---------------------------------------------------------------------------
// Detections
// ---------------------------------------------------------------------------

/// Share of each kind among detections, in percent: plate readers dominate
/// a fleet's output, alarms are rare.
const KIND_MIX: &[(DetectionKind, f64)] = &[
    (DetectionKind::Plate, 45.0),
    (DetectionKind::Vehicle, 25.0),
    (DetectionKind::Person, 22.0),
    (DetectionKind::Intrusion, 4.0),
    (DetectionKind::Loitering, 2.0),
    (DetectionKind::Tamper, 1.0),
    (DetectionKind::FireSmoke, 0.5),
    (DetectionKind::Crowd, 0.5),
];

/// Road traffic in Vietnam is mostly motorbikes.
const CLASS_MIX: &[(VehicleClass, f64)] = &[
    (VehicleClass::Motorbike, 60.0),
    (VehicleClass::Car, 30.0),
    (VehicleClass::Truck, 5.0),
    (VehicleClass::Van, 3.0),
    (VehicleClass::Bus, 2.0),
];

/// Thanh Hoa's plate code, and how many of the plates read there carry it.
const HOME_PROVINCE: u8 = 36;
const HOME_PROVINCE_SHARE: f64 = 0.70;

/// The other plate codes seen in Thanh Hoa, weighted by closeness and size:
/// the neighbours (Nghe An, Ninh Binh, Hoa Binh, Son La), Hanoi's many
/// codes, the Red River delta along National Road 1A, and a long tail.
const OTHER_PROVINCES: &[(u8, f64)] = &[
    (37, 6.0), // Nghe An
    (35, 4.0), // Ninh Binh
    (29, 4.0), // Hanoi
    (30, 4.0), // Hanoi
    (38, 2.5), // Ha Tinh
    (18, 2.0), // Nam Dinh
    (17, 1.5), // Thai Binh
    (90, 1.5), // Ha Nam
    (51, 1.5), // Ho Chi Minh City
    (28, 1.0), // Hoa Binh
    (26, 1.0), // Son La
    (15, 1.0), // Hai Phong
    (14, 0.8), // Quang Ninh
    (34, 0.8), // Hai Duong
    (89, 0.7), // Hung Yen
    (99, 0.7), // Bac Ninh
    (98, 0.5), // Bac Giang
    (88, 0.5), // Vinh Phuc
    (19, 0.5), // Phu Tho
    (20, 0.5), // Thai Nguyen
    (31, 0.4), // Hanoi
    (33, 0.4), // Hanoi (former Ha Tay)
    (40, 0.3), // Hanoi
    (59, 0.4), // Ho Chi Minh City
    (43, 0.5), // Da Nang
    (73, 0.5), // Quang Binh
    (74, 0.3), // Quang Tri
    (75, 0.3), // Thua Thien Hue
    (92, 0.3), // Quang Nam
    (76, 0.2), // Quang Ngai
    (77, 0.2), // Binh Dinh
    (79, 0.2), // Khanh Hoa
    (47, 0.2), // Dak Lak
    (49, 0.2), // Lam Dong
    (60, 0.3), // Dong Nai
    (61, 0.3), // Binh Duong
    (65, 0.2), // Can Tho
    (21, 0.3), // Yen Bai
    (22, 0.2), // Tuyen Quang
    (24, 0.2), // Lao Cai
    (27, 0.2), // Dien Bien
    (25, 0.1), // Lai Chau
    (23, 0.2), // Ha Giang
    (11, 0.1), // Cao Bang
    (12, 0.2), // Lang Son
    (97, 0.1), // Bac Kan
    (80, 0.2), // central agencies
];

/// Series letters issued to civil vehicles (no I, J, O, Q, W; R is for
/// trailers), as in `vigil_domain::plate`.
const SERIES_LETTERS: &[u8] = b"ABCDEFGHKLMNPSTUVXYZ";

/// A vehicle maker and the models seen on Thanh Hoa's roads.
#[derive(Debug)]
struct Make {
    name: &'static str,
    models: &'static [&'static str],
    /// Electric motorbikes carry the `MĐ` plate series.
    electric: bool,
}

const fn make(name: &'static str, models: &'static [&'static str]) -> Make {
    Make {
        name,
        models,
        electric: false,
    }
}

const fn electric(name: &'static str, models: &'static [&'static str]) -> Make {
    Make {
        name,
        models,
        electric: true,
    }
}

const MOTORBIKE_MAKES: &[(Make, f64)] = &[
    (
        make(
            "Honda",
            &[
                "Wave Alpha",
                "Vision",
                "Air Blade",
                "SH Mode",
                "Lead",
                "Winner X",
                "Future",
                "Blade",
            ],
        ),
        52.0,
    ),
    (
        make(
            "Yamaha",
            &["Exciter", "Sirius", "Janus", "Grande", "NVX", "Jupiter"],
        ),
        22.0,
    ),
    (make("SYM", &["Attila", "Galaxy", "Elegant", "Angela"]), 5.0),
    (make("Suzuki", &["Raider", "Axelo", "Satria"]), 4.0),
    (
        make("Piaggio", &["Vespa Sprint", "Vespa Primavera", "Liberty"]),
        4.0,
    ),
    (
        electric("VinFast", &["Klara S", "Feliz S", "Evo200", "Vento S"]),
        8.0,
    ),
    (electric("Yadea", &["Xmen Neo", "Odora", "G5"]), 5.0),
];

const CAR_MAKES: &[(Make, f64)] = &[
    (
        make(
            "Toyota",
            &[
                "Vios",
                "Innova",
                "Fortuner",
                "Corolla Cross",
                "Camry",
                "Veloz",
            ],
        ),
        20.0,
    ),
    (
        make(
            "Hyundai",
            &["Accent", "Grand i10", "Creta", "Tucson", "Santa Fe"],
        ),
        18.0,
    ),
    (
        make(
            "VinFast",
            &["VF 3", "VF 5", "VF 6", "VF 7", "VF 8", "Fadil"],
        ),
        14.0,
    ),
    (
        make("Kia", &["Morning", "K3", "Seltos", "Sonet", "Carnival"]),
        12.0,
    ),
    (
        make("Mitsubishi", &["Xpander", "Attrage", "Outlander"]),
        9.0,
    ),
    (make("Ford", &["Ranger", "Everest", "Territory"]), 8.0),
    (make("Mazda", &["Mazda2", "Mazda3", "CX-5", "CX-8"]), 8.0),
    (make("Honda", &["City", "CR-V", "Civic", "HR-V"]), 7.0),
    (make("Suzuki", &["XL7", "Ertiga", "Swift"]), 4.0),
];

const VAN_MAKES: &[(Make, f64)] = &[
    (make("Ford", &["Transit"]), 30.0),
    (make("Toyota", &["Hiace"]), 20.0),
    (make("Hyundai", &["Solati"]), 15.0),
    (make("Suzuki", &["Blind Van", "Carry Pro"]), 20.0),
    (make("Thaco", &["Towner Van"]), 15.0),
];

const TRUCK_MAKES: &[(Make, f64)] = &[
    (make("Hyundai", &["Mighty EX8", "HD240"]), 25.0),
    (make("Thaco", &["Ollin 350", "Kia K250", "Auman"]), 20.0),
    (make("Isuzu", &["QKR", "NPR", "FVR"]), 20.0),
    (make("Hino", &["300 Series", "500 Series"]), 15.0),
    (make("Dongfeng", &["B180"]), 10.0),
    (make("Howo", &["A7"]), 10.0),
];

const BUS_MAKES: &[(Make, f64)] = &[
    (make("Thaco", &["Universe", "Garden"]), 40.0),
    (make("Hyundai", &["County", "Universe"]), 30.0),
    (make("Samco", &["Felix"]), 15.0),
    (make("Ford", &["Transit 16-seat"]), 15.0),
];

const MOTORBIKE_COLOURS: &[(&str, f64)] = &[
    ("black", 30.0),
    ("red", 15.0),
    ("white", 15.0),
    ("blue", 10.0),
    ("grey", 10.0),
    ("silver", 8.0),
    ("brown", 5.0),
    ("yellow", 3.0),
    ("green", 2.0),
    ("orange", 2.0),
];

const CAR_COLOURS: &[(&str, f64)] = &[
    ("white", 35.0),
    ("black", 20.0),
    ("silver", 15.0),
    ("grey", 12.0),
    ("red", 8.0),
    ("blue", 6.0),
    ("brown", 4.0),
];

const VAN_COLOURS: &[(&str, f64)] = &[
    ("white", 60.0),
    ("silver", 20.0),
    ("grey", 10.0),
    ("blue", 10.0),
];

const TRUCK_COLOURS: &[(&str, f64)] = &[
    ("blue", 30.0),
    ("white", 25.0),
    ("yellow", 15.0),
    ("red", 10.0),
    ("grey", 10.0),
    ("green", 10.0),
];

const BUS_COLOURS: &[(&str, f64)] = &[
    ("white", 40.0),
    ("yellow", 20.0),
    ("green", 15.0),
    ("blue", 15.0),
    ("red", 10.0),
];

const CLOTHING_COLOURS: &[(&str, f64)] = &[
    ("black", 25.0),
    ("white", 20.0),
    ("blue", 15.0),
    ("grey", 12.0),
    ("red", 6.0),
    ("green", 6.0),
    ("brown", 6.0),
    ("yellow", 5.0),
    ("pink", 5.0),
];

/// What people wear on their heads in rural Thanh Hoa: helmets on
/// motorbikes, the conical hat in the fields and markets.
const HEADWEAR: &[(&str, f64)] = &[
    ("none", 45.0),
    ("helmet", 25.0),
    ("cap", 15.0),
    ("conical_hat", 10.0),
    ("hood", 5.0),
];

const CARRYING: &[(&str, f64)] = &[
    ("none", 50.0),
    ("backpack", 20.0),
    ("handbag", 15.0),
    ("bag", 10.0),
    ("umbrella", 5.0),
];

/// Places cameras watch; a camera covers one to three of them.
const ZONE_LABELS: &[&str] = &[
    "gate",
    "market",
    "school",
    "national_road_1a",
    "national_road_45",
    "national_road_47",
    "ho_chi_minh_road",
    "provincial_road",
    "commune_road",
    "village_lane",
    "intersection",
    "bridge",
    "ferry_landing",
    "bus_station",
    "health_station",
    "commune_office",
    "pagoda",
    "field_edge",
    "industrial_zone",
    "beach_road",
    "toll_station",
    "parking",
];

/// A camera model in the fleet, with its sensor resolution.
#[derive(Debug)]
struct CameraModel {
    make: &'static str,
    model: &'static str,
    width: u32,
    height: u32,
}

const CAMERA_MODELS: &[(CameraModel, f64)] = &[
    (
        CameraModel {
            make: "Hikvision",
            model: "DS-2CD7A26G0/P-IZHS",
            width: 1920,
            height: 1080,
        },
        20.0,
    ),
    (
        CameraModel {
            make: "Hikvision",
            model: "DS-2CD2T47G2-L",
            width: 2688,
            height: 1520,
        },
        20.0,
    ),
    (
        CameraModel {
            make: "Dahua",
            model: "ITC413-PW4D-IZ1",
            width: 2688,
            height: 1520,
        },
        15.0,
    ),
    (
        CameraModel {
            make: "Dahua",
            model: "IPC-HFW2431S-S-S2",
            width: 2688,
            height: 1520,
        },
        20.0,
    ),
    (
        CameraModel {
            make: "Uniview",
            model: "IPC2124LE-ADF28KM-G",
            width: 2688,
            height: 1520,
        },
        15.0,
    ),
    (
        CameraModel {
            make: "Axis",
            model: "Q1700-LE",
            width: 1920,
            height: 1080,
        },
        6.0,
    ),
    (
        CameraModel {
            make: "Axis",
            model: "P1465-LE",
            width: 1920,
            height: 1080,
        },
        4.0,
    ),
];

/// Where the analytics run: on the camera, on the NVR, or on the site's
/// edge box.
const ANALYTICS: &[(&str, f64)] = &[("camera", 50.0), ("nvr", 30.0), ("edge_box", 20.0)];

/// Characters plate readers misread, each with what it is misread as. Every
/// pair shares a `vigil_domain::plate::ocr_key` class, so a confused read
/// still matches the plate it came from.
const OCR_CONFUSIONS: &[(char, char)] = &[
    ('1', 'l'),
    ('1', 'I'),
    ('0', 'O'),
    ('0', 'D'),
    ('5', 'S'),
    ('8', 'B'),
    ('2', 'Z'),
    ('6', 'G'),
    ('4', 'A'),
    ('B', '8'),
    ('S', '5'),
    ('A', '4'),
    ('D', '0'),
    ('G', '6'),
    ('Z', '2'),
    ('L', '1'),
];

/// Digit pairs readers also mix up but that `ocr_key` keeps apart (they
/// would join distinct serials): the realistic wrong candidates.
const DIGIT_CONFUSIONS: &[(char, char)] = &[
    ('3', '8'),
    ('8', '3'),
    ('6', '8'),
    ('8', '6'),
    ('7', '1'),
    ('1', '7'),
    ('9', '0'),
];

/// Salts that keep the per-camera and per-vehicle streams apart from each
/// other and from the factory's main stream.
const CAMERA_SALT: u64 = 0xCA3E_7A00_0000_0001;
const VEHICLE_SALT: u64 = 0x0E41_C1E0_0000_0002;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum VehicleClass {
    Motorbike,
    Car,
    Van,
    Truck,
    Bus,
}

impl VehicleClass {
    fn vehicle_type(self) -> VehicleType {
        match self {
            Self::Motorbike => VehicleType::Motorbike,
            Self::Car => VehicleType::Car,
            Self::Van => VehicleType::Van,
            Self::Truck => VehicleType::Truck,
            Self::Bus => VehicleType::Bus,
        }
    }

    fn makes(self) -> &'static [(Make, f64)] {
        match self {
            Self::Motorbike => MOTORBIKE_MAKES,
            Self::Car => CAR_MAKES,
            Self::Van => VAN_MAKES,
            Self::Truck => TRUCK_MAKES,
            Self::Bus => BUS_MAKES,
        }
    }

    fn colours(self) -> &'static [(&'static str, f64)] {
        match self {
            Self::Motorbike => MOTORBIKE_COLOURS,
            Self::Car => CAR_COLOURS,
            Self::Van => VAN_COLOURS,
            Self::Truck => TRUCK_COLOURS,
            Self::Bus => BUS_COLOURS,
        }
    }

    /// Bounding-box width and height ranges, as fractions of the frame.
    fn bbox_size(self) -> ((f32, f32), (f32, f32)) {
        match self {
            Self::Motorbike => ((0.04, 0.14), (0.10, 0.30)),
            Self::Car => ((0.12, 0.35), (0.10, 0.30)),
            Self::Van => ((0.15, 0.35), (0.15, 0.35)),
            Self::Truck | Self::Bus => ((0.20, 0.50), (0.20, 0.45)),
        }
    }

    /// Typical speeds on the roads cameras watch, km/h.
    fn speed_kmh(self) -> (f64, f64) {
        match self {
            Self::Motorbike => (12.0, 55.0),
            Self::Car | Self::Van => (20.0, 80.0),
            Self::Truck | Self::Bus => (20.0, 70.0),
        }
    }

    fn object_class(self) -> &'static str {
        match self {
            Self::Motorbike => "motorbike",
            Self::Car => "car",
            Self::Van => "van",
            Self::Truck => "truck",
            Self::Bus => "bus",
        }
    }
}

/// One vehicle as the detector describes it.
#[derive(Debug)]
struct VehicleSpec {
    class: VehicleClass,
    make: &'static Make,
    model: &'static str,
    colour: &'static str,
}

impl VehicleSpec {
    fn random<R: Rng + ?Sized>(rng: &mut R, class: VehicleClass) -> Self {
        let make = pick(rng, class.makes());
        Self {
            class,
            make,
            model: make.models[rng.random_range(0..make.models.len())],
            colour: *pick(rng, class.colours()),
        }
    }

    /// Yellow plates are for commercial transport (since 2020): all trucks,
    /// vans and buses here, and taxis among cars.
    fn plate_colour<R: Rng + ?Sized>(&self, rng: &mut R) -> &'static str {
        match self.class {
            VehicleClass::Truck | VehicleClass::Van | VehicleClass::Bus => "yellow",
            VehicleClass::Car if rng.random_bool(0.1) => "yellow",
            _ => "white",
        }
    }
}

/// A plate as written by a reader, with its canonical key.
#[derive(Debug)]
struct WrittenPlate {
    text: String,
    canonical: String,
    two_line: bool,
}

/// What every event from one camera shares: its hardware and setup. Drawn
/// from the camera id, so a camera keeps its profile across events.
#[derive(Debug)]
struct CameraProfile {
    model: &'static CameraModel,
    firmware: String,
    fps: u32,
    zones: Vec<&'static str>,
    lanes: u32,
    analytics: &'static str,
    model_version: String,
    serial: String,
    /// The detector's input size, e.g. `640x640`.
    detector_input: &'static str,
}

/// Makes realistic detections. Deterministic for a seed: the same seed and
/// the same calls yield the same detections.
///
/// Each camera keeps one hardware profile (make, model, firmware, frame
/// size, zones, lanes) derived from its id, and each plate given to
/// [`DetectionFactory::plate_read`] belongs to one vehicle (type, make,
/// colour) derived from the plate, so repeated sightings agree with each
/// other as they would in the field.
#[derive(Debug)]
pub struct DetectionFactory {
    seed: u64,
    rng: ChaCha8Rng,
    /// Profiles already drawn, one per camera id seen, since drawing one
    /// is costly. `Arc` keeps the factory `Send` for load generators.
    profiles: HashMap<String, Arc<CameraProfile>>,
}

impl DetectionFactory {
    /// A factory whose output depends only on `seed` and the calls made.
    pub fn new(seed: u64) -> Self {
        Self {
            seed,
            rng: ChaCha8Rng::seed_from_u64(seed),
            profiles: HashMap::new(),
        }
    }

    /// One detection from `camera_id` captured at `captured_at`.
    ///
    /// The kind follows the fleet mix (plate 45 %, vehicle 25 %, person
    /// 22 %, intrusion 4 %, loitering 2 %, tamper 1 %, fire/smoke 0.5 %,
    /// crowd 0.5 %). The `event_id` is a UUIDv7 whose timestamp is
    /// `captured_at` (to the millisecond) and whose random bits come from
    /// the factory's generator. Plate reads are written as readers write
    /// them (`36A-123.45`, `36-B1 234.56`, `36B123456`, ...) and always
    /// normalize, with `plate.normalized` set to the canonical key.
    /// `received_at` and `site_id` are left unset: the edge agent sets them.
    pub fn detection(&mut self, camera_id: &str, captured_at: DateTime<Utc>) -> Detection {
        match *pick(&mut self.rng, KIND_MIX) {
            DetectionKind::Plate => {
                let class = *pick(&mut self.rng, CLASS_MIX);
                let vehicle = VehicleSpec::random(&mut self.rng, class);
                let plate = random_plate(&mut self.rng, &vehicle);
                self.plate_detection(camera_id, captured_at, &vehicle, plate)
            }
            DetectionKind::Vehicle => {
                let class = *pick(&mut self.rng, CLASS_MIX);
                let vehicle = VehicleSpec::random(&mut self.rng, class);
                self.vehicle_detection(camera_id, captured_at, DetectionKind::Vehicle, &vehicle)
            }
            kind => self.scene_detection(camera_id, captured_at, kind),
        }
    }

    /// A read of `plate` (a canonical plate such as `36A12345`, e.g. from a
    /// watchlist) as a plate reader would report it: written in its
    /// conventional form (`36A-123.45`), on the vehicle that carries it.
    ///
    /// With `ocr_confused`, one character is misread the way readers do
    /// (1 → l or I, 0 → O or D, 5 → S, 8 → B, and back), so the text
    /// differs from the plate while `vigil_domain::plate::ocr_key` of both
    /// stays equal; a plate without such characters gets one letter in
    /// lower case instead. `plate.normalized` is what normalizing the text
    /// gives, as the edge would compute it: empty when the confused text is
    /// no longer a valid plate, and a different key when the misread turns
    /// it into another valid plate. A `plate` that does not normalize is
    /// reported verbatim (it stands for a garbled watchlist entry).
    pub fn plate_read(
        &mut self,
        camera_id: &str,
        captured_at: DateTime<Utc>,
        plate: &str,
        ocr_confused: bool,
    ) -> Detection {
        let (written, vehicle) = match normalize_plate(plate) {
            Ok(normalized) => (
                normalized.display(),
                self.vehicle_of(normalized.as_str(), normalized.format()),
            ),
            Err(_) => (plate.to_owned(), self.vehicle_of(plate, PlateFormat::Car)),
        };
        let text = if ocr_confused {
            confused(&mut self.rng, &written)
        } else {
            written
        };
        let canonical = normalize_plate(&text)
            .map(|p| p.as_str().to_owned())
            .unwrap_or_default();
        let two_line = vehicle.class == VehicleClass::Motorbike;
        self.plate_detection(
            camera_id,
            captured_at,
            &vehicle,
            WrittenPlate {
                text,
                canonical,
                two_line,
            },
        )
    }

    /// The vehicle that carries `plate`: its class from the plate's layout
    /// and series, its make and colour drawn from the plate itself so every
    /// sighting of one plate shows the same vehicle.
    fn vehicle_of(&self, plate: &str, format: PlateFormat) -> VehicleSpec {
        let series = plate.as_bytes().get(2).copied();
        let class = match format {
            PlateFormat::Motorbike | PlateFormat::MotorbikeOld => VehicleClass::Motorbike,
            PlateFormat::Trailer => VehicleClass::Truck,
            // Car-layout series letters: B coaches, C trucks, D vans. An old
            // 4-digit motorbike plate (`36-B1 2345`) has a car-layout key
            // and lands here too: the key cannot tell them apart.
            _ => match series {
                Some(b'B') => VehicleClass::Bus,
                Some(b'C') => VehicleClass::Truck,
                Some(b'D') => VehicleClass::Van,
                _ => VehicleClass::Car,
            },
        };
        let mut rng = keyed_rng(self.seed, VEHICLE_SALT, plate);
        let mut vehicle = VehicleSpec::random(&mut rng, class);
        // An `MĐ` plate is on an electric motorbike, and only there.
        let wants_electric = plate.get(2..4) == Some("MD");
        if class == VehicleClass::Motorbike && vehicle.make.electric != wants_electric {
            let makes: Vec<&(Make, f64)> = MOTORBIKE_MAKES
                .iter()
                .filter(|(m, _)| m.electric == wants_electric)
                .collect();
            let (make, _) = makes[rng.random_range(0..makes.len())];
            vehicle.make = make;
            vehicle.model = make.models[rng.random_range(0..make.models.len())];
        }
        vehicle
    }

    /// A plate read: the vehicle's detection plus the plate and the reader's
    /// OCR details.
    fn plate_detection(
        &mut self,
        camera_id: &str,
        captured_at: DateTime<Utc>,
        vehicle: &VehicleSpec,
        plate: WrittenPlate,
    ) -> Detection {
        let mut detection =
            self.vehicle_detection(camera_id, captured_at, DetectionKind::Plate, vehicle);
        let rng = &mut self.rng;
        let confidence = skewed_confidence(rng, 0.60);
        let labels = &mut detection.labels;
        put(labels, "ocr_engine", "lprnet-vn-2.4");
        put(
            labels,
            "ocr_ms",
            format!("{:.1}", rng.random_range(2.0..9.0)),
        );
        put(labels, "plate_colour", vehicle.plate_colour(rng));
        put(
            labels,
            "plate_layout",
            if plate.two_line {
                "two_line"
            } else {
                "one_line"
            },
        );
        // The plate sits low in the middle of the vehicle's box.
        let vehicle_box = detection.bbox.unwrap_or_default();
        let width = vehicle_box.width * rng.random_range(0.2..0.4);
        let height = vehicle_box.height * rng.random_range(0.08..0.15);
        let plate_box = BoundingBox {
            x: vehicle_box.x + (vehicle_box.width - width) * rng.random_range(0.3..0.7),
            y: vehicle_box.y + (vehicle_box.height - height) * rng.random_range(0.6..0.9),
            width,
            height,
        };
        put(
            labels,
            "plate_bbox",
            format!(
                "{:.4},{:.4},{:.4},{:.4}",
                plate_box.x, plate_box.y, plate_box.width, plate_box.height
            ),
        );
        let char_confidences: Vec<String> = plate
            .text
            .chars()
            .filter(char::is_ascii_alphanumeric)
            .map(|_| {
                format!(
                    "{:.2}",
                    (confidence + rng.random_range(-0.05..0.05)).min(0.999)
                )
            })
            .collect();
        put(labels, "plate_char_confidences", char_confidences.join(","));
        put(
            labels,
            "ocr_candidates",
            ocr_candidates(rng, &plate.text, confidence),
        );
        detection.plate = Some(Plate {
            text: plate.text,
            normalized: plate.canonical,
            confidence: confidence as f32,
        });
        detection
    }

    /// A vehicle, as a `kind` detection (vehicle, or plate before the plate
    /// is added).
    fn vehicle_detection(
        &mut self,
        camera_id: &str,
        captured_at: DateTime<Utc>,
        kind: DetectionKind,
        vehicle: &VehicleSpec,
    ) -> Detection {
        let profile = self.camera_profile(camera_id);
        let mut detection = self.base(
            camera_id,
            captured_at,
            kind,
            &profile,
            vehicle.class.object_class(),
        );
        let rng = &mut self.rng;
        let (width, height) = vehicle.class.bbox_size();
        place(&mut detection, bbox(rng, width, height), &profile);
        detection.vehicle = Some(Vehicle {
            r#type: vehicle.class.vehicle_type().into(),
            colour: vehicle.colour.to_owned(),
            make: vehicle.make.name.to_owned(),
        });
        let labels = &mut detection.labels;
        put(labels, "vehicle_model", vehicle.model);
        put(
            labels,
            "lane",
            rng.random_range(1..=profile.lanes).to_string(),
        );
        put(
            labels,
            "direction",
            if rng.random_bool(0.5) { "in" } else { "out" },
        );
        let (slow, fast) = vehicle.class.speed_kmh();
        put(
            labels,
            "speed_kmh",
            format!("{:.0}", rng.random_range(slow..fast)),
        );
        put(
            labels,
            "colour_confidence",
            format!("{:.2}", skewed_confidence(rng, 0.5)),
        );
        put(
            labels,
            "type_confidence",
            format!("{:.2}", skewed_confidence(rng, 0.6)),
        );
        detection
    }

    /// People and scene alarms: person, intrusion, loitering, crowd,
    /// fire/smoke, tamper.
    fn scene_detection(
        &mut self,
        camera_id: &str,
        captured_at: DateTime<Utc>,
        kind: DetectionKind,
    ) -> Detection {
        let profile = self.camera_profile(camera_id);
        let object_class = match kind {
            DetectionKind::FireSmoke => "fire_smoke",
            DetectionKind::Tamper => "scene",
            DetectionKind::Crowd => "crowd",
            _ => "person",
        };
        let mut detection = self.base(camera_id, captured_at, kind, &profile, object_class);
        let rng = &mut self.rng;
        let labels = &mut detection.labels;
        let frame_box = match kind {
            // Tamper concerns the whole view.
            DetectionKind::Tamper => {
                let reason =
                    ["defocus", "occlusion", "scene_change", "low_light"][rng.random_range(0..4)];
                put(labels, "tamper_type", reason);
                put(
                    labels,
                    "scene_change_ratio",
                    format!("{:.2}", rng.random_range(0.4..1.0)),
                );
                BoundingBox {
                    x: 0.0,
                    y: 0.0,
                    width: 1.0,
                    height: 1.0,
                }
            }
            DetectionKind::FireSmoke => {
                let smoke = rng.random_bool(0.7);
                put(labels, "fire_type", if smoke { "smoke" } else { "flame" });
                let area = bbox(rng, (0.05, 0.5), (0.05, 0.5));
                put(
                    labels,
                    "area_ratio",
                    format!("{:.3}", area.width * area.height),
                );
                area
            }
            DetectionKind::Crowd => {
                put(
                    labels,
                    "people_count",
                    rng.random_range(15..120).to_string(),
                );
                put(
                    labels,
                    "density_per_m2",
                    format!("{:.2}", rng.random_range(0.5..4.0)),
                );
                bbox(rng, (0.3, 0.9), (0.3, 0.8))
            }
            _ => {
                person_labels(rng, labels);
                match kind {
                    DetectionKind::Intrusion => {
                        let rule = rng.random_range(1..=3);
                        put(labels, "rule", format!("perimeter_{rule}"));
                        put(labels, "armed_schedule", "22:00-05:00");
                        put(labels, "line_crossing", "true");
                    }
                    DetectionKind::Loitering => {
                        put(labels, "rule", "loitering_1");
                        put(labels, "dwell_s", rng.random_range(60..900).to_string());
                        put(labels, "dwell_threshold_s", "60");
                    }
                    _ => {}
                }
                bbox(rng, (0.03, 0.10), (0.10, 0.40))
            }
        };
        place(&mut detection, frame_box, &profile);
        detection
    }

    /// What every detection carries: ids, time, confidence, snapshot, and
    /// the camera, model and exposure labels.
    fn base(
        &mut self,
        camera_id: &str,
        captured_at: DateTime<Utc>,
        kind: DetectionKind,
        profile: &CameraProfile,
        object_class: &str,
    ) -> Detection {
        let rng = &mut self.rng;
        let event_id = event_id(rng, captured_at);
        let mut sha = [0u8; 32];
        rng.fill_bytes(&mut sha);
        let sha256: String = sha.iter().map(|b| format!("{b:02x}")).collect();
        // Object keys are partitioned by the UTC day of capture.
        let day = format!(
            "{:04}/{:02}/{:02}",
            captured_at.year(),
            captured_at.month(),
            captured_at.day()
        );
        let uri = format!("s3://vigil-snapshots/{camera_id}/{day}/{event_id}.jpg");

        // Room for every label a detection gets, so the map never regrows.
        let mut labels = HashMap::with_capacity(48);
        put(&mut labels, "event_type", event_type(kind));
        put(&mut labels, "camera_make", profile.model.make);
        put(&mut labels, "camera_model", profile.model.model);
        put(&mut labels, "camera_serial", profile.serial.clone());
        put(&mut labels, "firmware", profile.firmware.clone());
        put(&mut labels, "frame_width", profile.model.width.to_string());
        put(
            &mut labels,
            "frame_height",
            profile.model.height.to_string(),
        );
        put(&mut labels, "fps", profile.fps.to_string());
        put(&mut labels, "analytics", profile.analytics);
        put(&mut labels, "model_name", model_name(kind));
        put(&mut labels, "model_version", profile.model_version.clone());
        put(&mut labels, "detector_input", profile.detector_input);
        put(
            &mut labels,
            "inference_ms",
            format!("{:.1}", rng.random_range(6.0..45.0)),
        );
        put(&mut labels, "object_class", object_class);
        // The object crop next to the full frame (a tamper alarm has no
        // object), and the event clip the edge exports from the NVR.
        if kind != DetectionKind::Tamper {
            put(
                &mut labels,
                "crop_uri",
                format!("s3://vigil-snapshots/{camera_id}/{day}/{event_id}-crop.jpg"),
            );
        }
        put(
            &mut labels,
            "clip_uri",
            format!("s3://vigil-clips/{camera_id}/{day}/{event_id}.mp4"),
        );
        // Zones the object was seen in: the camera's first zone always, the
        // others sometimes.
        let zones: Vec<&str> = profile
            .zones
            .iter()
            .enumerate()
            .filter(|(i, _)| *i == 0 || rng.random_bool(0.5))
            .map(|(_, z)| *z)
            .collect();
        put(&mut labels, "zones", zones.join(","));
        put(
            &mut labels,
            "frame_seq",
            rng.random_range(1..100_000_000u32).to_string(),
        );
        // Tampering, smoke and crowds concern an area of the view, not a
        // tracked object.
        let tracked = !matches!(
            kind,
            DetectionKind::Tamper | DetectionKind::FireSmoke | DetectionKind::Crowd
        );
        if tracked {
            put(
                &mut labels,
                "track_id",
                rng.random_range(1..10_000_000u32).to_string(),
            );
            put(
                &mut labels,
                "track_frames",
                rng.random_range(3..200u32).to_string(),
            );
            put(&mut labels, "trajectory", trajectory(rng));
        }

        // Exposure follows the light: long and with high gain after dark,
        // when the camera switches to its infrared night mode.
        let local_hour =
            (captured_at.timestamp() + VIETNAM_OFFSET_SECONDS).rem_euclid(SECONDS_PER_DAY) / 3600;
        let night = !(6..18).contains(&local_hour);
        put(&mut labels, "night_mode", night.to_string());
        let brightness = if night {
            rng.random_range(0.03..0.25)
        } else {
            rng.random_range(0.3..0.9)
        };
        put(&mut labels, "scene_brightness", format!("{brightness:.2}"));
        let (exposure, gain) = if night {
            (rng.random_range(8_000..33_000), rng.random_range(18..42))
        } else {
            (rng.random_range(100..4_000), rng.random_range(0..12))
        };
        put(&mut labels, "exposure_us", exposure.to_string());
        put(&mut labels, "gain_db", gain.to_string());
        put(&mut labels, "timezone", "Asia/Ho_Chi_Minh");

        Detection {
            event_id,
            camera_id: camera_id.to_owned(),
            captured_at: Some(prost_types::Timestamp {
                seconds: captured_at.timestamp(),
                // Above 999,999,999 only during a leap second.
                nanos: captured_at.nanosecond().min(999_999_999) as i32,
            }),
            kind: kind.into(),
            confidence: skewed_confidence(rng, 0.5) as f32,
            bbox: None,
            plate: None,
            vehicle: None,
            snapshot: Some(Snapshot { uri, sha256 }),
            labels,
            received_at: None,
            site_id: String::new(),
        }
    }

    fn camera_profile(&mut self, camera_id: &str) -> Arc<CameraProfile> {
        if let Some(profile) = self.profiles.get(camera_id) {
            return Arc::clone(profile);
        }
        let profile = Arc::new(self.draw_camera_profile(camera_id));
        self.profiles
            .insert(camera_id.to_owned(), Arc::clone(&profile));
        profile
    }

    fn draw_camera_profile(&self, camera_id: &str) -> CameraProfile {
        let mut rng = keyed_rng(self.seed, CAMERA_SALT, camera_id);
        let model = pick(&mut rng, CAMERA_MODELS);
        let firmware = match model.make {
            "Hikvision" => format!(
                "V5.{}.{} build 2{}{:02}{:02}",
                rng.random_range(5..=8),
                rng.random_range(0..20),
                rng.random_range(2..=5),
                rng.random_range(1..=12),
                rng.random_range(1..=28)
            ),
            "Dahua" => format!(
                "V2.{}.0000000.{}.R",
                rng.random_range(800..=880),
                rng.random_range(1..40)
            ),
            "Uniview" => format!(
                "IPC_G{}-B{:04}P{}",
                rng.random_range(6..=8),
                rng.random_range(1000..9999),
                rng.random_range(10..60)
            ),
            _ => format!(
                "{}.{}.{}",
                rng.random_range(10..=12),
                rng.random_range(0..12),
                rng.random_range(1..90)
            ),
        };
        let zone_count = rng.random_range(1..=3);
        let zones = index::sample(&mut rng, ZONE_LABELS.len(), zone_count)
            .into_iter()
            .map(|i| ZONE_LABELS[i])
            .collect();
        let analytics = *pick(&mut rng, ANALYTICS);
        let serial = format!(
            "{}{:02}{:02}{:02}{}{:09}",
            model.model.replace('/', ""),
            rng.random_range(19..=25),
            rng.random_range(1..=12),
            rng.random_range(1..=28),
            ["AAWR", "CCWR", "BBCH"][rng.random_range(0..3)],
            rng.random_range(0..1_000_000_000)
        );
        CameraProfile {
            model,
            firmware,
            fps: [15, 20, 25][rng.random_range(0..3)],
            zones,
            lanes: rng.random_range(1..=4),
            analytics,
            model_version: format!(
                "2025.{}.{}",
                rng.random_range(1..=12),
                rng.random_range(0..4)
            ),
            serial,
            detector_input: ["640x640", "960x960", "1280x1280"][rng.random_range(0..3)],
        }
    }
}

/// Sets the detection's box, and its pixel form as the camera reports it.
fn place(detection: &mut Detection, frame_box: BoundingBox, profile: &CameraProfile) {
    let (width, height) = (profile.model.width as f32, profile.model.height as f32);
    put(
        &mut detection.labels,
        "bbox_px",
        format!(
            "{:.0},{:.0},{:.0},{:.0}",
            frame_box.x * width,
            frame_box.y * height,
            frame_box.width * width,
            frame_box.height * height
        ),
    );
    detection.bbox = Some(frame_box);
}

/// The camera's own name for an event of `kind`, as its event API reports
/// it.
fn event_type(kind: DetectionKind) -> &'static str {
    match kind {
        DetectionKind::Plate => "ANPR",
        DetectionKind::Vehicle => "vehicle_detection",
        DetectionKind::Intrusion => "field_detection",
        DetectionKind::Loitering => "loitering_detection",
        DetectionKind::FireSmoke => "fire_smoke_detection",
        DetectionKind::Crowd => "people_gathering",
        DetectionKind::Tamper => "video_tampering",
        _ => "human_detection",
    }
}

/// The detector that produced an event of `kind`.
fn model_name(kind: DetectionKind) -> &'static str {
    match kind {
        DetectionKind::Plate => "yolov8s-vn-plate",
        DetectionKind::Vehicle => "yolov8m-vehicle",
        DetectionKind::FireSmoke => "yolov8s-fire-smoke",
        DetectionKind::Tamper => "scene-change-detector",
        _ => "yolov8m-person",
    }
}

/// Clothing and carried items, as person-attribute models report them.
fn person_labels<R: Rng + ?Sized>(rng: &mut R, labels: &mut HashMap<String, String>) {
    put(labels, "upper_colour", *pick(rng, CLOTHING_COLOURS));
    put(labels, "lower_colour", *pick(rng, CLOTHING_COLOURS));
    put(labels, "headwear", *pick(rng, HEADWEAR));
    put(labels, "carrying", *pick(rng, CARRYING));
    put(
        labels,
        "posture",
        ["walking", "standing", "running", "cycling"][rng.random_range(0..4)],
    );
    put(
        labels,
        "attribute_confidence",
        format!("{:.2}", skewed_confidence(rng, 0.5)),
    );
}

/// A random plate of the kind `vehicle` carries, written the way readers
/// write it.
fn random_plate<R: Rng + ?Sized>(rng: &mut R, vehicle: &VehicleSpec) -> WrittenPlate {
    let province = if rng.random_bool(HOME_PROVINCE_SHARE) {
        HOME_PROVINCE
    } else {
        *pick(rng, OTHER_PROVINCES)
    };
    let letter =
        |rng: &mut R| char::from(SERIES_LETTERS[rng.random_range(0..SERIES_LETTERS.len())]);
    // (series as written, series in the canonical key, serial digits)
    let (written_series, canonical_series, serial_len) = match vehicle.class {
        VehicleClass::Motorbike if vehicle.make.electric => {
            let digit = rng.random_range(1..=9);
            (format!("MĐ{digit}"), format!("MD{digit}"), 5)
        }
        VehicleClass::Motorbike if rng.random_bool(0.06) => {
            // Two-letter series (mopeds, post-2023 registrations); first
            // letters A and B never form a reserved pair such as LD or NG.
            let first = char::from(b"AB"[rng.random_range(0..2)]);
            let second = char::from(b"ABCDEFGH"[rng.random_range(0..8)]);
            let series = format!("{first}{second}");
            (series.clone(), series, 5)
        }
        VehicleClass::Motorbike => {
            let series = format!("{}{}", letter(rng), rng.random_range(1..=9));
            // Bikes registered before 2010 still carry 4-digit serials.
            let serial_len = if rng.random_bool(0.1) { 4 } else { 5 };
            (series.clone(), series, serial_len)
        }
        class => {
            let series = match class {
                VehicleClass::Van => "D".to_owned(),
                VehicleClass::Bus => "B".to_owned(),
                VehicleClass::Truck if rng.random_bool(0.1) => "R".to_owned(),
                VehicleClass::Truck => "C".to_owned(),
                _ => match rng.random::<f64>() {
                    u if u < 0.85 => "A".to_owned(),
                    u if u < 0.90 => "LD".to_owned(),
                    _ => char::from(b"EFGHK"[rng.random_range(0..5)]).to_string(),
                },
            };
            let serial_len = if rng.random_bool(0.1) { 4 } else { 5 };
            (series.clone(), series, serial_len)
        }
    };
    let serial = if serial_len == 5 {
        format!("{:05}", rng.random_range(0..100_000))
    } else {
        format!("{:04}", rng.random_range(0..10_000))
    };
    let grouped = if serial_len == 5 {
        format!("{}.{}", &serial[..3], &serial[3..])
    } else {
        serial.clone()
    };
    let two_line = vehicle.class == VehicleClass::Motorbike;
    let canonical = format!("{province}{canonical_series}{serial}");
    // Most readers print the conventional form; some print the bare key or
    // a one-line variant.
    let text = match (two_line, rng.random::<f64>()) {
        (_, u) if (0.75..0.90).contains(&u) => canonical.clone(),
        (true, u) if u < 0.75 => format!("{province}-{written_series} {grouped}"),
        (true, _) => format!("{province}{written_series}-{grouped}"),
        (false, u) if u < 0.75 => format!("{province}{written_series}-{grouped}"),
        (false, _) => format!("{province}{written_series}-{serial}"),
    };
    WrittenPlate {
        text,
        canonical,
        two_line,
    }
}

/// `text` with one character misread (see [`OCR_CONFUSIONS`]), or with one
/// letter lower-cased when it has no confusable character.
fn confused<R: Rng + ?Sized>(rng: &mut R, text: &str) -> String {
    let chars: Vec<char> = text.chars().collect();
    let options: Vec<(usize, char)> = chars
        .iter()
        .enumerate()
        .flat_map(|(i, &c)| {
            OCR_CONFUSIONS
                .iter()
                .filter(move |(from, _)| *from == c)
                .map(move |&(_, to)| (i, to))
        })
        .collect();
    let mut read = chars;
    if let Some(&(i, to)) = options.get(rng.random_range(0..options.len().max(1))) {
        read[i] = to;
    } else if let Some(c) = read.iter_mut().find(|c| c.is_ascii_uppercase()) {
        *c = c.to_ascii_lowercase();
    }
    read.into_iter().collect()
}

/// The reader's top alternatives, best first, as `text:confidence` joined
/// by `|`: the read itself, an OCR-class confusion and a digit confusion.
fn ocr_candidates<R: Rng + ?Sized>(rng: &mut R, text: &str, confidence: f64) -> String {
    let mut candidates = vec![format!("{text}:{confidence:.2}")];
    let mut next = confidence;
    let mut add = |rng: &mut R, alternative: String| {
        next *= rng.random_range(0.5..0.9);
        candidates.push(format!("{alternative}:{next:.2}"));
    };
    let misread = confused(rng, text);
    // A read already lower-cased has no further confusion to offer.
    if misread != text {
        add(rng, misread);
    }
    let digits: Vec<(usize, char)> = text
        .chars()
        .enumerate()
        .flat_map(|(i, c)| {
            DIGIT_CONFUSIONS
                .iter()
                .filter(move |(from, _)| *from == c)
                .map(move |&(_, to)| (i, to))
        })
        .collect();
    if !digits.is_empty() {
        let (i, to) = digits[rng.random_range(0..digits.len())];
        let alternative = text
            .chars()
            .enumerate()
            .map(|(j, c)| if j == i { to } else { c })
            .collect();
        add(rng, alternative);
    }
    candidates.join("|")
}

/// The last positions of the object's centre, oldest first, as
/// `x:y` pairs joined by `;`: a short straight-ish walk across the frame.
fn trajectory<R: Rng + ?Sized>(rng: &mut R) -> String {
    let (mut x, mut y) = (rng.random_range(0.1..0.9), rng.random_range(0.1..0.9));
    let (dx, dy): (f64, f64) = (rng.random_range(-0.03..0.03), rng.random_range(-0.03..0.03));
    let points: Vec<String> = (0..rng.random_range(6..=10))
        .map(|_| {
            x = (x + dx + rng.random_range(-0.005..0.005)).clamp(0.0, 1.0);
            y = (y + dy + rng.random_range(-0.005..0.005)).clamp(0.0, 1.0);
            format!("{x:.3}:{y:.3}")
        })
        .collect();
    points.join(";")
}

/// A UUIDv7 for `at`, with random bits from `rng` so that it is
/// reproducible (`Uuid::now_v7` would take them from the OS).
fn event_id<R: Rng + ?Sized>(rng: &mut R, at: DateTime<Utc>) -> String {
    let mut random = [0u8; 10];
    rng.fill_bytes(&mut random);
    // UUIDv7 cannot hold times before 1970; such captures get the epoch.
    let millis = u64::try_from(at.timestamp_millis()).unwrap_or(0);
    Builder::from_unix_timestamp_millis(millis, &random)
        .into_uuid()
        .to_string()
}

/// A box of the given width and height ranges placed uniformly inside the
/// frame, so that `x + width <= 1` and `y + height <= 1`.
fn bbox<R: Rng + ?Sized>(rng: &mut R, width: (f32, f32), height: (f32, f32)) -> BoundingBox {
    let width = rng.random_range(width.0..width.1);
    let height = rng.random_range(height.0..height.1);
    BoundingBox {
        x: rng.random::<f32>() * (1.0 - width),
        y: rng.random::<f32>() * (1.0 - height),
        width,
        height,
    }
}

/// A confidence in `floor..0.99`, skewed towards the top as detectors'
/// reported scores are (most detections are clear ones).
fn skewed_confidence<R: Rng + ?Sized>(rng: &mut R, floor: f64) -> f64 {
    0.99 - (0.99 - floor) * rng.random::<f64>().powi(2)
}

/// Picks an item with probability proportional to its weight.
fn pick<'a, T, R: Rng + ?Sized>(rng: &mut R, table: &'a [(T, f64)]) -> &'a T {
    let total: f64 = table.iter().map(|(_, w)| w).sum();
    let mut u = rng.random::<f64>() * total;
    for (item, weight) in table {
        if u < *weight {
            return item;
        }
        u -= weight;
    }
    // Only reached through rounding at the very top of the range.
    &table[table.len() - 1].0
}

fn put(labels: &mut HashMap<String, String>, key: &str, value: impl Into<String>) {
    labels.insert(key.to_owned(), value.into());
}

/// A generator determined by the factory seed and `key` (a camera id or a
/// plate), so that per-camera and per-vehicle traits do not depend on the
/// order of calls.
fn keyed_rng(seed: u64, salt: u64, key: &str) -> ChaCha8Rng {
    ChaCha8Rng::seed_from_u64(stable_hash(key) ^ salt ^ seed.wrapping_mul(0x9E37_79B9_7F4A_7C15))
}

/// FNV-1a: unlike `std`'s hasher, its output is fixed across Rust releases,
/// which reproducible data needs.
fn stable_hash(text: &str) -> u64 {
    text.bytes().fold(0xCBF2_9CE4_8422_2325, |hash, byte| {
        (hash ^ u64::from(byte)).wrapping_mul(0x0100_0000_01B3)
    })
}

// ---------------------------------------------------------------------------
// Arrivals
// ---------------------------------------------------------------------------

/// Relative road traffic at each full local hour (00:00 to 23:00) in
/// Vietnam: a trough around 03:00, the morning rush at 07:00 and the
/// evening rush at 17:00. Between full hours the curve is linear, so its
/// mean over a day is exactly the mean of these values.
const HOURLY_TRAFFIC: [f64; 24] = [
    0.30, 0.18, 0.12, 0.10, 0.18, 0.50, 1.10, 1.75, 1.60, 1.25, 1.10, 1.15, 0.95, 0.90, 1.05, 1.20,
    1.50, 1.85, 1.70, 1.35, 1.05, 0.80, 0.55, 0.40,
];

const HOURLY_MEAN: f64 = {
    let mut sum = 0.0;
    let mut hour = 0;
    while hour < 24 {
        sum += HOURLY_TRAFFIC[hour];
        hour += 1;
    }
    sum / 24.0
};

/// Spread of the camera activity weights (σ of their logarithm): the
/// busiest 1 % of cameras see about 6× the mean, the quietest 1 % about
/// 1/17 of it, like town junctions against village lanes.
const CAMERA_WEIGHT_SIGMA: f64 = 1.0;

/// Bursts multiply their cameras' rate by this...
const BURST_FACTOR: f64 = 5.0;
/// ...for this many seconds...
const BURST_SECONDS: f64 = 60.0;
/// ...and start this often on average.
const BURSTS_PER_HOUR: f64 = 3.0;
/// Share of bursts that cover the whole fleet rather than a few cameras.
const FLEET_BURST_SHARE: f64 = 0.2;
/// A local burst covers this share of the cameras (at least one).
const LOCAL_BURST_CAMERAS: (f64, f64) = (0.01, 0.05);

/// How many events a fleet produces over time.
#[derive(Debug, Clone)]
pub struct RateModel {
    /// Mean events per second per camera over a day (ALPR cameras average
    /// ~0.1-0.2/s).
    pub per_camera: f64,
    /// Cameras in the fleet. Each has a fixed activity weight, log-normal
    /// (σ = 1) and normalized so that the mean over cameras is exactly
    /// `per_camera`: some cameras are much busier than others.
    pub cameras: usize,
    /// Scale by time of day in Vietnam (UTC+7): low around 03:00 (about
    /// 0.1× the daily mean), peaks at the morning (07:00) and evening
    /// (17:00, about 2×) rush. The curve averages exactly 1.0 over 24 h,
    /// so `per_camera` stays the daily mean.
    pub day_night: bool,
    /// Occasional bursts on top of the curve. Exactly: burst starts form a
    /// renewal process, each burst lasting 60 s and the gap from its end to
    /// the next start being exponential with mean 19 min, so bursts never
    /// overlap and start 3 times an hour on average (the first one after
    /// an exponential wait from the start). A burst multiplies by 5 the
    /// rate of either the whole fleet (probability 0.2: a festival, a
    /// network coming back and NVRs flushing) or of a uniformly chosen 1-5 %
    /// of the cameras (a market day, an accident, a school gate). Bursts
    /// raise the long-run mean by about 4.5 % above `per_camera`; a
    /// fleet-wide burst in a rush hour peaks near 10× the daily mean.
    pub bursts: bool,
}

impl RateModel {
    /// Expected events per second for the whole fleet at `at` (without the
    /// random bursts).
    pub fn base_rate(&self, at: DateTime<Utc>) -> f64 {
        let fleet = self.per_camera * self.cameras as f64;
        if self.day_night {
            fleet * day_factor(local_seconds_of_day(at))
        } else {
            fleet
        }
    }
}

/// Seconds since local (UTC+7) midnight.
fn local_seconds_of_day(at: DateTime<Utc>) -> f64 {
    let seconds = (at.timestamp() + VIETNAM_OFFSET_SECONDS).rem_euclid(SECONDS_PER_DAY);
    seconds as f64 + f64::from(at.timestamp_subsec_nanos().min(999_999_999)) * 1e-9
}

/// The day/night multiplier `seconds` after local midnight.
fn day_factor(seconds: f64) -> f64 {
    let hours = seconds / 3600.0;
    let hour = (hours as usize).min(23);
    hourly_factor(hour, (hours - hour as f64).clamp(0.0, 1.0))
}

/// The day/night multiplier a fraction `progress` into local `hour`.
fn hourly_factor(hour: usize, progress: f64) -> f64 {
    let from = HOURLY_TRAFFIC[hour];
    let to = HOURLY_TRAFFIC[(hour + 1) % 24];
    (from + (to - from) * progress) / HOURLY_MEAN
}

/// Arrival times of a non-homogeneous Poisson process (thinning,
/// Lewis–Shedler) over the fleet, each with the camera index it comes from.
///
/// Camera index `i` stands for the fleet's `i`-th camera (`cam-{i+1:06}` in
/// the synthetic province). The rate is `per_camera` × the camera's weight ×
/// the day/night curve × the burst factor. The dominating rate is constant
/// per piece, between full local hours and burst edges, and uses the
/// curve's maximum over that piece (at one of its ends, the curve being
/// linear there), so few candidates are rejected.
#[derive(Debug)]
pub struct Arrivals {
    model: RateModel,
    start: DateTime<Utc>,
    rng: ChaCha8Rng,
    burst_rng: ChaCha8Rng,
    /// Running sums of the camera weights; the last is `cameras`.
    cumulative: Vec<f64>,
    /// Seconds from `start` to the last arrival or piece boundary.
    now: f64,
    /// The local hour the current piece lies in, and where that hour starts
    /// and ends in seconds from `start`.
    hour: usize,
    hour_start: f64,
    hour_end: f64,
    burst: Option<Burst>,
    /// Seconds from `start` to the next burst's start; infinite without
    /// bursts.
    next_burst: f64,
}

#[derive(Debug)]
struct Burst {
    end: f64,
    scope: BurstScope,
}

#[derive(Debug)]
enum BurstScope {
    Fleet,
    Cameras {
        indices: Vec<usize>,
        /// Running sums of these cameras' weights.
        cumulative: Vec<f64>,
    },
}

impl BurstScope {
    /// Total activity weight of the cameras in the burst.
    fn weight(&self, fleet: f64) -> f64 {
        match self {
            Self::Fleet => fleet,
            Self::Cameras { cumulative, .. } => cumulative.last().copied().unwrap_or(0.0),
        }
    }
}

impl Arrivals {
    /// Arrivals from `start` on, for `model`, reproducible from `seed`.
    ///
    /// # Panics
    ///
    /// If `model.cameras` is 0 or `model.per_camera` is not a positive
    /// finite number: there would be no next arrival.
    pub fn new(model: RateModel, start: DateTime<Utc>, seed: u64) -> Self {
        assert!(model.cameras > 0, "a fleet needs at least one camera");
        assert!(
            model.per_camera.is_finite() && model.per_camera > 0.0,
            "per_camera must be positive, got {}",
            model.per_camera
        );
        // Separate streams, so that the camera weights do not depend on the
        // model's switches and bursts do not shift the arrivals' draws.
        let mut weight_rng = ChaCha8Rng::seed_from_u64(seed);
        weight_rng.set_stream(1);
        let mut burst_rng = ChaCha8Rng::seed_from_u64(seed);
        burst_rng.set_stream(2);
        let mut rng = ChaCha8Rng::seed_from_u64(seed);
        rng.set_stream(3);

        let weights: Vec<f64> = (0..model.cameras)
            .map(|_| (CAMERA_WEIGHT_SIGMA * standard_normal(&mut weight_rng)).exp())
            .collect();
        let scale = model.cameras as f64 / weights.iter().sum::<f64>();
        let cumulative = weights
            .iter()
            .scan(0.0, |sum, w| {
                *sum += w * scale;
                Some(*sum)
            })
            .collect();

        let seconds = local_seconds_of_day(start);
        let hour = ((seconds / 3600.0) as usize).min(23);
        let hour_start = hour as f64 * 3600.0 - seconds;
        let next_burst = if model.bursts {
            exponential(&mut burst_rng, 1.0 / burst_gap_mean())
        } else {
            f64::INFINITY
        };
        Self {
            model,
            start,
            rng,
            burst_rng,
            cumulative,
            now: 0.0,
            hour,
            hour_start,
            hour_end: hour_start + 3600.0,
            burst: None,
            next_burst,
        }
    }

    /// The next arrival: (time, camera index in 0..cameras). Times never
    /// decrease.
    pub fn next_arrival(&mut self) -> (DateTime<Utc>, usize) {
        loop {
            let burst_edge = self.burst.as_ref().map_or(self.next_burst, |b| b.end);
            let piece_end = self.hour_end.min(burst_edge);
            let curve_max = if self.model.day_night {
                hourly_factor(self.hour, 0.0).max(hourly_factor(self.hour, 1.0))
            } else {
                1.0
            };
            let rate_max = self.model.per_camera * curve_max * self.weight_in_play();
            let candidate = self.now + exponential(&mut self.rng, rate_max);
            if candidate >= piece_end {
                // Memoryless: restart from the boundary with the next
                // piece's rate.
                self.now = piece_end;
                self.cross(piece_end);
                continue;
            }
            self.now = candidate;
            let curve = if self.model.day_night {
                hourly_factor(self.hour, (self.now - self.hour_start) / 3600.0)
            } else {
                1.0
            };
            if self.rng.random::<f64>() * curve_max < curve {
                let camera = self.pick_camera();
                return (self.at(self.now), camera);
            }
        }
    }

    /// Sum over cameras of weight × burst factor: the fleet's rate in units
    /// of `per_camera` × curve.
    fn weight_in_play(&self) -> f64 {
        let fleet = self.model.cameras as f64;
        match &self.burst {
            Some(burst) => fleet + (BURST_FACTOR - 1.0) * burst.scope.weight(fleet),
            None => fleet,
        }
    }

    /// Moves past the boundary at `edge`: the next local hour, the end of a
    /// burst, or the start of one.
    fn cross(&mut self, edge: f64) {
        if edge >= self.hour_end {
            self.hour = (self.hour + 1) % 24;
            self.hour_start = self.hour_end;
            self.hour_end += 3600.0;
        }
        if self.burst.as_ref().is_some_and(|b| edge >= b.end) {
            self.burst = None;
            self.next_burst = edge + exponential(&mut self.burst_rng, 1.0 / burst_gap_mean());
        } else if self.burst.is_none() && edge >= self.next_burst {
            self.burst = Some(self.new_burst(edge));
        }
    }

    fn new_burst(&mut self, at: f64) -> Burst {
        let rng = &mut self.burst_rng;
        let scope = if rng.random_bool(FLEET_BURST_SHARE) {
            BurstScope::Fleet
        } else {
            let cameras = self.model.cameras;
            let share = rng.random_range(LOCAL_BURST_CAMERAS.0..LOCAL_BURST_CAMERAS.1);
            let count = ((cameras as f64 * share).round() as usize).clamp(1, cameras);
            let indices = index::sample(rng, cameras, count).into_vec();
            let cumulative = indices
                .iter()
                .scan(0.0, |sum, &i| {
                    *sum += self.weight(i);
                    Some(*sum)
                })
                .collect();
            BurstScope::Cameras {
                indices,
                cumulative,
            }
        };
        Burst {
            end: at + BURST_SECONDS,
            scope,
        }
    }

    /// Picks the camera of an accepted arrival, in proportion to each
    /// camera's current rate.
    fn pick_camera(&mut self) -> usize {
        let fleet = self.model.cameras as f64;
        let u = self.rng.random::<f64>() * self.weight_in_play();
        match &self.burst {
            // Beyond the fleet's own weight lies the bursting cameras'
            // extra weight; one uniform draw covers both.
            Some(Burst {
                scope:
                    BurstScope::Cameras {
                        indices,
                        cumulative,
                    },
                ..
            }) if u >= fleet => {
                let u = (u - fleet) / (BURST_FACTOR - 1.0);
                indices[cumulative
                    .partition_point(|&c| c <= u)
                    .min(indices.len() - 1)]
            }
            Some(Burst {
                scope: BurstScope::Fleet,
                ..
            }) => search(&self.cumulative, u / BURST_FACTOR),
            _ => search(&self.cumulative, u),
        }
    }

    fn weight(&self, camera: usize) -> f64 {
        self.cumulative[camera] - camera.checked_sub(1).map_or(0.0, |i| self.cumulative[i])
    }

    fn at(&self, seconds: f64) -> DateTime<Utc> {
        self.start + Duration::nanoseconds((seconds * 1e9).round() as i64)
    }
}

/// The index whose cumulative range holds `u`.
fn search(cumulative: &[f64], u: f64) -> usize {
    cumulative
        .partition_point(|&c| c <= u)
        .min(cumulative.len() - 1)
}

/// Mean wait from the end of a burst to the start of the next, so that
/// bursts start [`BURSTS_PER_HOUR`] times an hour.
fn burst_gap_mean() -> f64 {
    3600.0 / BURSTS_PER_HOUR - BURST_SECONDS
}

/// An exponential wait with the given rate.
fn exponential<R: Rng + ?Sized>(rng: &mut R, rate: f64) -> f64 {
    // 1 - U lies in (0, 1], so the logarithm is finite.
    -(1.0 - rng.random::<f64>()).ln() / rate
}

/// A standard normal draw (Box–Muller).
fn standard_normal<R: Rng + ?Sized>(rng: &mut R) -> f64 {
    let radius = (-2.0 * (1.0 - rng.random::<f64>()).ln()).sqrt();
    radius * (TAU * rng.random::<f64>()).cos()
}

#[cfg(test)]
mod tests {
    use std::collections::HashMap;

    use chrono::TimeZone;
    use prost::Message;
    use vigil_domain::plate::ocr_key;

    use super::*;

    fn at(y: i32, m: u32, d: u32, h: u32, min: u32) -> DateTime<Utc> {
        Utc.with_ymd_and_hms(y, m, d, h, min, 0).unwrap()
    }

    /// Detections spread over two days and 50 cameras.
    fn sample(seed: u64, n: usize) -> Vec<Detection> {
        let mut factory = DetectionFactory::new(seed);
        let start = at(2025, 3, 14, 0, 0);
        (0..n)
            .map(|i| {
                let camera = format!("cam-{:06}", i % 50 + 1);
                let captured = start + Duration::milliseconds(i as i64 * 17_321);
                factory.detection(&camera, captured)
            })
            .collect()
    }

    fn kind(d: &Detection) -> DetectionKind {
        DetectionKind::try_from(d.kind).unwrap()
    }

    #[test]
    fn detections_are_deterministic_for_a_seed() {
        assert_eq!(sample(7, 500), sample(7, 500));
        assert_ne!(sample(7, 50), sample(8, 50));
        let mut a = DetectionFactory::new(3);
        let mut b = DetectionFactory::new(3);
        let now = at(2025, 3, 14, 8, 0);
        for plate in ["36A12345", "29B123456", "37C39977"] {
            assert_eq!(
                a.plate_read("cam-000001", now, plate, true),
                b.plate_read("cam-000001", now, plate, true)
            );
        }
    }

    #[test]
    fn every_plate_normalizes_to_its_normalized_field() {
        let detections = sample(11, 20_000);
        let mut plates = 0;
        for d in &detections {
            if let Some(plate) = &d.plate {
                let normalized = normalize_plate(&plate.text)
                    .unwrap_or_else(|e| panic!("{:?} does not normalize: {e}", plate.text));
                assert_eq!(normalized.as_str(), plate.normalized, "{:?}", plate.text);
                assert!((0.6..=0.99).contains(&plate.confidence), "{plate:?}");
                plates += 1;
            }
        }
        assert!(plates > 8_000, "only {plates} plates");
    }

    #[test]
    fn detections_are_well_formed() {
        let mut factory = DetectionFactory::new(5);
        let start = at(2025, 12, 31, 16, 59);
        for i in 0..5_000 {
            let captured = start + Duration::microseconds(i * 12_345_678);
            let d = factory.detection("cam-000042", captured);
            assert!((0.5..=0.99).contains(&d.confidence), "{}", d.confidence);
            let b = d.bbox.unwrap();
            assert!(b.x >= 0.0 && b.y >= 0.0 && b.width > 0.0 && b.height > 0.0);
            assert!(b.x + b.width <= 1.0 && b.y + b.height <= 1.0, "{b:?}");

            let id = uuid::Uuid::parse_str(&d.event_id).unwrap();
            assert_eq!(id.get_version_num(), 7);
            let (secs, nanos) = id.get_timestamp().unwrap().to_unix();
            assert_eq!(
                secs as i64 * 1000 + i64::from(nanos / 1_000_000),
                captured.timestamp_millis()
            );
            let ts = d.captured_at.unwrap();
            assert_eq!(
                (ts.seconds, ts.nanos as u32),
                (captured.timestamp(), captured.timestamp_subsec_nanos())
            );
            assert!(d.received_at.is_none() && d.site_id.is_empty());

            let snapshot = d.snapshot.clone().unwrap();
            let day = captured.format("%Y/%m/%d");
            assert_eq!(
                snapshot.uri,
                format!("s3://vigil-snapshots/cam-000042/{day}/{}.jpg", d.event_id)
            );
            assert_eq!(snapshot.sha256.len(), 64);
            assert!(
                snapshot
                    .sha256
                    .bytes()
                    .all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f'))
            );

            let k = kind(&d);
            let is_vehicle = matches!(k, DetectionKind::Plate | DetectionKind::Vehicle);
            assert_eq!(d.vehicle.is_some(), is_vehicle, "{k:?}");
            assert_eq!(d.plate.is_some(), k == DetectionKind::Plate);

            // The domain accepts every generated event.
            vigil_domain::Detection::try_from(d).unwrap();
        }
    }

    #[test]
    fn vehicles_are_consistent_with_their_type_and_plate() {
        let mut by_type: HashMap<VehicleType, usize> = HashMap::new();
        let mut home = 0;
        let mut plates = 0;
        for d in sample(13, 20_000) {
            let Some(vehicle) = &d.vehicle else { continue };
            let vehicle_type = VehicleType::try_from(vehicle.r#type).unwrap();
            *by_type.entry(vehicle_type).or_default() += 1;
            let class = match vehicle_type {
                VehicleType::Motorbike => VehicleClass::Motorbike,
                VehicleType::Car => VehicleClass::Car,
                VehicleType::Van => VehicleClass::Van,
                VehicleType::Truck => VehicleClass::Truck,
                VehicleType::Bus => VehicleClass::Bus,
                other => panic!("unexpected {other:?}"),
            };
            let make = class
                .makes()
                .iter()
                .map(|(m, _)| m)
                .find(|m| m.name == vehicle.make)
                .unwrap_or_else(|| panic!("{} is no {vehicle_type:?} make", vehicle.make));
            assert!(make.models.contains(&d.labels["vehicle_model"].as_str()));
            assert!(class.colours().iter().any(|(c, _)| *c == vehicle.colour));
            if let Some(plate) = &d.plate {
                plates += 1;
                home += usize::from(plate.normalized.starts_with("36"));
                let p = normalize_plate(&plate.normalized).unwrap();
                let electric_plate = plate.normalized.get(2..4) == Some("MD");
                assert_eq!(make.electric, electric_plate, "{plate:?} on {}", make.name);
                let two_line = matches!(
                    p.format(),
                    PlateFormat::Motorbike | PlateFormat::MotorbikeOld
                );
                if two_line {
                    assert_eq!(class, VehicleClass::Motorbike, "{plate:?}");
                }
            }
        }
        let total: usize = by_type.values().sum();
        let share = |t| by_type.get(&t).copied().unwrap_or(0) as f64 / total as f64;
        assert!((share(VehicleType::Motorbike) - 0.60).abs() < 0.02);
        assert!((share(VehicleType::Car) - 0.30).abs() < 0.02);
        let home_share = home as f64 / plates as f64;
        assert!((home_share - 0.70).abs() < 0.02, "{home_share}");
    }

    #[test]
    fn mean_encoded_size_is_one_to_two_kilobytes() {
        let detections = sample(17, 1_000);
        let sizes: Vec<usize> = detections.iter().map(Message::encoded_len).collect();
        let mean = sizes.iter().sum::<usize>() as f64 / sizes.len() as f64;
        let (min, max) = (sizes.iter().min().unwrap(), sizes.iter().max().unwrap());
        eprintln!("encoded size: mean {mean:.0} B, min {min} B, max {max} B");
        assert!((1_000.0..=2_000.0).contains(&mean), "mean {mean}");
    }

    #[test]
    fn kinds_follow_the_mix() {
        let n = 10_000;
        let mut counts: HashMap<DetectionKind, usize> = HashMap::new();
        for d in sample(19, n) {
            *counts.entry(kind(&d)).or_default() += 1;
        }
        for (k, percent) in KIND_MIX {
            let p = percent / 100.0;
            let observed = counts.get(k).copied().unwrap_or(0) as f64 / n as f64;
            // Four standard deviations of a binomial share, plus slack.
            let tolerance = 4.0 * (p * (1.0 - p) / n as f64).sqrt() + 0.002;
            assert!(
                (observed - p).abs() < tolerance,
                "{k:?}: {observed} against {p}"
            );
        }
    }

    #[test]
    fn plate_reads_report_the_plate_and_its_confusions() {
        let mut factory = DetectionFactory::new(23);
        let now = at(2025, 6, 1, 1, 30);
        // A car, a motorbike, an electric motorbike, a truck, a trailer, and
        // a plate with no confusable character (3, 7, 9 and C only).
        for plate in [
            "36A12345",
            "36B123456",
            "29MD101353",
            "36C01234",
            "36R12345",
            "37C39977",
        ] {
            let clean = factory.plate_read("cam-000007", now, plate, false);
            let read = clean.plate.clone().unwrap();
            assert_eq!(read.normalized, plate);
            assert_eq!(read.text, normalize_plate(plate).unwrap().display());
            assert_eq!(kind(&clean), DetectionKind::Plate);

            for _ in 0..20 {
                let confused = factory.plate_read("cam-000007", now, plate, true);
                let text = confused.plate.unwrap().text;
                assert_ne!(text, read.text);
                assert_eq!(ocr_key(&text), ocr_key(plate), "{text:?} from {plate:?}");
                // The same plate is always on the same vehicle.
                assert_eq!(confused.vehicle, clean.vehicle);
            }
        }
        let bike = factory.plate_read("cam-000007", now, "36B123456", false);
        assert_eq!(
            bike.vehicle.unwrap().r#type,
            i32::from(VehicleType::Motorbike)
        );
        let truck = factory.plate_read("cam-000007", now, "36R12345", false);
        assert_eq!(truck.vehicle.unwrap().r#type, i32::from(VehicleType::Truck));
        let electric = factory.plate_read("cam-000007", now, "29MD101353", false);
        assert!(["VinFast", "Yadea"].contains(&electric.vehicle.unwrap().make.as_str()));
        // A garbled entry is reported as given.
        let garbled = factory.plate_read("cam-000007", now, "??", false);
        let read = garbled.plate.unwrap();
        assert_eq!((read.text.as_str(), read.normalized.as_str()), ("??", ""));
    }

    #[test]
    fn cameras_keep_their_profile() {
        let detections = sample(29, 200);
        for camera in ["cam-000001", "cam-000002"] {
            let of_camera: Vec<&Detection> = detections
                .iter()
                .filter(|d| d.camera_id == camera)
                .collect();
            for key in ["camera_model", "firmware", "frame_width", "model_version"] {
                assert!(
                    of_camera
                        .windows(2)
                        .all(|w| w[0].labels[key] == w[1].labels[key]),
                    "{camera} {key}"
                );
            }
        }
    }

    fn model(cameras: usize, per_camera: f64, day_night: bool, bursts: bool) -> RateModel {
        RateModel {
            per_camera,
            cameras,
            day_night,
            bursts,
        }
    }

    #[test]
    fn day_night_curve_averages_to_one() {
        let m = model(100, 0.15, true, false);
        let start = at(2025, 3, 14, 0, 0);
        let minutes = 24 * 60;
        let mean = (0..minutes)
            .map(|i| m.base_rate(start + Duration::minutes(i)))
            .sum::<f64>()
            / minutes as f64;
        // The curve is linear between full hours, so a per-minute mean is
        // exact up to rounding.
        assert!((mean - 15.0).abs() < 1e-9, "{mean}");
        // 03:00 in Vietnam is 20:00 UTC.
        let night = m.base_rate(at(2025, 3, 14, 20, 0));
        let morning = m.base_rate(at(2025, 3, 15, 0, 0));
        let evening = m.base_rate(at(2025, 3, 15, 10, 0));
        assert!(night < 0.2 * 15.0, "{night}");
        assert!(
            morning > 1.5 * 15.0 && evening > 1.5 * 15.0,
            "{morning} {evening}"
        );
        assert_eq!(model(100, 0.15, false, true).base_rate(start), 15.0);
    }

    #[test]
    fn camera_weights_average_to_one_and_differ() {
        let arrivals = Arrivals::new(model(1_000, 0.1, true, true), at(2025, 1, 1, 0, 0), 1);
        let weights: Vec<f64> = (0..1_000).map(|i| arrivals.weight(i)).collect();
        let mean = weights.iter().sum::<f64>() / 1_000.0;
        assert!((mean - 1.0).abs() < 1e-9, "{mean}");
        let max = weights.iter().copied().fold(0.0, f64::max);
        let min = weights.iter().copied().fold(f64::INFINITY, f64::min);
        assert!(max > 3.0 && min < 0.2, "{min}..{max}");
    }

    #[test]
    fn arrivals_are_deterministic_for_a_seed() {
        let start = at(2025, 3, 14, 5, 17);
        let run = |seed| {
            let mut a = Arrivals::new(model(30, 0.2, true, true), start, seed);
            (0..5_000).map(|_| a.next_arrival()).collect::<Vec<_>>()
        };
        assert_eq!(run(1), run(1));
        assert_ne!(run(1), run(2));
    }

    /// All arrivals in the 24 h from `start`.
    fn one_day(m: RateModel, start: DateTime<Utc>, seed: u64) -> Vec<(DateTime<Utc>, usize)> {
        let cameras = m.cameras;
        let end = start + Duration::hours(24);
        let mut arrivals = Arrivals::new(m, start, seed);
        let mut out = Vec::new();
        let mut last = start;
        loop {
            let (t, camera) = arrivals.next_arrival();
            assert!(t >= last, "{t} before {last}");
            assert!(camera < cameras);
            last = t;
            if t >= end {
                return out;
            }
            out.push((t, camera));
        }
    }

    #[test]
    fn arrivals_match_the_daily_rate_and_curve() {
        // 20 cameras × 0.1/s × 86,400 s = 172,800 expected arrivals.
        let start = at(2025, 3, 14, 9, 41);
        let day = one_day(model(20, 0.1, true, false), start, 4);
        let expected = 172_800.0;
        let count = day.len() as f64;
        assert!((count / expected - 1.0).abs() < 0.03, "{count}");

        let local_hour = |t: DateTime<Utc>| ((t.hour() + 7) % 24) as usize;
        let mut per_hour = [0usize; 24];
        let mut per_camera = [0usize; 20];
        for &(t, camera) in &day {
            per_hour[local_hour(t)] += 1;
            per_camera[camera] += 1;
        }
        // 02:00-04:00 against 07:00-09:00, local.
        let night = per_hour[2] + per_hour[3];
        let rush = per_hour[7] + per_hour[8];
        assert!(night * 5 < rush, "night {night}, rush {rush}");
        let busiest = per_camera.iter().max().unwrap();
        let quietest = per_camera.iter().min().unwrap();
        assert!(*busiest > 3 * quietest, "{quietest}..{busiest}");
    }

    #[test]
    fn bursts_raise_the_rate_for_a_minute() {
        // 20 cameras × 0.1/s, flat: 20 arrivals per 10 s on average.
        let start = at(2025, 3, 14, 0, 0);
        let day = one_day(model(20, 0.1, false, true), start, 6);
        let mut windows = vec![0usize; 8_640];
        for &(t, _) in &day {
            windows[((t - start).num_seconds() / 10) as usize] += 1;
        }
        let busiest = windows.iter().max().unwrap();
        // A fleet-wide burst gives about 100; Poisson(20) alone stays
        // under 45.
        assert!(*busiest > 60, "busiest 10 s had {busiest}");
        // Bursts add a few percent to the daily total.
        let ratio = day.len() as f64 / 172_800.0;
        assert!((1.0..1.12).contains(&ratio), "{ratio}");
    }
}
