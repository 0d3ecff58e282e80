//! L3 escalation from the appliance: tickets over real channels (a real
//! SMTP server, aiosmtpd, over STARTTLS; a local HTTP receiver standing
//! where Slack, PagerDuty and a webhook consumer would), one channel dead
//! while the others deliver, approval and rejection from Central Command
//! with their evidence, and the durable outbox across a restart with
//! backoff on a manual clock.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    reason = "test helpers: a failed setup step fails the test"
)]

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::process::Stdio;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use osiris_agent::{Agent, AgentConfig};
use osiris_core::{Clock, ManualClock, SystemClock};
use osiris_testkit::windows::{LAB_PASSWORD, domain_controller};
use osiris_testkit::{TestServer, site_with_appliance};
use serde_json::{Value, json};
use tokio::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt, BufReader};

use crate::e2e::{config_text, stored_bundles, windows_target};

const WEBHOOK_KEY: &str = "webhook-signing-key-0123456789";
const SMTP_PASSWORD: &str = "smtp-Pa55word!";
const ROUTING_KEY: &str = "pd-routing-key-R0123456789";

/// One request a receiver got.
#[derive(Debug, Clone)]
struct Received {
    path: String,
    headers: BTreeMap<String, String>,
    body: Vec<u8>,
}

impl Received {
    fn json(&self) -> Value {
        serde_json::from_slice(&self.body).unwrap()
    }
}

/// A local HTTP/1.1 receiver: keeps every request, answers each with the
/// next scripted status (the last one repeats).
struct Receiver {
    base: String,
    statuses: Arc<Mutex<Vec<u16>>>,
    received: Arc<Mutex<Vec<Received>>>,
    task: tokio::task::JoinHandle<()>,
}

impl Drop for Receiver {
    fn drop(&mut self) {
        self.task.abort();
    }
}

impl Receiver {
    async fn start(statuses: &[u16]) -> Self {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let base = format!("http://{}", listener.local_addr().unwrap());
        let statuses = Arc::new(Mutex::new(statuses.to_vec()));
        let received = Arc::new(Mutex::new(Vec::new()));
        let (s, r) = (Arc::clone(&statuses), Arc::clone(&received));
        let task = tokio::spawn(async move {
            loop {
                let Ok((stream, _)) = listener.accept().await else {
                    return;
                };
                let (s, r) = (Arc::clone(&s), Arc::clone(&r));
                tokio::spawn(async move {
                    let mut stream = BufReader::new(stream);
                    let mut line = String::new();
                    stream.read_line(&mut line).await.unwrap();
                    let path = line.split(' ').nth(1).unwrap_or_default().to_owned();
                    let mut headers = BTreeMap::new();
                    loop {
                        let mut header = String::new();
                        stream.read_line(&mut header).await.unwrap();
                        let header = header.trim_end();
                        if header.is_empty() {
                            break;
                        }
                        let (name, value) = header.split_once(':').unwrap();
                        headers.insert(name.to_ascii_lowercase(), value.trim().to_owned());
                    }
                    let length: usize = headers
                        .get("content-length")
                        .map_or(0, |v| v.parse().unwrap());
                    let mut body = vec![0; length];
                    stream.read_exact(&mut body).await.unwrap();
                    let status = {
                        let mut statuses = s.lock().unwrap();
                        if statuses.len() > 1 {
                            statuses.remove(0)
                        } else {
                            statuses[0]
                        }
                    };
                    r.lock().unwrap().push(Received {
                        path,
                        headers,
                        body,
                    });
                    let answer = format!(
                        "HTTP/1.1 {status} X\r\ncontent-length: 2\r\ncontent-type: text/plain\r\nconnection: close\r\n\r\nok"
                    );
                    let _ = stream.get_mut().write_all(answer.as_bytes()).await;
                    let _ = stream.get_mut().shutdown().await;
                });
            }
        });
        Self {
            base,
            statuses,
            received,
            task,
        }
    }

    fn answer(&self, statuses: &[u16]) {
        *self.statuses.lock().unwrap() = statuses.to_vec();
    }

    fn received(&self, path: &str) -> Vec<Received> {
        self.received
            .lock()
            .unwrap()
            .iter()
            .filter(|r| r.path == path)
            .cloned()
            .collect()
    }
}

