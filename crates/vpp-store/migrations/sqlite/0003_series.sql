-- Time series and their beliefs (SQLite).
-- A belief row is (series, source, event start, belief time) -> value; the
-- primary key makes storing the same belief twice a no-op and serves the
-- per-event "newest version before a cutoff" queries by index order.

CREATE TABLE series (
    key          INTEGER PRIMARY KEY AUTOINCREMENT,
    id           TEXT NOT NULL UNIQUE,
    name         TEXT NOT NULL UNIQUE,
    owner_kind   TEXT NOT NULL,
    owner_id     TEXT NOT NULL,
    quantity     TEXT NOT NULL,
    unit         TEXT NOT NULL,
    resolution_s BIGINT NOT NULL,
    created_at   BIGINT NOT NULL
);
-- One series per owner and quantity: forecasts, measurements and schedules
-- of that quantity are beliefs of different source kinds in it.
CREATE UNIQUE INDEX series_owner_quantity ON series (owner_kind, owner_id, quantity);

CREATE TABLE beliefs (
    series_key  BIGINT NOT NULL REFERENCES series(key),
    source      BIGINT NOT NULL,
    event_start BIGINT NOT NULL,
    belief_time BIGINT NOT NULL,
    value       DOUBLE PRECISION NOT NULL,
    PRIMARY KEY (series_key, source, event_start, belief_time)
) WITHOUT ROWID;
