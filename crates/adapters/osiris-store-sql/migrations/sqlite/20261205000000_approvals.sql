-- Decisions on escalated incidents. `incident_reporters` names the
-- appliance that last reported each incident (an approval's order goes
-- there); `incident_decisions` holds the one decision per incident: an
-- approval with the order carrying it out, or a rejection with its reason,
-- delivered once to the appliance (delivered_at).
CREATE TABLE incident_reporters (
    incident_id  BLOB PRIMARY KEY NOT NULL REFERENCES incidents (id),
    appliance_id BLOB NOT NULL REFERENCES appliances (id)
);

CREATE TABLE incident_decisions (
    incident_id  BLOB PRIMARY KEY NOT NULL REFERENCES incidents (id),
    site_id      BLOB NOT NULL REFERENCES sites (id),
    appliance_id BLOB NOT NULL REFERENCES appliances (id),
    decision     TEXT NOT NULL CHECK (decision IN ('approved', 'rejected')),
    decided_by   BLOB NOT NULL REFERENCES users (id),
    decided_at   TEXT NOT NULL,
    reason       TEXT,
    order_id     BLOB REFERENCES orders (id),
    delivered_at TEXT,
    CHECK ((decision = 'approved') = (order_id IS NOT NULL)),
    CHECK (decision = 'approved' OR reason IS NOT NULL)
);
CREATE INDEX incident_decisions_by_order ON incident_decisions (order_id);
CREATE INDEX incident_decisions_undelivered ON incident_decisions (appliance_id) WHERE delivered_at IS NULL;
