//! `winrm::Error` to the port's [`Error`]: what the appliance can act on
//! (retry later, fix credentials, re-pin) rather than protocol detail.

use std::time::Duration;

use osiris_transport::Error;

/// Where the error happened: a broken connection while connecting means
/// the host is unreachable; mid-command it means the peer broke off.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Phase {
    Connect,
    Run { timeout: Duration },
}

pub(crate) fn map(error: winrm::Error, phase: Phase, target: &str, user: &str) -> Error {
    let target = target.to_owned();
    match error {
        winrm::Error::AuthRejected | winrm::Error::HttpStatus { status: 401, .. } => {
            Error::AuthRejected {
                target,
                user: user.to_owned(),
            }
        }
        winrm::Error::PinMismatch { actual } => Error::IdentityChanged {
            target,
            detail: format!(
                "the server certificate's sha-256 is {actual}, not the pinned fingerprint; \
                 re-pin it only after confirming the certificate was legitimately renewed"
            ),
        },
        winrm::Error::OutputTooLarge { .. } => Error::OutputTooLarge { target },
        winrm::Error::CommandTimeout { .. } | winrm::Error::Timeout { .. } => match phase {
            Phase::Run { timeout } => Error::Timeout {
                target,
                after: timeout,
            },
            Phase::Connect => Error::Unreachable {
                target,
                reason: error.to_string(),
            },
        },
        winrm::Error::Connect { .. } | winrm::Error::Tls(_) => Error::Unreachable {
            target,
            reason: chain(&error),
        },
        winrm::Error::Http(_) if phase == Phase::Connect => Error::Unreachable {
            target,
            reason: error.to_string(),
        },
        other => Error::Protocol {
            target,
            reason: other.to_string(),
        },
    }
}

/// The error and its sources, so "connection refused" is not lost behind
/// "connection to … failed".
fn chain(error: &dyn std::error::Error) -> String {
    let mut text = error.to_string();
    let mut source = error.source();
    while let Some(cause) = source {
        text.push_str(": ");
        text.push_str(&cause.to_string());
        source = cause.source();
    }
    text
}

#[cfg(test)]
mod tests {
    use super::*;

    const RUN: Phase = Phase::Run {
        timeout: Duration::from_secs(60),
    };

    #[test]
    fn refused_credentials_and_http_401_both_become_auth_rejected() {
        for error in [
            winrm::Error::AuthRejected,
            winrm::Error::HttpStatus {
                status: 401,
                body: String::new(),
            },
        ] {
            assert!(matches!(
                map(error, RUN, "dc01", "D\\u"),
                Error::AuthRejected { ref user, .. } if user == "D\\u"
            ));
        }
    }

    #[test]
    fn command_timeout_reports_the_scripts_timeout() {
        let error = map(
            winrm::Error::CommandTimeout { seconds: 2 },
            RUN,
            "dc01",
            "u",
        );
        assert!(matches!(error, Error::Timeout { after, .. } if after == Duration::from_secs(60)));
    }

    #[test]
    fn a_refused_connection_is_unreachable_and_names_the_cause() {
        let error = winrm::Error::Connect {
            endpoint: "h:5985".into(),
            source: std::io::Error::from(std::io::ErrorKind::ConnectionRefused),
        };
        let Error::Unreachable { reason, .. } = map(error, Phase::Connect, "dc01", "u") else {
            panic!()
        };
        assert!(reason.contains("refused"), "{reason}");
    }

    #[test]
    fn a_pin_mismatch_is_a_changed_identity() {
        let error = winrm::Error::PinMismatch {
            actual: "ab".repeat(32),
        };
        assert!(matches!(
            map(error, Phase::Connect, "dc01", "u"),
            Error::IdentityChanged { .. }
        ));
    }

    #[test]
    fn a_connection_lost_mid_command_is_a_protocol_error() {
        let error = map(winrm::Error::Http("closed".into()), RUN, "dc01", "u");
        assert!(matches!(error, Error::Protocol { .. }));
    }
}
