-- Target credentials, stored only sealed by the vault (XChaCha20-Poly1305):
-- the key version, the 24-byte nonce and the ciphertext with its 16-byte
-- tag. The key itself is never in the database.

CREATE TABLE credentials (
    id          BLOB PRIMARY KEY NOT NULL,
    site_id     BLOB NOT NULL REFERENCES sites (id),
    host_id     BLOB REFERENCES hosts (id),
    kind        TEXT NOT NULL CHECK (kind IN ('winrm_password', 'ssh_password', 'ssh_key')),
    username    TEXT NOT NULL,
    key_version INTEGER NOT NULL CHECK (key_version BETWEEN 1 AND 4294967295),
    nonce       BLOB NOT NULL CHECK (length(nonce) = 24),
    ciphertext  BLOB NOT NULL CHECK (length(ciphertext) >= 16),
    created_at  TEXT NOT NULL,
    rotated_at  TEXT
);

CREATE INDEX credentials_site_id ON credentials (site_id);
