-- Central Command schema, SQLite dialect. Ids are 16-byte UUID blobs;
-- instants are RFC 3339 UTC text; enums are their lowercase spelling,
-- checked here so a bad write fails at the database too.

CREATE TABLE partners (
    id         BLOB PRIMARY KEY NOT NULL,
    name       TEXT NOT NULL,
    created_at TEXT NOT NULL,
    CONSTRAINT partners_name_key UNIQUE (name)
);

CREATE TABLE clients (
    id         BLOB PRIMARY KEY NOT NULL,
    partner_id BLOB NOT NULL REFERENCES partners (id),
    name       TEXT NOT NULL,
    created_at TEXT NOT NULL,
    CONSTRAINT clients_partner_id_name_key UNIQUE (partner_id, name)
);

CREATE TABLE sites (
    id                   BLOB PRIMARY KEY NOT NULL,
    client_id            BLOB NOT NULL REFERENCES clients (id),
    name                 TEXT NOT NULL,
    time_zone            TEXT NOT NULL,
    window_start_minute  INTEGER NOT NULL CHECK (window_start_minute BETWEEN 0 AND 1439),
    window_duration_minutes INTEGER NOT NULL CHECK (window_duration_minutes BETWEEN 0 AND 65535),
    healing_mode         TEXT NOT NULL CHECK (healing_mode IN ('observe', 'dry_run', 'heal')),
    created_at           TEXT NOT NULL,
    updated_at           TEXT NOT NULL,
    CONSTRAINT sites_client_id_name_key UNIQUE (client_id, name)
);

CREATE TABLE appliances (
    id              BLOB PRIMARY KEY NOT NULL,
    site_id         BLOB NOT NULL REFERENCES sites (id),
    name            TEXT NOT NULL,
    public_key      BLOB CHECK (public_key IS NULL OR length(public_key) = 32),
    claim_code_hash BLOB CHECK (claim_code_hash IS NULL OR length(claim_code_hash) = 32),
    last_checkin_at TEXT,
    agent_version   TEXT,
    created_at      TEXT NOT NULL,
    CONSTRAINT appliances_public_key_key UNIQUE (public_key),
    CONSTRAINT appliances_claim_code_hash_key UNIQUE (claim_code_hash)
);
CREATE INDEX appliances_site_id ON appliances (site_id);

CREATE TABLE hosts (
    id         BLOB PRIMARY KEY NOT NULL,
    site_id    BLOB NOT NULL REFERENCES sites (id),
    hostname   TEXT NOT NULL,
    platform   TEXT NOT NULL CHECK (platform IN ('windows', 'linux', 'appliance')),
    address    TEXT NOT NULL,
    created_at TEXT NOT NULL,
    CONSTRAINT hosts_site_id_hostname_key UNIQUE (site_id, hostname)
);

CREATE TABLE incidents (
    id           BLOB PRIMARY KEY NOT NULL,
    site_id      BLOB NOT NULL REFERENCES sites (id),
    host_id      BLOB REFERENCES hosts (id),
    check_id     TEXT NOT NULL,
    dedup_key    TEXT NOT NULL,
    severity     TEXT NOT NULL CHECK (severity IN ('low', 'medium', 'high', 'critical')),
    tier         TEXT NOT NULL CHECK (tier IN ('l1', 'l2', 'l3')),
    status       TEXT NOT NULL CHECK (status IN ('open', 'resolved')),
    occurrences  INTEGER NOT NULL,
    opened_at    TEXT NOT NULL,
    last_seen_at TEXT NOT NULL,
    resolved_at  TEXT,
    resolution   TEXT
);
-- At most one open incident per (site, dedup key): reports fold into it.
CREATE UNIQUE INDEX incidents_open_dedup ON incidents (site_id, dedup_key) WHERE status = 'open';
CREATE INDEX incidents_site_opened ON incidents (site_id, opened_at);

