//! Every aggregate of `osiris-store`, written once and compiled once per
//! backend: the including module (`sqlite` or `postgres`) supplies `Db`
//! (the `sqlx::Database`) and `Store` (a struct with a `pool: Pool<Db>`
//! field), and these files implement the port traits on that `Store`.
//!
//! Why inclusion rather than one generic `Store<DB>`: sqlx's per-type
//! `Encode`/`Decode` bounds are not implied by a helper trait's
//! where-clauses, so a generic version would have to repeat a dozen-line
//! where-clause on every impl and helper. Statements are the same text on
//! both engines (both accept `$n` parameters); the schemas differ by
//! dialect and live in `migrations/<backend>/`.

use super::{Db, Store};

mod appliances;
mod audit;
mod credentials;
mod dashboard;
mod decisions;
mod evidence;
mod hosts;
mod incidents;
mod learning;
mod orders;
mod scope;
mod sessions;
mod sites;
mod tenants;
mod users;
