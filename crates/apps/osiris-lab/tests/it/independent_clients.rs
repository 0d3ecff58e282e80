//! Independent WinRM clients (pywinrm, pypsrp) against the simulated host
//! over NTLM with message encryption: proof that the lab speaks the real
//! protocol, not just our client's dialect.

use std::process::Command;
use std::time::Duration;

use serde_json::Value;

use crate::python::python;
use crate::{PASSWORD, USER, start_lab};

const PYWINRM: &str = r#"
import json, sys, winrm
s = winrm.Session(sys.argv[1], auth=(sys.argv[2], sys.argv[3]), transport="ntlm", message_encryption="always")
detect = s.run_ps("$m = Get-MpComputerStatus\n$m | ConvertTo-Json -Compress")
unknown = s.run_ps("Get-Frobnicator")
cmd = s.run_cmd("hostname")
print(json.dumps({
    "detect": [detect.status_code, detect.std_out.decode()],
    "unknown": [unknown.status_code, unknown.std_err.decode()],
    "cmd": [cmd.status_code, cmd.std_out.decode()],
}))
"#;

const PYPSRP: &str = r#"
import json, sys
from pypsrp.client import Client
host, port = sys.argv[1].rsplit(":", 1)
c = Client(host, port=int(port), username=sys.argv[2], password=sys.argv[3], ssl=False, auth="ntlm", encryption="always")
out, err, rc = c.execute_cmd("hostname")
print(json.dumps([rc, out]))
"#;

fn run_python(script: &str, args: &[&str]) -> Value {
    let output = Command::new(python())
        .arg("-c")
        .arg(script)
        .args(args)
        .output()
        .unwrap();
    assert!(
        output.status.success(),
        "python failed: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    serde_json::from_slice(&output.stdout).unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pywinrm_runs_powershell_and_cmd_against_the_lab_with_encryption() {
    let lab = start_lab(Duration::ZERO).await;
    lab.set_state("defender.realtime_enabled", Value::Bool(false))
        .unwrap();
    let url = lab.url();
    let result = tokio::task::spawn_blocking(move || run_python(PYWINRM, &[&url, USER, PASSWORD]))
        .await
        .unwrap();
    assert_eq!(result["detect"][0], 0);
    let detect: Value = serde_json::from_str(result["detect"][1].as_str().unwrap().trim()).unwrap();
    assert_eq!(detect["RealTimeProtectionEnabled"], Value::Bool(false));
    assert_eq!(detect["AntivirusSignatureVersion"], "1.413.102.0");
    assert_eq!(result["unknown"][0], 1);
    // pywinrm decodes CLIXML itself; the text is PowerShell's.
    assert!(
        result["unknown"][1]
            .as_str()
            .unwrap()
            .contains("The term 'Get-Frobnicator' is not recognized"),
        "{}",
        result["unknown"]
    );
    assert_eq!(result["cmd"], serde_json::json!([0, "DC01\r\n"]));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pypsrp_runs_a_command_against_the_lab_with_encryption() {
    let lab = start_lab(Duration::ZERO).await;
    let address = lab.address().to_string();
    let result =
        tokio::task::spawn_blocking(move || run_python(PYPSRP, &[&address, USER, PASSWORD]))
            .await
            .unwrap();
    assert_eq!(result, serde_json::json!([0, "DC01\r\n"]));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pywinrm_with_a_wrong_password_is_refused() {
    let lab = start_lab(Duration::ZERO).await;
    let url = lab.url();
    let script = "import sys, winrm\ntry:\n    winrm.Session(sys.argv[1], auth=(sys.argv[2], 'wrong'), transport='ntlm', message_encryption='always').run_cmd('hostname')\n    print('\"accepted\"')\nexcept Exception as e:\n    print('\"' + type(e).__name__ + '\"')";
    let result = tokio::task::spawn_blocking(move || run_python(script, &[&url, USER]))
        .await
        .unwrap();
    assert_ne!(result, "accepted");
}
