//! E-mail over SMTP with STARTTLS (or implicit TLS) via lettre, rustls on
//! ring; never in clear.

use std::fmt::Write as _;
use std::time::Duration;

use lettre::message::{Mailbox, header::ContentType};
use lettre::transport::smtp::authentication::Credentials;
use lettre::transport::smtp::client::{Certificate, Tls, TlsParameters};
use lettre::{AsyncSmtpTransport, AsyncTransport, Message, Tokio1Executor};
use osiris_core::Secret;

use crate::error::{Error, Result};
use crate::notifier::{BoxFuture, Channel};
use crate::ticket::{Event, Ticket};

/// How the SMTP connection is protected. There is no clear-text mode.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SmtpSecurity {
    /// Plain connection upgraded with STARTTLS, required (port 587).
    Starttls,
    /// TLS from the first byte (port 465).
    ImplicitTls,
}

/// The SMTP server, the login and the addresses.
#[derive(Debug)]
pub struct EmailConfig {
    /// The server to connect to.
    pub host: String,
    /// Its port.
    pub port: u16,
    /// The name its certificate must carry (usually `host`).
    pub tls_name: String,
    /// STARTTLS or implicit TLS.
    pub security: SmtpSecurity,
    /// A private CA (PEM) to trust besides the public roots.
    pub ca_pem: Option<String>,
    /// The login, when the server wants one.
    pub username: Option<String>,
    /// Its password.
    pub password: Option<Secret<String>>,
    /// The sender, `Osiris <osiris@clinic.example>`.
    pub from: String,
    /// The recipients.
    pub to: Vec<String>,
    /// The limit for one SMTP conversation.
    pub timeout: Duration,
}

/// An SMTP relay.
pub struct EmailChannel {
    transport: AsyncSmtpTransport<Tokio1Executor>,
    from: Mailbox,
    to: Vec<Mailbox>,
}

impl std::fmt::Debug for EmailChannel {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("EmailChannel")
            .field("from", &self.from.to_string())
            .field("to", &self.to.len())
            .finish_non_exhaustive()
    }
}

impl EmailChannel {
    /// A channel sending through `config`'s server.
    ///
    /// # Errors
    /// Unparsable addresses, no recipient, a password without a username
    /// (or the reverse), or an unusable CA.
    pub fn new(config: EmailConfig) -> Result<Self> {
        let bad = |reason: String| Error::Config {
            channel: "email",
            reason,
        };
        let from: Mailbox = config
            .from
            .parse()
            .map_err(|e| bad(format!("from {:?} is not an address ({e})", config.from)))?;
        let to = config
            .to
            .iter()
            .map(|to| {
                to.parse::<Mailbox>()
                    .map_err(|e| bad(format!("to {to:?} is not an address ({e})")))
            })
            .collect::<Result<Vec<_>>>()?;
        if to.is_empty() {
            return Err(bad("no recipient in to".to_owned()));
        }
        let mut tls = TlsParameters::builder(config.tls_name.clone());
        if let Some(pem) = &config.ca_pem {
            let ca = Certificate::from_pem(pem.as_bytes())
                .map_err(|e| bad(format!("ca_pem is unusable ({e})")))?;
            tls = tls.add_root_certificate(ca);
        }
        let tls = tls
            .build_rustls()
            .map_err(|e| bad(format!("tls configuration ({e})")))?;
        let mut builder =
            AsyncSmtpTransport::<Tokio1Executor>::builder_dangerous(config.host.as_str())
                .port(config.port)
                .timeout(Some(config.timeout))
                .tls(match config.security {
                    SmtpSecurity::Starttls => Tls::Required(tls),
                    SmtpSecurity::ImplicitTls => Tls::Wrapper(tls),
                });
        match (config.username, config.password) {
            (Some(user), Some(password)) => {
                builder = builder.credentials(Credentials::new(user, password.expose().clone()));
            }
            (None, None) => {}
            _ => return Err(bad("username and password go together".to_owned())),
        }
        Ok(Self {
            transport: builder.build(),
            from,
            to,
        })
    }

    /// The message for `event` on `ticket`.
    ///
    /// # Errors
    /// A message lettre cannot build (never for parsed addresses).
    pub fn message(&self, ticket: &Ticket, event: Event) -> Result<Message> {
        let mut builder = Message::builder()
            .from(self.from.clone())
            .subject(format!("[Osiris] {}: {}", event.label(), ticket.summary()))
            .date_now()
            .message_id(None);
        for to in &self.to {
            builder = builder.to(to.clone());
        }
        builder
            .header(ContentType::TEXT_PLAIN)
            .body(body(ticket, event))
            .map_err(|e| Error::Config {
                channel: "email",
                reason: format!("message cannot be built ({e})"),
            })
    }
}

impl Channel for EmailChannel {
    fn name(&self) -> &str {
        "email"
    }

    fn send<'a>(&'a self, ticket: &'a Ticket, event: Event) -> BoxFuture<'a, Result<()>> {
        Box::pin(async move {
            let message = self.message(ticket, event)?;
            self.transport
                .send(message)
                .await
                .map(|_| ())
                .map_err(|e| Error::Smtp {
                    transient: !e.is_permanent(),
                    reason: describe(&e),
                })
        })
    }
}

fn body(ticket: &Ticket, event: Event) -> String {
    let mut text = String::new();
    let _ = writeln!(text, "{}: {}\n", event.label(), ticket.summary());
    let _ = writeln!(text, "Check: {} ({})", ticket.title(), ticket.check_id());
    let _ = writeln!(text, "Host: {}", ticket.host());
    let _ = writeln!(text, "Incident: {}\n", ticket.incident_id());
    let _ = writeln!(text, "What drifted:\n{}\n", ticket.drift());
    text.push_str("HIPAA:\n");
    for cite in ticket.hipaa() {
        let _ = writeln!(text, "- {} {}", cite.cite, cite.name);
    }
    text.push_str("\nWhat was tried:\n");
    let mut any = false;
    for attempt in ticket.tried() {
        any = true;
        let _ = writeln!(text, "- {attempt}");
    }
    if !any {
        text.push_str("- nothing: no rule or plan applied\n");
    }
    text.push_str("\nEvidence:\n");
    for url in ticket.evidence() {
        let _ = writeln!(text, "- {url}");
    }
    if event == Event::Trigger {
        let _ = writeln!(text, "\nApprove the proposed fix: {}", ticket.approve());
        let _ = writeln!(text, "Reject: {}", ticket.reject());
    }
    text
}

fn describe(error: &lettre::transport::smtp::Error) -> String {
    let mut text = error.to_string();
    let mut source = std::error::Error::source(error);
    while let Some(cause) = source {
        text.push_str(": ");
        text.push_str(&cause.to_string());
        source = cause.source();
    }
    text
}
