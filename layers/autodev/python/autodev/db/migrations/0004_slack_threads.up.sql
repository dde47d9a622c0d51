-- Slack threads opened for workflows started from Slack, so a mention in a thread can be
-- answered about its workflow without the Slack module reading the workflows table.
CREATE TABLE slack_threads (
    channel_id      text NOT NULL,
    thread_ts       text NOT NULL,
    workflow_id     text NOT NULL,
    started_by      text NOT NULL,
    created_at      timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (channel_id, thread_ts)
);
CREATE INDEX slack_threads_workflow_idx ON slack_threads (workflow_id);
