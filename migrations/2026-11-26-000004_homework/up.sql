-- Homework: a routine given to one client, with its own copy of the items and a schedule in the
-- client's timezone; pauses are kept as a history so the agenda knows which days were paused.

CREATE TABLE assignments (
    id             uuid PRIMARY KEY,
    clinic_id      uuid NOT NULL REFERENCES clinics (id),
    client_id      uuid NOT NULL REFERENCES clients (id),
    -- The template the items were copied from; later edits of it never reach this copy.
    routine_id     uuid REFERENCES routines (id) ON DELETE SET NULL,
    -- The practitioner who gave it (NULL when an integration did).
    assigned_by    uuid REFERENCES memberships (id),
    name           text NOT NULL CHECK (char_length(name) BETWEEN 1 AND 200),
    instructions   text CHECK (char_length(instructions) <= 2000),
    start_date     date NOT NULL,
    end_date       date,
    -- Empty = every day.
    days_of_week   text[] NOT NULL DEFAULT '{}',
    times_per_day  smallint NOT NULL CHECK (times_per_day BETWEEN 1 AND 6),
    status         text NOT NULL CHECK (status IN ('active', 'paused', 'completed', 'cancelled')),
    -- When it was completed or cancelled.
    ended_at       timestamptz,
    version        bigint NOT NULL DEFAULT 1,
    created_at     timestamptz NOT NULL DEFAULT now(),
    updated_at     timestamptz NOT NULL DEFAULT now(),
    CONSTRAINT assignments_dates_ordered CHECK (end_date IS NULL OR end_date >= start_date)
);
CREATE INDEX assignments_clinic_client_idx ON assignments (clinic_id, client_id, id);

-- The client's own copy of the items. Items edited away are kept (removed_at) because session
-- logs point at them.
CREATE TABLE assignment_items (
    id                uuid PRIMARY KEY,
    clinic_id         uuid NOT NULL,
    assignment_id     uuid NOT NULL REFERENCES assignments (id),
    position          integer NOT NULL CHECK (position >= 0 AND position < 100),
    exercise_id       uuid NOT NULL REFERENCES exercises (id),
    sets              integer CHECK (sets BETWEEN 1 AND 20),
    reps              integer CHECK (reps BETWEEN 1 AND 100),
    hold_seconds      integer CHECK (hold_seconds BETWEEN 1 AND 3600),
    duration_seconds  integer CHECK (duration_seconds BETWEEN 1 AND 3600),
    rest_seconds      integer CHECK (rest_seconds BETWEEN 0 AND 600),
    side              text NOT NULL CHECK (side IN ('both', 'left', 'right', 'each')),
    notes             text CHECK (char_length(notes) <= 1000),
    removed_at        timestamptz
);
CREATE INDEX assignment_items_clinic_assignment_idx ON assignment_items (clinic_id, assignment_id, position);
CREATE INDEX assignment_items_clinic_exercise_idx ON assignment_items (clinic_id, exercise_id);

CREATE TABLE assignment_pauses (
    id             uuid PRIMARY KEY,
    clinic_id      uuid NOT NULL,
    assignment_id  uuid NOT NULL REFERENCES assignments (id),
    paused_at      timestamptz NOT NULL,
    resumed_at     timestamptz,
    CONSTRAINT assignment_pauses_ordered CHECK (resumed_at IS NULL OR resumed_at >= paused_at)
);
CREATE INDEX assignment_pauses_clinic_assignment_idx ON assignment_pauses (clinic_id, assignment_id, paused_at);
