-- A login shared by clinics belongs to the person (DESIGN.md, "Who sees what"): once a login
-- has been accepted by a second clinic, no clinic may reset its password again, even after a
-- membership ends or is erased. `shared_at` records that moment for good; the trigger sets it
-- whichever way the second membership came about (an invitation, a sign-up with an existing
-- login).
ALTER TABLE users ADD COLUMN shared_at timestamptz;

UPDATE users u SET shared_at = now()
WHERE (SELECT count(DISTINCT m.clinic_id) FROM memberships m
       WHERE m.user_id = u.id AND m.accepted_at IS NOT NULL) > 1;

CREATE FUNCTION mark_shared_login() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF NEW.accepted_at IS NOT NULL AND EXISTS (
        SELECT 1 FROM memberships m
        WHERE m.user_id = NEW.user_id AND m.clinic_id <> NEW.clinic_id AND m.accepted_at IS NOT NULL
    ) THEN
        UPDATE users SET shared_at = now() WHERE id = NEW.user_id AND shared_at IS NULL;
    END IF;
    RETURN NULL;
END
$$;

CREATE TRIGGER memberships_mark_shared_login
    AFTER INSERT OR UPDATE OF accepted_at ON memberships
    FOR EACH ROW EXECUTE FUNCTION mark_shared_login();

-- Who registered a webhook endpoint (a practitioner's membership or an API key): subscriptions
-- are checked against the permissions of whoever makes a change, and the clinic can see who
-- that was. Endpoints registered before this column stay without one.
ALTER TABLE webhooks
    ADD COLUMN created_by_membership uuid,
    ADD COLUMN created_by_api_key uuid,
    ADD CONSTRAINT webhooks_one_creator CHECK (created_by_membership IS NULL OR created_by_api_key IS NULL);
