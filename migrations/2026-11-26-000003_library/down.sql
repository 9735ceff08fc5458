DROP TABLE routine_items;
DROP TABLE routines;
DROP TABLE exercises;
DROP FUNCTION exercise_search_document(text, text, text[], text[]);
-- btree_gin stays: other objects may have come to depend on it.
