-- The spec's eleven tables, with the keys, constraints and indexes their use needs.

CREATE TABLE conversations (
    id              text PRIMARY KEY,
    user_id         text NOT NULL,
    channel_id      text,
    thread_ts       text,
    task_type       text,
    title           text,
    status          text NOT NULL DEFAULT 'active'
                    CHECK (status IN ('active', 'archived')),
    summary         text,
    token_count     integer NOT NULL DEFAULT 0 CHECK (token_count >= 0),
    metadata        jsonb NOT NULL DEFAULT '{}'::jsonb,
    created_at      timestamptz NOT NULL DEFAULT now(),
    updated_at      timestamptz NOT NULL DEFAULT now(),
    last_activity_at timestamptz NOT NULL DEFAULT now()
);
-- A Slack thread maps to at most one conversation.
CREATE UNIQUE INDEX conversations_thread_key ON conversations (channel_id, thread_ts)
    WHERE thread_ts IS NOT NULL;
CREATE INDEX conversations_user_activity_idx ON conversations (user_id, last_activity_at DESC);

CREATE TABLE conversation_messages (
    id              bigserial PRIMARY KEY,
    conversation_id text NOT NULL REFERENCES conversations (id) ON DELETE CASCADE,
    role            text NOT NULL CHECK (role IN ('user', 'assistant', 'system', 'summary')),
    content         text NOT NULL,
    token_count     integer NOT NULL DEFAULT 0 CHECK (token_count >= 0),
    summarized      boolean NOT NULL DEFAULT false,
    metadata        jsonb NOT NULL DEFAULT '{}'::jsonb,
    created_at      timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX conversation_messages_conversation_idx
    ON conversation_messages (conversation_id, id);

CREATE TABLE user_memories (
    id              bigserial PRIMARY KEY,
    user_id         text NOT NULL,
    memory_key      text NOT NULL,
    memory_value    text NOT NULL,
    importance      smallint NOT NULL DEFAULT 5 CHECK (importance BETWEEN 1 AND 10),
    source_conversation_id text REFERENCES conversations (id) ON DELETE SET NULL,
    created_at      timestamptz NOT NULL DEFAULT now(),
    updated_at      timestamptz NOT NULL DEFAULT now(),
    expires_at      timestamptz,
    UNIQUE (user_id, memory_key)
);

CREATE TABLE workflows (
    id              uuid PRIMARY KEY,
    template        text NOT NULL,
    execution_name  text NOT NULL UNIQUE,
    execution_arn   text UNIQUE,
    status          text NOT NULL DEFAULT 'pending'
                    CHECK (status IN ('pending', 'running', 'waiting_approval', 'succeeded',
                                      'failed', 'cancelled', 'timed_out')),
    current_step    text,
    input           jsonb NOT NULL DEFAULT '{}'::jsonb,
    output          jsonb,
    error           text,
    cause           text,
    requested_by    text NOT NULL,
    -- Idempotency: the same client key (for example a Slack request) starts one workflow.
    client_key      text UNIQUE,
    callback        jsonb,
    budget_usd      numeric(12, 4),
    cost_usd        numeric(12, 6) NOT NULL DEFAULT 0,
    slack_channel   text,
    slack_thread_ts text,
    created_at      timestamptz NOT NULL DEFAULT now(),
    updated_at      timestamptz NOT NULL DEFAULT now(),
    finished_at     timestamptz
);
CREATE INDEX workflows_status_created_idx ON workflows (status, created_at DESC);
CREATE INDEX workflows_requested_by_idx ON workflows (requested_by, created_at DESC);

CREATE TABLE autonomous_tasks (
    id              uuid PRIMARY KEY,
    workflow_id     uuid REFERENCES workflows (id) ON DELETE CASCADE,
    step_name       text,
    task_type       text NOT NULL,
    prompt          text NOT NULL,
    context         jsonb NOT NULL DEFAULT '{}'::jsonb,
    allowed_tools   text[] NOT NULL DEFAULT '{}',
    max_turns       integer NOT NULL DEFAULT 30 CHECK (max_turns > 0),
    budget_usd      numeric(12, 4) CHECK (budget_usd > 0),
    priority        text NOT NULL DEFAULT 'normal'
                    CHECK (priority IN ('critical', 'high', 'normal', 'low')),
    -- The order a worker claims in; derived so it can never disagree with priority.
    priority_rank   smallint GENERATED ALWAYS AS (
                        CASE priority WHEN 'critical' THEN 0 WHEN 'high' THEN 1
                                      WHEN 'normal' THEN 2 ELSE 3 END) STORED,
    status          text NOT NULL DEFAULT 'queued'
                    CHECK (status IN ('queued', 'running', 'succeeded', 'failed', 'dead',
                                      'cancelled')),
    -- The Step Functions task token: kept here, server-side, never sent to Slack or Claude.
    task_token      text,
    timeout_ms      integer NOT NULL CHECK (timeout_ms > 0),
    attempts        integer NOT NULL DEFAULT 0 CHECK (attempts >= 0),
    max_attempts    integer NOT NULL DEFAULT 3 CHECK (max_attempts > 0),
    available_at    timestamptz NOT NULL DEFAULT now(),
    lease_owner     text,
    lease_expires_at timestamptz,
    last_error      text,
    result          jsonb,
    model           text,
    input_tokens    bigint NOT NULL DEFAULT 0,
    output_tokens   bigint NOT NULL DEFAULT 0,
    cache_read_tokens bigint NOT NULL DEFAULT 0,
    cache_creation_tokens bigint NOT NULL DEFAULT 0,
    cost_usd        numeric(12, 6) NOT NULL DEFAULT 0,
    created_at      timestamptz NOT NULL DEFAULT now(),
    updated_at      timestamptz NOT NULL DEFAULT now(),
    started_at      timestamptz,
    finished_at     timestamptz,
    CHECK (status <> 'running' OR lease_expires_at IS NOT NULL)
);
-- The claim query: queued tasks by priority, then age.
CREATE INDEX autonomous_tasks_queue_idx ON autonomous_tasks (status, priority_rank, created_at);
-- The rescuer: running tasks whose lease has expired.
CREATE INDEX autonomous_tasks_lease_idx ON autonomous_tasks (lease_expires_at)
    WHERE status = 'running';
CREATE INDEX autonomous_tasks_workflow_idx ON autonomous_tasks (workflow_id);

CREATE TABLE task_callbacks (
    id              uuid PRIMARY KEY,
    target_id       text NOT NULL,
    target_kind     text NOT NULL CHECK (target_kind IN ('task', 'workflow')),
    callback_type   text NOT NULL CHECK (callback_type IN ('slack', 'webhook', 'event')),
    config          jsonb NOT NULL DEFAULT '{}'::jsonb,
    -- A webhook's signing secret, apart from config so config can be shown safely.
    secret          text,
    active          boolean NOT NULL DEFAULT true,
    created_at      timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX task_callbacks_target_idx ON task_callbacks (target_id) WHERE active;

CREATE TABLE task_results (
    id              uuid PRIMARY KEY,
    target_id       text NOT NULL,
    target_kind     text NOT NULL CHECK (target_kind IN ('task', 'workflow')),
    -- 'result' is the cached outcome served for polling; 'artifact' a large file (diff, report).
    result_type     text NOT NULL DEFAULT 'result' CHECK (result_type IN ('result', 'artifact')),
    name            text NOT NULL DEFAULT 'result',
    status          text NOT NULL,
    content         jsonb,
    body            text,
    content_type    text NOT NULL DEFAULT 'application/json',
    size_bytes      integer NOT NULL DEFAULT 0,
    created_at      timestamptz NOT NULL DEFAULT now(),
    expires_at      timestamptz,
    UNIQUE (target_id, name)
);

CREATE TABLE monitoring_metrics (
    id              bigserial PRIMARY KEY,
    metric_name     text NOT NULL,
    metric_value    double precision NOT NULL,
    unit            text NOT NULL DEFAULT 'Count',
    dimensions      jsonb NOT NULL DEFAULT '{}'::jsonb,
    recorded_at     timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX monitoring_metrics_name_time_idx ON monitoring_metrics (metric_name, recorded_at DESC);

CREATE TABLE monitoring_alerts (
    id              bigserial PRIMARY KEY,
    alert_type      text NOT NULL,
    severity        text NOT NULL CHECK (severity IN ('info', 'warning', 'critical')),
    message         text NOT NULL,
    details         jsonb NOT NULL DEFAULT '{}'::jsonb,
    -- Alerts with one fingerprint are one condition; the cooldown is applied per fingerprint.
    fingerprint     text NOT NULL,
    status          text NOT NULL DEFAULT 'open' CHECK (status IN ('open', 'resolved')),
    notified_at     timestamptz,
    created_at      timestamptz NOT NULL DEFAULT now(),
    resolved_at     timestamptz
);
CREATE INDEX monitoring_alerts_fingerprint_idx ON monitoring_alerts (fingerprint, created_at DESC);
CREATE INDEX monitoring_alerts_open_idx ON monitoring_alerts (created_at DESC) WHERE status = 'open';

CREATE TABLE scheduled_jobs (
    id              uuid PRIMARY KEY,
    name            text NOT NULL UNIQUE,
    template        text NOT NULL,
    schedule_expression text NOT NULL,
    input           jsonb NOT NULL DEFAULT '{}'::jsonb,
    enabled         boolean NOT NULL DEFAULT true,
    schedule_arn    text,
    created_by      text NOT NULL,
    last_run_at     timestamptz,
    created_at      timestamptz NOT NULL DEFAULT now(),
    updated_at      timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE audit_log (
    id              bigserial PRIMARY KEY,
    occurred_at     timestamptz NOT NULL DEFAULT now(),
    actor           text NOT NULL,
    action          text NOT NULL,
    target          text,
    detail          jsonb NOT NULL DEFAULT '{}'::jsonb
);
CREATE INDEX audit_log_target_idx ON audit_log (target, occurred_at DESC);
CREATE INDEX audit_log_actor_idx ON audit_log (actor, occurred_at DESC);
CREATE INDEX audit_log_action_idx ON audit_log (action, occurred_at DESC);
