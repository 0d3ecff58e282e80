//! Osiris's shared vocabulary: newtype identifiers, the [`Clock`] through
//! which every engine receives time, [`Secret`] for values that must never
//! reach a log, [`SealedCredential`] (a target credential as it is
//! stored), the validated [`HipaaCitation`] and the normalised
//! [`MacAddress`].
//!
//! This crate is layer 0: it performs no I/O, starts no runtime and depends
//! on no other Osiris crate. Everything above may depend on it.

mod citation;
mod clock;
mod ids;
mod mac;
mod sealed;
mod secret;

pub use citation::{CitationError, HipaaCitation, Safeguard};
pub use clock::{Clock, ManualClock, SystemClock};
pub use ids::{
    ApplianceId, BundleId, ClientId, CredentialId, HostId, IdError, IncidentId, OrderId, PartnerId,
    RunbookId, SiteId, TokenId, UserId,
};
pub use mac::{MacAddress, MacError};
pub use sealed::{SEALED_NONCE_LEN, SealedCredential};
pub use secret::Secret;
