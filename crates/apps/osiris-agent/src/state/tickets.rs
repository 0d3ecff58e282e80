//! Escalation tickets and their outbox in the state database, and the map
//! from the appliance's incidents to Central Command's.

use chrono::{DateTime, Utc};
use osiris_core::IncidentId;
use sqlx::Row;

use super::{Result, State, StateError, db, instant, millis};

/// One (ticket, event, channel) delivery that is due.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DueDelivery {
    /// The appliance's incident.
    pub incident_id: IncidentId,
    /// Central Command's id of it.
    pub server_id: IncidentId,
    /// `trigger`, `acknowledge` or `resolve`.
    pub event: String,
    /// The channel's name.
    pub channel: String,
    /// Attempts made before this one.
    pub attempts: u32,
    /// The ticket's stored (scrubbed) content, JSON.
    pub content: String,
    /// When the ticket was opened.
    pub created_at: DateTime<Utc>,
}

/// How one attempt ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Attempt {
    /// Delivered: final.
    Sent,
    /// Failed transiently: try again at `at`.
    Retry {
        /// When.
        at: DateTime<Utc>,
        /// Why it failed.
        error: String,
    },
    /// Failed permanently, or too often: final.
    GaveUp {
        /// Why.
        error: String,
    },
}

/// A delivery row as stored.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct DeliveryRow {
    /// `trigger`, `acknowledge` or `resolve`.
    pub event: String,
    /// The channel.
    pub channel: String,
    /// `pending`, `sent` or `failed`.
    pub state: String,
    /// Attempts made.
    pub attempts: u32,
    /// When the next attempt is due (pending rows).
    pub next_attempt_at: DateTime<Utc>,
    /// The last failure.
    pub last_error: Option<String>,
}

fn incident_id(text: &str) -> Result<IncidentId> {
    text.parse().map_err(|_| StateError::Corrupt {
        what: "incident id",
    })
}

impl State {
    /// Opens the ticket of an escalated incident (once: a second call
    /// changes nothing) with a `trigger` delivery due now on every channel.
    ///
    /// # Errors
    /// When the database fails.
    pub async fn open_ticket(
        &self,
        incident: IncidentId,
        content: &str,
        channels: &[&str],
        now: DateTime<Utc>,
    ) -> Result<bool> {
        let mut tx = self
            .pool
            .begin_with("BEGIN IMMEDIATE")
            .await
            .map_err(db("opening a ticket"))?;
        let inserted = sqlx::query(
            "INSERT INTO tickets (incident_id, content, created_at) VALUES ($1, $2, $3) \
             ON CONFLICT (incident_id) DO NOTHING",
        )
        .bind(incident.to_string())
        .bind(content)
        .bind(millis(now))
        .execute(&mut *tx)
        .await
        .map_err(db("opening a ticket"))?;
        let opened = inserted.rows_affected() == 1;
        if opened {
            for channel in channels {
                insert_delivery(&mut tx, incident, "trigger", channel, now).await?;
            }
        }
        tx.commit().await.map_err(db("opening a ticket"))?;
        Ok(opened)
    }

    /// Queues `event` (`acknowledge` or `resolve`) on every channel for an
    /// incident that has a ticket; nothing when it has none or the event
    /// is already queued. Returns whether anything was queued.
    ///
    /// # Errors
    /// When the database fails.
    pub async fn queue_ticket_event(
        &self,
        incident: IncidentId,
        event: &str,
        channels: &[&str],
        now: DateTime<Utc>,
    ) -> Result<bool> {
        let mut tx = self
            .pool
            .begin_with("BEGIN IMMEDIATE")
            .await
            .map_err(db("queueing a ticket event"))?;
        let exists = sqlx::query("SELECT 1 FROM tickets WHERE incident_id = $1")
            .bind(incident.to_string())
            .fetch_optional(&mut *tx)
            .await
            .map_err(db("queueing a ticket event"))?
            .is_some();
        let mut queued = false;
        if exists {
            for channel in channels {
                queued |= insert_delivery(&mut tx, incident, event, channel, now).await?;
            }
        }
        tx.commit().await.map_err(db("queueing a ticket event"))?;
        Ok(queued)
    }

