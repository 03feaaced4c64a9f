-- 0004_import: staging, interoperable import, the tasks API, and delayed delete.

-- The object PUT /stage wrote (status uploading, size = the staged bytes). It stays while the
-- import that consumes it runs, and goes with the import's end or the image's deletion.
ALTER TABLE images ADD COLUMN staging_url text;
-- With delayed delete: the delete_data task that removes the data of this pending_delete image
-- once its delay is over. RestoreImage cancels it; its success makes the image deleted.
ALTER TABLE images ADD COLUMN pending_delete_task_id uuid;

-- What the tasks API shows (Glance's task object). `owner` is the project of the image the task
-- is about, when the task was created; `input_json` is Glance's task input (the import request
-- body), `result` its result; the progress columns are written by RenewTask while the task
-- runs. A finished task is listed until `expires_at` (Glance's task_time_to_live).
ALTER TABLE tasks
  ADD COLUMN owner                text,
  ADD COLUMN user_id              text NOT NULL DEFAULT '',
  ADD COLUMN input_json           jsonb,
  ADD COLUMN result               jsonb,
  ADD COLUMN progress_stage       text NOT NULL DEFAULT '',
  ADD COLUMN progress_bytes_done  bigint NOT NULL DEFAULT 0,
  ADD COLUMN progress_bytes_total bigint NOT NULL DEFAULT 0,
  ADD COLUMN expires_at           timestamptz;

UPDATE tasks t SET owner = i.owner FROM images i WHERE i.id = t.image_id;
-- Tasks that finished before this migration expire 48 hours (the default) after they finished.
UPDATE tasks SET expires_at = updated_at + interval '48 hours'
  WHERE status IN ('success', 'failure');

-- GET /v2/tasks in created_at order: every task (admins) or one project's.
CREATE INDEX tasks_created_at_idx ON tasks (created_at, id);
CREATE INDEX tasks_owner_idx ON tasks (owner, created_at, id);

-- A row is published once not_before has passed: at once for most tasks, after the delay for
-- the data of a pending_delete image. The relay reads the rows that are due in this order, so
-- held rows (in the future) are never scanned.
ALTER TABLE outbox ADD COLUMN not_before timestamptz NOT NULL DEFAULT now();
CREATE INDEX outbox_not_before_idx ON outbox (not_before, id);
