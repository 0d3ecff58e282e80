-- Server-signed checkpoints of each appliance's evidence chain (seq and
-- head hash at a time), on a schedule and on demand; exports carry them so
-- a removed tail is detectable.
CREATE TABLE checkpoints (
    appliance_id UUID NOT NULL REFERENCES appliances (id),
    seq          BIGINT NOT NULL CHECK (seq >= 1),
    head_hash    TEXT NOT NULL CHECK (length(head_hash) = 64),
    signed_at    TIMESTAMPTZ NOT NULL,
    signature    TEXT NOT NULL,
    CONSTRAINT checkpoints_pkey PRIMARY KEY (appliance_id, seq)
);
