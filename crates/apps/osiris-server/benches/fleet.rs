//! The fleet page's server time on PostgreSQL (BENCHMARKS.md): a fresh
//! database seeded with bulk SQL (1,000 sites of one partner, one appliance
//! and 10 hosts each, 30 days of check results and remediations, open and
//! resolved incidents), then `GET /` through the server's router in
//! process (`tower::ServiceExt::oneshot`, no socket), alternating with the
//! baseline `GET /api/auth/me` (the same session cookie: session lookup
//! and sliding, no data) and the page's store call alone
//! (`fleet_overview`) in the same rounds. Prints p50/p95/p99 of all three,
//! the ratios and the store's share of the page, and, for comparison, the
//! previous per-site way of reading
//! the evidence (one `list_site_evidence` per site) timed through the store.
//!
//! ```sh
//! set -a; . /var/tmp/osiris-services.env; set +a
//! cargo bench -p osiris-server --bench fleet
//! ```
//!
//! `OSIRIS_TEST_DATABASE_URL` must name a PostgreSQL 15+ server (trust
//! auth; `psql` creates and drops the bench's own database); without it
//! the bench fails. `OSIRIS_BENCH_SITES` (1000), `OSIRIS_BENCH_CHECKS_PER_HOUR`
//! (5 per site: each of 10 hosts' 12 checks once a day) and
//! `OSIRIS_BENCH_ROUNDS` (300) change the size; `OSIRIS_BENCH_KEEP_DB=1`
//! keeps the database.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    clippy::panic,
    clippy::print_stdout,
    clippy::disallowed_methods,
    clippy::cast_precision_loss,
    clippy::cast_possible_truncation,
    clippy::cast_sign_loss,
    reason = "a bench program: it times itself and prints its figures"
)]

use std::io::Write as _;
use std::process::{Command, Stdio};
use std::time::{Duration as StdDuration, Instant};

use axum::body::Body;
use axum::http::{Request, StatusCode, header};
use chrono::{Duration, SecondsFormat};
use osiris_core::Clock as _;
use osiris_store::{OverviewPeriod, TenantScope};
use osiris_testkit::TestServer;
use tower::ServiceExt as _;

const TREND_DAYS: i64 = 30;

fn env_number(name: &str, default: u64) -> u64 {
    std::env::var(name).map_or(default, |v| {
        v.parse()
            .unwrap_or_else(|_| panic!("{name} must be a number"))
    })
}

