-- Strategies with their versions and status history, and backtest tasks
-- with their results.

CREATE TABLE strategies (
    id              TEXT PRIMARY KEY,
    name            TEXT NOT NULL UNIQUE,
    vpp_id          TEXT NOT NULL REFERENCES vpps(id),
    strategy_type   TEXT NOT NULL,              -- RULE_BASED, AI_DRIVEN, HYBRID
    status          TEXT NOT NULL,              -- DRAFT, TESTING, ACTIVE, SUSPENDED
    version         BIGINT NOT NULL,            -- the newest version
    created_at      BIGINT NOT NULL,
    deleted_at      BIGINT                      -- kept for the bids and backtests that name it
);

CREATE TABLE strategy_versions (
    strategy_id     TEXT NOT NULL REFERENCES strategies(id),
    version         BIGINT NOT NULL,
    definition      TEXT NOT NULL,              -- StrategyRequest as JSON
    created_at      BIGINT NOT NULL,
    created_by      TEXT NOT NULL,
    PRIMARY KEY (strategy_id, version)
);

CREATE TABLE strategy_status_history (
    strategy_id     TEXT NOT NULL REFERENCES strategies(id),
    at              BIGINT NOT NULL,
    from_status     TEXT NOT NULL,
    to_status       TEXT NOT NULL,
    changed_by      TEXT NOT NULL,
    reason          TEXT NOT NULL
);

CREATE TABLE backtests (
    id              TEXT PRIMARY KEY,
    strategy_id     TEXT NOT NULL REFERENCES strategies(id),
    version         BIGINT NOT NULL,
    status          TEXT NOT NULL,              -- RUNNING, DONE, FAILED, CANCELLED
    progress        DOUBLE PRECISION NOT NULL,  -- 0..1
    request         TEXT NOT NULL,              -- the request as JSON
    summary         TEXT,                       -- figures as JSON, when done
    detail          TEXT,                       -- per day and per interval, when done
    error           TEXT,
    created_by      TEXT NOT NULL,
    created_at      BIGINT NOT NULL,
    finished_at     BIGINT
);
CREATE INDEX backtests_by_strategy ON backtests (strategy_id, created_at);

-- Live decisions of ACTIVE strategies: per delivery day the bid placed and,
-- per interval, the rule that fired and the values it saw.
CREATE TABLE strategy_decisions (
    strategy_id     TEXT NOT NULL REFERENCES strategies(id),
    version         BIGINT NOT NULL,
    trading_date    TEXT NOT NULL,              -- YYYY-MM-DD, market time zone
    bid_id          TEXT,
    decisions       TEXT NOT NULL,              -- per interval, JSON
    decided_at      BIGINT NOT NULL,
    PRIMARY KEY (strategy_id, trading_date)
);
