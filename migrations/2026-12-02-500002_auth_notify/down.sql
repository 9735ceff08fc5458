DROP TRIGGER api_keys_notify_auth_delete ON api_keys;
DROP TRIGGER api_keys_notify_auth ON api_keys;
DROP TRIGGER token_families_notify_auth_delete ON token_families;
DROP TRIGGER token_families_notify_auth ON token_families;
DROP TRIGGER memberships_notify_auth_delete ON memberships;
DROP TRIGGER memberships_notify_auth ON memberships;
DROP FUNCTION notify_auth_change();