/// aiosmtpd with required STARTTLS and AUTH; every message parsed by
/// Python's `email` package, one JSON line each.
const SMTP: &str = r#"
import email, email.policy, json, ssl, sys, time
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult, LoginPassword
port, out, cert, key = int(sys.argv[1]), sys.argv[2], sys.argv[3], sys.argv[4]
def authenticator(server, session, envelope, mechanism, auth_data):
    return AuthResult(success=isinstance(auth_data, LoginPassword) and auth_data.login == b"osiris" and auth_data.password == b"smtp-Pa55word!")
class Handler:
    async def handle_DATA(self, server, session, envelope):
        msg = email.message_from_bytes(envelope.content, policy=email.policy.default)
        with open(out, "a") as f:
            f.write(json.dumps({"tls": session.ssl is not None, "rcpt_tos": envelope.rcpt_tos,
                "subject": str(msg["Subject"]), "from": str(msg["From"]), "body": msg.get_content()}) + "\n")
        return "250 OK"
context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
context.load_cert_chain(cert, key)
controller = Controller(Handler(), hostname="127.0.0.1", port=port, tls_context=context,
    require_starttls=True, authenticator=authenticator, auth_required=True, auth_require_tls=True)
controller.start()
print("ready", flush=True)
while True:
    time.sleep(1)
"#;

struct Smtp {
    port: u16,
    out: PathBuf,
    ca: PathBuf,
    _child: tokio::process::Child,
    _dir: tempfile::TempDir,
}

impl Smtp {
    async fn start() -> Self {
        let dir = tempfile::tempdir().unwrap();
        let (cert, key) = (dir.path().join("cert.pem"), dir.path().join("key.pem"));
        // A self-signed end-entity certificate (not a CA, which rustls
        // refuses as a server certificate), trusted as the e-mail CA.
        let conf = dir.path().join("cert.cnf");
        std::fs::write(
            &conf,
            "[req]\ndistinguished_name = dn\nx509_extensions = ext\nprompt = no\n[dn]\nCN = localhost\n\
             [ext]\nbasicConstraints = critical,CA:FALSE\nsubjectAltName = DNS:localhost\n\
             keyUsage = digitalSignature\nextendedKeyUsage = serverAuth\n",
        )
        .unwrap();
        let made = std::process::Command::new("openssl")
            .args([
                "req",
                "-x509",
                "-newkey",
                "ec",
                "-pkeyopt",
                "ec_paramgen_curve:P-256",
                "-nodes",
                "-days",
                "2",
                "-config",
            ])
            .arg(&conf)
            .arg("-keyout")
            .arg(&key)
            .arg("-out")
            .arg(&cert)
            .stderr(Stdio::null())
            .status()
            .unwrap();
        assert!(
            made.success(),
            "openssl could not make the SMTP certificate"
        );
        let script = dir.path().join("smtp.py");
        std::fs::write(&script, SMTP).unwrap();
        let out = dir.path().join("messages.jsonl");
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let python = std::env::var_os("OSIRIS_TEST_PYTHON").map_or_else(
            || PathBuf::from("/var/tmp/osiris-pyenv/bin/python"),
            PathBuf::from,
        );
        let mut child = tokio::process::Command::new(python)
            .arg(&script)
            .arg(port.to_string())
            .args([&out, &cert, &key])
            .stdout(Stdio::piped())
            .kill_on_drop(true)
            .spawn()
            .unwrap();
        let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
        let ready = tokio::time::timeout(Duration::from_secs(30), lines.next_line())
            .await
            .expect("aiosmtpd did not start in 30 s")
            .unwrap();
        assert_eq!(ready.as_deref(), Some("ready"));
        Self {
            port,
            out,
            ca: cert,
            _child: child,
            _dir: dir,
        }
    }

    fn messages(&self) -> Vec<Value> {
        std::fs::read_to_string(&self.out)
            .unwrap_or_default()
            .lines()
            .map(|l| serde_json::from_str(l).unwrap())
            .collect()
    }
}

