DROP TABLE session_measurements;
DROP TABLE session_entries;
DROP TABLE session_logs;
