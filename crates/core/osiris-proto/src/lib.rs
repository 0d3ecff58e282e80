//! The check-in contract between Central Command and the appliance, as
//! types both sides compile against (`docs/design/checkin.md` is the prose
//! version).
//!
//! - [`checkin`]: `POST /api/appliances/checkin`, up and down.
//! - [`orders`]: orders as the appliance receives them, signed by the
//!   server.
//! - [`decisions`]: people's decisions on escalated incidents (an
//!   approval inside its order, a signed rejection).
//! - [`rule_set`]: the L1 rule set a check-in delivers.
//! - [`enrol`]: `POST /api/appliances/claim`.
//! - [`signing`]: the bytes an appliance signs for every request.
//!
//! Every type refuses unknown fields when read, so a typo or a field one
//! side does not know is an error rather than silently dropped. The types
//! carry data only: validation that needs the catalog or the store
//! (severities, outcomes, hosts) and signing with a key stay with the
//! server and the appliance. Nothing here does I/O.

pub mod checkin;
pub mod decisions;
pub mod enrol;
pub mod orders;
pub mod rule_set;
pub mod signing;

pub use checkin::{
    CheckinRequest, CheckinResponse, IncidentAck, IncidentReport, InventoryHost, OrderResult,
    RejectedResult, Rejection, SiteHost,
};
pub use decisions::{Approval, DecisionBody, SignedDecision};
pub use enrol::{ClaimRequest, ClaimResponse};
pub use orders::{OrderBody, SignedOrder};
pub use rule_set::{RuleSet, RuleSetFile};