fn env() -> Arc<osiris_agent::targets::EnvLookup> {
    let vars: BTreeMap<String, String> = [
        ("LAB_PASSWORD", LAB_PASSWORD),
        ("WEBHOOK_KEY", WEBHOOK_KEY),
        ("SMTP_PASSWORD", SMTP_PASSWORD),
        ("PD_KEY", ROUTING_KEY),
        ("SLACK_URL", "http://127.0.0.1:9/services/T000/B000/dead"),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_owned(), v.to_owned()))
    .collect();
    Arc::new(move |name: &str| vars.get(name).cloned())
}

fn notify_section(http: &Receiver, smtp: Option<&Smtp>, slack: bool) -> String {
    let mut text = format!(
        r#"
[notify]
timeout_secs = 5
retry_base_secs = 60
retry_cap_secs = 600
max_attempts = 5
[notify.pagerduty]
routing_key = {{ env = "PD_KEY" }}
events_url = "{base}/v2/enqueue"
[notify.webhook]
url = "{base}/hook"
key = {{ env = "WEBHOOK_KEY" }}
"#,
        base = http.base
    );
    if let Some(smtp) = smtp {
        text.push_str(&format!(
            r#"
[notify.email]
host = "127.0.0.1"
port = {port}
tls_name = "localhost"
ca_file = "{ca}"
username = "osiris"
password = {{ env = "SMTP_PASSWORD" }}
from = "Osiris <osiris@clinic.example>"
to = ["oncall@clinic.example"]
"#,
            port = smtp.port,
            ca = smtp.ca.display()
        ));
    }
    if slack {
        // Nothing listens on port 9: connection refused, every time.
        text.push_str("\n[notify.slack]\nwebhook_url = { env = \"SLACK_URL\" }\n");
    }
    text
}

async fn open(config: &str, clock: Arc<dyn Clock>) -> Agent {
    Agent::open(AgentConfig::from_toml(config).unwrap(), clock, env())
        .await
        .unwrap()
}

fn incident_of(received: &Received) -> String {
    let approve = received.json()["approve_url"].as_str().unwrap().to_owned();
    approve
        .trim_end_matches("/approve")
        .rsplit('/')
        .next()
        .unwrap()
        .to_owned()
}

fn deliveries_of<'a>(bundles: &'a [Value], outcome: &str) -> Vec<&'a Value> {
    bundles
        .iter()
        .filter(|b| b["kind"] == "escalation" && b["outcome"] == outcome)
        .collect()
}

