DROP TABLE reminder_emissions;
