-- Central Command schema, PostgreSQL dialect. Every unique constraint is
-- named as in osiris_store::constraint, so conflicts read the same on
-- every backend.

CREATE TABLE partners (
    id         UUID NOT NULL,
    name       TEXT NOT NULL,
    created_at TIMESTAMPTZ NOT NULL,
    CONSTRAINT partners_pkey PRIMARY KEY (id),
    CONSTRAINT partners_name_key UNIQUE (name)
);

CREATE TABLE clients (
    id         UUID NOT NULL,
    partner_id UUID NOT NULL REFERENCES partners (id),
    name       TEXT NOT NULL,
    created_at TIMESTAMPTZ NOT NULL,
    CONSTRAINT clients_pkey PRIMARY KEY (id),
    CONSTRAINT clients_partner_id_name_key UNIQUE (partner_id, name)
);

CREATE TABLE sites (
    id                      UUID NOT NULL,
    client_id               UUID NOT NULL REFERENCES clients (id),
    name                    TEXT NOT NULL,
    time_zone               TEXT NOT NULL,
    window_start_minute     BIGINT NOT NULL CHECK (window_start_minute BETWEEN 0 AND 1439),
    window_duration_minutes BIGINT NOT NULL CHECK (window_duration_minutes BETWEEN 0 AND 65535),
    healing_mode            TEXT NOT NULL CHECK (healing_mode IN ('observe', 'dry_run', 'heal')),
    created_at              TIMESTAMPTZ NOT NULL,
    updated_at              TIMESTAMPTZ NOT NULL,
    CONSTRAINT sites_pkey PRIMARY KEY (id),
    CONSTRAINT sites_client_id_name_key UNIQUE (client_id, name)
);

CREATE TABLE appliances (
    id              UUID NOT NULL,
    site_id         UUID NOT NULL REFERENCES sites (id),
    name            TEXT NOT NULL,
    public_key      BYTEA CHECK (public_key IS NULL OR length(public_key) = 32),
    claim_code_hash BYTEA CHECK (claim_code_hash IS NULL OR length(claim_code_hash) = 32),
    last_checkin_at TIMESTAMPTZ,
    agent_version   TEXT,
    created_at      TIMESTAMPTZ NOT NULL,
    CONSTRAINT appliances_pkey PRIMARY KEY (id),
    CONSTRAINT appliances_public_key_key UNIQUE (public_key),
    CONSTRAINT appliances_claim_code_hash_key UNIQUE (claim_code_hash)
);
CREATE INDEX appliances_site_id ON appliances (site_id);

CREATE TABLE hosts (
    id         UUID NOT NULL,
    site_id    UUID NOT NULL REFERENCES sites (id),
    hostname   TEXT NOT NULL,
    platform   TEXT NOT NULL CHECK (platform IN ('windows', 'linux', 'appliance')),
    address    TEXT NOT NULL,
    created_at TIMESTAMPTZ NOT NULL,
    CONSTRAINT hosts_pkey PRIMARY KEY (id),
    CONSTRAINT hosts_site_id_hostname_key UNIQUE (site_id, hostname)
);

CREATE TABLE incidents (
    id           UUID NOT NULL,
    site_id      UUID NOT NULL REFERENCES sites (id),
    host_id      UUID REFERENCES hosts (id),
    check_id     TEXT NOT NULL,
    dedup_key    TEXT NOT NULL,
    severity     TEXT NOT NULL CHECK (severity IN ('low', 'medium', 'high', 'critical')),
    tier         TEXT NOT NULL CHECK (tier IN ('l1', 'l2', 'l3')),
    status       TEXT NOT NULL CHECK (status IN ('open', 'resolved')),
    occurrences  BIGINT NOT NULL,
    opened_at    TIMESTAMPTZ NOT NULL,
    last_seen_at TIMESTAMPTZ NOT NULL,
    resolved_at  TIMESTAMPTZ,
    resolution   TEXT,
    CONSTRAINT incidents_pkey PRIMARY KEY (id)
);
-- At most one open incident per (site, dedup key): reports fold into it.
CREATE UNIQUE INDEX incidents_open_dedup ON incidents (site_id, dedup_key) WHERE status = 'open';
CREATE INDEX incidents_site_opened ON incidents (site_id, opened_at);

CREATE TABLE evidence (
    appliance_id UUID NOT NULL REFERENCES appliances (id),
    seq          BIGINT NOT NULL CHECK (seq >= 1),
    site_id      UUID NOT NULL REFERENCES sites (id),
    bundle_id    UUID NOT NULL,
    chain_hash   TEXT NOT NULL CHECK (length(chain_hash) = 64),
    created_at   TIMESTAMPTZ NOT NULL,
    kind         TEXT NOT NULL CHECK (kind IN ('check', 'remediation', 'escalation', 'order', 'rule_change', 'waiver')),
    outcome      TEXT NOT NULL,
    object_key   TEXT NOT NULL,
    received_at  TIMESTAMPTZ NOT NULL,
    CONSTRAINT evidence_pkey PRIMARY KEY (appliance_id, seq),
    CONSTRAINT evidence_bundle_id_key UNIQUE (bundle_id)
);
CREATE INDEX evidence_site_created ON evidence (site_id, created_at);

