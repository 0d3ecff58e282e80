-- The appliance's durable outbound queue (osiris-queue).
--
-- application_id marks the file as a queue ("OSQ1"), so opening another
-- SQLite file by mistake is refused instead of migrated. PRAGMA
-- application_id is part of this migration's transaction.
PRAGMA application_id = 1330860337;

-- One row: whose chain this is and where it stands. The head stays after
-- every bundle is acknowledged and deleted, so no seq is ever reused.
CREATE TABLE meta (
    id INTEGER PRIMARY KEY CHECK (id = 1),
    appliance_id TEXT NOT NULL,
    site_id TEXT NOT NULL,
    key_id TEXT NOT NULL,
    -- 0 and NULL before the first bundle.
    head_seq INTEGER NOT NULL CHECK (head_seq >= 0),
    head_hash TEXT CHECK ((head_seq = 0) = (head_hash IS NULL)),
    acknowledged_through INTEGER NOT NULL CHECK (acknowledged_through BETWEEN 0 AND head_seq),
    dropped_telemetry INTEGER NOT NULL CHECK (dropped_telemetry >= 0)
) STRICT;

-- Sealed bundles waiting for Central Command: the exact canonical bytes.
CREATE TABLE bundles (
    seq INTEGER PRIMARY KEY CHECK (seq > 0),
    bundle_id TEXT NOT NULL UNIQUE,
    chain_hash TEXT NOT NULL,
    bytes INTEGER NOT NULL,
    -- Unix milliseconds from the queue's clock.
    enqueued_at INTEGER NOT NULL,
    body BLOB NOT NULL
) STRICT;

-- Incidents, telemetry and order results (scrubbed JSON objects).
-- AUTOINCREMENT: an id is never handed out twice, even after the newest
-- item is deleted, so a late acknowledgement cannot delete a newer item.
CREATE TABLE items (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    kind TEXT NOT NULL CHECK (kind IN ('incident', 'telemetry', 'order_result')),
    bytes INTEGER NOT NULL,
    enqueued_at INTEGER NOT NULL,
    body TEXT NOT NULL
) STRICT;

-- The drop policy walks the oldest telemetry.
CREATE INDEX items_by_kind ON items (kind, id);
