-- Server-signed checkpoints of each appliance's evidence chain (seq and
-- head hash at a time), on a schedule and on demand; exports carry them so
-- a removed tail is detectable.
CREATE TABLE checkpoints (
    appliance_id BLOB NOT NULL REFERENCES appliances (id),
    seq          INTEGER NOT NULL CHECK (seq >= 1),
    head_hash    TEXT NOT NULL CHECK (length(head_hash) = 64),
    signed_at    TEXT NOT NULL,
    signature    TEXT NOT NULL,
    PRIMARY KEY (appliance_id, seq)
);