    /// Pending deliveries due at `now` whose incident Central Command has
    /// acknowledged, oldest ticket first; an event waits while an earlier
    /// one (trigger, acknowledge, resolve) of the same ticket is pending on
    /// the same channel, so a channel never sees them out of order.
    ///
    /// # Errors
    /// When the database fails or a row does not read back.
    pub async fn due_deliveries(&self, now: DateTime<Utc>, limit: u32) -> Result<Vec<DueDelivery>> {
        let rows = sqlx::query(
            "SELECT d.incident_id, i.server_id, d.event, d.channel, d.attempts, t.content, t.created_at \
             FROM ticket_deliveries d \
             JOIN tickets t ON t.incident_id = d.incident_id \
             JOIN incidents i ON i.id = d.incident_id \
             WHERE d.state = 'pending' AND d.next_attempt_at <= $1 AND i.server_id IS NOT NULL \
               AND NOT EXISTS ( \
                   SELECT 1 FROM ticket_deliveries p WHERE p.incident_id = d.incident_id \
                   AND p.channel = d.channel AND p.state = 'pending' \
                   AND ((d.event = 'acknowledge' AND p.event = 'trigger') \
                     OR (d.event = 'resolve' AND p.event IN ('trigger', 'acknowledge')))) \
             ORDER BY t.created_at, d.incident_id, d.event, d.channel LIMIT $2",
        )
        .bind(millis(now))
        .bind(i64::from(limit))
        .fetch_all(&self.pool)
        .await
        .map_err(db("reading due ticket deliveries"))?;
        rows.iter()
            .map(|row| {
                Ok(DueDelivery {
                    incident_id: incident_id(&row.get::<String, _>(0))?,
                    server_id: incident_id(&row.get::<String, _>(1))?,
                    event: row.get(2),
                    channel: row.get(3),
                    attempts: u32::try_from(row.get::<i64, _>(4)).unwrap_or(u32::MAX),
                    content: row.get(5),
                    created_at: instant(row.get(6))?,
                })
            })
            .collect()
    }

    /// When the next pending delivery of an acknowledged incident is due.
    ///
    /// # Errors
    /// When the database fails.
    pub async fn next_delivery_at(&self) -> Result<Option<DateTime<Utc>>> {
        let row = sqlx::query(
            "SELECT MIN(d.next_attempt_at) FROM ticket_deliveries d \
             JOIN incidents i ON i.id = d.incident_id \
             WHERE d.state = 'pending' AND i.server_id IS NOT NULL",
        )
        .fetch_one(&self.pool)
        .await
        .map_err(db("reading the next ticket delivery"))?;
        row.get::<Option<i64>, _>(0).map(instant).transpose()
    }

    /// Records how one attempt ended.
    ///
    /// # Errors
    /// When the database fails.
    pub async fn record_attempt(
        &self,
        incident: IncidentId,
        event: &str,
        channel: &str,
        attempt: &Attempt,
        now: DateTime<Utc>,
    ) -> Result<()> {
        let (state, next, error) = match attempt {
            Attempt::Sent => ("sent", now, None),
            Attempt::Retry { at, error } => ("pending", *at, Some(error.as_str())),
            Attempt::GaveUp { error } => ("failed", now, Some(error.as_str())),
        };
        sqlx::query(
            "UPDATE ticket_deliveries SET state = $1, attempts = attempts + 1, next_attempt_at = $2, \
             last_error = COALESCE($3, last_error), updated_at = $4 \
             WHERE incident_id = $5 AND event = $6 AND channel = $7 AND state = 'pending'",
        )
        .bind(state)
        .bind(millis(next))
        .bind(error)
        .bind(millis(now))
        .bind(incident.to_string())
        .bind(event)
        .bind(channel)
        .execute(&self.pool)
        .await
        .map_err(db("recording a ticket delivery"))?;
        Ok(())
    }

    /// An incident's deliveries, by event and channel.
    ///
    /// # Errors
    /// When the database fails.
    pub async fn deliveries(&self, incident: IncidentId) -> Result<Vec<DeliveryRow>> {
        let rows = sqlx::query(
            "SELECT event, channel, state, attempts, next_attempt_at, last_error \
             FROM ticket_deliveries WHERE incident_id = $1 ORDER BY event DESC, channel",
        )
        .bind(incident.to_string())
        .fetch_all(&self.pool)
        .await
        .map_err(db("listing ticket deliveries"))?;
        rows.iter()
            .map(|row| {
                Ok(DeliveryRow {
                    event: row.get(0),
                    channel: row.get(1),
                    state: row.get(2),
                    attempts: u32::try_from(row.get::<i64, _>(3)).unwrap_or(u32::MAX),
                    next_attempt_at: instant(row.get(4))?,
                    last_error: row.get(5),
                })
            })
            .collect()
    }

