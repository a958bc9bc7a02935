-- Ingestion sources: a folder, URL or bucket that vpp looks at on a cron
-- schedule, and the importer its files go to.
CREATE TABLE ingestion_sources (
    id          TEXT PRIMARY KEY,
    name        TEXT NOT NULL UNIQUE,
    enabled     BIGINT NOT NULL,
    spec        TEXT NOT NULL,                  -- SourceSpec as JSON
    next_run_at BIGINT NOT NULL,                -- when it is due (µs UTC); moved on by whoever runs it
    created_at  BIGINT NOT NULL,
    updated_at  BIGINT NOT NULL
);
CREATE INDEX ingestion_sources_due ON ingestion_sources (next_run_at) WHERE enabled = 1;

-- One file taken from a source (or one failed look at it). A file is taken
-- once: the row for its name and checksum is its claim.
CREATE TABLE ingestion_runs (
    id             TEXT PRIMARY KEY,
    source_id      TEXT NOT NULL REFERENCES ingestion_sources(id) ON DELETE CASCADE,
    file_name      TEXT,
    checksum       TEXT,
    bytes          BIGINT,
    started_at     BIGINT NOT NULL,
    finished_at    BIGINT,
    outcome        TEXT NOT NULL,               -- running, imported, partial, refused, failed
    accepted       BIGINT NOT NULL DEFAULT 0,
    refused        BIGINT NOT NULL DEFAULT 0,
    message        TEXT NOT NULL DEFAULT '',
    refused_lines  TEXT NOT NULL DEFAULT '[]'   -- [{line, reason}] as JSON
);
CREATE UNIQUE INDEX ingestion_runs_once ON ingestion_runs (source_id, file_name, checksum) WHERE checksum IS NOT NULL;
CREATE INDEX ingestion_runs_recent ON ingestion_runs (started_at);
