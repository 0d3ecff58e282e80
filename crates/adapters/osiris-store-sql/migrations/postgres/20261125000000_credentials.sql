-- Target credentials, stored only sealed by the vault (XChaCha20-Poly1305):
-- the key version, the 24-byte nonce and the ciphertext with its 16-byte
-- tag. The key itself is never in the database.

CREATE TABLE credentials (
    id          UUID NOT NULL,
    site_id     UUID NOT NULL REFERENCES sites (id),
    host_id     UUID REFERENCES hosts (id),
    kind        TEXT NOT NULL CHECK (kind IN ('winrm_password', 'ssh_password', 'ssh_key')),
    username    TEXT NOT NULL,
    key_version BIGINT NOT NULL CHECK (key_version BETWEEN 1 AND 4294967295),
    nonce       BYTEA NOT NULL CHECK (length(nonce) = 24),
    ciphertext  BYTEA NOT NULL CHECK (length(ciphertext) >= 16),
    created_at  TIMESTAMPTZ NOT NULL,
    rotated_at  TIMESTAMPTZ,
    CONSTRAINT credentials_pkey PRIMARY KEY (id)
);

CREATE INDEX credentials_site_id ON credentials (site_id);
