-- Several `vpp serve` nodes on one database. Each node says it is alive
-- here; singleton work (market clearing, the control loop, device links,
-- ingestion, forecasts, webhooks) runs only on the node holding its lease.
CREATE TABLE cluster_nodes (
    id           TEXT PRIMARY KEY,
    version      TEXT NOT NULL,
    started_at   BIGINT NOT NULL,
    last_seen_at BIGINT NOT NULL
);

-- A lease is held until `expires_at` (µs) unless renewed. `token` grows by
-- one with every new holder: the fencing token.
CREATE TABLE leases (
    name        TEXT PRIMARY KEY,
    holder      TEXT,
    token       BIGINT NOT NULL DEFAULT 0,
    acquired_at BIGINT,
    expires_at  BIGINT NOT NULL DEFAULT 0
);

-- The node running a background import or a backtest: when that node is
-- gone, the job is marked interrupted; jobs of live nodes are left alone.
ALTER TABLE import_jobs ADD COLUMN node_id TEXT;
ALTER TABLE backtests ADD COLUMN node_id TEXT;
