DROP TABLE monitoring_interactions;
DROP TABLE monitoring_episodes;
