//! Detect: every check run is one `check` bundle; anything short of a
//! clean, judged run is unknown, and unknown never heals.

use osiris_catalog::Outcome;
use osiris_evidence::Kind;
use osiris_healing::Mode;

use crate::world::{Reply, World, detail, facts};

#[tokio::test]
async fn a_passing_and_a_failing_check_each_leave_one_check_bundle() {
    let world = World::new(Mode::Heal);
    world.host.on("DETECT av", vec![facts(true), facts(false)]);

    let pass = world.check("deb.test.av").await;
    assert_eq!(pass.run.outcome(), Outcome::Pass);
    assert!(pass.run.failed().is_none());
    let fail = world.check("deb.test.av").await;
    assert_eq!(fail.run.outcome(), Outcome::Fail);
    assert!(fail.run.failed().is_some());
    assert_eq!((pass.seq, fail.seq), (1, 2));

    let bundles = world.drafts.of(Kind::Check);
    assert_eq!(bundles.len(), 2);
    let failed = &bundles[1];
    assert_eq!(failed.outcome, "fail");
    assert_eq!(failed.host, "deb01");
    assert_eq!(failed.hipaa[0].as_str(), "164.308(a)(5)(ii)(B)");
    assert_eq!(detail(failed, "check_id"), "deb.test.av");
    assert_eq!(detail(failed, "title"), "Test check av");
    assert_eq!(detail(failed, "platform"), "debian");
    assert_eq!(
        detail(failed, "findings")["failed"][0]["criterion"],
        "running"
    );
    assert_eq!(
        detail(failed, "citations")[0]["name"],
        "Protection from malicious software"
    );
    // The raw output is referenced by digest, and its digest is the run's.
    let stdout = failed
        .artifacts
        .iter()
        .find(|a| a.name() == "detect.stdout")
        .unwrap();
    assert_eq!(stdout.sha256(), fail.run.stdout_sha256());
    assert_eq!(fail.run.at(), crate::world::now());
}

#[tokio::test]
async fn transport_errors_timeouts_exit_codes_and_bad_output_are_unknown_with_the_reason() {
    let cases = [
        (Reply::Unreachable, "unreachable"),
        (Reply::Timeout, "timed out"),
        (
            Reply::exit(3, "", "freshclam: command not found\n"),
            "detect exited 3: freshclam: command not found",
        ),
        (Reply::out("Starting…\n{\"ok\":"), "not JSON"),
        (
            Reply::out(r#"{"ok":false,"error":"access denied"}"#),
            "access denied",
        ),
        (
            Reply::Output(osiris_transport::Output {
                exit_code: 0,
                stdout: vec![0xff, 0xfe],
                stderr: Vec::new(),
            }),
            "not UTF-8",
        ),
    ];
    for (reply, words) in cases {
        let world = World::new(Mode::Heal);
        world.host.on("DETECT av", vec![reply]);
        let report = world.check("deb.test.av").await;
        assert_eq!(report.run.outcome(), Outcome::Unknown, "{words}");
        let reason = &report.run.evaluation().unknown[0].reason;
        assert!(reason.contains(words), "{words}: {reason}");
        let bundle = world.drafts.last();
        assert_eq!(
            (bundle.kind, bundle.outcome.as_str()),
            (Kind::Check, "unknown")
        );
        assert!(
            detail(&bundle, "findings")["unknown"][0]["reason"]
                .as_str()
                .unwrap()
                .contains(words)
        );
    }
}

#[tokio::test]
async fn unknown_never_heals() {
    let world = World::new(Mode::Heal);
    world.host.on("DETECT av", vec![Reply::Timeout]);
    world
        .host
        .on("REMEDIATE tav", vec![Reply::out(r#"{"before":{}}"#)]);
    let report = world.check("deb.test.av").await;
    // Healing takes the proof of a failure, which an unknown run never gives.
    assert!(report.run.failed().is_none());
    assert!(world.host.ran_with("REMEDIATE").is_empty());
    assert_eq!(world.drafts.all().len(), 1);
}

#[tokio::test]
async fn a_refusing_recorder_is_an_error_not_a_silent_loss() {
    let world = World::new(Mode::Heal);
    world.host.on("DETECT av", vec![facts(true)]);
    world.drafts.fill();
    let check = world.healer.catalog().check("deb.test.av").unwrap().clone();
    let error = world
        .healer
        .check(&mut world.host.session(), &check)
        .await
        .unwrap_err();
    assert!(matches!(
        error,
        osiris_healing::Error::Record { kind: "check", .. }
    ));
}

#[tokio::test]
async fn the_engine_futures_can_run_on_a_multi_threaded_runtime() {
    fn send<T: Send>(_: &T) {}
    let world = World::new(Mode::Heal);
    world.host.on("DETECT av", vec![facts(false)]);
    let check = world.healer.catalog().check("deb.test.av").unwrap().clone();
    let mut session = world.host.session();
    let checking = world.healer.check(&mut session, &check);
    send(&checking);
    let report = checking.await.unwrap();
    let mut session = world.host.session();
    let healing = world
        .healer
        .heal(&mut session, &world.host, report.run.failed().unwrap(), &[]);
    send(&healing);
    drop(healing);
}
