-- Inventory at check-in, order targets, provisioning by MAC address.

-- hosts.platform gains the catalog's Linux families (debian, rhel); `linux`
-- stays for hosts recorded before.
ALTER TABLE hosts DROP CONSTRAINT hosts_platform_check;
ALTER TABLE hosts ADD CONSTRAINT hosts_platform_check
    CHECK (platform IN ('windows', 'linux', 'debian', 'rhel', 'appliance'));

-- The host name an order is for; NULL: every host the runbook suits.
ALTER TABLE orders ADD COLUMN target TEXT;

-- The MAC address an appliance may be claimed by, and when that was armed
-- (cleared when the appliance is claimed either way).
ALTER TABLE appliances
    ADD COLUMN mac TEXT CHECK (mac IS NULL OR length(mac) = 17),
    ADD COLUMN mac_armed_at TIMESTAMPTZ;
CREATE UNIQUE INDEX appliances_unclaimed_mac_key ON appliances (mac) WHERE public_key IS NULL;
