#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]
//! What reusing one SSH connection for a sweep saves: a script on an open
//! session against connect + login + script + disconnect, both against a
//! real local sshd, with the local transport (`sh -c` on this machine) as
//! the same-run baseline.

use std::time::Duration;

use criterion::{Criterion, criterion_group, criterion_main};
use osiris_testkit::linux::Sshd;
use osiris_transport::{LocalTransport, Script, Shell, Transport};
use osiris_transport_ssh::{Privilege, SshTransport};

fn bench(c: &mut Criterion) {
    let runtime = tokio::runtime::Runtime::new().unwrap();
    let sshd = Sshd::start();
    let script = Script {
        shell: Shell::Sh,
        body: "true".into(),
        input: None,
        timeout: Duration::from_secs(10),
    };
    let mut group = c.benchmark_group("transport");
    group.bench_function("baseline_local_sh", |b| {
        let mut local = LocalTransport::new("appliance");
        b.iter(|| runtime.block_on(local.run(&script)).unwrap())
    });
    group.bench_function("ssh_script_on_open_session", |b| {
        let mut ssh = runtime.block_on(sshd.connect_as_root());
        b.iter(|| runtime.block_on(ssh.run(&script)).unwrap())
    });
    group.bench_function("ssh_connect_login_script_close", |b| {
        b.iter(|| {
            runtime.block_on(async {
                let mut ssh = SshTransport::connect(sshd.config(sshd.root_key(), Privilege::Login))
                    .await
                    .unwrap();
                let output = ssh.run(&script).await.unwrap();
                Box::new(ssh).close().await.unwrap();
                output
            })
        })
    });
    group.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
