ALTER TABLE webhooks DROP CONSTRAINT webhooks_one_creator,
    DROP COLUMN created_by_api_key,
    DROP COLUMN created_by_membership;
DROP TRIGGER memberships_mark_shared_login ON memberships;
DROP FUNCTION mark_shared_login();
ALTER TABLE users DROP COLUMN shared_at;
