-- Closed-loop execution: per finished interval, what the schedule asked of
-- each member and of the VPP (resource_id = ''), what was measured, and what
-- the control loop did about the deviation.

CREATE TABLE execution_deviations (
    vpp_id         TEXT NOT NULL REFERENCES vpps(id) ON DELETE CASCADE,
    interval_start BIGINT NOT NULL,
    resource_id    TEXT NOT NULL,
    interval_end   BIGINT NOT NULL,
    scheduled_kw   DOUBLE PRECISION NOT NULL,
    measured_kw    DOUBLE PRECISION NOT NULL,
    samples        BIGINT NOT NULL,
    deviation_kw   DOUBLE PRECISION NOT NULL,
    action         TEXT NOT NULL,
    dispatch_id    TEXT NOT NULL,
    recorded_at    BIGINT NOT NULL,
    PRIMARY KEY (vpp_id, interval_start, resource_id)
);
