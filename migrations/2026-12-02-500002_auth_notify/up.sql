-- Issue 16: each instance caches who a credential is (`auth::cache`) and forgets everything
-- when it hears on channel `rehabit_auth` that access may have narrowed: a membership, a
-- sign-in (token family) or an API key changed in a way authentication looks at, or went.
-- New rows need no notice (the cache holds only what was found to grant access). The
-- notification is sent when the changing transaction commits, whoever made the change.
CREATE FUNCTION notify_auth_change() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    PERFORM pg_notify('rehabit_auth', TG_TABLE_NAME);
    RETURN NULL;
END
$$;

CREATE TRIGGER memberships_notify_auth AFTER UPDATE ON memberships FOR EACH ROW
    WHEN (OLD.active IS DISTINCT FROM NEW.active OR OLD.role IS DISTINCT FROM NEW.role
          OR OLD.accepted_at IS DISTINCT FROM NEW.accepted_at OR OLD.client_id IS DISTINCT FROM NEW.client_id
          OR OLD.user_id IS DISTINCT FROM NEW.user_id OR OLD.clinic_id IS DISTINCT FROM NEW.clinic_id)
    EXECUTE FUNCTION notify_auth_change();
CREATE TRIGGER memberships_notify_auth_delete AFTER DELETE ON memberships FOR EACH ROW
    EXECUTE FUNCTION notify_auth_change();

CREATE TRIGGER token_families_notify_auth AFTER UPDATE ON token_families FOR EACH ROW
    WHEN (OLD.revoked_at IS DISTINCT FROM NEW.revoked_at OR OLD.user_id IS DISTINCT FROM NEW.user_id
          OR OLD.clinic_id IS DISTINCT FROM NEW.clinic_id)
    EXECUTE FUNCTION notify_auth_change();
CREATE TRIGGER token_families_notify_auth_delete AFTER DELETE ON token_families FOR EACH ROW
    EXECUTE FUNCTION notify_auth_change();

-- `last_used_at` (touched once a minute per key in use) is left out on purpose.
CREATE TRIGGER api_keys_notify_auth AFTER UPDATE ON api_keys FOR EACH ROW
    WHEN (OLD.revoked_at IS DISTINCT FROM NEW.revoked_at OR OLD.expires_at IS DISTINCT FROM NEW.expires_at
          OR OLD.scopes IS DISTINCT FROM NEW.scopes OR OLD.key_hash IS DISTINCT FROM NEW.key_hash
          OR OLD.clinic_id IS DISTINCT FROM NEW.clinic_id OR OLD.name IS DISTINCT FROM NEW.name)
    EXECUTE FUNCTION notify_auth_change();
CREATE TRIGGER api_keys_notify_auth_delete AFTER DELETE ON api_keys FOR EACH ROW
    EXECUTE FUNCTION notify_auth_change();
