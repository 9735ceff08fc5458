-- Issue 17: which reminder events were emitted, so that each is emitted exactly once however many
-- instances run the scheduler: an instance claims the key in the event's own transaction.
CREATE TABLE reminder_emissions (
    assignment_id  uuid NOT NULL REFERENCES assignments (id) ON DELETE CASCADE,
    date           date NOT NULL,
    slot           smallint NOT NULL CHECK (slot BETWEEN 1 AND 6),
    kind           text NOT NULL CHECK (kind IN ('due', 'missed')),
    clinic_id      uuid NOT NULL REFERENCES clinics (id),
    emitted_at     timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (assignment_id, date, slot, kind)
);
CREATE INDEX reminder_emissions_date_idx ON reminder_emissions (date);
