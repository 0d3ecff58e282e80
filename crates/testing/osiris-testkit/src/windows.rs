//! Simulated Windows hosts for tests that cannot depend on `osiris-lab`
//! directly (an app may not depend on another app): the lab's domain
//! controller on a loopback port, speaking real WinRM with NTLM sealing.

use std::time::Duration;

pub use osiris_lab::windows::{HostModel, WindowsLab, WindowsLabConfig};

/// The NTLM user every lab host accepts.
pub const LAB_USER: &str = "NVC\\osiris";
/// Its password.
pub const LAB_PASSWORD: &str = "lab password for tests only 9";

/// A simulated Windows Server 2019 domain controller on 127.0.0.1, over
/// plain HTTP (5985-style, every message sealed), compliant until the test
/// injects drift with [`WindowsLab::set_state`].
pub async fn domain_controller() -> WindowsLab {
    let config = WindowsLabConfig {
        user: LAB_USER.into(),
        password: LAB_PASSWORD.into(),
        latency: Duration::ZERO,
        model: HostModel::windows_dc().unwrap(),
        tls: None,
    };
    WindowsLab::start("127.0.0.1:0".parse().unwrap(), config)
        .await
        .unwrap()
}
