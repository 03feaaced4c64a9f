-- 0001_initial: images, tasks, and the outbox that feeds the task workers.
--
-- Image rows are never deleted: a deleted image stays as a tombstone (deleted = true) so that
-- its id can never be reused (OSSN-0075). Every query that serves the API filters NOT deleted,
-- hence the partial indexes.

CREATE TABLE images (
  id                uuid PRIMARY KEY,
  name              text,
  status            text NOT NULL CHECK (status IN ('queued', 'saving', 'uploading', 'importing',
                      'active', 'deactivated', 'killed', 'pending_delete', 'deleted')),
  visibility        text NOT NULL CHECK (visibility IN ('public', 'community', 'shared', 'private')),
  protected         boolean NOT NULL DEFAULT false,
  os_hidden         boolean NOT NULL DEFAULT false,
  owner             text,
  disk_format       text,
  container_format  text,
  size              bigint,
  virtual_size      bigint,
  checksum          text,
  os_hash_algo      text,
  os_hash_value     text,
  min_ram           integer NOT NULL DEFAULT 0 CHECK (min_ram >= 0),
  min_disk          integer NOT NULL DEFAULT 0 CHECK (min_disk >= 0),
  -- Free-form string properties: {"key": "value", ...}.
  properties        jsonb NOT NULL DEFAULT '{}' CHECK (jsonb_typeof(properties) = 'object'),
  tags              text[] NOT NULL DEFAULT '{}',
  -- [{"url": "...", "metadata": {"key": "value"}}, ...]
  locations         jsonb NOT NULL DEFAULT '[]' CHECK (jsonb_typeof(locations) = 'array'),
  -- Incremented by every change; UpdateImage compares and sets on it.
  version           bigint NOT NULL DEFAULT 1,
  created_at        timestamptz NOT NULL,
  updated_at        timestamptz NOT NULL,
  deleted           boolean NOT NULL DEFAULT false,
  deleted_at        timestamptz,
  -- The in-flight upload (PUT /file), owned by its holder until upload_expires_at; then the
  -- sweeper returns the image to queued and queues the removal of upload_object_url.
  upload_id         text,
  upload_object_url text,
  upload_holder     text,
  upload_expires_at timestamptz
);

-- Default list order (created_at, id), both directions, for keyset pagination.
CREATE INDEX images_created_at_id_idx ON images (created_at, id) WHERE NOT deleted;
-- "My images" (owner = project), in list order.
CREATE INDEX images_owner_idx ON images (owner, created_at, id) WHERE NOT deleted;
-- tags @> ARRAY[...] and properties @> '{...}' filters.
CREATE INDEX images_tags_idx ON images USING gin (tags);
CREATE INDEX images_properties_idx ON images USING gin (properties jsonb_path_ops);
-- The upload-lease sweeper only ever looks at the few rows with an upload in flight.
CREATE INDEX images_upload_expires_at_idx ON images (upload_expires_at) WHERE upload_id IS NOT NULL;

CREATE TABLE tasks (
  id               uuid PRIMARY KEY,
  type             text NOT NULL,
  status           text NOT NULL CHECK (status IN ('pending', 'processing', 'success', 'failure')),
  image_id         uuid REFERENCES images (id),
  -- x-openstack-request-id of the API call that caused the task.
  request_id       text NOT NULL DEFAULT '',
  input            jsonb NOT NULL DEFAULT '{}',
  message          text NOT NULL DEFAULT '',
  attempts         integer NOT NULL DEFAULT 0,
  lease_owner      text,
  lease_expires_at timestamptz,
  created_at       timestamptz NOT NULL DEFAULT now(),
  updated_at       timestamptz NOT NULL DEFAULT now()
);

CREATE INDEX tasks_image_id_idx ON tasks (image_id);

-- Tasks waiting to be published to RabbitMQ, written in the transaction that creates the task.
-- The relay deletes a row only after the broker confirmed the message.
CREATE TABLE outbox (
  id         bigserial PRIMARY KEY,
  task_id    uuid NOT NULL REFERENCES tasks (id),
  type       text NOT NULL,
  request_id text NOT NULL DEFAULT '',
  created_at timestamptz NOT NULL DEFAULT now()
);

-- Wakes the relays (LISTEN gaze_outbox) when the inserting transaction commits, so a task is
-- published at once instead of at the next poll.
CREATE FUNCTION outbox_notify() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  PERFORM pg_notify('gaze_outbox', '');
  RETURN NULL;
END
$$;

CREATE TRIGGER outbox_notify AFTER INSERT ON outbox
  FOR EACH STATEMENT EXECUTE FUNCTION outbox_notify();
