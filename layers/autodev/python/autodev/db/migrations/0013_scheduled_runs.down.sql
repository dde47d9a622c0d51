ALTER TABLE scheduled_jobs
    DROP CONSTRAINT IF EXISTS scheduled_jobs_name_form,
    DROP COLUMN IF EXISTS last_workflow_id,
    DROP COLUMN IF EXISTS runs,
    DROP COLUMN IF EXISTS slack_channel,
    DROP COLUMN IF EXISTS timezone;
