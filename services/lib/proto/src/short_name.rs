//! Short names for the enumerations people type and read — `plate`,
//! `fire_smoke`, `camera_offline` — defined once here for the edge's JSON
//! ingest, `vigilctl`, the load generator and metric labels.

use crate::v1::{AlertKind, DetectionKind, VehicleType};

/// Gives `$enum` `ALL`, `short_name` and `from_short_name` from one table;
/// the `match` in `short_name` stops compiling when the proto gains a
/// variant the table lacks.
macro_rules! short_names {
    ($enum:ident { $($variant:ident => $name:literal),+ $(,)? }) => {
        impl $enum {
            /// Every variant but `Unspecified`, in proto order.
            pub const ALL: &[Self] = &[$(Self::$variant),+];

            /// The lower-case name without the proto prefix (`unspecified`
            /// for the zero value).
            pub fn short_name(self) -> &'static str {
                match self {
                    Self::Unspecified => "unspecified",
                    $(Self::$variant => $name),+
                }
            }

            /// The variant with this short name, in any letter case; never
            /// `Unspecified`.
            pub fn from_short_name(name: &str) -> Option<Self> {
                Self::ALL
                    .iter()
                    .copied()
                    .find(|value| value.short_name().eq_ignore_ascii_case(name))
            }
        }
    };
}

short_names!(DetectionKind {
    Vehicle => "vehicle",
    Plate => "plate",
    Person => "person",
    Intrusion => "intrusion",
    Loitering => "loitering",
    FireSmoke => "fire_smoke",
    Crowd => "crowd",
    Tamper => "tamper",
});

short_names!(AlertKind {
    Watchlist => "watchlist",
    CameraOffline => "camera_offline",
    CameraOnline => "camera_online",
});

short_names!(VehicleType {
    Motorbike => "motorbike",
    Car => "car",
    Van => "van",
    Truck => "truck",
    Bus => "bus",
    Bicycle => "bicycle",
});

#[cfg(test)]
mod tests {
    use super::*;

    /// Each short name is the proto name without its prefix, in lower case,
    /// and reads back as its variant; `ALL` holds every number the proto
    /// defines but zero.
    macro_rules! round_trip {
        ($test:ident, $enum:ident, $prefix:literal) => {
            #[test]
            fn $test() {
                let defined: Vec<$enum> = (1..)
                    .map_while(|number| $enum::try_from(number).ok())
                    .collect();
                assert_eq!($enum::ALL, defined.as_slice());
                for &value in $enum::ALL {
                    let name = value.short_name();
                    assert_eq!(
                        value.as_str_name(),
                        format!("{}{}", $prefix, name.to_ascii_uppercase())
                    );
                    assert_eq!($enum::from_short_name(name), Some(value));
                    assert_eq!(
                        $enum::from_short_name(&name.to_ascii_uppercase()),
                        Some(value)
                    );
                }
                assert_eq!($enum::Unspecified.short_name(), "unspecified");
                assert_eq!($enum::from_short_name("unspecified"), None);
                assert_eq!($enum::from_short_name(""), None);
            }
        };
    }

    round_trip!(detection_kinds, DetectionKind, "DETECTION_KIND_");
    round_trip!(alert_kinds, AlertKind, "ALERT_KIND_");
    round_trip!(vehicle_types, VehicleType, "VEHICLE_TYPE_");
}
