//! The appliance's local state database (SQLite, WAL, `synchronous=FULL`):
//! incidents with their open/resolve history, order nonces, the L1 rule
//! ledger, the escalation queue and the synced rule set. Everything here
//! must survive a restart: a replayed order is refused after a reboot, a
//! cooldown still holds, a flapping setting stays recognised.

use std::path::Path;
use std::time::Duration;

use chrono::{DateTime, Utc};
use osiris_core::IncidentId;
use sqlx::Row;
use sqlx::sqlite::{
    SqliteConnectOptions, SqliteJournalMode, SqlitePool, SqlitePoolOptions, SqliteSynchronous,
};

/// A state database failure.
#[derive(Debug, thiserror::Error)]
pub enum StateError {
    /// SQLite refused or failed.
    #[error("state database: {what}")]
    Database {
        /// What was being done.
        what: &'static str,
        /// The driver's error.
        #[source]
        source: sqlx::Error,
    },
    /// A stored row does not read back.
    #[error("state database: a stored {what} is corrupt")]
    Corrupt {
        /// Which row.
        what: &'static str,
    },
}

mod tickets;

pub use tickets::{Attempt, DeliveryRow, DueDelivery};

type Result<T> = std::result::Result<T, StateError>;

fn db(what: &'static str) -> impl FnOnce(sqlx::Error) -> StateError {
    move |source| StateError::Database { what, source }
}

/// The outcome of one check, as the incident log sees it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Seen {
    /// The check passed.
    Pass,
    /// The check failed.
    Fail,
    /// The facts could not be collected: opens and resolves nothing.
    Unknown,
}

/// What observing a check result did to the incident log.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Observation {
    /// A new incident was opened.
    Opened(IncidentId),
    /// The open incident for this host and check failed again.
    StillOpen {
        /// The incident.
        id: IncidentId,
        /// Whether it was already found to be flapping.
        flapping: bool,
    },
    /// The open incident was resolved by a pass.
    Resolved(IncidentId),
    /// Nothing changed (a pass with nothing open, or unknown).
    Nothing,
}

/// An incident as the appliance keeps it.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Incident {
    /// Its id.
    pub id: IncidentId,
    /// The target's inventory name.
    pub host: String,
    /// The failing check.
    pub check_id: String,
    /// `low` … `critical`.
    pub severity: String,
    /// Whether it is still open.
    pub open: bool,
    /// Consecutive failed checks while open.
    pub failures: u32,
    /// Whether it was found flapping.
    pub flapping: bool,
    /// `L1`, `L3` or none.
    pub tier: Option<String>,
    /// Whether its report for Central Command was queued.
    pub reported: bool,
}

/// An incident waiting for a person (or, later, the L2 planner).
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Escalation {
    /// The incident.
    pub incident_id: IncidentId,
    /// The target.
    pub host: String,
    /// The check.
    pub check_id: String,
    /// Why no rule could handle it.
    pub reason: String,
    /// When it was escalated.
    pub created_at: DateTime<Utc>,
}

/// The appliance's state database.
#[derive(Debug, Clone)]
pub struct State {
    pool: SqlitePool,
}

/// An `incidents` row read by `SELECT id, host, check_id, severity,
/// state, failures, flapping, tier, reported`.
fn incident(row: &sqlx::sqlite::SqliteRow) -> Result<Incident> {
    let id: String = row.get(0);
    Ok(Incident {
        id: id.parse().map_err(|_| StateError::Corrupt {
            what: "incident id",
        })?,
        host: row.get(1),
        check_id: row.get(2),
        severity: row.get(3),
        open: row.get::<String, _>(4) == "open",
        failures: u32::try_from(row.get::<i64, _>(5)).unwrap_or(u32::MAX),
        flapping: row.get::<i64, _>(6) != 0,
        tier: row.get(7),
        reported: row.get::<i64, _>(8) != 0,
    })
}

