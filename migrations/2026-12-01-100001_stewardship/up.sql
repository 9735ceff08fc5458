-- Health-data stewardship: the audit trail (append-only, chained per clinic by SHA-256), and the
-- anonymous weekly counts that erasure leaves behind. See docs/stewardship.md.

-- One audit event: who did what to which record, when, from where, and how it ended. Never
-- names, emails or free text: ids, the action (the operation's id), and the HTTP status.
CREATE TABLE audit_events (
    clinic_id      uuid NOT NULL REFERENCES clinics (id),
    -- UUIDv7: its order is the order in time, which lists and cursors use.
    id             uuid NOT NULL,
    occurred_at    timestamptz NOT NULL,
    actor_kind     text NOT NULL CHECK (actor_kind IN ('user', 'api_key', 'calendar_feed', 'system')),
    -- The login (`/v1/me` id), the API key or the calendar feed; NULL for the system.
    actor_id       uuid,
    actor_role     text CHECK (actor_role IN ('admin', 'practitioner', 'client')),
    action         text NOT NULL CHECK (char_length(action) BETWEEN 1 AND 100),
    resource_type  text CHECK (char_length(resource_type) <= 50),
    resource_id    uuid,
    -- The clients whose data the request read or changed (a list read names every one).
    client_ids     uuid[] NOT NULL DEFAULT '{}',
    request_id     uuid,
    ip             text CHECK (char_length(ip) <= 64),
    user_agent     text CHECK (char_length(user_agent) <= 512),
    status         smallint NOT NULL,
    -- The writing transaction (xid8 as a number): the chainer takes an event once every
    -- transaction that could still add an earlier one has ended, so none is ever skipped.
    txid           bigint NOT NULL DEFAULT (pg_current_xact_id()::text::bigint),
    PRIMARY KEY (clinic_id, id)
);
-- Filters of GET /v1/audit-events and the access logs, newest first.
CREATE INDEX audit_events_clinic_clients_idx ON audit_events USING gin (clinic_id, client_ids);
CREATE INDEX audit_events_clinic_actor_idx ON audit_events (clinic_id, actor_id, id);
CREATE INDEX audit_events_clinic_action_idx ON audit_events (clinic_id, action, id);
-- The chainer's queue spans every clinic by design (like the webhook queue), so this index
-- does not lead with clinic_id.
CREATE INDEX audit_events_txid_idx ON audit_events (txid);

-- The hash chain: entry `seq` of a clinic links event `event_id` to entry `seq - 1`:
-- hash = SHA-256(previous hash || seq || the event's canonical form). Written by the chainer
-- only, outside request transactions.
CREATE TABLE audit_chain (
    clinic_id   uuid NOT NULL REFERENCES clinics (id),
    seq         bigint NOT NULL CHECK (seq > 0),
    event_id    uuid NOT NULL,
    hash        bytea NOT NULL,
    chained_at  timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (clinic_id, seq),
    CONSTRAINT audit_chain_event_key UNIQUE (clinic_id, event_id)
);

-- What the retention purge removed: the chain goes on from entry `seq` with hash `hash`.
CREATE TABLE audit_checkpoints (
    clinic_id      uuid NOT NULL REFERENCES clinics (id),
    seq            bigint NOT NULL,
    hash           bytea NOT NULL,
    purged_events  bigint NOT NULL,
    purged_before  timestamptz NOT NULL,
    created_at     timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (clinic_id, seq)
);

-- Each clinic's head as published to the log and the metrics every five minutes: a later
-- rewrite of the chain, or a removal of its newest entries, no longer reaches it.
CREATE TABLE audit_heads (
    clinic_id     uuid NOT NULL REFERENCES clinics (id),
    seq           bigint NOT NULL,
    hash          bytea NOT NULL,
    published_at  timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (clinic_id, seq)
);

-- How far the chainer has come: every event of a transaction below `below_txid` is chained.
-- (Progress only: tampering with it makes the chainer look again, never skip.)
CREATE TABLE audit_chainer (
    id          smallint PRIMARY KEY CHECK (id = 1),
    below_txid  bigint NOT NULL
);
INSERT INTO audit_chainer (id, below_txid) VALUES (1, 0);

-- Append-only: UPDATE and TRUNCATE are refused always; DELETE only inside the retention purge,
-- which announces itself (`rehabit.audit_purge_before`), removes only rows older than that,
-- and must have left a checkpoint covering each removed chain entry first.
CREATE FUNCTION audit_append_only() RETURNS trigger
LANGUAGE plpgsql AS $$
DECLARE
    purge_before timestamptz := nullif(current_setting('rehabit.audit_purge_before', true), '')::timestamptz;
BEGIN
    -- (Nested IFs: a condition may only name the columns of the table the trigger is on.)
    IF TG_OP = 'DELETE' AND purge_before IS NOT NULL THEN
        IF TG_TABLE_NAME = 'audit_events' THEN
            IF OLD.occurred_at < purge_before THEN
                RETURN OLD;
            END IF;
        ELSIF TG_TABLE_NAME = 'audit_chain' THEN
            IF EXISTS (SELECT 1 FROM audit_checkpoints c WHERE c.clinic_id = OLD.clinic_id AND c.seq >= OLD.seq) THEN
                RETURN OLD;
            END IF;
        END IF;
    END IF;
    RAISE EXCEPTION '% is append-only: % refused', TG_TABLE_NAME, TG_OP
        USING ERRCODE = 'insufficient_privilege';
END;
$$;

CREATE TRIGGER audit_events_append_only BEFORE UPDATE OR DELETE ON audit_events
    FOR EACH ROW EXECUTE FUNCTION audit_append_only();
CREATE TRIGGER audit_events_no_truncate BEFORE TRUNCATE ON audit_events
    FOR EACH STATEMENT EXECUTE FUNCTION audit_append_only();
CREATE TRIGGER audit_chain_append_only BEFORE UPDATE OR DELETE ON audit_chain
    FOR EACH ROW EXECUTE FUNCTION audit_append_only();
CREATE TRIGGER audit_chain_no_truncate BEFORE TRUNCATE ON audit_chain
    FOR EACH STATEMENT EXECUTE FUNCTION audit_append_only();
CREATE TRIGGER audit_checkpoints_append_only BEFORE UPDATE OR DELETE ON audit_checkpoints
    FOR EACH ROW EXECUTE FUNCTION audit_append_only();
CREATE TRIGGER audit_heads_append_only BEFORE UPDATE OR DELETE ON audit_heads
    FOR EACH ROW EXECUTE FUNCTION audit_append_only();

-- What erasure leaves of a person: per clinic and week, how many sessions were logged by
-- clients since erased. No id, no date finer than the week: it cannot be traced back.
CREATE TABLE erased_activity_weekly (
    clinic_id     uuid NOT NULL REFERENCES clinics (id),
    week_start    date NOT NULL,
    sessions      bigint NOT NULL DEFAULT 0,
    PRIMARY KEY (clinic_id, week_start)
);
