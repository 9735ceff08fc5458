-- Session logs: one performance of an assignment, with per-item entries and measurements.

CREATE TABLE session_logs (
    -- May be made by the client's app (the offline sync contract).
    id                uuid PRIMARY KEY,
    clinic_id         uuid NOT NULL REFERENCES clinics (id),
    client_id         uuid NOT NULL REFERENCES clients (id),
    assignment_id     uuid NOT NULL REFERENCES assignments (id),
    performed_at      timestamptz NOT NULL,
    -- The date performed_at fell on in the client's timezone when it was logged: the agenda
    -- and adherence count logs by it.
    local_date        date NOT NULL,
    duration_seconds  integer CHECK (duration_seconds BETWEEN 0 AND 86400),
    pain_before       smallint CHECK (pain_before BETWEEN 0 AND 10),
    pain_after        smallint CHECK (pain_after BETWEEN 0 AND 10),
    effort            smallint CHECK (effort BETWEEN 0 AND 10),
    notes             text CHECK (char_length(notes) <= 2000),
    -- Who logged it: a membership (the client, or a practitioner on their behalf) or an API key.
    logged_by         uuid REFERENCES memberships (id),
    logged_by_role    text NOT NULL CHECK (logged_by_role IN ('client', 'practitioner', 'integration')),
    flagged           boolean NOT NULL DEFAULT false,
    reviewed_at       timestamptz,
    reviewed_by       uuid REFERENCES memberships (id),
    review_note       text CHECK (char_length(review_note) <= 2000),
    -- SHA-256 of the log's content in canonical form: a replay of the same id compares by it.
    content_hash      bytea NOT NULL,
    deleted_at        timestamptz,
    version           bigint NOT NULL DEFAULT 1,
    created_at        timestamptz NOT NULL DEFAULT now(),
    updated_at        timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX session_logs_clinic_client_performed_idx ON session_logs (clinic_id, client_id, performed_at DESC, id DESC);
CREATE INDEX session_logs_clinic_assignment_date_idx ON session_logs (clinic_id, assignment_id, local_date);
CREATE INDEX session_logs_clinic_open_flags_idx ON session_logs (clinic_id, performed_at DESC, id DESC)
    WHERE flagged AND reviewed_at IS NULL AND deleted_at IS NULL;

CREATE TABLE session_entries (
    clinic_id           uuid NOT NULL,
    session_id          uuid NOT NULL REFERENCES session_logs (id),
    position            integer NOT NULL CHECK (position >= 0 AND position < 200),
    assignment_item_id  uuid NOT NULL REFERENCES assignment_items (id),
    side                text CHECK (side IN ('left', 'right', 'both')),
    sets_done           integer CHECK (sets_done BETWEEN 0 AND 100),
    reps_done           integer CHECK (reps_done BETWEEN 0 AND 1000),
    hold_seconds        integer CHECK (hold_seconds BETWEEN 0 AND 7200),
    completed           boolean NOT NULL,
    pain                smallint CHECK (pain BETWEEN 0 AND 10),
    notes               text CHECK (char_length(notes) <= 1000),
    PRIMARY KEY (clinic_id, session_id, position)
);

CREATE TABLE session_measurements (
    clinic_id     uuid NOT NULL,
    session_id    uuid NOT NULL REFERENCES session_logs (id),
    position      integer NOT NULL CHECK (position >= 0 AND position < 100),
    client_id     uuid NOT NULL,
    kind          text NOT NULL,
    side          text NOT NULL CHECK (side IN ('left', 'right', 'none')),
    value         double precision NOT NULL,
    PRIMARY KEY (clinic_id, session_id, position)
);
CREATE INDEX session_measurements_clinic_client_kind_idx ON session_measurements (clinic_id, client_id, kind);
