-- Industrial parks: time-of-use tariffs and their versions, holiday
-- calendars, sites with their load (as beliefs of a `site` series),
-- adjustable loads, the bills utilities sent, and VPP configuration.

CREATE TABLE tariffs (
    id              TEXT PRIMARY KEY,
    name            TEXT NOT NULL UNIQUE,
    region          TEXT NOT NULL,
    time_zone       TEXT NOT NULL,
    created_at      BIGINT NOT NULL
);

CREATE TABLE tariff_versions (
    tariff_id       TEXT NOT NULL REFERENCES tariffs(id),
    version         BIGINT NOT NULL,
    effective_from  TEXT NOT NULL,              -- YYYY-MM-DD, local
    terms           TEXT NOT NULL,              -- TariffTerms as JSON
    created_at      BIGINT NOT NULL,
    created_by      TEXT NOT NULL,
    PRIMARY KEY (tariff_id, version),
    UNIQUE (tariff_id, effective_from)
);

CREATE TABLE holiday_calendars (
    region          TEXT PRIMARY KEY,
    document        TEXT NOT NULL,              -- HolidayCalendar as JSON
    updated_at      BIGINT NOT NULL,
    updated_by      TEXT NOT NULL
);

CREATE TABLE sites (
    id                  TEXT PRIMARY KEY,
    name                TEXT NOT NULL UNIQUE,
    tariff_id           TEXT NOT NULL REFERENCES tariffs(id),
    transformer_kva     DOUBLE PRECISION,
    battery_resource_id TEXT REFERENCES resources(id),
    description         TEXT NOT NULL,
    created_at          BIGINT NOT NULL
);

CREATE TABLE adjustable_loads (
    id              TEXT PRIMARY KEY,
    site_id         TEXT NOT NULL REFERENCES sites(id),
    name            TEXT NOT NULL,
    resource_id     TEXT REFERENCES resources(id),
    document        TEXT NOT NULL,              -- AdjustableLoad as JSON
    created_at      BIGINT NOT NULL,
    UNIQUE (site_id, name)
);

CREATE TABLE actual_bills (
    site_id         TEXT NOT NULL REFERENCES sites(id),
    month           TEXT NOT NULL,              -- YYYY-MM
    document        TEXT NOT NULL,              -- ActualBill as JSON
    imported_at     BIGINT NOT NULL,
    imported_by     TEXT NOT NULL,
    PRIMARY KEY (site_id, month)
);

CREATE TABLE vpp_settings (
    key             TEXT PRIMARY KEY,
    value           DOUBLE PRECISION NOT NULL,
    unit            TEXT NOT NULL,
    description     TEXT NOT NULL,
    updated_at      BIGINT NOT NULL,
    updated_by      TEXT NOT NULL
);
