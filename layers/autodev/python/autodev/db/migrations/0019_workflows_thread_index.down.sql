DROP INDEX IF EXISTS workflows_thread_idx;
