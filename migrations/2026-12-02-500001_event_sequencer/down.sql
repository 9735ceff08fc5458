-- Numbers the events still waiting, as the sequencer would, then makes `seq` the key again.
WITH waiting AS (
    SELECT e.id, coalesce(c.last_seq, 0) + row_number() OVER (PARTITION BY e.clinic_id ORDER BY e.written) AS n
    FROM events e LEFT JOIN event_counters c ON c.clinic_id = e.clinic_id
    WHERE e.seq IS NULL
)
UPDATE events e SET seq = w.n FROM waiting w WHERE e.id = w.id;
INSERT INTO event_counters (clinic_id, last_seq)
SELECT clinic_id, max(seq) FROM events GROUP BY clinic_id
ON CONFLICT (clinic_id) DO UPDATE SET last_seq = EXCLUDED.last_seq;

DROP INDEX events_unsequenced_idx;
ALTER TABLE events DROP COLUMN written;
ALTER TABLE events DROP CONSTRAINT events_seq_positive;
ALTER TABLE events DROP CONSTRAINT events_clinic_seq_key;
ALTER TABLE events DROP CONSTRAINT events_pkey;
ALTER TABLE events ALTER COLUMN seq SET NOT NULL;
ALTER TABLE events ADD CONSTRAINT events_pkey PRIMARY KEY (clinic_id, seq);
ALTER TABLE events ADD CONSTRAINT events_id_key UNIQUE (id);
