-- Housekeeping deletes finished webhook deliveries after their retention period; this index
-- finds them without reading the pending queue or the recent history.
CREATE INDEX webhook_deliveries_completed_idx ON webhook_deliveries (completed_at)
    WHERE completed_at IS NOT NULL;
