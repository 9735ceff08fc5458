DROP TRIGGER events_fan_out_to_webhooks ON events;
DROP FUNCTION webhooks_fan_out();
DROP FUNCTION rehabit_uuid_v7();
UPDATE webhook_deliveries d
SET payload = jsonb_build_object('id', e.id, 'type', e.type, 'occurred_at', e.occurred_at, 'data', e.data)
FROM events e WHERE d.payload IS NULL AND e.id = d.event_id;
ALTER TABLE webhook_deliveries ALTER COLUMN payload SET NOT NULL;
