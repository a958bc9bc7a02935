-- EV chargers speaking OCPP 2.0.1 to vpp as their CSMS: a station's id is
-- its resource's external id, and its HTTP Basic password is kept hashed.
CREATE TABLE ocpp_stations (
    resource_id   TEXT PRIMARY KEY REFERENCES resources(id),
    station_id    TEXT NOT NULL UNIQUE,
    password_hash TEXT NOT NULL,
    updated_at    BIGINT NOT NULL
);

-- Charging sessions as the stations report them (TransactionEvent).
CREATE TABLE charging_sessions (
    station_id     TEXT NOT NULL,
    transaction_id TEXT NOT NULL,
    resource_id    TEXT NOT NULL REFERENCES resources(id),
    evse_id        BIGINT,
    id_token       TEXT,
    started_at     BIGINT NOT NULL,
    ended_at       BIGINT,
    meter_start_kwh DOUBLE PRECISION,
    meter_last_kwh  DOUBLE PRECISION,
    updated_at     BIGINT NOT NULL,
    PRIMARY KEY (station_id, transaction_id)
);
CREATE INDEX charging_sessions_resource ON charging_sessions (resource_id, started_at);
