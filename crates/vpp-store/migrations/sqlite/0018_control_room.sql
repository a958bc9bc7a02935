-- The console's control room: what a person wrote when acknowledging or
-- resolving an alert, and a resource's recent setpoints found by resource.
ALTER TABLE alerts ADD COLUMN acknowledged_comment TEXT;
ALTER TABLE alerts ADD COLUMN resolved_comment TEXT;
CREATE INDEX dispatch_instructions_resource ON dispatch_instructions (resource_id, start_at);
