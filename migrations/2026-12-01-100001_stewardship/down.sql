DROP TABLE erased_activity_weekly;
DROP TABLE audit_chainer;
DROP TABLE audit_heads;
DROP TABLE audit_checkpoints;
DROP TABLE audit_chain;
DROP TABLE audit_events;
DROP FUNCTION audit_append_only();
