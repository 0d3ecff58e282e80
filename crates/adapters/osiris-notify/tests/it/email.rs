//! E-mail: delivered over STARTTLS with a login to a real SMTP server
//! (aiosmtpd), whose side parses the message with Python's own `email`
//! package.

use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::Duration;

use osiris_core::Secret;
use osiris_notify::{Channel, EmailChannel, EmailConfig, Error, Event, SmtpSecurity};
use tokio::io::{AsyncBufReadExt, BufReader};

use crate::{assert_scrubbed, python, ticket};

/// The SMTP server: STARTTLS with the given certificate when `tls`, AUTH
/// LOGIN/PLAIN for osiris / the password below only after TLS; each
/// message is parsed and written to `out` as JSON.
const SERVER: &str = r#"
import email, email.policy, email.utils, json, ssl, sys, time
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult, LoginPassword

port, out, cert, key, mode = int(sys.argv[1]), sys.argv[2], sys.argv[3], sys.argv[4], sys.argv[5]
logins = []

def authenticator(server, session, envelope, mechanism, auth_data):
    ok = isinstance(auth_data, LoginPassword) and auth_data.login == b"osiris" and auth_data.password == b"smtp-Pa55word!"
    if ok:
        logins.append(auth_data.login.decode())
    return AuthResult(success=ok)

class Handler:
    async def handle_DATA(self, server, session, envelope):
        msg = email.message_from_bytes(envelope.content, policy=email.policy.default)
        date = msg["Date"]
        parsed = email.utils.parsedate_to_datetime(str(date)) if date else None
        record = {
            "mail_from": envelope.mail_from,
            "rcpt_tos": envelope.rcpt_tos,
            "tls": session.ssl is not None,
            "logins": logins,
            "headers": {k: (str(msg[k]) if msg[k] is not None else None) for k in ["From", "To", "Subject", "Date", "Message-ID", "Content-Type"]},
            "date_has_zone": parsed is not None and parsed.tzinfo is not None,
            "body": msg.get_content(),
        }
        with open(out, "w") as f:
            json.dump(record, f)
        return "250 Message accepted for delivery"

kwargs = {}
if mode == "tls":
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.load_cert_chain(cert, key)
    kwargs = dict(tls_context=context, require_starttls=True, authenticator=authenticator, auth_required=True, auth_require_tls=True)
controller = Controller(Handler(), hostname="127.0.0.1", port=port, **kwargs)
controller.start()
print("ready", flush=True)
while True:
    time.sleep(1)
"#;

struct SmtpServer {
    port: u16,
    out: PathBuf,
    ca_pem: String,
    _child: tokio::process::Child,
    _dir: tempfile::TempDir,
}

impl SmtpServer {
    async fn start(mode: &str) -> Self {
        let dir = tempfile::tempdir().unwrap();
        let certified = rcgen::generate_simple_self_signed(vec!["localhost".to_owned()]).unwrap();
        let cert = dir.path().join("cert.pem");
        let key = dir.path().join("key.pem");
        std::fs::write(&cert, certified.cert.pem()).unwrap();
        std::fs::write(&key, certified.signing_key.serialize_pem()).unwrap();
        let script = dir.path().join("smtp_server.py");
        std::fs::write(&script, SERVER).unwrap();
        let out = dir.path().join("message.json");
        let port = {
            let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
            listener.local_addr().unwrap().port()
        };
        let mut child = tokio::process::Command::new(python())
            .arg(&script)
            .arg(port.to_string())
            .args([&out, &cert, &key])
            .arg(mode)
            .stdout(Stdio::piped())
            .kill_on_drop(true)
            .spawn()
            .unwrap();
        let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
        let ready = tokio::time::timeout(Duration::from_secs(30), lines.next_line())
            .await
            .expect("the SMTP server did not start in 30 s")
            .unwrap();
        assert_eq!(ready.as_deref(), Some("ready"));
        Self {
            port,
            out,
            ca_pem: certified.cert.pem(),
            _child: child,
            _dir: dir,
        }
    }

