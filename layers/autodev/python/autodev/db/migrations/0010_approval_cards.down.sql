UPDATE approvals SET decided_by = NULL WHERE status NOT IN ('approved', 'rejected');
ALTER TABLE approvals DROP CONSTRAINT IF EXISTS approvals_decider_check;
ALTER TABLE approvals ADD CONSTRAINT approvals_check
    CHECK ((status IN ('approved', 'rejected')) = (decided_by IS NOT NULL));
ALTER TABLE approvals
    DROP COLUMN IF EXISTS slack_ts,
    DROP COLUMN IF EXISTS slack_channel,
    DROP COLUMN IF EXISTS summary;
