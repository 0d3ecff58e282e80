//! Osiris's shared vocabulary: newtype identifiers, the [`Clock`] through
//! which every engine receives time, [`Secret`] for values that must never
//! reach a log, and the validated [`HipaaCitation`].
//!
//! This crate is layer 0: it performs no I/O, starts no runtime and depends
//! on no other Osiris crate. Everything above may depend on it.

mod citation;
mod clock;
mod ids;
mod secret;

pub use citation::{CitationError, HipaaCitation, Safeguard};
pub use clock::{Clock, ManualClock, SystemClock};
pub use ids::{
    ApplianceId, BundleId, ClientId, HostId, IdError, IncidentId, OrderId, PartnerId, RunbookId,
    SiteId, TokenId, UserId,
};
pub use secret::Secret;
