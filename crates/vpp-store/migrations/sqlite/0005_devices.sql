-- Devices: setpoints on their way to devices over MQTT, and alerts.

-- One row per dispatch instruction sent to a device; kept until answered,
-- so a restart or a broker reconnect loses no setpoint.
CREATE TABLE setpoint_deliveries (
    instruction_id  TEXT PRIMARY KEY,
    resource_id     TEXT NOT NULL REFERENCES resources(id),
    topic           TEXT NOT NULL,
    payload         TEXT NOT NULL,
    state           TEXT NOT NULL,          -- pending | sent | acknowledged | rejected | failed
    attempts        BIGINT NOT NULL DEFAULT 0,
    next_attempt_at BIGINT NOT NULL,
    created_at      BIGINT NOT NULL,
    sent_at         BIGINT,
    answered_at     BIGINT,
    reason          TEXT
);
CREATE INDEX setpoint_deliveries_due ON setpoint_deliveries (state, next_attempt_at);

-- Alerts, deduplicated while their condition lasts: at most one alert per
-- rule and subject that is not resolved.
CREATE TABLE alerts (
    id              TEXT PRIMARY KEY,
    rule            TEXT NOT NULL,
    subject         TEXT NOT NULL,
    severity        TEXT NOT NULL,
    message         TEXT NOT NULL,
    state           TEXT NOT NULL,          -- open | acknowledged | resolved
    occurrences     BIGINT NOT NULL,
    first_seen_at   BIGINT NOT NULL,
    last_seen_at    BIGINT NOT NULL,
    acknowledged_by TEXT,
    acknowledged_at BIGINT,
    resolved_by     TEXT,
    resolved_at     BIGINT
);
CREATE UNIQUE INDEX alerts_one_active ON alerts (rule, subject) WHERE state <> 'resolved';
CREATE INDEX alerts_by_time ON alerts (last_seen_at);
