//! The appliance's integration tests: one binary, one module per concern.
mod e2e;
mod notify;
mod learning;
mod state;
mod uplink;
