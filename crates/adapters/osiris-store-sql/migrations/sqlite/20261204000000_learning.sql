-- The learning loop: one sample per executed remediation it learns from
-- (an L2 fix, or an L1 run of a promoted rule), keyed by the bundle's
-- chain position so a re-uploaded bundle is not counted twice; and the
-- promotions of patterns to L1 rules for a partner's fleet.
CREATE TABLE learning_samples (
    appliance_id BLOB NOT NULL REFERENCES appliances (id),
    seq          INTEGER NOT NULL CHECK (seq >= 1),
    site_id      BLOB NOT NULL REFERENCES sites (id),
    partner_id   BLOB NOT NULL REFERENCES partners (id),
    check_id     TEXT NOT NULL,
    platform     TEXT NOT NULL,
    pattern_key  TEXT NOT NULL,
    runbook_id   TEXT NOT NULL,
    tier         TEXT NOT NULL CHECK (tier IN ('L1', 'L2')),
    rule_id      TEXT,
    success      BOOLEAN NOT NULL,
    at           TEXT NOT NULL,
    PRIMARY KEY (appliance_id, seq)
);
CREATE INDEX learning_samples_pattern ON learning_samples (partner_id, tier, pattern_key);
CREATE INDEX learning_samples_rule ON learning_samples (partner_id, rule_id, at);

CREATE TABLE promotions (
    id            INTEGER PRIMARY KEY AUTOINCREMENT,
    partner_id    BLOB NOT NULL REFERENCES partners (id),
    pattern_key   TEXT NOT NULL,
    rule_id       TEXT NOT NULL,
    rule          TEXT NOT NULL,
    samples       INTEGER NOT NULL CHECK (samples >= 0),
    successes     INTEGER NOT NULL CHECK (successes >= 0),
    approved_by   BLOB REFERENCES users (id),
    promoted_at   TEXT NOT NULL,
    state         TEXT NOT NULL CHECK (state IN ('active', 'demoted')),
    demoted_at    TEXT,
    demoted_by    BLOB REFERENCES users (id),
    demote_reason TEXT
);
-- One promotion in force per partner and pattern.
CREATE UNIQUE INDEX promotions_active_pattern_key ON promotions (partner_id, pattern_key)
    WHERE state = 'active';