fn millis(at: DateTime<Utc>) -> i64 {
    at.timestamp_millis()
}

fn instant(ms: i64) -> Result<DateTime<Utc>> {
    DateTime::from_timestamp_millis(ms).ok_or(StateError::Corrupt { what: "time" })
}

impl State {
    /// Opens (creating if missing) the database at `path` and migrates it.
    ///
    /// # Errors
    /// When the file cannot be opened or migrated.
    pub async fn open(path: &Path) -> Result<Self> {
        let options = SqliteConnectOptions::new()
            .filename(path)
            .create_if_missing(true)
            .journal_mode(SqliteJournalMode::Wal)
            // A remembered nonce must survive a power cut, or a replayed
            // order could run after the reboot.
            .synchronous(SqliteSynchronous::Full)
            .foreign_keys(true)
            .busy_timeout(Duration::from_secs(10));
        // One connection: SQLite takes one writer at a time anyway (the
        // hosts of a sweep wait their turn under busy_timeout), and every
        // connection costs a thread and a page cache of its own.
        let pool = SqlitePoolOptions::new()
            .max_connections(1)
            .connect_with(options)
            .await
            .map_err(db("opening"))?;
        sqlx::migrate!("./migrations")
            .run(&pool)
            .await
            .map_err(|e| StateError::Database {
                what: "migrating",
                source: e.into(),
            })?;
        Ok(Self { pool })
    }

    /// Sets SQLite's soft heap limit, which is the process's, not this
    /// database's: above `bytes` for all connections together, page caches
    /// give back their least recently used pages instead of growing (by
    /// default to 2 MiB per connection).
    ///
    /// # Errors
    /// When the database fails.
    pub async fn limit_sqlite_heap(&self, bytes: u64) -> Result<()> {
        sqlx::query(sqlx::AssertSqlSafe(format!(
            "PRAGMA soft_heap_limit = {bytes}"
        )))
        .execute(&self.pool)
        .await
        .map_err(db("setting the soft heap limit"))?;
        Ok(())
    }

    /// Records one check result for `host` and opens, folds or resolves
    /// the incident accordingly.
    ///
    /// # Errors
    /// When the database fails.
    pub async fn observe(
        &self,
        host: &str,
        check_id: &str,
        severity: &str,
        seen: Seen,
        now: DateTime<Utc>,
    ) -> Result<Observation> {
        // IMMEDIATE: the transaction reads, then writes. Begun deferred, it
        // would hold a read snapshot that SQLite refuses to turn into a
        // write behind another writer (busy at once, without waiting), so
        // hosts swept in parallel would fail; the write lock taken up
        // front waits its turn under busy_timeout instead.
        let mut tx = self
            .pool
            .begin_with("BEGIN IMMEDIATE")
            .await
            .map_err(db("observing"))?;
        let open = sqlx::query(
            "SELECT id, flapping FROM incidents WHERE host = $1 AND check_id = $2 AND state = 'open'",
        )
        .bind(host)
        .bind(check_id)
        .fetch_optional(&mut *tx)
        .await
        .map_err(db("reading the open incident"))?;
        let open = match open {
            Some(row) => {
                let id: String = row.get(0);
                let id: IncidentId = id.parse().map_err(|_| StateError::Corrupt {
                    what: "incident id",
                })?;
                Some((id, row.get::<i64, _>(1) != 0))
            }
            None => None,
        };
        let observation = match (seen, open) {
            (Seen::Unknown, _) | (Seen::Pass, None) => Observation::Nothing,
            (Seen::Pass, Some((id, _))) => {
                sqlx::query(
                    "UPDATE incidents SET state = 'resolved', resolved_at = $1 WHERE id = $2",
                )
                .bind(millis(now))
                .bind(id.to_string())
                .execute(&mut *tx)
                .await
                .map_err(db("resolving an incident"))?;
                Observation::Resolved(id)
            }
            (Seen::Fail, Some((id, flapping))) => {
                sqlx::query(
                    "UPDATE incidents SET last_seen_at = $1, failures = failures + 1 WHERE id = $2",
                )
                .bind(millis(now))
                .bind(id.to_string())
                .execute(&mut *tx)
                .await
                .map_err(db("folding a failure into an incident"))?;
                Observation::StillOpen { id, flapping }
            }
            (Seen::Fail, None) => {
                let id = IncidentId::random();
                sqlx::query(
                    "INSERT INTO incidents (id, host, check_id, severity, state, opened_at, last_seen_at, reported) \
                     VALUES ($1, $2, $3, $4, 'open', $5, $5, 0)",
                )
                .bind(id.to_string())
                .bind(host)
                .bind(check_id)
                .bind(severity)
                .bind(millis(now))
                .execute(&mut *tx)
                .await
                .map_err(db("opening an incident"))?;
                Observation::Opened(id)
            }
        };
        tx.commit().await.map_err(db("observing"))?;
        Ok(observation)
    }

