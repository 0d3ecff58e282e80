//! The appliance's uplink to Central Command (`docs/design/checkin.md`):
//!
//! - [`enrol()`]: make the appliance key, claim an identity with a one-time
//!   code (or the machine's MAC addresses), pin the server's CA and keep it
//!   all in the data directory ([`Identity`]).
//! - [`ServerTrust`]: exactly the CA given at enrolment (a PEM file or the
//!   fingerprint the server prints), or the public roots for an operator
//!   certificate; never the system's roots. TLS is rustls on ring.
//! - [`Uplink`]: signed requests (`X-Osiris-Appliance`, `X-Osiris-Date`
//!   from the [`Clock`](osiris_core::Clock), `X-Osiris-Signature`) and the
//!   check-in, with timeouts; failures are [`UplinkError`]s whose
//!   [`ErrorClass`] says whether to retry.
//! - [`Backoff`]: when to try again, pure and with injectable randomness.
//!
//! Claim codes and keys never reach a log or an error message.

mod backoff;
mod client;
mod enrol;
mod error;
mod http;
mod identity;
mod mac;
mod trust;

pub use backoff::{Backoff, BackoffPolicy, MIN_INTERVAL, OsRandom, RandomSource};
pub use client::{CHECKIN_PATH, Uplink, UplinkSettings};
pub use enrol::{CLAIM_PATH, Claim, Enrolment, enrol};
pub use error::{ErrorClass, UplinkError};
pub use http::Timeouts;
pub use identity::{IDENTITY_FILE, Identity, KEY_FILE, PinnedTrust};
pub use mac::{MacAddress, SYS_CLASS_NET, mac_addresses};
pub use trust::{CaCertificates, CaFingerprint, ServerTrust};
