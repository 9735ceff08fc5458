DROP TABLE questionnaire_responses;
DROP TABLE questionnaire_assignments;
DROP TABLE questionnaires;
