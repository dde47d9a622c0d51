-- What an approver decides from, and where the card that asks them was posted.
-- summary: the typed approval summary (autodev.workflows.approval_summary.ApprovalSummary):
-- what will be deployed and what the validation found. slack_channel / slack_ts: the Slack
-- message of the approval card, edited when the approval is decided, expires or is cancelled.
ALTER TABLE approvals
    ADD COLUMN summary       jsonb,
    ADD COLUMN slack_channel text,
    ADD COLUMN slack_ts      text;

-- A cancelled approval now records who cancelled it (decided_by) and when (decided_at);
-- an approved or rejected one still must name who decided.
ALTER TABLE approvals DROP CONSTRAINT approvals_check;
ALTER TABLE approvals ADD CONSTRAINT approvals_decider_check
    CHECK (status NOT IN ('approved', 'rejected') OR decided_by IS NOT NULL);