/// The whole path: BitLocker protection suspended (approval only) →
/// escalated → ticket by e-mail, webhook and PagerDuty while Slack is dead
/// → an operator approves through the API → the signed order runs at the
/// next check-in → the incident resolves → acknowledge and resolve sent;
/// the evidence (tickets sent, the order with its approval) reaches
/// Central Command.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_escalation_reaches_people_is_approved_and_its_evidence_reaches_central_command() {
    let server = TestServer::start_https().await;
    let site = site_with_appliance(&server, "Hillcrest").await;
    let lab = domain_controller().await;
    let http = Receiver::start(&[202]).await;
    let smtp = Smtp::start().await;
    let dir = tempfile::tempdir().unwrap();
    let config = config_text(dir.path(), &server, &windows_target("dc01", &lab))
        + &notify_section(&http, Some(&smtp), true);
    let agent =
        crate::e2e::enrolled_agent_env(&server, &site, &config, Arc::new(SystemClock), env()).await;

    lab.set_state("bitlocker.c_protection", json!("Off"))
        .unwrap();
    assert_eq!(agent.sweep().await.unwrap().escalated, 1);
    // Central Command's id of the incident is not known yet: the links
    // would name nothing, so nothing is sent.
    assert_eq!(agent.deliver_tickets().await.unwrap().sent, 0);
    agent.checkin().await.unwrap();

    let round = agent.deliver_tickets().await.unwrap();
    let local = agent.state().incidents().await.unwrap();
    let local = local
        .iter()
        .find(|i| i.check_id == "win.encryption.bitlocker")
        .unwrap()
        .clone();
    let rows = agent.state().deliveries(local.id).await.unwrap();
    assert_eq!(
        (round.sent, round.retrying, round.failed),
        (3, 1, 0),
        "{round:?} {rows:#?}"
    );
    // E-mail: over STARTTLS with a login, to the real server.
    let mails = smtp.messages();
    assert_eq!(mails.len(), 1, "{mails:?}");
    assert_eq!(mails[0]["tls"], true);
    assert!(
        mails[0]["subject"]
            .as_str()
            .unwrap()
            .starts_with("[Osiris] Needs a decision: "),
        "{mails:?}"
    );
    let body = mails[0]["body"].as_str().unwrap();
    assert!(
        body.contains("164.312"),
        "HIPAA citations from the catalog: {body}"
    );
    // The webhook: osiris.ticket.v1, signed with the shared key.
    let hooks = http.received("/hook");
    assert_eq!(hooks.len(), 1);
    let hook = &hooks[0];
    let ticket = hook.json();
    assert_eq!(ticket["schema"], "osiris.ticket.v1");
    assert_eq!(ticket["event"], "trigger");
    assert_eq!(ticket["check"]["id"], "win.encryption.bitlocker");
    assert_eq!(ticket["host"], "dc01");
    assert!(
        ticket["hipaa"]
            .as_array()
            .unwrap()
            .iter()
            .any(|h| h["cite"].as_str().unwrap().starts_with("164.312"))
    );
    assert!(
        ticket["tried"].to_string().contains("escalated"),
        "{ticket}"
    );
    let timestamp: i64 = hook.headers["x-osiris-timestamp"].parse().unwrap();
    assert_eq!(
        hook.headers["x-osiris-signature"],
        osiris_notify::signature(WEBHOOK_KEY.as_bytes(), timestamp, &hook.body)
    );
    // The links point at Central Command's pages for its incident.
    let incident = incident_of(hook);
    let server_incidents = site.admin.incidents(&site.tenant.site).await;
    assert!(
        server_incidents
            .iter()
            .any(|i| i["id"] == incident.as_str()),
        "{server_incidents:#?}"
    );
    assert!(
        ticket["approve_url"]
            .as_str()
            .unwrap()
            .starts_with(&server.base)
    );
    assert_eq!(ticket["evidence"].as_array().unwrap().len(), 1);
    // PagerDuty: Events API v2 trigger under the incident's dedup key.
    let pages = http.received("/v2/enqueue");
    assert_eq!(pages.len(), 1);
    let page = pages[0].json();
    assert_eq!(page["event_action"], "trigger");
    assert_eq!(page["routing_key"], ROUTING_KEY);
    assert_eq!(page["dedup_key"], format!("osiris-incident-{incident}"));
    assert_eq!(
        page["payload"]["severity"], "critical",
        "BitLocker is a critical check"
    );
    assert!(
        page["payload"]["summary"]
            .as_str()
            .unwrap()
            .contains("dc01")
    );
    // Slack is dead: its delivery waits for a retry, the others did not wait for it.
    let rows = agent.state().deliveries(local.id).await.unwrap();
    let slack = rows.iter().find(|r| r.channel == "slack").unwrap();
    assert_eq!(
        (slack.state.as_str(), slack.attempts),
        ("pending", 1),
        "{rows:?}"
    );
    assert!(
        slack.last_error.as_deref().unwrap().contains("slack"),
        "{rows:?}"
    );
    assert!(
        !format!("{rows:?}").contains("B000"),
        "the secret URL is never recorded"
    );

    // An operator approves through the API.
    let (status, decided) = site
        .admin
        .post(
            &format!("/api/incidents/{incident}/approve"),
            json!({"runbook_id": "RB-WIN-ENCRYPTION-001", "params": {"mount_point": "C:"}}),
        )
        .await;
    assert_eq!(status, reqwest::StatusCode::CREATED, "{decided}");
    let order_id = decided["order_id"].as_str().unwrap().to_owned();
    let ran = agent.checkin().await.unwrap();
    assert_eq!(ran.orders, vec![(order_id.clone(), "executed".to_owned())]);
    assert_eq!(lab.state("bitlocker.c_protection"), Some(json!("On")));
    let after = agent.sweep().await.unwrap();
    assert_eq!(after.resolved, 1, "{after:?}");
    // Acknowledge first on every channel, resolve after it.
    let acknowledged = agent.deliver_tickets().await.unwrap();
    assert_eq!(acknowledged.sent, 3, "{acknowledged:?}");
    let resolved = agent.deliver_tickets().await.unwrap();
    assert_eq!(resolved.sent, 3, "{resolved:?}");
    let events: Vec<String> = http
        .received("/v2/enqueue")
        .iter()
        .map(|p| p.json()["event_action"].as_str().unwrap().to_owned())
        .collect();
    assert_eq!(events, ["trigger", "acknowledge", "resolve"]);
    let resolve = http.received("/v2/enqueue")[2].json();
    assert_eq!(resolve["dedup_key"], format!("osiris-incident-{incident}"));
    assert!(resolve.get("payload").is_none(), "{resolve}");

    // Everything is evidence at Central Command.
    agent.checkin().await.unwrap();
    agent.checkin().await.unwrap();
    let bundles = stored_bundles(&site).await;
    let sent = deliveries_of(&bundles, "ticket_sent");
    assert_eq!(sent.len(), 9, "{sent:#?}");
    assert!(
        sent.iter()
            .any(|b| b["detail"]["channel"] == "email" && b["detail"]["event"] == "trigger")
    );
    assert!(
        !bundles
            .iter()
            .any(|b| b.to_string().contains(ROUTING_KEY) || b.to_string().contains(WEBHOOK_KEY))
    );
    assert_eq!(deliveries_of(&bundles, "ticket_opened").len(), 1);
    let order = bundles.iter().find(|b| b["kind"] == "order").unwrap();
    assert_eq!(order["outcome"], "executed");
    assert_eq!(
        order["detail"]["approval"]["incident_id"],
        incident.as_str()
    );
    assert_eq!(
        order["detail"]["approval"]["decided_by"],
        decided["decided_by"]
    );
    let resolved = site
        .admin
        .get("/api/dashboard/incidents?status=resolved")
        .await
        .1;
    assert!(resolved.to_string().contains(&incident), "{resolved}");
}