    fn message(&self) -> Option<serde_json::Value> {
        read(&self.out)
    }
}

fn read(path: &Path) -> Option<serde_json::Value> {
    std::fs::read(path)
        .ok()
        .map(|bytes| serde_json::from_slice(&bytes).unwrap())
}

fn channel(server: &SmtpServer) -> EmailChannel {
    EmailChannel::new(EmailConfig {
        host: "127.0.0.1".to_owned(),
        port: server.port,
        tls_name: "localhost".to_owned(),
        security: SmtpSecurity::Starttls,
        ca_pem: Some(server.ca_pem.clone()),
        username: Some("osiris".to_owned()),
        password: Some(Secret::new("smtp-Pa55word!".to_owned())),
        from: "Osiris <osiris@clinic.example>".to_owned(),
        to: vec![
            "IT on call <oncall@clinic.example>".to_owned(),
            "security@clinic.example".to_owned(),
        ],
        timeout: Duration::from_secs(10),
    })
    .unwrap()
}

#[tokio::test]
async fn an_email_ticket_reaches_a_real_smtp_server_over_starttls_with_its_headers() {
    let server = SmtpServer::start("tls").await;
    let channel = channel(&server);
    channel.send(&ticket(), Event::Trigger).await.unwrap();
    let message = server.message().expect("the server received no message");
    assert_eq!(message["tls"], true, "delivered without STARTTLS");
    assert_eq!(message["logins"], serde_json::json!(["osiris"]));
    assert_eq!(message["mail_from"], "osiris@clinic.example");
    assert_eq!(
        message["rcpt_tos"],
        serde_json::json!(["oncall@clinic.example", "security@clinic.example"])
    );
    let headers = &message["headers"];
    assert_eq!(headers["From"], "Osiris <osiris@clinic.example>");
    assert_eq!(
        headers["To"],
        "IT on call <oncall@clinic.example>, security@clinic.example"
    );
    let subject = headers["Subject"].as_str().unwrap();
    assert!(
        subject.starts_with("[Osiris] Needs a decision: high: "),
        "{subject}"
    );
    assert!(subject.contains(" on ehr-db-01"), "{subject}");
    assert_eq!(message["date_has_zone"], true, "Date: {}", headers["Date"]);
    let id = headers["Message-ID"].as_str().unwrap();
    assert!(
        id.starts_with('<') && id.ends_with('>') && id.contains('@'),
        "{id}"
    );
    assert!(
        headers["Content-Type"]
            .as_str()
            .unwrap()
            .starts_with("text/plain")
    );
    // SMTP lines end in CRLF.
    let body = message["body"].as_str().unwrap().replace("\r\n", "\n");
    assert!(body.contains("What drifted:\nufw is inactive"), "{body}");
    assert!(body.contains("HIPAA:\n- 164."), "{body}");
    assert!(body.contains("What was tried:\n- L1 rule"), "{body}");
    assert!(
        body.contains(
            "https://cc.clinic.example/app/evidence/7d1e2f3a-4b5c-4d6e-8f70-8192a3b4c5d6"
        ),
        "{body}"
    );
    assert!(body.contains("Approve the proposed fix: https://cc.clinic.example/app/incidents/0b6f3d8e-2a4c-4e1f-8d7b-5c9a1e3f2b40/approve"), "{body}");
    assert_scrubbed(&message.to_string());
    assert!(!format!("{channel:?}").contains("Pa55word"));
}

#[tokio::test]
async fn a_server_without_starttls_gets_nothing() {
    let server = SmtpServer::start("plain").await;
    let error = channel(&server)
        .send(&ticket(), Event::Trigger)
        .await
        .unwrap_err();
    assert!(matches!(error, Error::Smtp { .. }), "{error:?}");
    assert!(!error.to_string().contains("Pa55word"), "{error}");
    assert!(server.message().is_none(), "a message went out in clear");
}
