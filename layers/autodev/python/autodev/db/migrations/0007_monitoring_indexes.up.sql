-- The monitoring dashboard counts and costs the tasks that finished in a window of hours;
-- without this index that is a scan of every task ever run.
CREATE INDEX autonomous_tasks_finished_idx ON autonomous_tasks (finished_at)
    WHERE finished_at IS NOT NULL;
