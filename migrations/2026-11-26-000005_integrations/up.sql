-- Integrations for booking systems: API keys with scopes.

-- An API key acts for its clinic with exactly its scopes. Only a SHA-256 hash of the key is
-- stored; `prefix` and `last_four` let people tell keys apart. A deleted key keeps its row
-- (revoked_at set) so audits can still name it, but it never authenticates again.
CREATE TABLE api_keys (
    id            uuid PRIMARY KEY,
    clinic_id     uuid NOT NULL REFERENCES clinics (id),
    name          text NOT NULL CHECK (char_length(name) BETWEEN 1 AND 200),
    -- Permission names; `api_keys:write` is never grantable to a key.
    scopes        text[] NOT NULL CHECK (cardinality(scopes) > 0 AND NOT ('api_keys:write' = ANY (scopes))),
    key_hash      bytea NOT NULL,
    prefix        text NOT NULL,
    last_four     text NOT NULL,
    created_by    uuid REFERENCES memberships (id),
    expires_at    timestamptz,
    last_used_at  timestamptz,
    revoked_at    timestamptz,
    created_at    timestamptz NOT NULL DEFAULT now()
);
-- Authentication looks a key up by its hash alone (the key does not say its clinic), like
-- refresh tokens and invitations.
CREATE UNIQUE INDEX api_keys_key_hash_key ON api_keys (key_hash);
CREATE INDEX api_keys_clinic_idx ON api_keys (clinic_id, id) WHERE revoked_at IS NULL;

-- Webhook endpoints. The signing secret must be kept in clear: HMAC needs it. It is answered only
-- when created or rotated, never listed, never logged. After a rotation the previous secret also
-- signs deliveries for 24 hours, so receivers can switch over without dropping any.
CREATE TABLE webhooks (
    id                          uuid PRIMARY KEY,
    clinic_id                   uuid NOT NULL REFERENCES clinics (id),
    url                         text NOT NULL,
    description                 text NOT NULL DEFAULT '',
    event_types                 text[] NOT NULL CHECK (cardinality(event_types) > 0),
    secret                      text NOT NULL,
    previous_secret             text,
    previous_secret_expires_at  timestamptz,
    enabled                     boolean NOT NULL DEFAULT true,
    -- Why the service turned the endpoint off (NULL when enabled, or disabled by a person).
    disabled_reason             text,
    disabled_at                 timestamptz,
    -- Start of the current run of failed attempts; cleared by any success.
    failing_since               timestamptz,
    version                     bigint NOT NULL DEFAULT 1,
    created_at                  timestamptz NOT NULL DEFAULT now(),
    updated_at                  timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX webhooks_clinic_idx ON webhooks (clinic_id, id);

-- One delivery of one event to one endpoint, created in the event's own transaction (so none is
-- lost) and retried until it succeeds or its retry window ends.
CREATE TABLE webhook_deliveries (
    id               uuid PRIMARY KEY,
    clinic_id        uuid NOT NULL REFERENCES clinics (id),
    webhook_id       uuid NOT NULL REFERENCES webhooks (id) ON DELETE CASCADE,
    event_id         uuid NOT NULL,
    event_type       text NOT NULL,
    -- The body sent: {id, type, occurred_at, data}.
    payload          jsonb NOT NULL,
    state            text NOT NULL DEFAULT 'pending' CHECK (state IN ('pending', 'succeeded', 'failed')),
    attempts         integer NOT NULL DEFAULT 0,
    -- When the next attempt is due; while an attempt is in flight, the end of its lease.
    next_attempt_at  timestamptz,
    last_attempt_at  timestamptz,
    redelivery_of    uuid REFERENCES webhook_deliveries (id) ON DELETE SET NULL,
    created_at       timestamptz NOT NULL DEFAULT now(),
    completed_at     timestamptz
);
CREATE INDEX webhook_deliveries_clinic_webhook_idx ON webhook_deliveries (clinic_id, webhook_id, id);
-- The workers' queue spans every clinic by design, so this one index does not lead with
-- clinic_id; it holds pending deliveries only (on a sharded cluster each shard has its own).
CREATE INDEX webhook_deliveries_due_idx ON webhook_deliveries (next_attempt_at) WHERE state = 'pending';
-- An event is delivered automatically once per endpoint; only explicit redeliveries repeat it.
CREATE UNIQUE INDEX webhook_deliveries_once_key ON webhook_deliveries (clinic_id, webhook_id, event_id)
    WHERE redelivery_of IS NULL;

-- Every attempt of a delivery: when, the answer's status, how long it took, what went wrong.
CREATE TABLE webhook_attempts (
    id            uuid PRIMARY KEY,
    clinic_id     uuid NOT NULL REFERENCES clinics (id),
    delivery_id   uuid NOT NULL REFERENCES webhook_deliveries (id) ON DELETE CASCADE,
    attempted_at  timestamptz NOT NULL,
    status_code   integer,
    duration_ms   integer NOT NULL,
    error         text
);
CREATE INDEX webhook_attempts_clinic_delivery_idx ON webhook_attempts (clinic_id, delivery_id, attempted_at);
