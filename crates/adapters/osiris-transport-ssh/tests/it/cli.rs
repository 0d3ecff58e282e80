//! `osiris target test` and `osiris target exec` as the binary calls them.

use std::time::Duration;

use osiris_testkit::linux::Sshd;
use osiris_transport_ssh::cli::{
    ExecArgs, ScriptSource, TRANSPORT_FAILURE, TargetArgs, target_exec, target_test,
};

fn args(sshd: &Sshd) -> TargetArgs {
    TargetArgs {
        ssh: format!("root@127.0.0.1:{}", sshd.port),
        key_file: sshd.client_key(),
        known_hosts: Some(sshd.known_hosts().path().to_owned()),
        sudo: false,
        connect_timeout: Duration::from_secs(10),
    }
}

fn exec(sshd: &Sshd, script: ScriptSource) -> ExecArgs {
    ExecArgs {
        target: args(sshd),
        script,
        timeout: Duration::from_secs(20),
    }
}

fn text(bytes: Vec<u8>) -> String {
    String::from_utf8(bytes).unwrap()
}

#[tokio::test]
async fn target_test_pins_on_first_contact_then_reports_the_match() {
    let sshd = Sshd::start();
    let (mut out, mut err) = (Vec::new(), Vec::new());
    assert_eq!(
        target_test(&args(&sshd), &mut out, &mut err).await,
        0,
        "{}",
        text(err)
    );
    let out = text(out);
    assert!(out.contains("pinned now in"), "{out}");
    assert!(
        out.contains("user: root") && out.contains("system: Linux"),
        "{out}"
    );
    let (mut out, mut err) = (Vec::new(), Vec::new());
    assert_eq!(target_test(&args(&sshd), &mut out, &mut err).await, 0);
    assert!(text(out).contains("matches the key pinned in"));
}

#[tokio::test]
async fn target_exec_prints_stdout_and_returns_the_command_exit_code() {
    let sshd = Sshd::start();
    let (mut out, mut err) = (Vec::new(), Vec::new());
    let code = target_exec(
        &exec(
            &sshd,
            ScriptSource::Command("echo hi; echo warn >&2; exit 7".into()),
        ),
        &mut out,
        &mut err,
    )
    .await;
    assert_eq!(
        (code, text(out), text(err)),
        (7, "hi\n".into(), "warn\n".into())
    );
    let script = sshd.dir.path().join("script.sh");
    std::fs::write(
        &script,
        "set -e\nprintf 'from %s\\n' file\nfalse\necho unreachable\n",
    )
    .unwrap();
    let (mut out, mut err) = (Vec::new(), Vec::new());
    let code = target_exec(&exec(&sshd, ScriptSource::File(script)), &mut out, &mut err).await;
    assert_eq!((code, text(out)), (1, "from file\n".into()));
}

#[tokio::test]
async fn a_changed_host_key_makes_both_commands_exit_non_zero_with_the_reason() {
    let mut sshd = Sshd::start();
    assert_eq!(
        target_test(&args(&sshd), &mut Vec::new(), &mut Vec::new()).await,
        0
    );
    sshd.restart_with_new_host_key();
    let (mut out, mut err) = (Vec::new(), Vec::new());
    assert_eq!(
        target_test(&args(&sshd), &mut out, &mut err).await,
        TRANSPORT_FAILURE
    );
    let err = text(err);
    assert!(
        err.contains("identity changed") && err.contains("ssh-keygen -R"),
        "{err}"
    );
    let (mut out, mut err) = (Vec::new(), Vec::new());
    let code = target_exec(
        &exec(&sshd, ScriptSource::Command("touch /tmp/never".into())),
        &mut out,
        &mut err,
    )
    .await;
    assert_eq!(code, TRANSPORT_FAILURE);
    assert!(out.is_empty() && text(err).contains("host key"));
}

#[tokio::test]
async fn unusable_arguments_exit_255_naming_the_problem() {
    let sshd = Sshd::start();
    let mut bad = args(&sshd);
    bad.ssh = "127.0.0.1".into();
    let mut err = Vec::new();
    assert_eq!(
        target_test(&bad, &mut Vec::new(), &mut err).await,
        TRANSPORT_FAILURE
    );
    assert!(text(err).contains("login user is missing"));
    let mut bad = args(&sshd);
    bad.key_file = sshd.dir.path().join("no-such-key");
    let mut err = Vec::new();
    assert_eq!(
        target_test(&bad, &mut Vec::new(), &mut err).await,
        TRANSPORT_FAILURE
    );
    assert!(text(err).contains("no-such-key"));
}
