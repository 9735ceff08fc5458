-- Issue 16: writers no longer number events. An event is written without a feed position (`seq`
-- null) and takes no lock another writer waits for; the sequencer (`events::sequence`, run
-- before each feed read and by housekeeping) numbers a clinic's committed events under the
-- clinic's counter row lock, above every number it gave before. Numbers already given keep
-- their value, so cursors stored before this change resume where they were.
ALTER TABLE events DROP CONSTRAINT events_pkey;
ALTER TABLE events ALTER COLUMN seq DROP NOT NULL;
ALTER TABLE events ADD CONSTRAINT events_pkey PRIMARY KEY (id);
ALTER TABLE events DROP CONSTRAINT events_id_key;
ALTER TABLE events ADD CONSTRAINT events_clinic_seq_key UNIQUE (clinic_id, seq);
ALTER TABLE events ADD CONSTRAINT events_seq_positive CHECK (seq > 0);

-- The order events were written in (not their commit order): the sequencer numbers the events
-- one round finds in this order. Existing events take it from their position.
ALTER TABLE events ADD COLUMN written bigint;
CREATE SEQUENCE events_written_seq OWNED BY events.written;
UPDATE events SET written = o.n
FROM (SELECT id, row_number() OVER (ORDER BY clinic_id, seq) AS n FROM events) o
WHERE events.id = o.id;
SELECT setval('events_written_seq', greatest((SELECT max(written) FROM events), 1));
ALTER TABLE events ALTER COLUMN written SET DEFAULT nextval('events_written_seq');
ALTER TABLE events ALTER COLUMN written SET NOT NULL;

-- What the sequencer looks for: small, since events are numbered soon after they commit.
CREATE INDEX events_unsequenced_idx ON events (clinic_id, written) WHERE seq IS NULL;

COMMENT ON COLUMN events.seq IS
    'The event''s feed position in its clinic, given after commit by the sequencer; null until then.';
COMMENT ON COLUMN events.written IS
    'Insertion order; the sequencer numbers the committed events it finds in this order.';
