-- The orchestrator's additions: why a task failed (as a Step Functions error name), whether its
-- outcome has reached Step Functions, the turns it took, the provider it ran on, and the
-- worker instances that are running (for `autodev orchestrator`).

ALTER TABLE autonomous_tasks
    ADD COLUMN error_code      text,
    ADD COLUMN outcome_sent_at timestamptz,
    ADD COLUMN turns           integer NOT NULL DEFAULT 0 CHECK (turns >= 0),
    ADD COLUMN model_provider  text;

-- The outbox of outcomes not yet sent to Step Functions (the rescuer re-sends them).
CREATE INDEX autonomous_tasks_outcome_pending_idx ON autonomous_tasks (finished_at)
    WHERE task_token IS NOT NULL AND outcome_sent_at IS NULL
      AND status IN ('succeeded', 'failed', 'dead', 'cancelled');

CREATE TABLE orchestrator_workers (
    id              text PRIMARY KEY,
    launcher        text NOT NULL,
    host            text NOT NULL,
    pid             integer,
    status          text NOT NULL DEFAULT 'idle'
                    CHECK (status IN ('idle', 'busy', 'stopped')),
    current_task_id uuid,
    tasks_done      integer NOT NULL DEFAULT 0,
    tasks_failed    integer NOT NULL DEFAULT 0,
    started_at      timestamptz NOT NULL DEFAULT now(),
    last_seen_at    timestamptz NOT NULL DEFAULT now(),
    stopped_at      timestamptz,
    exit_reason     text
);
CREATE INDEX orchestrator_workers_live_idx ON orchestrator_workers (last_seen_at DESC)
    WHERE status <> 'stopped';
