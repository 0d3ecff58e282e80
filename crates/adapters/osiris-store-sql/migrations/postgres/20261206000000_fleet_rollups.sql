-- Check results counted per site and UTC day, and per site and UTC hour,
-- kept by a trigger on the evidence index: the fleet overview reads a few
-- rows per site instead of every check result of its period.
CREATE TABLE evidence_check_days (
    site_id UUID NOT NULL REFERENCES sites (id),
    day     TIMESTAMPTZ NOT NULL,
    results BIGINT NOT NULL CHECK (results >= 0),
    passed  BIGINT NOT NULL CHECK (passed >= 0 AND passed <= results),
    CONSTRAINT evidence_check_days_pkey PRIMARY KEY (site_id, day)
);
CREATE INDEX evidence_check_days_day ON evidence_check_days (day);

CREATE TABLE evidence_check_hours (
    site_id UUID NOT NULL REFERENCES sites (id),
    hour    TIMESTAMPTZ NOT NULL,
    results BIGINT NOT NULL CHECK (results >= 0),
    passed  BIGINT NOT NULL CHECK (passed >= 0 AND passed <= results),
    CONSTRAINT evidence_check_hours_pkey PRIMARY KEY (site_id, hour)
);
CREATE INDEX evidence_check_hours_hour ON evidence_check_hours (hour);

-- The evidence indexed before this migration.
INSERT INTO evidence_check_days (site_id, day, results, passed)
SELECT site_id, date_trunc('day', created_at, 'UTC'), COUNT(*),
       COUNT(*) FILTER (WHERE outcome = 'pass')
FROM evidence WHERE kind = 'check'
GROUP BY site_id, date_trunc('day', created_at, 'UTC');
INSERT INTO evidence_check_hours (site_id, hour, results, passed)
SELECT site_id, date_trunc('hour', created_at, 'UTC'), COUNT(*),
       COUNT(*) FILTER (WHERE outcome = 'pass')
FROM evidence WHERE kind = 'check'
GROUP BY site_id, date_trunc('hour', created_at, 'UTC');

CREATE FUNCTION evidence_check_rollup() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
    one_pass BIGINT := CASE WHEN NEW.outcome = 'pass' THEN 1 ELSE 0 END;
BEGIN
    INSERT INTO evidence_check_days AS d (site_id, day, results, passed)
    VALUES (NEW.site_id, date_trunc('day', NEW.created_at, 'UTC'), 1, one_pass)
    ON CONFLICT (site_id, day) DO UPDATE
        SET results = d.results + 1, passed = d.passed + EXCLUDED.passed;
    INSERT INTO evidence_check_hours AS h (site_id, hour, results, passed)
    VALUES (NEW.site_id, date_trunc('hour', NEW.created_at, 'UTC'), 1, one_pass)
    ON CONFLICT (site_id, hour) DO UPDATE
        SET results = h.results + 1, passed = h.passed + EXCLUDED.passed;
    RETURN NULL;
END;
$$;
CREATE TRIGGER evidence_check_rollup AFTER INSERT ON evidence
    FOR EACH ROW WHEN (NEW.kind = 'check') EXECUTE FUNCTION evidence_check_rollup();
