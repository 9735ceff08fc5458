-- Clients (the people receiving care) and single-use invitations for practitioners and clients.

CREATE TABLE clients (
    id                       uuid PRIMARY KEY,
    clinic_id                uuid NOT NULL REFERENCES clinics (id),
    name                     text NOT NULL,
    -- Stored normalised (trimmed, lower case).
    email                    text CHECK (email = lower(email)),
    -- An IANA name, validated by the service; drives the client's schedule.
    timezone                 text NOT NULL,
    primary_practitioner_id  uuid REFERENCES memberships (id),
    external_id              text,
    archived_at              timestamptz,
    version                  bigint NOT NULL DEFAULT 1,
    created_at               timestamptz NOT NULL DEFAULT now(),
    updated_at               timestamptz NOT NULL DEFAULT now(),
    -- NULLs are distinct, so clients without an external id do not collide.
    CONSTRAINT clients_clinic_external_id_key UNIQUE (clinic_id, external_id)
);
CREATE INDEX clients_clinic_idx ON clients (clinic_id, id);
CREATE INDEX clients_clinic_practitioner_idx ON clients (clinic_id, primary_practitioner_id);

-- A client login is tied to one client record.
ALTER TABLE memberships
    ADD CONSTRAINT memberships_client_fk FOREIGN KEY (client_id) REFERENCES clients (id);
CREATE UNIQUE INDEX memberships_client_key ON memberships (client_id) WHERE client_id IS NOT NULL;

-- A plain unique constraint (rather than the partial index) so upserts can use ON CONFLICT.
DROP INDEX memberships_clinic_external_id_key;
ALTER TABLE memberships
    ADD CONSTRAINT memberships_clinic_external_id_key UNIQUE (clinic_id, external_id);

-- Single-use invitations; the token is stored only as a SHA-256 hash.
CREATE TABLE invitations (
    id             uuid PRIMARY KEY,
    clinic_id      uuid NOT NULL REFERENCES clinics (id),
    membership_id  uuid NOT NULL REFERENCES memberships (id),
    token_hash     bytea NOT NULL,
    expires_at     timestamptz NOT NULL,
    used_at        timestamptz,
    created_at     timestamptz NOT NULL DEFAULT now(),
    CONSTRAINT invitations_token_hash_key UNIQUE (token_hash)
);
CREATE INDEX invitations_clinic_membership_idx ON invitations (clinic_id, membership_id);
