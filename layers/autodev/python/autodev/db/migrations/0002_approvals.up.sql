-- Approval requests of workflows waiting on a human. The Step Functions task token stays here,
-- server-side; Slack buttons and the CLI carry only the opaque approval id.
CREATE TABLE approvals (
    id              text PRIMARY KEY,
    workflow_id     uuid NOT NULL REFERENCES workflows (id) ON DELETE CASCADE,
    step_name       text NOT NULL,
    message         text NOT NULL,
    task_token      text NOT NULL UNIQUE,
    status          text NOT NULL DEFAULT 'pending'
                    CHECK (status IN ('pending', 'approved', 'rejected', 'expired', 'cancelled')),
    decided_by      text,
    decided_at      timestamptz,
    comment         text,
    requested_at    timestamptz NOT NULL DEFAULT now(),
    expires_at      timestamptz,
    CHECK ((status IN ('approved', 'rejected')) = (decided_by IS NOT NULL))
);
CREATE INDEX approvals_workflow_idx ON approvals (workflow_id, requested_at DESC);
CREATE INDEX approvals_pending_idx ON approvals (requested_at) WHERE status = 'pending';
