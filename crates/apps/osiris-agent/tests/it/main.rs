//! The appliance's integration tests: one binary, one module per concern.
mod state;
mod uplink;
mod e2e;
