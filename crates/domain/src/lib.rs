//! Pure domain types of ansinh.
//!
//! Everything here is deterministic and free of I/O: no files, no network, no clock
//! except where a caller passes "today" in. Reference data (administrative units,
//! birth-registration codes) is compiled into the crate with `include_str!`, so the
//! crate can be used by the pure engines (`rules`, `linkage`) as well as the binary.

pub mod admin;
pub mod calendar;
pub mod categories;
pub mod deadlines;
pub mod lunar;
pub mod money;
pub mod personal_id;
pub mod plan;
pub mod text;
pub mod workdays;

pub use admin::{AddressMapping, Commune, CommuneKind, Gazetteer, LegacyCommune, LegacyMapping, Province};
pub use calendar::{DateRange, Month, PartialDate};
pub use money::{Coefficient, Money};
pub use personal_id::{IdInconsistency, PersonalId, Sex};
