-- A reply in a Slack thread (a mention, a follow-up) finds the newest workflow started there
-- (workflows.records.latest_in_thread); without an index that read scans every workflow.
CREATE INDEX IF NOT EXISTS workflows_thread_idx
    ON workflows (slack_channel, slack_thread_ts, created_at DESC)
    WHERE slack_thread_ts IS NOT NULL;
