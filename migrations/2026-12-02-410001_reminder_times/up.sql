-- Issue 17: local reminder times on schedules (`HH:MM`, ascending, at most times_per_day).
-- The API checks the format and order; the database keeps the count honest.
ALTER TABLE assignments
    ADD COLUMN reminder_times text[] NOT NULL DEFAULT '{}',
    ADD CONSTRAINT assignments_reminder_times_count
        CHECK (cardinality(reminder_times) <= times_per_day);
