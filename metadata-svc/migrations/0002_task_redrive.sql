-- 0002_task_redrive: indexes for the task re-drive (see task_redriver.h).
--
-- Every few seconds each replica looks for unfinished tasks that no message will deliver again
-- and queues a new outbox row for them. Finished tasks are kept forever and outnumber the
-- unfinished ones by far, so the lookup goes through a partial index that holds only the tasks
-- in flight, in the order the re-drive takes them.
CREATE INDEX tasks_unfinished_idx ON tasks (updated_at) WHERE status IN ('pending', 'processing');

-- "Is a message for this task already waiting?" The outbox is nearly empty while RabbitMQ is
-- up, but it grows for as long as the broker is unreachable.
CREATE INDEX outbox_task_id_idx ON outbox (task_id);