    /// The incidents of `host`/`check_id` opened since `since`, oldest
    /// first, as episodes: the input of flap detection.
    ///
    /// # Errors
    /// When the database fails.
    pub async fn episodes(
        &self,
        host: &str,
        check_id: &str,
        since: DateTime<Utc>,
    ) -> Result<Vec<osiris_healing::Episode>> {
        let rows = sqlx::query(
            "SELECT opened_at, resolved_at FROM incidents WHERE host = $1 AND check_id = $2 AND opened_at >= $3 ORDER BY opened_at",
        )
        .bind(host)
        .bind(check_id)
        .bind(millis(since))
        .fetch_all(&self.pool)
        .await
        .map_err(db("reading incident history"))?;
        rows.iter()
            .map(|row| {
                Ok(osiris_healing::Episode {
                    opened_at: instant(row.get(0))?,
                    resolved_at: row.get::<Option<i64>, _>(1).map(instant).transpose()?,
                })
            })
            .collect()
    }

    /// Resolves an incident whose fix was verified.
    ///
    /// # Errors
    /// When the database fails.
    pub async fn resolve(&self, id: IncidentId, now: DateTime<Utc>) -> Result<()> {
        sqlx::query("UPDATE incidents SET state = 'resolved', resolved_at = $1 WHERE id = $2 AND state = 'open'")
            .bind(millis(now))
            .bind(id.to_string())
            .execute(&self.pool)
            .await
            .map_err(db("resolving an incident"))?;
        Ok(())
    }

    /// Marks an incident as flapping: it is escalated, never fought.
    ///
    /// # Errors
    /// When the database fails.
    pub async fn mark_flapping(&self, id: IncidentId) -> Result<()> {
        sqlx::query("UPDATE incidents SET flapping = 1 WHERE id = $1")
            .bind(id.to_string())
            .execute(&self.pool)
            .await
            .map_err(db("marking an incident flapping"))?;
        Ok(())
    }

    /// Records which tier handled an incident.
    ///
    /// # Errors
    /// When the database fails.
    pub async fn set_tier(&self, id: IncidentId, tier: &str) -> Result<()> {
        sqlx::query("UPDATE incidents SET tier = $1 WHERE id = $2")
            .bind(tier)
            .bind(id.to_string())
            .execute(&self.pool)
            .await
            .map_err(db("recording an incident's tier"))?;
        Ok(())
    }

    /// Every incident, open first, newest first.
    ///
    /// # Errors
    /// When the database fails.
    pub async fn incidents(&self) -> Result<Vec<Incident>> {
        let rows = sqlx::query(
            "SELECT id, host, check_id, severity, state, failures, flapping, tier, reported \
             FROM incidents ORDER BY state = 'open' DESC, opened_at DESC",
        )
        .fetch_all(&self.pool)
        .await
        .map_err(db("listing incidents"))?;
        rows.iter().map(incident).collect()
    }

