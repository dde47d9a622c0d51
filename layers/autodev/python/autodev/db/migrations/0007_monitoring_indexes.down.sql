DROP INDEX IF EXISTS autonomous_tasks_finished_idx;
