-- Nothing stranded: where a workflow came from, when the reconciler last compared it with its
-- execution, and whether Step Functions took a task's outcome or refused it (the token was gone).

-- cli, slack, api (start_workflow called by other code), or stepfunctions: an execution started
-- in Step Functions directly (console, EventBridge, another service), registered on first sight.
ALTER TABLE workflows
    ADD COLUMN started_by    text NOT NULL DEFAULT 'api'
                             CHECK (started_by IN ('cli', 'slack', 'api', 'stepfunctions')),
    ADD COLUMN reconciled_at timestamptz;
-- The reconciler visits active workflows least recently checked first.
CREATE INDEX workflows_reconcile_idx ON workflows (coalesce(reconciled_at, created_at))
    WHERE status IN ('pending', 'running', 'waiting_approval');

-- NULL: Step Functions accepted the outcome (outcome_sent_at says when). Otherwise the error it
-- answered with (InvalidToken, TaskDoesNotExist, TaskTimedOut): nobody was waiting any more.
ALTER TABLE autonomous_tasks ADD COLUMN outcome_refused text;
