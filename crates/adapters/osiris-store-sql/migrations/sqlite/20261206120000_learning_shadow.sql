-- The learning loop's shadow mode and per-site automatic promotion.
--
-- Shadow mode: a promotion may first be delivered in
-- shadow (its rule records what it would do while L2 still acts) until
-- `shadow_samples` comparisons with L2 agree; `live_at` is when it began
-- to act (promotions before this migration acted at once). One
-- comparison per L2 bundle that carried a shadow decision.
ALTER TABLE promotions ADD COLUMN shadow_samples INTEGER NOT NULL DEFAULT 0
    CHECK (shadow_samples >= 0);
ALTER TABLE promotions ADD COLUMN live_at TEXT;
UPDATE promotions SET live_at = promoted_at;

CREATE TABLE shadow_comparisons (
    appliance_id BLOB NOT NULL REFERENCES appliances (id),
    seq          INTEGER NOT NULL CHECK (seq >= 1),
    site_id      BLOB NOT NULL REFERENCES sites (id),
    partner_id   BLOB NOT NULL REFERENCES partners (id),
    rule_id      TEXT NOT NULL,
    agreed       BOOLEAN NOT NULL,
    reason       TEXT,
    at           TEXT NOT NULL,
    PRIMARY KEY (appliance_id, seq)
);
CREATE INDEX shadow_comparisons_rule ON shadow_comparisons (partner_id, rule_id, at);

-- A site's opt-in to automatic promotion (no row: not opted in).
CREATE TABLE site_learning (
    site_id      BLOB NOT NULL REFERENCES sites (id),
    auto_promote BOOLEAN NOT NULL,
    updated_at   TEXT NOT NULL,
    CONSTRAINT site_learning_pkey PRIMARY KEY (site_id)
);
