-- A successful DELETE forgets the stored answers that created the resource, found by their
-- Location header; this index keeps that lookup from scanning every stored answer.
CREATE INDEX idempotency_keys_location_idx ON idempotency_keys ((response_headers ->> 'location'));
