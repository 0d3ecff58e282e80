//! SOAP faults as typed values.

use std::fmt;

use crate::xml::{Element, NS_SOAP, NS_WSMAN_FAULT};

/// The WS-Management fault subcodes this client acts on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum FaultKind {
    /// `w:TimedOut`: no output within `OperationTimeout`; Receive is re-issued.
    TimedOut,
    /// `w:InvalidSelectors`: unknown or expired ShellId; recreate the shell.
    InvalidSelectors,
    /// `w:AccessDenied`: the account may not use remote management.
    AccessDenied,
    /// `w:QuotaLimit`: too many shells or operations for this user.
    QuotaLimit,
    /// `w:EncodingLimit`: the envelope exceeded `MaxEnvelopeSize`.
    EncodingLimit,
    /// `w:ActionNotSupported` or `a:ActionNotSupported`.
    ActionNotSupported,
    /// Any other subcode.
    Other,
}

impl FaultKind {
    /// Maps a subcode's local name (`TimedOut` from `w:TimedOut`).
    #[must_use]
    pub fn from_subcode(local_name: &str) -> Self {
        match local_name {
            "TimedOut" => Self::TimedOut,
            "InvalidSelectors" => Self::InvalidSelectors,
            "AccessDenied" => Self::AccessDenied,
            "QuotaLimit" => Self::QuotaLimit,
            "EncodingLimit" => Self::EncodingLimit,
            "ActionNotSupported" => Self::ActionNotSupported,
            _ => Self::Other,
        }
    }

    /// The `w:` subcode local name written for this kind.
    #[must_use]
    pub const fn subcode(self) -> &'static str {
        match self {
            Self::TimedOut => "TimedOut",
            Self::InvalidSelectors => "InvalidSelectors",
            Self::AccessDenied => "AccessDenied",
            Self::QuotaLimit => "QuotaLimit",
            Self::EncodingLimit => "EncodingLimit",
            Self::ActionNotSupported => "ActionNotSupported",
            Self::Other => "InternalError",
        }
    }
}

/// A SOAP 1.2 fault with the WS-Management detail Windows adds.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Fault {
    /// What the subcode means to this client.
    pub kind: FaultKind,
    /// `s:Code/s:Value`, e.g. `s:Receiver`.
    pub code: String,
    /// `s:Code/s:Subcode/s:Value`, e.g. `w:TimedOut`.
    pub subcode: String,
    /// `s:Reason/s:Text`, trimmed.
    pub reason: String,
    /// `f:WSManFault/@Code`, e.g. 2150858793 for a timed-out Receive.
    pub wsman_code: Option<u32>,
    /// `f:WSManFault/f:Message`, trimmed.
    pub message: Option<String>,
}

/// `ERROR_WSMAN_OPERATION_TIMEDOUT` (0x80338029).
pub const WSMAN_CODE_TIMED_OUT: u32 = 2_150_858_793;
/// `ERROR_WSMAN_INVALID_SELECTORS` (0x8033805B).
pub const WSMAN_CODE_INVALID_SELECTORS: u32 = 2_150_858_843;

impl Fault {
    /// Reads a fault from an `s:Fault` element.
    #[must_use]
    pub fn from_element(fault: &Element) -> Self {
        let code_value = fault.path(&[(NS_SOAP, "Code"), (NS_SOAP, "Value")]);
        let subcode_value =
            fault.path(&[(NS_SOAP, "Code"), (NS_SOAP, "Subcode"), (NS_SOAP, "Value")]);
        let subcode = subcode_value
            .map(|e| e.text().trim().to_owned())
            .unwrap_or_default();
        let local = subcode.rsplit(':').next().unwrap_or_default();
        let detail = fault.descendant(NS_WSMAN_FAULT, "WSManFault");
        Self {
            kind: FaultKind::from_subcode(local),
            code: code_value
                .map(|e| e.text().trim().to_owned())
                .unwrap_or_default(),
            subcode: subcode.clone(),
            reason: fault
                .path(&[(NS_SOAP, "Reason"), (NS_SOAP, "Text")])
                .map(|e| e.text().trim().to_owned())
                .unwrap_or_default(),
            wsman_code: detail
                .and_then(|d| d.attribute("Code"))
                .and_then(|c| c.trim().parse().ok()),
            message: detail
                .and_then(|d| d.child(NS_WSMAN_FAULT, "Message"))
                .map(|m| m.text().trim().to_owned()),
        }
    }
}

impl fmt::Display for Fault {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "soap fault {}",
            if self.subcode.is_empty() {
                &self.code
            } else {
                &self.subcode
            }
        )?;
        if let Some(code) = self.wsman_code {
            write!(f, " (wsman {code:#x})")?;
        }
        if !self.reason.is_empty() {
            write!(f, ": {}", self.reason)?;
        }
        Ok(())
    }
}
