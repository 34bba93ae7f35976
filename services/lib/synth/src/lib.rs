//! Synthetic data at real scale, for demos, tests and load tests.
//!
//! [`province`] builds a registry shaped like Thanh Hoa after the 2025
//! merger: 166 communes and wards, 4,351 village-level zones each with a
//! three-person security and order protection team (13,053 members), and as
//! many cameras as asked for, denser in towns than in the mountains. Names
//! carry their diacritics (ids are ASCII); the province and every commune
//! have an outline, the communes cutting the province into non-overlapping
//! cells, each camera inside its commune's. The
//! output depends only on the seed (and the camera count for cameras), so
//! seeding twice yields the same registry.

mod names;
mod outline;
mod province;
pub mod traffic;

pub use province::{ProvinceSpec, province};
pub use traffic::{Arrivals, DetectionFactory, RateModel};
