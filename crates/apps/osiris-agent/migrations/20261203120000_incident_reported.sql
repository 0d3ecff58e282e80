-- Whether the incident's report for Central Command is in the outbound
-- queue. An incident is opened here before its report is queued (the two
-- live in different files), so a crash in between leaves it 0 and the
-- appliance queues the report when it next starts. Incidents from before
-- this column were reported when they opened.
ALTER TABLE incidents ADD COLUMN reported INTEGER NOT NULL DEFAULT 1;
