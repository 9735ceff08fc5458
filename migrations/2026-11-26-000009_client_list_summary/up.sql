-- The client list's summary reads, for each client of a page, the open flags and the live
-- logs of the last days (clients::queries::OPEN_FLAGS and RECENT_LOGS). Without these, each
-- read every log of the client from the heap; with them, a few index entries.
CREATE INDEX session_logs_client_open_flags_idx ON session_logs (clinic_id, client_id)
    WHERE flagged AND reviewed_at IS NULL AND deleted_at IS NULL;
CREATE INDEX session_logs_client_day_idx ON session_logs (clinic_id, client_id, local_date)
    INCLUDE (assignment_id) WHERE deleted_at IS NULL;
