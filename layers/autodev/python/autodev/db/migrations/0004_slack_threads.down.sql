DROP TABLE IF EXISTS slack_threads;
