//! The performance bar: the catalog's seven Windows checks on 50
//! simulated hosts with 20 ms added latency in at most 5 s, one shell per
//! host.

use std::time::Duration;

use osiris_catalog::{Catalog, Platform};
use winrm::{Credentials, Mechanism, SessionOptions, sweep};

use crate::{PASSWORD, USER, start_lab};

/// The detect scripts of the catalog's Windows checks, in id order.
pub(crate) fn seven_checks() -> Vec<(String, String)> {
    let catalog = Catalog::embedded().unwrap();
    let checks: Vec<(String, String)> = catalog
        .checks()
        .values()
        .filter(|c| c.platform == Platform::Windows)
        .map(|c| (c.id.clone(), c.detect.script.clone()))
        .collect();
    assert_eq!(checks.len(), 7);
    checks
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn seven_checks_on_fifty_hosts_with_latency_finish_within_five_seconds() {
    let mut labs = Vec::new();
    for _ in 0..50 {
        labs.push(start_lab(Duration::from_millis(20)).await);
    }
    labs[7]
        .set_state("firewall.public", serde_json::Value::Bool(false))
        .unwrap();
    let urls: Vec<String> = labs.iter().map(|lab| lab.url()).collect();
    let checks = seven_checks();
    let scripts: Vec<String> = checks.iter().map(|(_, script)| script.clone()).collect();
    let firewall = checks
        .iter()
        .position(|(id, _)| id == "win.firewall.profiles")
        .unwrap();
    let credentials = Credentials::new(USER, PASSWORD, Mechanism::Ntlm);
    let options = SessionOptions::with_command_timeout(Duration::from_secs(30));
    let started = tokio::time::Instant::now();
    let swept = sweep(&urls, &credentials, &options, &scripts, 50).await;
    let elapsed = started.elapsed();
    eprintln!("sweep of 50 hosts x 7 checks: {elapsed:?}");
    assert!(elapsed <= Duration::from_secs(5), "{elapsed:?}");
    assert_eq!(swept.len(), 50);
    for (host, url) in swept.iter().zip(&urls) {
        assert_eq!(&host.url, url);
        for result in &host.results {
            let output = result.as_ref().unwrap();
            assert_eq!(output.exit_code, 0, "{}", output.stderr_text());
        }
    }
    let profiles = |host: usize| -> serde_json::Value {
        let output = swept[host].results[firewall].as_ref().unwrap();
        let document: serde_json::Value =
            serde_json::from_str(output.stdout_text().trim()).unwrap();
        document["facts"]["profiles"].clone()
    };
    assert_eq!(profiles(7)[2]["name"], "Public");
    assert_eq!(profiles(7)[2]["enabled"], "False");
    assert_eq!(profiles(8)[2]["enabled"], "True");
}
