-- Check results counted per site and UTC day, and per site and UTC hour,
-- kept by a trigger on the evidence index: the fleet overview reads a few
-- rows per site instead of every check result of its period. Keys are
-- instants written as sqlx writes them (RFC 3339, `+00:00`), so they
-- compare with bound instants as text in time order.
CREATE TABLE evidence_check_days (
    site_id BLOB NOT NULL REFERENCES sites (id),
    day     TEXT NOT NULL,
    results INTEGER NOT NULL CHECK (results >= 0),
    passed  INTEGER NOT NULL CHECK (passed >= 0 AND passed <= results),
    PRIMARY KEY (site_id, day)
);
CREATE INDEX evidence_check_days_day ON evidence_check_days (day);

CREATE TABLE evidence_check_hours (
    site_id BLOB NOT NULL REFERENCES sites (id),
    hour    TEXT NOT NULL,
    results INTEGER NOT NULL CHECK (results >= 0),
    passed  INTEGER NOT NULL CHECK (passed >= 0 AND passed <= results),
    PRIMARY KEY (site_id, hour)
);
CREATE INDEX evidence_check_hours_hour ON evidence_check_hours (hour);

-- The evidence indexed before this migration.
INSERT INTO evidence_check_days (site_id, day, results, passed)
SELECT site_id, substr(created_at, 1, 10) || 'T00:00:00+00:00', COUNT(*),
       SUM(CASE WHEN outcome = 'pass' THEN 1 ELSE 0 END)
FROM evidence WHERE kind = 'check'
GROUP BY site_id, substr(created_at, 1, 10);
INSERT INTO evidence_check_hours (site_id, hour, results, passed)
SELECT site_id, substr(created_at, 1, 13) || ':00:00+00:00', COUNT(*),
       SUM(CASE WHEN outcome = 'pass' THEN 1 ELSE 0 END)
FROM evidence WHERE kind = 'check'
GROUP BY site_id, substr(created_at, 1, 13);

CREATE TRIGGER evidence_check_rollup AFTER INSERT ON evidence WHEN NEW.kind = 'check'
BEGIN
    INSERT INTO evidence_check_days (site_id, day, results, passed)
    VALUES (NEW.site_id, substr(NEW.created_at, 1, 10) || 'T00:00:00+00:00', 1,
            CASE WHEN NEW.outcome = 'pass' THEN 1 ELSE 0 END)
    ON CONFLICT (site_id, day) DO UPDATE
        SET results = results + 1, passed = passed + excluded.passed;
    INSERT INTO evidence_check_hours (site_id, hour, results, passed)
    VALUES (NEW.site_id, substr(NEW.created_at, 1, 13) || ':00:00+00:00', 1,
            CASE WHEN NEW.outcome = 'pass' THEN 1 ELSE 0 END)
    ON CONFLICT (site_id, hour) DO UPDATE
        SET results = results + 1, passed = passed + excluded.passed;
END;
