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
