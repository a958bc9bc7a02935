-- Background import jobs, kept in the database so that any process can show
-- them and a restart finds them: a job that was running when its process
-- stopped is marked `interrupted` at the next start.
CREATE TABLE import_jobs (
    id               TEXT PRIMARY KEY,
    kind             TEXT NOT NULL,              -- series, site_load
    target_id        TEXT NOT NULL,
    permission       TEXT NOT NULL,              -- what a caller needs to see or cancel it
    started_by       TEXT,                       -- actor id
    state            TEXT NOT NULL,              -- running, done, failed, cancelled, interrupted
    rows_total       BIGINT NOT NULL,
    rows_sent        BIGINT NOT NULL,
    cancel_requested BIGINT NOT NULL DEFAULT 0,
    started_at       BIGINT NOT NULL,
    finished_at      BIGINT,
    report_json      TEXT,
    error_json       TEXT
);
CREATE INDEX import_jobs_running ON import_jobs (state) WHERE state = 'running';

-- Large belief writes on SQLite are staged: rows go into `beliefs` in short
-- transactions, tagged with their batch, and stay invisible to every read
-- while the batch is staging. Publishing flips the batch in one tiny
-- transaction; a failed, cancelled or abandoned batch (no heartbeat for a
-- minute: its process died) has its rows deleted. So other writers (telemetry) never wait for a whole import, and
-- an import is still all or nothing.
CREATE TABLE belief_batches (
    key         BIGSERIAL PRIMARY KEY,
    series_key  BIGINT NOT NULL,
    staging     BIGINT NOT NULL,                -- 1 while invisible
    created_at  BIGINT NOT NULL,
    heartbeat_at BIGINT NOT NULL                -- beaten by every chunk; a minute without: abandoned
);
CREATE INDEX belief_batches_staging ON belief_batches (key) WHERE staging = 1;
ALTER TABLE beliefs ADD COLUMN batch BIGINT NOT NULL DEFAULT 0;
