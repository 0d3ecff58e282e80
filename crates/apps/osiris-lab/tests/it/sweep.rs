//! The performance bar: seven checks on 50 simulated hosts with
//! 20 ms added latency in at most 5 s, one shell per host.

use std::time::Duration;

use winrm::{Credentials, Mechanism, SessionOptions, sweep};

use crate::{PASSWORD, USER, start_lab};

const SEVEN_CHECKS: [&str; 7] = [
    "Get-CimInstance Win32_QuickFixEngineering | ConvertTo-Json -Compress",
    "Get-MpComputerStatus | ConvertTo-Json -Compress",
    "Get-WBSummary | ConvertTo-Json -Compress",
    "auditpol /get /category:* /r | ConvertFrom-Csv | ConvertTo-Json -Compress",
    "Get-NetFirewallProfile | ConvertTo-Json -Compress",
    "Get-BitLockerVolume | ConvertTo-Json -Compress",
    "Get-ADDomainController | ConvertTo-Json -Compress",
];

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
    let scripts: Vec<String> = SEVEN_CHECKS.iter().map(|s| (*s).to_owned()).collect();
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
    let firewall: serde_json::Value =
        serde_json::from_str(swept[7].results[4].as_ref().unwrap().stdout_text().trim()).unwrap();
    assert_eq!(firewall[2]["Name"], "Public");
    assert_eq!(firewall[2]["Enabled"], false);
    let healthy: serde_json::Value =
        serde_json::from_str(swept[8].results[4].as_ref().unwrap().stdout_text().trim()).unwrap();
    assert_eq!(healthy[2]["Enabled"], true);
}
