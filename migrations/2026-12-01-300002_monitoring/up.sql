-- The remote-monitoring ledger: episodes of remote therapeutic monitoring and the clinic's
-- interactions with the client. Data days and codes are computed from these and the client's
-- own logs and responses when read. See docs/monitoring.md.

CREATE TABLE monitoring_episodes (
    id          uuid PRIMARY KEY,
    clinic_id   uuid NOT NULL REFERENCES clinics (id),
    client_id   uuid NOT NULL REFERENCES clients (id),
    start_date  date NOT NULL,
    end_date    date CHECK (end_date >= start_date),
    version     bigint NOT NULL DEFAULT 1,
    created_at  timestamptz NOT NULL DEFAULT now(),
    updated_at  timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX monitoring_episodes_clinic_client_idx ON monitoring_episodes (clinic_id, client_id, start_date);
CREATE INDEX monitoring_episodes_clinic_id_idx ON monitoring_episodes (clinic_id, id);

CREATE TABLE monitoring_interactions (
    id           uuid PRIMARY KEY,
    clinic_id    uuid NOT NULL REFERENCES clinics (id),
    client_id    uuid NOT NULL REFERENCES clients (id),
    kind         text NOT NULL CHECK (kind IN ('call', 'video', 'message', 'review')),
    minutes      integer NOT NULL CHECK (minutes BETWEEN 1 AND 600),
    interactive  boolean NOT NULL,
    occurred_at  timestamptz NOT NULL,
    -- Who recorded it: a staff membership, or NULL for an API key.
    recorded_by  uuid REFERENCES memberships (id),
    version      bigint NOT NULL DEFAULT 1,
    created_at   timestamptz NOT NULL DEFAULT now(),
    updated_at   timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX monitoring_interactions_clinic_client_idx ON monitoring_interactions (clinic_id, client_id, occurred_at);
