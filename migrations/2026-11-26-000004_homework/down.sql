DROP TABLE assignment_pauses;
DROP TABLE assignment_items;
DROP TABLE assignments;