fn psql(url: &str, sql: &str) {
    let mut child = Command::new("psql")
        .args([url, "-v", "ON_ERROR_STOP=1", "-q", "-f", "-"])
        .stdin(Stdio::piped())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .expect("psql is needed to create and seed the bench database");
    child
        .stdin
        .take()
        .unwrap()
        .write_all(sql.as_bytes())
        .unwrap();
    let out = child.wait_with_output().unwrap();
    assert!(
        out.status.success(),
        "psql failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// The seed: every row the fleet page reads, in bulk; evidence goes
/// through the index's insert trigger like intake's rows do.
fn seed_sql(sites: u64, per_hour: u64, now: &str) -> String {
    let hours = TREND_DAYS * 24;
    let spacing = 3600 / per_hour.max(1);
    format!(
        "
BEGIN;
INSERT INTO partners (id, name, created_at)
VALUES ('00000000-0000-4000-8000-000000000001', 'Bench MSP', '{now}');
INSERT INTO clients (id, partner_id, name, created_at)
SELECT md5('client' || i)::uuid, '00000000-0000-4000-8000-000000000001',
       'Practice ' || lpad(i::text, 5, '0'), '{now}'
FROM generate_series(1, {sites}) i;
INSERT INTO sites (id, client_id, name, time_zone, window_start_minute,
                   window_duration_minutes, healing_mode, created_at, updated_at)
SELECT md5('site' || i)::uuid, md5('client' || i)::uuid, 'Site ' || lpad(i::text, 5, '0'),
       'UTC', 1320, 240, 'heal', '{now}', '{now}'
FROM generate_series(1, {sites}) i;
INSERT INTO appliances (id, site_id, name, last_checkin_at, agent_version, created_at)
SELECT md5('appliance' || i)::uuid, md5('site' || i)::uuid, 'appliance',
       timestamptz '{now}' - (i % 300) * interval '1 second', '1.0.0', '{now}'
FROM generate_series(1, {sites}) i;
INSERT INTO hosts (id, site_id, hostname, platform, address, created_at)
SELECT md5('host' || i || '-' || h)::uuid, md5('site' || i)::uuid, 'host' || h,
       CASE WHEN h % 3 = 0 THEN 'linux' ELSE 'windows' END, '10.0.0.' || h, '{now}'
FROM generate_series(1, {sites}) i, generate_series(1, 10) h;
INSERT INTO incidents (id, site_id, check_id, dedup_key, severity, tier, status, occurrences,
                       opened_at, last_seen_at, resolved_at, resolution)
SELECT md5('incident' || i || '-' || j)::uuid, md5('site' || i)::uuid, 'win.check.' || j,
       'bench:' || j, 'medium', (ARRAY['l1', 'l2', 'l3'])[1 + j % 3],
       CASE WHEN j <= 3 THEN 'open' ELSE 'resolved' END, 1,
       timestamptz '{now}' - j * interval '2 days', timestamptz '{now}' - j * interval '2 days',
       CASE WHEN j <= 3 THEN NULL ELSE timestamptz '{now}' - j * interval '2 days' + interval '1 hour' END,
       CASE WHEN j <= 3 THEN NULL ELSE 'fixed' END
FROM generate_series(1, {sites}) i, generate_series(1, 13) j;
COMMIT;
BEGIN;
INSERT INTO evidence (appliance_id, seq, site_id, bundle_id, chain_hash, created_at, kind,
                      outcome, object_key, received_at)
SELECT md5('appliance' || i)::uuid, n + 1, md5('site' || i)::uuid, gen_random_uuid(),
       repeat('a', 64),
       timestamptz '{now}' - interval '{hours} hours' + (n * {spacing}) * interval '1 second',
       CASE WHEN n % 20 = 19 THEN 'remediation' ELSE 'check' END,
       CASE WHEN (n * 7 + i) % 10 = 0 THEN 'fail' ELSE 'pass' END,
       'bench/' || i || '/' || n, timestamptz '{now}'
FROM generate_series(1, {sites}) i, generate_series(0, {hours} * {per_hour} - 1) n;
COMMIT;
ANALYZE;
"
    )
}

fn percentile(sorted: &[StdDuration], p: f64) -> StdDuration {
    let index = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted[index.min(sorted.len() - 1)]
}

fn ms(duration: StdDuration) -> f64 {
    duration.as_secs_f64() * 1000.0
}

fn main() {
    let url = std::env::var("OSIRIS_TEST_DATABASE_URL").expect(
        "OSIRIS_TEST_DATABASE_URL must name a PostgreSQL 15+ server (run .ci/setup, then \
         `set -a; . /var/tmp/osiris-services.env; set +a`); the fleet bench measures PostgreSQL \
         and never skips",
    );
    let sites = env_number("OSIRIS_BENCH_SITES", 1000);
    let per_hour = env_number("OSIRIS_BENCH_CHECKS_PER_HOUR", 5);
    let rounds = env_number("OSIRIS_BENCH_ROUNDS", 300) as usize;
    let name = format!("osiris_bench_fleet_{}", uuid::Uuid::new_v4().simple());
    psql(&url, &format!("CREATE DATABASE {name}"));
    let (base, _) = url.rsplit_once('/').unwrap();
    let database = format!("{base}/{name}");

    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .unwrap();
    runtime.block_on(async {
        let server = TestServer::start_with(&[("OSIRIS_DATABASE__URL", database.as_str())]).await;
        let now = server.clock.now();
        let started = Instant::now();
        psql(
            &database,
            &seed_sql(
                sites,
                per_hour,
                &now.to_rfc3339_opts(SecondsFormat::Secs, true),
            ),
        );
        let evidence = sites * (TREND_DAYS as u64) * 24 * per_hour;
        println!(
            "seeded {sites} sites, {} hosts, {evidence} evidence rows, {} incidents in {:.1} s",
            sites * 10,
            sites * 13,
            started.elapsed().as_secs_f64()
        );

        let router = osiris_server::api::router(server.running.state.clone(), 1 << 20);
        let login = router
            .clone()
            .oneshot(
                Request::post("/api/auth/login")
                    .header(header::CONTENT_TYPE, "application/json")
                    .body(Body::from(
                        serde_json::json!({"username": "admin", "password": server.admin_password})
                            .to_string(),
                    ))
                    .unwrap(),
            )
            .await
            .unwrap();
        assert_eq!(login.status(), StatusCode::OK);
        let cookie = login
            .headers()
            .get_all(header::SET_COOKIE)
            .iter()
            .map(|v| v.to_str().unwrap())
            .find(|v| v.starts_with("osiris_session="))
            .expect("the login sets the session cookie")
            .split(';')
            .next()
            .unwrap()
            .to_owned();
        let get = |path: &'static str| {
            let router = router.clone();
            let cookie = cookie.clone();
            async move {
                let started = Instant::now();
                let response = router
                    .oneshot(
                        Request::get(path)
                            .header(header::COOKIE, cookie)
                            .body(Body::empty())
                            .unwrap(),
                    )
                    .await
                    .unwrap();
                let status = response.status();
                let body = axum::body::to_bytes(response.into_body(), usize::MAX)
                    .await
                    .unwrap();
                let elapsed = started.elapsed();
                assert_eq!(status, StatusCode::OK, "{path}");
                (elapsed, body)
            }
        };
        let (_, page) = get("/").await;
        let page = String::from_utf8(page.to_vec()).unwrap();
        assert_eq!(
            page.matches("<th scope=\"row\">").count() as u64,
            sites,
            "one row per site"
        );
        assert!(page.contains("polyline"), "the trend has data");
        for _ in 0..20 {
            get("/").await;
            get("/api/auth/me").await;
        }
        // The store's share: the page's one grouped call alone, timed in
        // the same rounds.
        let store = &server.running.state.store;
        let scope = TenantScope::platform();
        let overview = || async {
            let started = Instant::now();
            let rows = store
                .fleet_overview(&scope, OverviewPeriod::ending_at(now, TREND_DAYS))
                .await
                .unwrap();
            assert_eq!(rows.len() as u64, sites);
            started.elapsed()
        };
        let (mut fleet, mut baseline, mut reads) = (Vec::new(), Vec::new(), Vec::new());
        for round in 0..rounds {
            // Alternate which goes first, so neither always follows the other.
            if round % 2 == 0 {
                fleet.push(get("/").await.0);
                baseline.push(get("/api/auth/me").await.0);
                reads.push(overview().await);
            } else {
                reads.push(overview().await);
                baseline.push(get("/api/auth/me").await.0);
                fleet.push(get("/").await.0);
            }
        }
        fleet.sort();
        baseline.sort();
        reads.sort();
        for (label, p) in [("p50", 0.5), ("p95", 0.95), ("p99", 0.99)] {
            let (f, b, r) = (
                percentile(&fleet, p),
                percentile(&baseline, p),
                percentile(&reads, p),
            );
            println!(
                "{label}: fleet page {:.2} ms, baseline /api/auth/me {:.2} ms, ratio {:.2}x; \
                 of which the store's fleet_overview {:.2} ms ({:.0} %)",
                ms(f),
                ms(b),
                ms(f) / ms(b),
                ms(r),
                100.0 * ms(r) / ms(f)
            );
        }
        println!(
            "fleet page: {} bytes, {rounds} rounds; target p95 <= 100 ms: {}",
            page.len(),
            if ms(percentile(&fleet, 0.95)) <= 100.0 {
                "met"
            } else {
                "NOT met"
            }
        );

        // The previous way, for comparison: one evidence query per site.
        let listed = store.list_sites(&scope).await.unwrap();
        let mut per_site = Vec::new();
        for _ in 0..3 {
            let started = Instant::now();
            for site in &listed {
                let rows = store
                    .list_site_evidence(&scope, site.id, now - Duration::days(TREND_DAYS), now)
                    .await
                    .unwrap();
                assert!(!rows.is_empty());
            }
            per_site.push(started.elapsed());
        }
        per_site.sort();
        println!(
            "previous per-site evidence reads alone ({} queries): median {:.0} ms of 3 ({:.1}x the new page's p95)",
            listed.len(),
            ms(per_site[1]),
            ms(per_site[1]) / ms(percentile(&fleet, 0.95))
        );
        server.stop().await;
    });
    if std::env::var_os("OSIRIS_BENCH_KEEP_DB").is_none() {
        psql(&url, &format!("DROP DATABASE {name} WITH (FORCE)"));
    } else {
        println!("kept database {database}");
    }
}
