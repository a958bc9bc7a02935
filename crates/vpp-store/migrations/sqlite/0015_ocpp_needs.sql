-- A station's password may be a secret reference (env:NAME or file:/path)
-- resolved when it connects, instead of a stored hash ('' then).
ALTER TABLE ocpp_stations ADD COLUMN password_ref TEXT;

-- What the vehicle asked for (NotifyEVChargingNeeds): energy and departure,
-- and the session's energy register when it asked.
ALTER TABLE charging_sessions ADD COLUMN energy_need_kwh DOUBLE PRECISION;
ALTER TABLE charging_sessions ADD COLUMN need_meter_kwh DOUBLE PRECISION;
ALTER TABLE charging_sessions ADD COLUMN departure_at BIGINT;
