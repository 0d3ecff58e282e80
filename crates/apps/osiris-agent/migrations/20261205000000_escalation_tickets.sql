-- L3 escalation tickets and their durable outbox.
--
-- Central Command's own id for an incident, learned from the
-- acknowledgement of its report at check-in: ticket links and decisions
-- name incidents by it.
ALTER TABLE incidents ADD COLUMN server_id TEXT;
CREATE INDEX incidents_by_server_id ON incidents (server_id);

-- Which queued incident report stands for which incident, until the
-- check-in that carried it is answered (the answer's acknowledgements are
-- in request order, without the appliance's ids).
CREATE TABLE report_items (
    item_id     INTEGER PRIMARY KEY NOT NULL,
    incident_id TEXT NOT NULL REFERENCES incidents (id)
);

-- One ticket per escalated incident: its content, scrubbed before it was
-- stored (JSON: check, host, drift, what was tried, evidence bundle ids).
CREATE TABLE tickets (
    incident_id TEXT PRIMARY KEY NOT NULL REFERENCES incidents (id),
    content     TEXT NOT NULL,
    created_at  INTEGER NOT NULL
);

-- The outbox: one row per ticket, event and channel, so a channel that
-- keeps failing delays only its own rows. `pending` rows are sent when
-- `next_attempt_at` has come and Central Command's id of the incident is
-- known; `sent` and `failed` (given up) are final.
CREATE TABLE ticket_deliveries (
    incident_id     TEXT NOT NULL REFERENCES tickets (incident_id),
    event           TEXT NOT NULL CHECK (event IN ('trigger', 'acknowledge', 'resolve')),
    channel         TEXT NOT NULL,
    state           TEXT NOT NULL CHECK (state IN ('pending', 'sent', 'failed')),
    attempts        INTEGER NOT NULL DEFAULT 0,
    next_attempt_at INTEGER NOT NULL,
    last_error      TEXT,
    updated_at      INTEGER NOT NULL,
    PRIMARY KEY (incident_id, event, channel)
);
CREATE INDEX ticket_deliveries_due ON ticket_deliveries (state, next_attempt_at);
