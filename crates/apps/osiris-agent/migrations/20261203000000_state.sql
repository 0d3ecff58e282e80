-- The appliance's own state: incidents, whose resolved rows are the
-- history flap detection reads, order nonces (replay refusal across restarts), the L1 rule
-- ledger (cooldowns and retries across restarts), the escalation queue and
-- the synced rule set. Instants are Unix milliseconds (UTC).

CREATE TABLE incidents (
    id           TEXT PRIMARY KEY NOT NULL,
    host         TEXT NOT NULL,
    check_id     TEXT NOT NULL,
    severity     TEXT NOT NULL,
    state        TEXT NOT NULL CHECK (state IN ('open', 'resolved')),
    opened_at    INTEGER NOT NULL,
    last_seen_at INTEGER NOT NULL,
    resolved_at  INTEGER,
    failures     INTEGER NOT NULL DEFAULT 1,
    -- Set once the incident is flapping: it is escalated, not fought.
    flapping     INTEGER NOT NULL DEFAULT 0,
    -- The tier that last handled it: L1, L3 (escalated), or none yet.
    tier         TEXT
);
-- Deduplication: at most one open incident per host and check.
CREATE UNIQUE INDEX incidents_one_open ON incidents (host, check_id) WHERE state = 'open';
CREATE INDEX incidents_by_check ON incidents (host, check_id, opened_at);

CREATE TABLE nonces (
    nonce      TEXT PRIMARY KEY NOT NULL,
    expires_at INTEGER NOT NULL
);

CREATE TABLE ledger (
    rule       TEXT NOT NULL,
    host       TEXT NOT NULL,
    last_fired INTEGER NOT NULL,
    failures   INTEGER NOT NULL,
    PRIMARY KEY (rule, host)
);

CREATE TABLE escalations (
    id          INTEGER PRIMARY KEY AUTOINCREMENT,
    incident_id TEXT NOT NULL REFERENCES incidents (id),
    host        TEXT NOT NULL,
    check_id    TEXT NOT NULL,
    reason      TEXT NOT NULL,
    created_at  INTEGER NOT NULL
);

CREATE TABLE rule_set (
    id      INTEGER PRIMARY KEY CHECK (id = 1),
    version TEXT NOT NULL,
    files   TEXT NOT NULL
);
