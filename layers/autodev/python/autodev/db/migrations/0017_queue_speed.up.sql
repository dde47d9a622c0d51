-- The queue, made cheaper to claim from and to update.
--
-- Claims read a partial index holding only the queued tasks, in claim order (priority, then
-- age). It replaces the index on (status, priority_rank, created_at), which kept an entry for
-- every task ever run and took a new one at every change of any task's row.
DROP INDEX IF EXISTS autonomous_tasks_queue_idx;
CREATE INDEX autonomous_tasks_claim_idx ON autonomous_tasks (priority_rank, created_at)
    WHERE status = 'queued';

-- A task's row is updated several times in its life (claimed, its lease renewed, its usage
-- added, finished); room left on each page keeps the new versions beside the old ones, and
-- updates of columns no index holds (usage, heartbeats) need no index entry at all.
ALTER TABLE autonomous_tasks SET (fillfactor = 70);

-- What a worker is doing, for the scaler: 'finishing' is a worker that has recorded its
-- task's outcome and is telling Step Functions; it claims the next task straight after, so
-- the scaler counts it as capacity, as it does an idle one, and not a busy one.
ALTER TABLE orchestrator_workers DROP CONSTRAINT IF EXISTS orchestrator_workers_status_check;
ALTER TABLE orchestrator_workers ADD CONSTRAINT orchestrator_workers_status_check
    CHECK (status IN ('idle', 'busy', 'finishing', 'stopped'));
