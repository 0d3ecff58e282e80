//! The appliance's check and healing engine: the domain logic of
//! `osiris agent`, with no I/O but the sessions it is handed and no clock
//! but the one it is given.
//!
//! - [`detect()`]: one catalog check on an open [`osiris_transport::Transport`],
//!   judged by its criteria into a [`CheckRun`]: pass, fail or unknown.
//!   **Unknown never heals**: only a failed run yields the [`Failed`] proof
//!   that healing takes.
//! - [`gates`]: the guardrails, each a function that allows or refuses with
//!   a reason: whitelist, parameters, mode, approval, maintenance window
//!   ([`MaintenanceWindow`], daylight-saving aware), cooldown and retries
//!   (the rules [`osiris_rules::Ledger`]), action rate limits per host and
//!   per site ([`osiris_limits::RateLimiter`]).
//! - [`execute()`]: remediate (capturing `before`) → verify over a new
//!   session → confirm, or rollback with the captured state.
//! - [`flapping()`]: an incident that keeps reopening is escalated, never fought.
//! - [`verify_order()`]: signed orders from Central Command, every refusal named.
//! - [`Healer`]: ties it together (`check`, `heal`, `run_order`), recording
//!   exactly one evidence bundle per check run, gate decision, runbook run
//!   and order, scrubbed by [`osiris_scrub::Scrubber`] before it reaches the
//!   app's [`Recorder`]. **Every gate decision is evidence**, and **nothing
//!   runs outside the whitelist**.
//!
//! The app supplies the queue ([`Recorder`]), order nonces ([`NonceLog`])
//! and sessions ([`Connector`]). This crate must not depend on sqlx,
//! reqwest, axum, `tokio::net` or `std::fs`, and never reads the clock.

mod detect;
mod error;
mod evidence;
pub mod execute;
mod flap;
pub mod gates;
mod healer;
pub mod l1;
mod order_run;
pub mod orders;
mod policy;
mod ports;
pub mod script;
mod step;
mod window;

pub use detect::{CheckRun, Failed, detect};
pub use error::{Error, Result};
pub use execute::{Ending, Execution, Plan, execute};
pub use flap::{Episode, FlapPolicy, Flapping, flapping};
pub use gates::{Disposition, Gate, Refusal, Verdict};
pub use healer::{CheckReport, HealOutcome, HealReport, Healer, HealerParts};
pub use order_run::{OrderOutcome, OrderReport, RESULT_DETAIL_LIMIT};
pub use orders::{
    InventoryTarget, MAX_LIFETIME, MAX_SKEW, OrderContext, OrderRefusal, VerifiedOrder,
    verify_order,
};
pub use policy::{Mode, Policy};
pub use ports::{BoxError, BoxFuture, Connector, NonceLog, Recorder};
pub use step::{DETAIL_TEXT_LIMIT, StepRun};
pub use window::MaintenanceWindow;
