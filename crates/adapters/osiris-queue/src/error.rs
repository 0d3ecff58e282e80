use std::path::PathBuf;
use std::sync::Arc;

use osiris_core::BundleId;

use crate::types::ItemKind;

/// Everything that can go wrong with the queue. Errors about the file name
/// it; refusals of one request (`Full`, `Seal`, `DuplicateBundle`,
/// `AckBeyondHead`) leave the queue exactly as it was.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The lock file beside the queue could not be created or locked.
    #[error("{path}: cannot create or lock the queue's lock file")]
    LockFile {
        /// The lock file.
        path: PathBuf,
        /// The operating system's reason.
        #[source]
        source: std::io::Error,
    },
    /// Another `Queue` (in this or another process) has the file open. Two
    /// writers would fork the chain.
    #[error("{path}: the queue is already open in this or another process; stop the other agent")]
    InUse {
        /// The queue file.
        path: PathBuf,
    },
    /// The SQLite file could not be opened or created.
    #[error("{path}: cannot open the queue database")]
    Open {
        /// The queue file.
        path: PathBuf,
        /// The driver's reason.
        #[source]
        source: sqlx::Error,
    },
    /// The file exists but is not an Osiris queue.
    #[error(
        "{path}: not an osiris queue ({reason}); point the agent at its own queue file or a new path"
    )]
    NotAQueue {
        /// The file.
        path: PathBuf,
        /// What gave it away.
        reason: String,
    },
    /// The schema migrations could not be applied (for example, the file
    /// was written by a newer Osiris).
    #[error("{path}: cannot migrate the queue schema")]
    Migrate {
        /// The queue file.
        path: PathBuf,
        /// The migrator's reason.
        #[source]
        source: sqlx::migrate::MigrateError,
    },
    /// The queue holds another appliance's chain.
    #[error(
        "{path}: the queue belongs to appliance {found}, not {expected}; \
         each appliance keeps its own queue file"
    )]
    WrongAppliance {
        /// The queue file.
        path: PathBuf,
        /// The appliance opening it.
        expected: String,
        /// The appliance it belongs to.
        found: String,
    },
    /// The queue holds a chain of another site.
    #[error("{path}: the queue belongs to site {found}, not {expected}")]
    WrongSite {
        /// The queue file.
        path: PathBuf,
        /// The site of the appliance opening it.
        expected: String,
        /// The site stored in the queue.
        found: String,
    },
    /// The queue's chain was signed with another key: continuing it would
    /// mix keys within one chain.
    #[error(
        "{path}: the queue's chain is signed by key {found}, not {expected}; \
         use the appliance's own key file"
    )]
    WrongKey {
        /// The queue file.
        path: PathBuf,
        /// The key id offered.
        expected: String,
        /// The key id stored in the queue.
        found: String,
    },
    /// Stored data contradicts the queue's invariants.
    #[error("{path}: the queue is damaged: {what}")]
    Corrupt {
        /// The queue file.
        path: PathBuf,
        /// What is inconsistent.
        what: String,
    },
    /// A read or write failed in SQLite (disk full, I/O error). When a group
    /// commit fails, none of its writes is stored and every one of them not
    /// already refused on its own gets this error.
    #[error("{path}: queue storage failed while {context}")]
    Storage {
        /// The queue file.
        path: PathBuf,
        /// What the queue was doing.
        context: &'static str,
        /// The driver's reason, shared by every request of a failed group.
        #[source]
        source: Arc<sqlx::Error>,
    },
    /// The draft is not acceptable evidence; nothing was sealed.
    #[error("cannot seal the draft")]
    Seal(#[source] osiris_evidence::Error),
    /// A waiting bundle already has this id; Central Command would refuse
    /// the second one forever.
    #[error(
        "bundle {bundle_id} is already waiting in the queue; every draft needs its own bundle id"
    )]
    DuplicateBundle {
        /// The repeated id.
        bundle_id: BundleId,
    },
    /// An item body must be a JSON object.
    #[error("{kind} body must be a JSON object")]
    NotAnObject {
        /// The item kind pushed.
        kind: ItemKind,
    },
    /// The byte bound is reached and only evidence, incidents and order
    /// results remain, which are never dropped. Nothing was written.
    #[error(
        "queue is full: {needed} more bytes do not fit in {max_bytes} \
         ({undroppable} held by evidence, incidents and order results awaiting check-in)"
    )]
    Full {
        /// Size of the refused bundle or item.
        needed: u64,
        /// Bytes that cannot be dropped.
        undroppable: u64,
        /// The configured bound.
        max_bytes: u64,
    },
    /// A check-in answer acknowledged a seq the appliance never sealed.
    #[error("cannot acknowledge through seq {through_seq}: the chain head is seq {head_seq}")]
    AckBeyondHead {
        /// The seq acknowledged.
        through_seq: u64,
        /// The last sealed seq.
        head_seq: u64,
    },
    /// The queue was closed.
    #[error("queue is closed")]
    Closed,
}

/// This crate's result type.
pub type Result<T, E = Error> = std::result::Result<T, E>;
