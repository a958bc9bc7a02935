-- Forecasting models and their trained versions.

CREATE TABLE ai_models (
    id                  TEXT PRIMARY KEY,
    name                TEXT NOT NULL UNIQUE,
    model_type          TEXT NOT NULL,              -- PRICE, DEMAND, GENERATION, RISK
    method              TEXT NOT NULL,              -- SEASONAL_NAIVE, MSTL, LINEAR
    target_series_id    TEXT NOT NULL REFERENCES series(id),
    definition          TEXT NOT NULL,              -- ModelRequest as JSON
    version             BIGINT NOT NULL,            -- newest READY version, 0 before training
    created_by          TEXT NOT NULL,
    created_at          BIGINT NOT NULL,
    updated_at          BIGINT NOT NULL,
    deleted_at          BIGINT                      -- kept for the strategies and forecasts that name it
);

CREATE TABLE ai_model_versions (
    model_id            TEXT NOT NULL REFERENCES ai_models(id),
    version             BIGINT NOT NULL,
    status              TEXT NOT NULL,              -- READY, FAILED
    spec                TEXT NOT NULL,              -- the decided parameters as JSON
    train_from          BIGINT NOT NULL,            -- training data window, µs
    train_to            BIGINT NOT NULL,
    trained             TEXT,                       -- scores, quantiles and coefficients as JSON
    error               TEXT,
    fit_ms              DOUBLE PRECISION NOT NULL,
    trained_by          TEXT NOT NULL,
    trained_at          BIGINT NOT NULL,
    PRIMARY KEY (model_id, version)
);
