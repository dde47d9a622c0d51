DROP TABLE IF EXISTS result_outbox;
DROP TABLE IF EXISTS slack_status_messages;
DROP TABLE IF EXISTS progress_tracking;
