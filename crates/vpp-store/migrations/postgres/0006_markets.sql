-- Markets: connectors, bids and their steps, trades, risk limits, the kill
-- switch, auction results and settlement. Prices and quantities are exact
-- decimals stored as text.

CREATE TABLE market_connectors (
    id                  TEXT PRIMARY KEY,
    name                TEXT NOT NULL UNIQUE,
    market_type         TEXT NOT NULL,          -- SPOT | ANCILLARY | CAPACITY
    kind                TEXT NOT NULL,          -- simulated | file
    document            TEXT NOT NULL,          -- the whole connector as JSON (secret references only)
    created_at          BIGINT NOT NULL
);

CREATE TABLE bids (
    id                  TEXT PRIMARY KEY,
    vpp_id              TEXT NOT NULL REFERENCES vpps(id),
    connector_id        TEXT NOT NULL REFERENCES market_connectors(id),
    market_type         TEXT NOT NULL,
    strategy_id         TEXT,
    trading_date        TEXT NOT NULL,          -- YYYY-MM-DD in the market's zone
    status              TEXT NOT NULL,
    gate_closure        BIGINT NOT NULL,
    notional            TEXT NOT NULL,
    currency            TEXT NOT NULL,
    submitted_by        TEXT NOT NULL,
    approved_by         TEXT,
    cancelled_by        TEXT,
    exchange_ref        TEXT,
    created_at          BIGINT NOT NULL,
    updated_at          BIGINT NOT NULL
);
CREATE INDEX bids_by_day ON bids (connector_id, trading_date, status);
CREATE INDEX bids_by_vpp ON bids (vpp_id, trading_date);

CREATE TABLE bid_steps (
    bid_id              TEXT NOT NULL REFERENCES bids(id),
    step_no             BIGINT NOT NULL,
    time_slot           BIGINT NOT NULL,
    slot_index          BIGINT NOT NULL,
    side                TEXT NOT NULL,          -- sell | buy
    price               TEXT NOT NULL,
    quantity_mw         TEXT NOT NULL,
    activation_price    TEXT,
    accepted_mw         TEXT,
    cleared_price       TEXT,
    activated_mw        TEXT,
    PRIMARY KEY (bid_id, step_no)
);

CREATE TABLE trades (
    id                  TEXT PRIMARY KEY,
    bid_id              TEXT REFERENCES bids(id),
    vpp_id              TEXT REFERENCES vpps(id),
    connector_id        TEXT NOT NULL REFERENCES market_connectors(id),
    market_type         TEXT NOT NULL,
    kind                TEXT NOT NULL,          -- energy | reserve_capacity | activation | capacity
    side                TEXT NOT NULL,
    delivery_start      BIGINT NOT NULL,
    delivery_end        BIGINT NOT NULL,
    price               TEXT NOT NULL,
    quantity_mw         TEXT NOT NULL,
    currency            TEXT NOT NULL,
    executed_at         BIGINT NOT NULL,
    source              TEXT NOT NULL,          -- auction | file
    external_id         TEXT,
    settled             BIGINT NOT NULL DEFAULT 0
);
CREATE INDEX trades_by_vpp ON trades (vpp_id, delivery_start);
CREATE UNIQUE INDEX trades_external ON trades (connector_id, external_id);

CREATE TABLE risk_limits (
    vpp_id              TEXT NOT NULL REFERENCES vpps(id),
    market_type         TEXT NOT NULL,
    document            TEXT NOT NULL,
    updated_by          TEXT NOT NULL,
    updated_at          BIGINT NOT NULL,
    PRIMARY KEY (vpp_id, market_type)
);

-- One row: the trading kill switch.
CREATE TABLE trading_controls (
    id                  BIGINT PRIMARY KEY,
    kill_switch         BIGINT NOT NULL,
    reason              TEXT,
    changed_by          TEXT,
    changed_at          BIGINT
);
INSERT INTO trading_controls (id, kill_switch) VALUES (1, 0);

-- The published result of a connector's auction for one trading day.
CREATE TABLE market_clearings (
    connector_id        TEXT NOT NULL REFERENCES market_connectors(id),
    trading_date        TEXT NOT NULL,
    cleared_at          BIGINT NOT NULL,
    slots               TEXT NOT NULL,          -- JSON list of slot results
    PRIMARY KEY (connector_id, trading_date)
);

CREATE TABLE settlement_records (
    vpp_id              TEXT NOT NULL REFERENCES vpps(id),
    interval_start      BIGINT NOT NULL,
    currency            TEXT NOT NULL,
    sold_mwh            TEXT NOT NULL,
    delivered_mwh       TEXT NOT NULL,
    imbalance_mwh       TEXT NOT NULL,
    imbalance_price     TEXT NOT NULL,
    imbalance_price_source TEXT NOT NULL,       -- final | estimate
    trade_revenue       TEXT NOT NULL,
    imbalance_amount    TEXT NOT NULL,
    reserve_payments    TEXT NOT NULL,
    fees                TEXT NOT NULL,
    net                 TEXT NOT NULL,
    calculated_at       BIGINT NOT NULL,
    PRIMARY KEY (vpp_id, interval_start)
);

-- Contracts with asset owners, one row per version (valid from a date on).
CREATE TABLE contracts (
    contract_id         TEXT NOT NULL,
    valid_from          TEXT NOT NULL,          -- YYYY-MM-DD
    resource_id         TEXT NOT NULL REFERENCES resources(id),
    document            TEXT NOT NULL,
    imported_at         BIGINT NOT NULL,
    PRIMARY KEY (contract_id, valid_from)
);
