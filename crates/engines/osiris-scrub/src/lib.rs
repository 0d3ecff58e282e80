//! The PHI scrubber: every HIPAA Safe Harbor identifier that turns up in IT
//! data is replaced by a keyed-hash token before anything leaves the
//! appliance.
//!
//! ```text
//! SSN: 123-45-6789   →   SSN: [PHI:SSN:7c2e:3f9a1c2b4d5e]
//! ```
//!
//! A token names the family, the key (4 hex digits of an HMAC of a fixed
//! label, so rotations are visible) and 48 bits of HMAC-SHA256 of the
//! normalised value under the site key: equal values correlate, nothing is
//! revealed without the key.
//!
//! [`Scrubber`] is the only producer of [`Scrubbed<T>`], which is how the
//! outbound queue, check-in, the planner and notifiers demand scrubbed data
//! by type. Scrubbing is pure, total and idempotent: it never fails, never
//! panics, and scrubbing its output changes nothing, which is what lets it
//! run once, before signing.

mod checks;
mod config;
mod draft;
mod engine;
mod error;
mod family;
mod json;
mod key;
mod keyfile;
mod rules;
mod scan;
mod scrubbed;
mod shapes;
mod stream;
mod url;

pub use config::{IpPolicy, ScrubConfig, ZipPolicy};
pub use engine::Scrubber;
pub use error::{Error, Result};
pub use family::Family;
pub use json::phi_key_family;
pub use key::{KEY_LEN, ScrubKey};
pub use keyfile::{create_key_file, load_key_file};
pub use scrubbed::{Report, Scrubbed};
pub use stream::{CliOptions, MAX_JSON, MAX_LINE, run_phi_scrub};
