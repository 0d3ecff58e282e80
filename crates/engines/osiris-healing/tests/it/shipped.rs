//! The execute path over the shipped catalog's own PowerShell runbook:
//! `$Params` is defined ahead of the script, remediate's output reaches
//! rollback on standard input (which the script reads into `$Before`),
//! and verify re-runs the check's detect under the verify time limit.

use std::time::Duration;

use osiris_catalog::{Catalog, Platform};
use osiris_core::ManualClock;
use osiris_healing::{Ending, Plan, execute};
use serde_json::Map;

use crate::world::{Host, Reply, now};

#[tokio::test]
async fn a_shipped_powershell_runbook_gets_params_and_its_before_on_stdin() {
    let catalog = Catalog::embedded().unwrap();
    let runbook = catalog.runbook(&"RB-WIN-AV-001".parse().unwrap()).unwrap();
    let check = catalog.check("win.av.defender").unwrap();
    let printed =
        r#"{"before":{"DisableRealtimeMonitoring":true,"WinDefendStartType":"Manual"},"after":{}}"#;
    let host = Host::default();
    host.on(
        "Set-MpPreference -DisableRealtimeMonitoring $false",
        vec![Reply::out(printed)],
    );
    // Verify's detect reports ok=false: unknown, which is not a pass.
    host.on(
        "win.av.defender",
        vec![Reply::out(r#"{"ok":false,"error":"WMI"}"#)],
    );
    host.on("[Console]::In.ReadToEnd()", vec![Reply::out("")]);

    let plan =
        Plan::new(&catalog, runbook, Platform::Windows, "dc01", Map::new()).verified_by(check);
    let clock = ManualClock::new(now());
    let run = execute(&plan, &mut host.session(), &host, &clock).await;
    assert_eq!(run.ending(), &Ending::RolledBack);

    let ran = host.ran();
    assert_eq!(ran.len(), 3);
    let (remediate, verify, rollback) = (&ran[0], &ran[1], &ran[2]);
    assert!(
        remediate
            .body
            .starts_with("$Params = ConvertFrom-Json '{}'\n$ProgressPreference='SilentlyContinue'"),
        "{}",
        remediate.body
    );
    assert_eq!(remediate.input, None);
    assert_eq!(verify.body, check.detect.script);
    assert_eq!(verify.timeout, Duration::from_secs(120));
    assert!(
        rollback
            .body
            .contains("$Before = ([Console]::In.ReadToEnd() | ConvertFrom-Json).before")
    );
    assert_eq!(rollback.input.as_deref(), Some(printed.as_bytes()));
    assert_eq!(rollback.timeout, Duration::from_secs(300));
}