    /// Incidents whose report for Central Command was never queued (the
    /// appliance stopped between opening one and queueing its report),
    /// oldest first.
    ///
    /// # Errors
    /// When the database fails.
    pub async fn unreported(&self) -> Result<Vec<Incident>> {
        let rows = sqlx::query(
            "SELECT id, host, check_id, severity, state, failures, flapping, tier, reported \
             FROM incidents WHERE reported = 0 ORDER BY opened_at",
        )
        .fetch_all(&self.pool)
        .await
        .map_err(db("listing unreported incidents"))?;
        rows.iter().map(incident).collect()
    }

    /// Records that an incident's report is in the outbound queue.
    ///
    /// # Errors
    /// When the database fails.
    pub async fn mark_reported(&self, id: IncidentId) -> Result<()> {
        sqlx::query("UPDATE incidents SET reported = 1 WHERE id = $1")
            .bind(id.to_string())
            .execute(&self.pool)
            .await
            .map_err(db("marking an incident reported"))?;
        Ok(())
    }

    /// Remembers an order nonce until `expires_at`. False when it was
    /// already remembered: the order is a replay.
    ///
    /// # Errors
    /// When the database fails.
    pub async fn remember_nonce(&self, nonce: &str, expires_at: DateTime<Utc>) -> Result<bool> {
        let inserted = sqlx::query(
            "INSERT INTO nonces (nonce, expires_at) VALUES ($1, $2) ON CONFLICT (nonce) DO NOTHING",
        )
        .bind(nonce)
        .bind(millis(expires_at))
        .execute(&self.pool)
        .await
        .map_err(db("remembering a nonce"))?;
        Ok(inserted.rows_affected() == 1)
    }

    /// Whether a nonce was seen.
    ///
    /// # Errors
    /// When the database fails.
    pub async fn nonce_seen(&self, nonce: &str) -> Result<bool> {
        let row = sqlx::query("SELECT 1 FROM nonces WHERE nonce = $1")
            .bind(nonce)
            .fetch_optional(&self.pool)
            .await
            .map_err(db("looking up a nonce"))?;
        Ok(row.is_some())
    }

    /// Forgets nonces whose orders expired before `now` minus a margin: an
    /// expired order is refused for its expiry anyway.
    ///
    /// # Errors
    /// When the database fails.
    pub async fn forget_expired_nonces(&self, now: DateTime<Utc>) -> Result<u64> {
        let margin = chrono::Duration::hours(1);
        let done = sqlx::query("DELETE FROM nonces WHERE expires_at < $1")
            .bind(millis(now - margin))
            .execute(&self.pool)
            .await
            .map_err(db("forgetting old nonces"))?;
        Ok(done.rows_affected())
    }

    /// The stored L1 ledger.
    ///
    /// # Errors
    /// When the database fails.
    pub async fn ledger(&self) -> Result<osiris_rules::Ledger> {
        let rows = sqlx::query("SELECT rule, host, last_fired, failures FROM ledger")
            .fetch_all(&self.pool)
            .await
            .map_err(db("reading the rule ledger"))?;
        let mut ledger = osiris_rules::Ledger::new();
        for row in &rows {
            let rule: String = row.get(0);
            let host: String = row.get(1);
            ledger.record_fired(&rule, &host, instant(row.get(2))?);
            for _ in 0..row.get::<i64, _>(3).clamp(0, 1000) {
                ledger.record_outcome(&rule, &host, false);
            }
        }
        Ok(ledger)
    }

