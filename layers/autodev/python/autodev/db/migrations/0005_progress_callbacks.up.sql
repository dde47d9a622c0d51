-- Progress tracking, live Slack status messages, and the result delivery outbox.

-- One row per tracked task or workflow. Times are epoch seconds (double precision) because
-- they come from the reporter's clock, which tests replace; Postgres's now() is not used.
CREATE TABLE progress_tracking (
    id              text PRIMARY KEY,
    kind            text NOT NULL CHECK (kind IN ('task', 'workflow')),
    task_type       text NOT NULL,
    -- The workflow a task belongs to and its step there, for the roll-up.
    workflow_id     text,
    step_name       text,
    -- [{name, weight, progress 0..100, status pending|running|done|failed}]
    stages          jsonb NOT NULL,
    current_stage   integer NOT NULL DEFAULT 0 CHECK (current_stage >= 0),
    percent         double precision NOT NULL DEFAULT 0 CHECK (percent BETWEEN 0 AND 100),
    status          text NOT NULL DEFAULT 'running'
                    CHECK (status IN ('running', 'completed', 'failed', 'cancelled')),
    status_message  text NOT NULL DEFAULT '',
    metrics         jsonb NOT NULL DEFAULT '{}'::jsonb,
    -- The smoothed rate of progress (percent per second) the ETA comes from.
    rate            double precision,
    rate_samples    integer NOT NULL DEFAULT 0,
    eta_seconds     double precision,
    started_at      double precision NOT NULL,
    sampled_at      double precision NOT NULL,
    sampled_percent double precision NOT NULL DEFAULT 0,
    updated_at      double precision NOT NULL,
    completed_at    double precision,
    -- Throttling of progress:updated events.
    event_sent_at   double precision,
    event_percent   double precision,
    -- The Slack status message this row renders into (a workflow's, or a lone task's).
    slack_channel   text,
    slack_thread_ts text
);
CREATE INDEX progress_tracking_workflow_idx ON progress_tracking (workflow_id)
    WHERE workflow_id IS NOT NULL;

-- One row per live Slack status message: the latest state to show and when it was last sent.
-- Any process writes the pending state; one sender at a time claims the row and sends it, at
-- most one edit a second; a 429 moves not_before by Retry-After.
CREATE TABLE slack_status_messages (
    key             text PRIMARY KEY,
    channel         text NOT NULL,
    thread_ts       text,
    ts              text,
    pending         jsonb NOT NULL,
    pending_version bigint NOT NULL DEFAULT 1,
    sent_version    bigint NOT NULL DEFAULT 0,
    last_sent_at    double precision,
    not_before      double precision NOT NULL DEFAULT 0,
    claimed_by      text,
    claim_expires_at double precision,
    edits           integer NOT NULL DEFAULT 0,
    -- Failed sends in a row (429s excluded); after a few the pending state is dropped.
    failures        integer NOT NULL DEFAULT 0,
    last_error      text
);
CREATE INDEX slack_status_messages_pending_idx ON slack_status_messages (not_before)
    WHERE pending_version > sent_version;

-- Deliveries of results, written in the same transaction as the result. The id is stable
-- across retries (the webhook-id / event id receivers deduplicate on).
CREATE TABLE result_outbox (
    id              uuid PRIMARY KEY,
    result_id       uuid NOT NULL REFERENCES task_results (id) ON DELETE CASCADE,
    callback_id     uuid REFERENCES task_callbacks (id) ON DELETE CASCADE,
    target_id       text NOT NULL,
    channel         text NOT NULL CHECK (channel IN ('slack', 'webhook', 'event')),
    payload         jsonb NOT NULL,
    status          text NOT NULL DEFAULT 'pending'
                    CHECK (status IN ('pending', 'delivered', 'dead')),
    attempts        integer NOT NULL DEFAULT 0 CHECK (attempts >= 0),
    max_attempts    integer NOT NULL DEFAULT 10 CHECK (max_attempts > 0),
    next_attempt_at timestamptz NOT NULL DEFAULT now(),
    claimed_until   timestamptz,
    last_error      text,
    last_status     integer,
    created_at      timestamptz NOT NULL DEFAULT now(),
    delivered_at    timestamptz
);
CREATE INDEX result_outbox_due_idx ON result_outbox (next_attempt_at) WHERE status = 'pending';
CREATE INDEX result_outbox_target_idx ON result_outbox (target_id, created_at);