CREATE TABLE users (
    id            UUID NOT NULL,
    username      TEXT NOT NULL,
    role          TEXT NOT NULL CHECK (role IN ('admin', 'operator', 'partner', 'client', 'auditor')),
    partner_id    UUID REFERENCES partners (id),
    client_id     UUID REFERENCES clients (id),
    password_hash TEXT NOT NULL,
    failed_logins BIGINT NOT NULL DEFAULT 0,
    locked_until  TIMESTAMPTZ,
    created_at    TIMESTAMPTZ NOT NULL,
    last_login_at TIMESTAMPTZ,
    CONSTRAINT users_pkey PRIMARY KEY (id),
    CONSTRAINT users_username_key UNIQUE (username),
    -- The tenant columns match the role: a membership, not free columns.
    CHECK ((role = 'partner') = (partner_id IS NOT NULL)),
    CHECK ((role = 'client') = (client_id IS NOT NULL))
);

CREATE TABLE orders (
    id            UUID NOT NULL,
    appliance_id  UUID NOT NULL REFERENCES appliances (id),
    site_id       UUID NOT NULL REFERENCES sites (id),
    runbook_id    TEXT NOT NULL,
    params        TEXT NOT NULL,
    nonce         TEXT NOT NULL,
    issued_at     TIMESTAMPTZ NOT NULL,
    expires_at    TIMESTAMPTZ NOT NULL,
    state         TEXT NOT NULL CHECK (state IN ('pending', 'executed', 'failed', 'rolled_back', 'refused', 'expired')),
    delivered_at  TIMESTAMPTZ,
    completed_at  TIMESTAMPTZ,
    result_detail TEXT,
    created_by    UUID REFERENCES users (id),
    CONSTRAINT orders_pkey PRIMARY KEY (id),
    CONSTRAINT orders_nonce_key UNIQUE (nonce)
);
CREATE INDEX orders_appliance_state ON orders (appliance_id, state);
CREATE INDEX orders_pending_expiry ON orders (expires_at) WHERE state = 'pending';

CREATE TABLE auditor_sites (
    user_id UUID NOT NULL REFERENCES users (id),
    site_id UUID NOT NULL REFERENCES sites (id),
    CONSTRAINT auditor_sites_pkey PRIMARY KEY (user_id, site_id)
);

CREATE TABLE sessions (
    token_hash BYTEA NOT NULL CHECK (length(token_hash) = 32),
    user_id    UUID NOT NULL REFERENCES users (id),
    created_at TIMESTAMPTZ NOT NULL,
    expires_at TIMESTAMPTZ NOT NULL,
    CONSTRAINT sessions_pkey PRIMARY KEY (token_hash)
);
CREATE INDEX sessions_user_id ON sessions (user_id);

CREATE TABLE api_tokens (
    id         UUID NOT NULL,
    user_id    UUID NOT NULL REFERENCES users (id),
    name       TEXT NOT NULL,
    token_hash BYTEA NOT NULL CHECK (length(token_hash) = 32),
    created_at TIMESTAMPTZ NOT NULL,
    expires_at TIMESTAMPTZ,
    revoked_at TIMESTAMPTZ,
    CONSTRAINT api_tokens_pkey PRIMARY KEY (id),
    CONSTRAINT api_tokens_token_hash_key UNIQUE (token_hash)
);

CREATE TABLE audit_log (
    seq        BIGINT GENERATED ALWAYS AS IDENTITY,
    at         TIMESTAMPTZ NOT NULL,
    actor      UUID REFERENCES users (id),
    partner_id UUID REFERENCES partners (id),
    action     TEXT NOT NULL,
    target     TEXT NOT NULL,
    detail     TEXT NOT NULL,
    CONSTRAINT audit_log_pkey PRIMARY KEY (seq)
);

-- The audit log is append-only, whoever holds the database connection.
CREATE FUNCTION audit_log_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION 'audit_log is append-only';
END;
$$;
CREATE TRIGGER audit_log_no_update BEFORE UPDATE OR DELETE ON audit_log
    FOR EACH ROW EXECUTE FUNCTION audit_log_append_only();
CREATE TRIGGER audit_log_no_truncate BEFORE TRUNCATE ON audit_log
    FOR EACH STATEMENT EXECUTE FUNCTION audit_log_append_only();
