#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

mod catalog_checks;
mod catalog_runbooks;
mod https;
mod independent_clients;
// Shared with lib/winrm's tests: finds or creates the Python venv with the
// independent WinRM clients.
#[path = "../../../../../lib/winrm/tests/it/python.rs"]
mod python;
mod rust_client;
mod sweep;
mod target_cli;
mod winrm_rs_client;
mod winrm_transport;

use std::time::Duration;

use osiris_lab::windows::{HostModel, WindowsLab, WindowsLabConfig};

pub const USER: &str = "TESTDOM\\alice";
pub const PASSWORD: &str = "Passw0rd!";

pub async fn start_lab(latency: Duration) -> WindowsLab {
    let config = WindowsLabConfig {
        user: USER.into(),
        password: PASSWORD.into(),
        latency,
        model: HostModel::windows_dc().unwrap(),
        tls: None,
    };
    WindowsLab::start("127.0.0.1:0".parse().unwrap(), config)
        .await
        .unwrap()
}
