-- The exercise library and routine templates. Built-ins belong to the system clinic (nil id);
-- every other row belongs to one clinic. Indexes lead with clinic_id, so the data can shard by
-- clinic later (the system clinic's rows then become reference data).

-- Lets GIN indexes lead with the (scalar) clinic_id before a tsvector or array column.
CREATE EXTENSION IF NOT EXISTS btree_gin;

-- The full-text document of an exercise: name weighs most, then summary and body regions, then
-- the steps. Body regions are snake_case words ("hip_flexors"); the parser splits them.
-- array_to_string is only STABLE in general, but over text[] its result never changes, so the
-- wrapper may be IMMUTABLE, as a generated column requires.
CREATE FUNCTION exercise_search_document(
    name text, summary text, instructions text[], body_regions text[]
) RETURNS tsvector
LANGUAGE sql IMMUTABLE PARALLEL SAFE
RETURN setweight(to_tsvector('english'::regconfig, name), 'A')
    || setweight(to_tsvector('english'::regconfig, coalesce(summary, '')), 'B')
    || setweight(to_tsvector('english'::regconfig, array_to_string(body_regions, ' ')), 'B')
    || setweight(to_tsvector('english'::regconfig, array_to_string(instructions, ' ')), 'C');

CREATE TABLE exercises (
    id              uuid PRIMARY KEY,
    clinic_id       uuid NOT NULL REFERENCES clinics (id),
    name            text NOT NULL CHECK (char_length(name) BETWEEN 1 AND 200),
    summary         text CHECK (char_length(summary) <= 500),
    instructions    text[] NOT NULL DEFAULT '{}' CHECK (cardinality(instructions) <= 30),
    category        text NOT NULL,
    body_regions    text[] NOT NULL CHECK (cardinality(body_regions) >= 1),
    equipment       text[] NOT NULL DEFAULT '{none}',
    difficulty      smallint NOT NULL CHECK (difficulty BETWEEN 1 AND 5),
    -- {sets, reps, hold_seconds, duration_seconds, rest_seconds, side}; validated by the API.
    default_dosage  jsonb NOT NULL DEFAULT '{}',
    cautions        text[] NOT NULL DEFAULT '{}' CHECK (cardinality(cautions) <= 20),
    -- [{kind, url, caption}]; validated by the API.
    media           jsonb NOT NULL DEFAULT '[]',
    -- The easier exercise this one progresses from: the clinic's own or a built-in.
    progression_of  uuid REFERENCES exercises (id),
    archived_at     timestamptz,
    version         bigint NOT NULL DEFAULT 1,
    created_at      timestamptz NOT NULL DEFAULT now(),
    updated_at      timestamptz NOT NULL DEFAULT now(),
    search          tsvector NOT NULL
        GENERATED ALWAYS AS (exercise_search_document(name, summary, instructions, body_regions)) STORED,
    CONSTRAINT exercises_not_own_progression CHECK (progression_of <> id)
);
-- The list order (name, then id) and each filter.
CREATE INDEX exercises_clinic_name_idx ON exercises (clinic_id, name, id);
CREATE INDEX exercises_clinic_category_idx ON exercises (clinic_id, category);
CREATE INDEX exercises_clinic_difficulty_idx ON exercises (clinic_id, difficulty);
CREATE INDEX exercises_clinic_body_regions_idx ON exercises USING gin (clinic_id, body_regions);
CREATE INDEX exercises_clinic_equipment_idx ON exercises USING gin (clinic_id, equipment);
CREATE INDEX exercises_clinic_search_idx ON exercises USING gin (clinic_id, search);
-- Progressions of an exercise, and whether anything progresses from one being deleted.
CREATE INDEX exercises_clinic_progression_idx ON exercises (clinic_id, progression_of)
    WHERE progression_of IS NOT NULL;

CREATE TABLE routines (
    id           uuid PRIMARY KEY,
    clinic_id    uuid NOT NULL REFERENCES clinics (id),
    name         text NOT NULL CHECK (char_length(name) BETWEEN 1 AND 200),
    description  text CHECK (char_length(description) <= 2000),
    version      bigint NOT NULL DEFAULT 1,
    created_at   timestamptz NOT NULL DEFAULT now(),
    updated_at   timestamptz NOT NULL DEFAULT now(),
    -- Target of the items' (clinic_id, routine_id) key, so items stay in their routine's clinic.
    CONSTRAINT routines_clinic_id_key UNIQUE (clinic_id, id)
);
CREATE INDEX routines_clinic_name_idx ON routines (clinic_id, name, id);

-- A routine's ordered items; replaced as a whole by PUT (and PATCH with items).
CREATE TABLE routine_items (
    clinic_id         uuid NOT NULL,
    routine_id        uuid NOT NULL,
    position          integer NOT NULL CHECK (position >= 0 AND position < 100),
    -- The clinic's own exercise or a built-in.
    exercise_id       uuid NOT NULL REFERENCES exercises (id),
    sets              integer CHECK (sets BETWEEN 1 AND 20),
    reps              integer CHECK (reps BETWEEN 1 AND 100),
    hold_seconds      integer CHECK (hold_seconds BETWEEN 1 AND 3600),
    duration_seconds  integer CHECK (duration_seconds BETWEEN 1 AND 3600),
    rest_seconds      integer CHECK (rest_seconds BETWEEN 0 AND 600),
    side              text NOT NULL CHECK (side IN ('both', 'left', 'right', 'each')),
    notes             text CHECK (char_length(notes) <= 1000),
    PRIMARY KEY (clinic_id, routine_id, position),
    FOREIGN KEY (clinic_id, routine_id) REFERENCES routines (clinic_id, id) ON DELETE CASCADE
);
-- Whether an exercise is used by any routine of the clinic.
CREATE INDEX routine_items_clinic_exercise_idx ON routine_items (clinic_id, exercise_id);
