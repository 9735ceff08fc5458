-- Webhook fan-out reads the outbox instead of the outbox calling up into webhooks: a new event
-- queues one delivery for each enabled endpoint of its clinic subscribed to its type, in the
-- event's own transaction (so a delivery exists exactly when its event does), whichever code
-- wrote the event. The body is built from the event when it is sent (`payload` stays null for
-- such deliveries), so it is the event as the feed shows it, scrubbed if the client was erased.

ALTER TABLE webhook_deliveries ALTER COLUMN payload DROP NOT NULL;
COMMENT ON COLUMN webhook_deliveries.payload IS
    'The body of a ping; null for event deliveries, whose body is built from their event when sent.';

-- A time-ordered UUID (version 7, RFC 9562), as the service makes them: 48 bits of Unix
-- milliseconds, the version nibble, then random bits (the variant bits come with them from
-- gen_random_uuid, whose version-4 nibble is left out).
CREATE FUNCTION rehabit_uuid_v7() RETURNS uuid LANGUAGE sql VOLATILE AS $$
    SELECT (lpad(to_hex(floor(extract(epoch FROM clock_timestamp()) * 1000)::bigint), 12, '0')
            || '7' || substr(r, 1, 3) || substr(r, 17, 16))::uuid
    FROM (SELECT replace(gen_random_uuid()::text, '-', '') AS r) AS random
$$;

CREATE FUNCTION webhooks_fan_out() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO webhook_deliveries (id, clinic_id, webhook_id, event_id, event_type, payload, next_attempt_at)
    SELECT rehabit_uuid_v7(), NEW.clinic_id, w.id, NEW.id, NEW.type, NULL, now()
    FROM webhooks w
    WHERE w.clinic_id = NEW.clinic_id AND w.enabled AND NEW.type = ANY (w.event_types);
    RETURN NULL;
END
$$;

CREATE TRIGGER events_fan_out_to_webhooks AFTER INSERT ON events
    FOR EACH ROW EXECUTE FUNCTION webhooks_fan_out();
