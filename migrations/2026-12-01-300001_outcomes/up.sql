-- Outcome measures: questionnaire definitions, their assignment to clients, and the clients'
-- responses with every item-level answer kept. See docs/outcomes.md.

-- A definition: items and scoring rule as the API shows them (`items` holds the item list with
-- its ids). Built-ins belong to the system clinic. Never changed once written: a new version is
-- a new questionnaire.
CREATE TABLE questionnaires (
    id              uuid PRIMARY KEY,
    clinic_id       uuid NOT NULL REFERENCES clinics (id),
    code            text NOT NULL CHECK (char_length(code) BETWEEN 1 AND 50),
    name            text NOT NULL CHECK (char_length(name) BETWEEN 1 AND 200),
    items           jsonb NOT NULL,
    scoring_method  text NOT NULL CHECK (scoring_method IN ('sum', 'mean', 'percent_of_max')),
    min_answered    integer NOT NULL CHECK (min_answered >= 1),
    direction       text NOT NULL CHECK (direction IN ('higher_is_better', 'lower_is_better')),
    mcid            double precision CHECK (mcid > 0),
    licence         text CHECK (char_length(licence) <= 2000),
    version         bigint NOT NULL DEFAULT 1,
    created_at      timestamptz NOT NULL DEFAULT now(),
    CONSTRAINT questionnaires_clinic_code_key UNIQUE (clinic_id, code)
);
CREATE INDEX questionnaires_clinic_id_idx ON questionnaires (clinic_id, id);

-- A questionnaire given to one client, due every `every` days or weeks from `start_date`.
CREATE TABLE questionnaire_assignments (
    id                uuid PRIMARY KEY,
    clinic_id         uuid NOT NULL REFERENCES clinics (id),
    client_id         uuid NOT NULL REFERENCES clients (id),
    questionnaire_id  uuid NOT NULL REFERENCES questionnaires (id),
    start_date        date NOT NULL,
    end_date          date CHECK (end_date >= start_date),
    every             integer NOT NULL CHECK (every BETWEEN 1 AND 365),
    unit              text NOT NULL CHECK (unit IN ('days', 'weeks')),
    status            text NOT NULL DEFAULT 'active' CHECK (status IN ('active', 'stopped')),
    stopped_at        timestamptz,
    version           bigint NOT NULL DEFAULT 1,
    created_at        timestamptz NOT NULL DEFAULT now(),
    updated_at        timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX questionnaire_assignments_clinic_client_idx ON questionnaire_assignments (clinic_id, client_id, id);

-- One completed questionnaire. `id` may be made by the client's app (the offline contract of
-- session logs); `answers` keeps every item-level answer with its item score.
CREATE TABLE questionnaire_responses (
    id                uuid PRIMARY KEY,
    clinic_id         uuid NOT NULL REFERENCES clinics (id),
    client_id         uuid NOT NULL REFERENCES clients (id),
    assignment_id     uuid NOT NULL REFERENCES questionnaire_assignments (id),
    questionnaire_id  uuid NOT NULL REFERENCES questionnaires (id),
    answered_at       timestamptz NOT NULL,
    -- The date answered_at fell on in the client's timezone: monitoring data days count by it.
    local_date        date NOT NULL,
    answered_by       uuid REFERENCES memberships (id),
    answered_by_role  text NOT NULL CHECK (answered_by_role IN ('client', 'practitioner', 'integration')),
    answers           jsonb NOT NULL,
    score             double precision,
    answered_items    integer NOT NULL,
    content_hash      bytea NOT NULL,
    created_at        timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX questionnaire_responses_clinic_client_idx
    ON questionnaire_responses (clinic_id, client_id, answered_at DESC, id DESC);
CREATE INDEX questionnaire_responses_clinic_assignment_idx
    ON questionnaire_responses (clinic_id, assignment_id, local_date);