/// A rejection: the signed decision arrives at the next check-in, is
/// recorded as an `escalation` bundle `rejected`, and closes the ticket.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_rejection_from_central_command_is_verified_recorded_and_closes_the_ticket() {
    let server = TestServer::start_https().await;
    let site = site_with_appliance(&server, "Elmwood").await;
    let lab = domain_controller().await;
    let http = Receiver::start(&[200]).await;
    let dir = tempfile::tempdir().unwrap();
    let config = config_text(dir.path(), &server, &windows_target("dc01", &lab))
        + &notify_section(&http, None, false);
    let agent =
        crate::e2e::enrolled_agent_env(&server, &site, &config, Arc::new(SystemClock), env()).await;
    lab.set_state("bitlocker.c_protection", json!("Off"))
        .unwrap();
    agent.sweep().await.unwrap();
    agent.checkin().await.unwrap();
    assert_eq!(agent.deliver_tickets().await.unwrap().sent, 2);
    let incident = incident_of(&http.received("/hook")[0]);

    let (status, answer) = site
        .admin
        .post(
            &format!("/api/incidents/{incident}/reject"),
            json!({"reason": "the laptop is being retired on Friday"}),
        )
        .await;
    assert_eq!(status, reqwest::StatusCode::CREATED, "{answer}");
    let summary = agent.checkin().await.unwrap();
    assert_eq!(
        summary.decisions,
        vec![(incident.clone(), "rejected".to_owned())]
    );
    assert!(summary.orders.is_empty());
    assert_eq!(
        lab.state("bitlocker.c_protection"),
        Some(json!("Off")),
        "nothing ran"
    );
    assert_eq!(agent.deliver_tickets().await.unwrap().sent, 2);
    let hooks = http.received("/hook");
    assert_eq!(hooks.last().unwrap().json()["event"], "resolve");
    assert_eq!(
        http.received("/v2/enqueue").last().unwrap().json()["event_action"],
        "resolve"
    );

    agent.checkin().await.unwrap();
    let bundles = stored_bundles(&site).await;
    let rejected = deliveries_of(&bundles, "rejected");
    assert_eq!(rejected.len(), 1, "{bundles:#?}");
    assert_eq!(
        rejected[0]["detail"]["server_incident_id"],
        incident.as_str()
    );
    assert_eq!(
        rejected[0]["detail"]["reason"],
        "the laptop is being retired on Friday"
    );
    assert_eq!(rejected[0]["detail"]["refusal"], Value::Null);
}