    /// Stores one (rule, host) entry of the ledger as it now stands.
    ///
    /// # Errors
    /// When the database fails.
    pub async fn save_ledger_entry(
        &self,
        rule: &str,
        host: &str,
        entry: osiris_rules::Entry,
    ) -> Result<()> {
        sqlx::query(
            "INSERT INTO ledger (rule, host, last_fired, failures) VALUES ($1, $2, $3, $4) \
             ON CONFLICT (rule, host) DO UPDATE SET last_fired = excluded.last_fired, failures = excluded.failures",
        )
        .bind(rule)
        .bind(host)
        .bind(millis(entry.last_fired))
        .bind(i64::from(entry.failures))
        .execute(&self.pool)
        .await
        .map_err(db("saving the rule ledger"))?;
        Ok(())
    }

    /// Queues an incident for a person.
    ///
    /// # Errors
    /// When the database fails.
    pub async fn escalate(
        &self,
        incident: IncidentId,
        host: &str,
        check_id: &str,
        reason: &str,
        now: DateTime<Utc>,
    ) -> Result<()> {
        let mut tx = self
            .pool
            .begin_with("BEGIN IMMEDIATE")
            .await
            .map_err(db("escalating"))?;
        sqlx::query("INSERT INTO escalations (incident_id, host, check_id, reason, created_at) VALUES ($1, $2, $3, $4, $5)")
            .bind(incident.to_string())
            .bind(host)
            .bind(check_id)
            .bind(reason)
            .bind(millis(now))
            .execute(&mut *tx)
            .await
            .map_err(db("escalating"))?;
        sqlx::query("UPDATE incidents SET tier = 'L3' WHERE id = $1")
            .bind(incident.to_string())
            .execute(&mut *tx)
            .await
            .map_err(db("escalating"))?;
        tx.commit().await.map_err(db("escalating"))?;
        Ok(())
    }

    /// The escalation queue, oldest first.
    ///
    /// # Errors
    /// When the database fails.
    pub async fn escalations(&self) -> Result<Vec<Escalation>> {
        let rows = sqlx::query(
            "SELECT incident_id, host, check_id, reason, created_at FROM escalations ORDER BY id",
        )
        .fetch_all(&self.pool)
        .await
        .map_err(db("listing escalations"))?;
        rows.iter()
            .map(|row| {
                let id: String = row.get(0);
                Ok(Escalation {
                    incident_id: id.parse().map_err(|_| StateError::Corrupt {
                        what: "incident id",
                    })?,
                    host: row.get(1),
                    check_id: row.get(2),
                    reason: row.get(3),
                    created_at: instant(row.get(4))?,
                })
            })
            .collect()
    }

    /// The synced rule set: its version and files as `(path, content)`.
    ///
    /// # Errors
    /// When the database fails or the stored files do not read back.
    pub async fn synced_rules(&self) -> Result<Option<(String, Vec<(String, String)>)>> {
        let row = sqlx::query("SELECT version, files FROM rule_set WHERE id = 1")
            .fetch_optional(&self.pool)
            .await
            .map_err(db("reading the synced rule set"))?;
        let Some(row) = row else { return Ok(None) };
        let files: Vec<(String, String)> = serde_json::from_str(&row.get::<String, _>(1))
            .map_err(|_| StateError::Corrupt { what: "rule set" })?;
        Ok(Some((row.get(0), files)))
    }

    /// Replaces the synced rule set.
    ///
    /// # Errors
    /// When the database fails.
    pub async fn store_rules(&self, version: &str, files: &[(String, String)]) -> Result<()> {
        let files =
            serde_json::to_string(files).map_err(|_| StateError::Corrupt { what: "rule set" })?;
        sqlx::query(
            "INSERT INTO rule_set (id, version, files) VALUES (1, $1, $2) \
             ON CONFLICT (id) DO UPDATE SET version = excluded.version, files = excluded.files",
        )
        .bind(version)
        .bind(files)
        .execute(&self.pool)
        .await
        .map_err(db("storing the synced rule set"))?;
        Ok(())
    }

    /// Closes the pool, flushing the WAL.
    pub async fn close(&self) {
        self.pool.close().await;
    }
}
