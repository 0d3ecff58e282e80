//! The on-site appliance as a library: `osiris agent` runs it, and the
//! tests drive it in-process. The seams between its parts are described in
//! `docs/design/appliance.md`.

pub mod uplink;
