//! Physical models of what sits behind the hardware seam: the vehicle's battery, contactors
//! and connector lock, the charger's power supply and isolation monitor, and the DC link
//! between them (the inlet voltage).
//!
//! Everything is deterministic and driven by `now` ([`ccs_proto::time::Instant`]): no clock,
//! no randomness. [`DcPlant`] ties the parts together: feed it the [`HardwareCommand`]s of both
//! sessions, [`advance`](DcPlant::advance) it to `now`, read each side's [`Measurement`]s. The
//! `ccs-io` simulation adapter wraps it for `ccsplc sim`; session tests under the virtual clock
//! use it directly.
//!
//! [`HardwareCommand`]: ccs_proto::hardware::HardwareCommand
//! [`Measurement`]: ccs_proto::hardware::Measurement

mod battery;
mod isolation;
mod plant;
mod power_supply;
mod switch;

pub use battery::{Battery, BatteryConfig};
pub use isolation::{IsolationConfig, IsolationMonitor};
pub use plant::{DcPlant, PlantConfig};
pub use power_supply::{PowerSupply, PowerSupplyConfig};
pub use switch::DelayedSwitch;
