DROP TABLE invitations;
ALTER TABLE memberships DROP CONSTRAINT memberships_clinic_external_id_key;
CREATE UNIQUE INDEX memberships_clinic_external_id_key ON memberships (clinic_id, external_id)
    WHERE external_id IS NOT NULL;
DROP INDEX memberships_client_key;
ALTER TABLE memberships DROP CONSTRAINT memberships_client_fk;
DROP TABLE clients;
