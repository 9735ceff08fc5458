-- Issue 17: one calendar feed per client. The URL's token is a credential: only its SHA-256 is
-- kept. Posting again replaces the row (a new id and token), so a replaced token finds nothing.
CREATE TABLE calendar_feeds (
    id          uuid PRIMARY KEY,
    clinic_id   uuid NOT NULL REFERENCES clinics (id),
    client_id   uuid NOT NULL REFERENCES clients (id),
    token_hash  bytea NOT NULL UNIQUE,
    expires_at  timestamptz,
    -- Who made it: a staff membership, the client's own, or NULL for an API key.
    created_by  uuid REFERENCES memberships (id) ON DELETE SET NULL,
    created_at  timestamptz NOT NULL DEFAULT now()
);
CREATE UNIQUE INDEX calendar_feeds_one_per_client ON calendar_feeds (clinic_id, client_id);
