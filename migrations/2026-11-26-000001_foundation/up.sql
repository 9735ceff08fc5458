-- Identity, tokens, conventions (idempotency, throttling) and the event outbox.
-- Every clinic-owned table carries clinic_id and leads its keys and indexes with it, so the data
-- can shard by clinic later.

CREATE TABLE clinics (
    id          uuid PRIMARY KEY,
    name        text NOT NULL CHECK (char_length(name) BETWEEN 1 AND 200),
    is_system   boolean NOT NULL DEFAULT false,
    version     bigint NOT NULL DEFAULT 1,
    created_at  timestamptz NOT NULL DEFAULT now(),
    updated_at  timestamptz NOT NULL DEFAULT now()
);

-- The reserved system clinic owns built-in content: every clinic reads it, none changes it.
INSERT INTO clinics (id, name, is_system) VALUES ('00000000-0000-0000-0000-000000000000', 'Rehabit built-ins', true);

-- A login. Emails are stored normalised (trimmed, lower case), so equality is case-insensitive.
CREATE TABLE users (
    id             uuid PRIMARY KEY,
    email          text NOT NULL CHECK (email = lower(email)),
    -- NULL until the person sets a password by accepting an invitation.
    password_hash  text,
    version        bigint NOT NULL DEFAULT 1,
    created_at     timestamptz NOT NULL DEFAULT now(),
    updated_at     timestamptz NOT NULL DEFAULT now(),
    CONSTRAINT users_email_key UNIQUE (email)
);

-- How a user reaches a clinic. A practitioner resource is a membership with role admin or
-- practitioner; its profile (name, external_id) is per clinic.
CREATE TABLE memberships (
    id           uuid PRIMARY KEY,
    clinic_id    uuid NOT NULL REFERENCES clinics (id),
    user_id      uuid NOT NULL REFERENCES users (id),
    role         text NOT NULL CHECK (role IN ('admin', 'practitioner', 'client')),
    name         text NOT NULL,
    active       boolean NOT NULL DEFAULT true,
    -- NULL until the invitation is accepted: a pending membership cannot sign in.
    accepted_at  timestamptz,
    client_id    uuid,
    external_id  text,
    version      bigint NOT NULL DEFAULT 1,
    created_at   timestamptz NOT NULL DEFAULT now(),
    updated_at   timestamptz NOT NULL DEFAULT now(),
    CONSTRAINT memberships_clinic_user_key UNIQUE (clinic_id, user_id)
);
CREATE INDEX memberships_user_idx ON memberships (user_id);
CREATE UNIQUE INDEX memberships_clinic_external_id_key ON memberships (clinic_id, external_id)
    WHERE external_id IS NOT NULL;

-- One sign-in: its refresh tokens rotate within it; revoking it ends its access tokens too.
CREATE TABLE token_families (
    id          uuid PRIMARY KEY,
    clinic_id   uuid NOT NULL REFERENCES clinics (id),
    user_id     uuid NOT NULL REFERENCES users (id),
    created_at  timestamptz NOT NULL DEFAULT now(),
    revoked_at  timestamptz
);
CREATE INDEX token_families_user_idx ON token_families (user_id);

-- Refresh tokens are stored only as SHA-256 hashes.
CREATE TABLE refresh_tokens (
    token_hash  bytea PRIMARY KEY,
    family_id   uuid NOT NULL REFERENCES token_families (id) ON DELETE CASCADE,
    issued_at   timestamptz NOT NULL DEFAULT now(),
    expires_at  timestamptz NOT NULL,
    used_at     timestamptz
);
CREATE INDEX refresh_tokens_family_idx ON refresh_tokens (family_id);

-- Failed sign-ins per account and per IP, in fixed windows, shared by every instance.
CREATE TABLE login_throttle (
    key           text PRIMARY KEY,
    window_start  timestamptz NOT NULL,
    failures      integer NOT NULL
);

-- Idempotency-Key reservations and the answers they replay (24 hours).
CREATE TABLE idempotency_keys (
    owner             text NOT NULL,
    key               text NOT NULL,
    request_hash      bytea NOT NULL,
    completed         boolean NOT NULL DEFAULT false,
    response_status   smallint,
    response_headers  jsonb,
    response_body     bytea,
    created_at        timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (owner, key)
);
CREATE INDEX idempotency_keys_created_idx ON idempotency_keys (created_at);

-- The transactional outbox. seq numbers each clinic's events in commit order: a writer takes
-- the next number by updating its clinic's counter row, whose lock it holds until commit.
CREATE TABLE event_counters (
    clinic_id  uuid PRIMARY KEY REFERENCES clinics (id),
    last_seq   bigint NOT NULL
);

CREATE TABLE events (
    clinic_id    uuid NOT NULL REFERENCES clinics (id),
    seq          bigint NOT NULL,
    id           uuid NOT NULL,
    type         text NOT NULL,
    occurred_at  timestamptz NOT NULL DEFAULT now(),
    data         jsonb NOT NULL,
    PRIMARY KEY (clinic_id, seq),
    CONSTRAINT events_id_key UNIQUE (id)
);
