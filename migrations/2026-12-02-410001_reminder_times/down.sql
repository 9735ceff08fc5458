ALTER TABLE assignments DROP COLUMN reminder_times;
