-- Scheduled runs: each scheduled_jobs row is one EventBridge Scheduler schedule (its name is
-- the row's name) that starts the template's state machine; the local stack's ticker fires
-- the same schedules.
ALTER TABLE scheduled_jobs
    -- The IANA time zone cron(...) and at(...) are read in (EventBridge's
    -- ScheduleExpressionTimezone).
    ADD COLUMN timezone         text NOT NULL DEFAULT 'UTC',
    -- Where a run is announced and its result posted: the channel that scheduled it.
    ADD COLUMN slack_channel    text,
    ADD COLUMN runs             integer NOT NULL DEFAULT 0 CHECK (runs >= 0),
    ADD COLUMN last_workflow_id uuid,
    ADD CONSTRAINT scheduled_jobs_name_form CHECK (name ~ '^[0-9A-Za-z_.-]{1,64}$');
