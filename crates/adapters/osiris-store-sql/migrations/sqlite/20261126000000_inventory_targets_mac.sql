-- no-transaction
-- Inventory at check-in, order targets, provisioning by MAC address.
--
-- hosts.platform gains the catalog's Linux families (debian, rhel); `linux`
-- stays for hosts recorded before. SQLite cannot change a CHECK, so the
-- table is rebuilt by its documented procedure: foreign keys off (only
-- possible outside a transaction, hence `no-transaction` above), then one
-- transaction that copies, drops and renames, so incidents and credentials
-- that reference a host keep referencing it under the same id.
PRAGMA foreign_keys = OFF;

BEGIN;

CREATE TABLE hosts_rebuilt (
    id         BLOB PRIMARY KEY NOT NULL,
    site_id    BLOB NOT NULL REFERENCES sites (id),
    hostname   TEXT NOT NULL,
    platform   TEXT NOT NULL CHECK (platform IN ('windows', 'linux', 'debian', 'rhel', 'appliance')),
    address    TEXT NOT NULL,
    created_at TEXT NOT NULL,
    CONSTRAINT hosts_site_id_hostname_key UNIQUE (site_id, hostname)
);
INSERT INTO hosts_rebuilt (id, site_id, hostname, platform, address, created_at)
    SELECT id, site_id, hostname, platform, address, created_at FROM hosts;
DROP TABLE hosts;
ALTER TABLE hosts_rebuilt RENAME TO hosts;

-- The host name an order is for; NULL: every host the runbook suits.
ALTER TABLE orders ADD COLUMN target TEXT;

-- The MAC address an appliance may be claimed by, and when that was armed
-- (cleared when the appliance is claimed either way).
ALTER TABLE appliances ADD COLUMN mac TEXT CHECK (mac IS NULL OR length(mac) = 17);
ALTER TABLE appliances ADD COLUMN mac_armed_at TEXT;
CREATE UNIQUE INDEX appliances_unclaimed_mac_key ON appliances (mac) WHERE public_key IS NULL;

COMMIT;

PRAGMA foreign_keys = ON;