/// The outbox is durable: a webhook failing with 500 is retried with
/// backoff on the appliance's clock (not before half the first step),
/// survives a restart of the appliance between attempts, and is delivered
/// exactly once after it; PagerDuty answering 400 (permanent) is given up
/// at once and recorded.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_failing_delivery_is_retried_with_backoff_across_a_restart_and_sent_once() {
    let server = TestServer::start_https().await;
    let site = site_with_appliance(&server, "Brookside").await;
    let lab = domain_controller().await;
    let http = Receiver::start(&[500]).await;
    let pagerduty = Receiver::start(&[400]).await;
    let dir = tempfile::tempdir().unwrap();
    let notify = notify_section(&http, None, false).replace(
        &format!("{}/v2/enqueue", http.base),
        &format!("{}/v2/enqueue", pagerduty.base),
    );
    let config = config_text(dir.path(), &server, &windows_target("dc01", &lab)) + &notify;
    #[expect(
        clippy::disallowed_methods,
        reason = "the manual clock starts at the real time, which the server's request-date check needs"
    )]
    let start = chrono::Utc::now();
    let clock = Arc::new(ManualClock::new(start));
    let agent = crate::e2e::enrolled_agent_env(&server, &site, &config, clock.clone(), env()).await;
    lab.set_state("bitlocker.c_protection", json!("Off"))
        .unwrap();
    agent.sweep().await.unwrap();
    agent.checkin().await.unwrap();

    let first = agent.deliver_tickets().await.unwrap();
    assert_eq!(
        (first.sent, first.retrying, first.failed),
        (0, 1, 1),
        "{first:?}"
    );
    let local = agent.state().incidents().await.unwrap();
    let local = local
        .iter()
        .find(|i| i.check_id == "win.encryption.bitlocker")
        .unwrap()
        .id;
    let rows = agent.state().deliveries(local).await.unwrap();
    let hook = rows.iter().find(|r| r.channel == "webhook").unwrap();
    let wait = hook.next_attempt_at - start;
    assert!(
        wait >= chrono::Duration::seconds(30) && wait <= chrono::Duration::seconds(60),
        "the first retry comes after half to all of retry_base_secs: {wait}"
    );
    let paged = rows.iter().find(|r| r.channel == "pagerduty").unwrap();
    assert_eq!(
        (paged.state.as_str(), paged.attempts),
        ("failed", 1),
        "a 400 is final"
    );

    // Not due yet: nothing is sent.
    clock.advance(chrono::Duration::seconds(29));
    assert_eq!(
        agent.deliver_tickets().await.unwrap(),
        osiris_agent::escalation::DeliverySummary::default()
    );
    assert_eq!(http.received("/hook").len(), 1);

    // The appliance stops mid-retry and starts again on the same files.
    drop(agent);
    http.answer(&[200]);
    let agent = open(&config, clock.clone()).await;
    assert_eq!(
        agent.deliver_tickets().await.unwrap().sent,
        0,
        "still not due"
    );
    clock.advance(chrono::Duration::seconds(31));
    let retried = agent.deliver_tickets().await.unwrap();
    assert_eq!((retried.sent, retried.retrying), (1, 0), "{retried:?}");
    clock.advance(chrono::Duration::seconds(60));
    assert_eq!(
        agent.deliver_tickets().await.unwrap().sent,
        0,
        "sent exactly once"
    );
    let hooks = http.received("/hook");
    assert_eq!(hooks.len(), 2, "one failed attempt, one delivery");
    assert_eq!(
        hooks[0].body, hooks[1].body,
        "the same ticket, rebuilt from the outbox"
    );

    agent.checkin().await.unwrap();
    agent.checkin().await.unwrap();
    let bundles = stored_bundles(&site).await;
    let failed = deliveries_of(&bundles, "ticket_failed");
    assert_eq!(failed.len(), 1, "{bundles:#?}");
    assert_eq!(failed[0]["detail"]["channel"], "pagerduty");
    assert!(
        failed[0]["detail"]["error"]
            .as_str()
            .unwrap()
            .contains("400")
    );
    let sent = deliveries_of(&bundles, "ticket_sent");
    assert_eq!(sent.len(), 1);
    assert_eq!(sent[0]["detail"]["attempts"], 2);
}
