//! The appliance's integration tests: one binary, one module per concern.
mod e2e;
mod learning;
mod notify;
mod state;
mod uplink;