    /// Remembers that queue item `item` is the report of `incident`.
    ///
    /// # Errors
    /// When the database fails.
    pub async fn remember_report_item(&self, item: i64, incident: IncidentId) -> Result<()> {
        sqlx::query(
            "INSERT INTO report_items (item_id, incident_id) VALUES ($1, $2) \
             ON CONFLICT (item_id) DO UPDATE SET incident_id = excluded.incident_id",
        )
        .bind(item)
        .bind(incident.to_string())
        .execute(&self.pool)
        .await
        .map_err(db("remembering a report item"))?;
        Ok(())
    }

    /// Records Central Command's ids for the reports it acknowledged, as
    /// `(queue item, its incident id)`, and forgets those items.
    ///
    /// # Errors
    /// When the database fails.
    pub async fn learn_server_ids(&self, acknowledged: &[(i64, IncidentId)]) -> Result<()> {
        if acknowledged.is_empty() {
            return Ok(());
        }
        let mut tx = self
            .pool
            .begin_with("BEGIN IMMEDIATE")
            .await
            .map_err(db("recording central command's incident ids"))?;
        for (item, server_id) in acknowledged {
            sqlx::query(
                "UPDATE incidents SET server_id = $1 \
                 WHERE id = (SELECT incident_id FROM report_items WHERE item_id = $2)",
            )
            .bind(server_id.to_string())
            .bind(item)
            .execute(&mut *tx)
            .await
            .map_err(db("recording central command's incident ids"))?;
            sqlx::query("DELETE FROM report_items WHERE item_id = $1")
                .bind(item)
                .execute(&mut *tx)
                .await
                .map_err(db("recording central command's incident ids"))?;
        }
        tx.commit()
            .await
            .map_err(db("recording central command's incident ids"))?;
        Ok(())
    }

    /// The appliance's incident Central Command knows as `server_id`, the
    /// newest when several were folded into it.
    ///
    /// # Errors
    /// When the database fails.
    pub async fn incident_by_server_id(
        &self,
        server_id: IncidentId,
    ) -> Result<Option<super::Incident>> {
        let row = sqlx::query(
            "SELECT id, host, check_id, severity, state, failures, flapping, tier, reported \
             FROM incidents WHERE server_id = $1 ORDER BY opened_at DESC LIMIT 1",
        )
        .bind(server_id.to_string())
        .fetch_optional(&self.pool)
        .await
        .map_err(db("finding an incident by central command's id"))?;
        row.as_ref().map(super::incident).transpose()
    }

    /// Central Command's id of an incident, once learned.
    ///
    /// # Errors
    /// When the database fails.
    pub async fn server_id(&self, incident: IncidentId) -> Result<Option<IncidentId>> {
        let row = sqlx::query("SELECT server_id FROM incidents WHERE id = $1")
            .bind(incident.to_string())
            .fetch_optional(&self.pool)
            .await
            .map_err(db("reading central command's incident id"))?;
        row.and_then(|row| row.get::<Option<String>, _>(0))
            .map(|text| incident_id(&text))
            .transpose()
    }
}

async fn insert_delivery(
    tx: &mut sqlx::SqliteConnection,
    incident: IncidentId,
    event: &str,
    channel: &str,
    now: DateTime<Utc>,
) -> Result<bool> {
    let done = sqlx::query(
        "INSERT INTO ticket_deliveries (incident_id, event, channel, state, attempts, next_attempt_at, updated_at) \
         VALUES ($1, $2, $3, 'pending', 0, $4, $4) ON CONFLICT DO NOTHING",
    )
    .bind(incident.to_string())
    .bind(event)
    .bind(channel)
    .bind(millis(now))
    .execute(&mut *tx)
    .await
    .map_err(db("queueing a ticket delivery"))?;
    Ok(done.rows_affected() == 1)
}
