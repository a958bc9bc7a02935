-- Registry, VPPs, telemetry and dispatch (SQLite).
-- Timestamps are UTC microseconds since the Unix epoch; JSON documents are TEXT.

CREATE TABLE meta (
    key   TEXT PRIMARY KEY,
    value TEXT NOT NULL
);

CREATE TABLE resource_templates (
    id                TEXT PRIMARY KEY,
    name              TEXT NOT NULL UNIQUE,
    resource_type     TEXT NOT NULL,
    category          TEXT NOT NULL,
    description       TEXT NOT NULL,
    parameters        TEXT NOT NULL,
    rules             TEXT NOT NULL,
    control_interface TEXT NOT NULL,
    version           BIGINT NOT NULL,
    preset            BIGINT NOT NULL,
    created_at        BIGINT NOT NULL,
    updated_at        BIGINT NOT NULL
);

CREATE TABLE resources (
    id              TEXT PRIMARY KEY,
    template_id     TEXT NOT NULL REFERENCES resource_templates(id),
    resource_type   TEXT NOT NULL,
    category        TEXT NOT NULL,
    name            TEXT NOT NULL UNIQUE,
    external_id     TEXT UNIQUE,
    status          TEXT NOT NULL,
    capacity_kw     DOUBLE PRECISION NOT NULL,
    min_power_kw    DOUBLE PRECISION NOT NULL,
    max_power_kw    DOUBLE PRECISION NOT NULL,
    efficiency      DOUBLE PRECISION NOT NULL,
    response_time_s DOUBLE PRECISION NOT NULL,
    marginal_cost   DOUBLE PRECISION NOT NULL,
    lat             DOUBLE PRECISION NOT NULL,
    lon             DOUBLE PRECISION NOT NULL,
    timezone        TEXT NOT NULL,
    building        TEXT,
    device_address  TEXT NOT NULL,
    owner           TEXT,
    parameters      TEXT NOT NULL,
    metadata        TEXT NOT NULL,
    created_at      BIGINT NOT NULL,
    updated_at      BIGINT NOT NULL
);
CREATE INDEX resources_template ON resources (template_id);
CREATE INDEX resources_status ON resources (status);

CREATE TABLE resource_status_history (
    id          INTEGER PRIMARY KEY AUTOINCREMENT,
    resource_id TEXT NOT NULL REFERENCES resources(id),
    from_status TEXT NOT NULL,
    to_status   TEXT NOT NULL,
    reason      TEXT NOT NULL,
    changed_at  BIGINT NOT NULL
);
CREATE INDEX resource_status_history_resource ON resource_status_history (resource_id, changed_at);

CREATE TABLE telemetry (
    resource_id   TEXT NOT NULL REFERENCES resources(id),
    ts            BIGINT NOT NULL,
    power_kw      DOUBLE PRECISION NOT NULL,
    energy_kwh    DOUBLE PRECISION,
    soc_pct       DOUBLE PRECISION,
    temperature_c DOUBLE PRECISION,
    received_at   BIGINT NOT NULL,
    PRIMARY KEY (resource_id, ts)
);

CREATE TABLE resource_latest_telemetry (
    resource_id   TEXT PRIMARY KEY REFERENCES resources(id),
    ts            BIGINT NOT NULL,
    power_kw      DOUBLE PRECISION NOT NULL,
    energy_kwh    DOUBLE PRECISION,
    soc_pct       DOUBLE PRECISION,
    temperature_c DOUBLE PRECISION,
    received_at   BIGINT NOT NULL
);

CREATE TABLE vpps (
    id          TEXT PRIMARY KEY,
    name        TEXT NOT NULL UNIQUE,
    description TEXT NOT NULL,
    market_type TEXT NOT NULL,
    status      TEXT NOT NULL,
    created_at  BIGINT NOT NULL,
    updated_at  BIGINT NOT NULL
);

CREATE TABLE vpp_members (
    vpp_id           TEXT NOT NULL REFERENCES vpps(id) ON DELETE CASCADE,
    resource_id      TEXT NOT NULL REFERENCES resources(id),
    allocation_ratio DOUBLE PRECISION NOT NULL,
    priority         BIGINT NOT NULL,
    PRIMARY KEY (vpp_id, resource_id)
);
CREATE INDEX vpp_members_resource ON vpp_members (resource_id);

CREATE TABLE dispatches (
    id                  TEXT PRIMARY KEY,
    vpp_id              TEXT NOT NULL,
    target_kw           DOUBLE PRECISION NOT NULL,
    start_at            BIGINT NOT NULL,
    end_at              BIGINT NOT NULL,
    mode                TEXT NOT NULL,
    total_dispatched_kw DOUBLE PRECISION NOT NULL,
    unmet_kw            DOUBLE PRECISION NOT NULL,
    created_at          BIGINT NOT NULL
);
CREATE INDEX dispatches_vpp ON dispatches (vpp_id, created_at);

CREATE TABLE dispatch_instructions (
    id          TEXT PRIMARY KEY,
    dispatch_id TEXT NOT NULL REFERENCES dispatches(id),
    resource_id TEXT NOT NULL REFERENCES resources(id),
    target_kw   DOUBLE PRECISION NOT NULL,
    start_at    BIGINT NOT NULL,
    end_at      BIGINT NOT NULL,
    created_at  BIGINT NOT NULL
);
CREATE INDEX dispatch_instructions_dispatch ON dispatch_instructions (dispatch_id);

CREATE TABLE technical_data_imports (
    id              TEXT PRIMARY KEY,
    file_name       TEXT NOT NULL,
    file_created_at BIGINT,
    imported_at     BIGINT NOT NULL,
    report          TEXT NOT NULL
);

CREATE TABLE resource_changes (
    id          INTEGER PRIMARY KEY AUTOINCREMENT,
    import_id   TEXT NOT NULL REFERENCES technical_data_imports(id),
    resource_id TEXT NOT NULL REFERENCES resources(id),
    asset_id    TEXT NOT NULL,
    field       TEXT NOT NULL,
    old_value   TEXT NOT NULL,
    new_value   TEXT NOT NULL,
    changed_at  BIGINT NOT NULL
);
CREATE INDEX resource_changes_resource ON resource_changes (resource_id, changed_at);
