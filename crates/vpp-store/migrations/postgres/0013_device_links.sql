-- A resource's link to its device over a field standard (Modbus TCP with
-- SunSpec or an explicit register map). Nothing polls a device unless its
-- link is enabled: a resource's device_address alone starts nothing.
CREATE TABLE device_links (
    resource_id TEXT PRIMARY KEY REFERENCES resources(id),
    protocol    TEXT NOT NULL,                  -- modbus_tcp
    enabled     BIGINT NOT NULL,                -- 1: polled and sent setpoints
    spec        TEXT NOT NULL,                  -- DeviceLinkSpec as JSON
    updated_at  BIGINT NOT NULL
);
CREATE INDEX device_links_enabled ON device_links (protocol) WHERE enabled = 1;

-- Which adapter delivers a setpoint: mqtt, or the protocol of the
-- resource's enabled device link when the dispatch was saved.
ALTER TABLE setpoint_deliveries ADD COLUMN channel TEXT NOT NULL DEFAULT 'mqtt';
DROP INDEX setpoint_deliveries_due;
CREATE INDEX setpoint_deliveries_due ON setpoint_deliveries (channel, state, next_attempt_at);