CREATE TABLE evidence (
    appliance_id BLOB NOT NULL REFERENCES appliances (id),
    seq          INTEGER NOT NULL CHECK (seq >= 1),
    site_id      BLOB NOT NULL REFERENCES sites (id),
    bundle_id    BLOB NOT NULL,
    chain_hash   TEXT NOT NULL CHECK (length(chain_hash) = 64),
    created_at   TEXT NOT NULL,
    kind         TEXT NOT NULL CHECK (kind IN ('check', 'remediation', 'escalation', 'order', 'rule_change', 'waiver')),
    outcome      TEXT NOT NULL,
    object_key   TEXT NOT NULL,
    received_at  TEXT NOT NULL,
    PRIMARY KEY (appliance_id, seq),
    CONSTRAINT evidence_bundle_id_key UNIQUE (bundle_id)
);
CREATE INDEX evidence_site_created ON evidence (site_id, created_at);

CREATE TABLE orders (
    id            BLOB PRIMARY KEY NOT NULL,
    appliance_id  BLOB NOT NULL REFERENCES appliances (id),
    site_id       BLOB NOT NULL REFERENCES sites (id),
    runbook_id    TEXT NOT NULL,
    params        TEXT NOT NULL,
    nonce         TEXT NOT NULL,
    issued_at     TEXT NOT NULL,
    expires_at    TEXT NOT NULL,
    state         TEXT NOT NULL CHECK (state IN ('pending', 'executed', 'failed', 'rolled_back', 'refused', 'expired')),
    delivered_at  TEXT,
    completed_at  TEXT,
    result_detail TEXT,
    created_by    BLOB REFERENCES users (id),
    CONSTRAINT orders_nonce_key UNIQUE (nonce)
);
CREATE INDEX orders_appliance_state ON orders (appliance_id, state);
CREATE INDEX orders_pending_expiry ON orders (expires_at) WHERE state = 'pending';

CREATE TABLE users (
    id            BLOB PRIMARY KEY NOT NULL,
    username      TEXT NOT NULL,
    role          TEXT NOT NULL CHECK (role IN ('admin', 'operator', 'partner', 'client', 'auditor')),
    partner_id    BLOB REFERENCES partners (id),
    client_id     BLOB REFERENCES clients (id),
    password_hash TEXT NOT NULL,
    failed_logins INTEGER NOT NULL DEFAULT 0,
    locked_until  TEXT,
    created_at    TEXT NOT NULL,
    last_login_at TEXT,
    CONSTRAINT users_username_key UNIQUE (username),
    -- The tenant columns match the role: a membership, not free columns.
    CHECK ((role = 'partner') = (partner_id IS NOT NULL)),
    CHECK ((role = 'client') = (client_id IS NOT NULL))
);

CREATE TABLE auditor_sites (
    user_id BLOB NOT NULL REFERENCES users (id),
    site_id BLOB NOT NULL REFERENCES sites (id),
    PRIMARY KEY (user_id, site_id)
);

CREATE TABLE sessions (
    token_hash BLOB PRIMARY KEY NOT NULL CHECK (length(token_hash) = 32),
    user_id    BLOB NOT NULL REFERENCES users (id),
    created_at TEXT NOT NULL,
    expires_at TEXT NOT NULL
);
CREATE INDEX sessions_user_id ON sessions (user_id);

CREATE TABLE api_tokens (
    id         BLOB PRIMARY KEY NOT NULL,
    user_id    BLOB NOT NULL REFERENCES users (id),
    name       TEXT NOT NULL,
    token_hash BLOB NOT NULL CHECK (length(token_hash) = 32),
    created_at TEXT NOT NULL,
    expires_at TEXT,
    revoked_at TEXT,
    CONSTRAINT api_tokens_token_hash_key UNIQUE (token_hash)
);

CREATE TABLE audit_log (
    seq        INTEGER PRIMARY KEY AUTOINCREMENT,
    at         TEXT NOT NULL,
    actor      BLOB REFERENCES users (id),
    partner_id BLOB REFERENCES partners (id),
    action     TEXT NOT NULL,
    target     TEXT NOT NULL,
    detail     TEXT NOT NULL
);

-- The audit log is append-only, whoever holds the database connection.
CREATE TRIGGER audit_log_no_update BEFORE UPDATE ON audit_log
BEGIN
    SELECT RAISE(ABORT, 'audit_log is append-only');
END;
CREATE TRIGGER audit_log_no_delete BEFORE DELETE ON audit_log
BEGIN
    SELECT RAISE(ABORT, 'audit_log is append-only');
END;
