-- 0003_members: image sharing, and the indexes that keep lists and quota usage index-driven
-- at a million images (the plans are described in list_query.cc and pg_quota.cc).

-- Projects an image is shared with. Rows are soft-deleted so that re-adding a member revives
-- its row; they stay when the image stops being shared (they grant nothing then) and come back
-- into force when it is shared again.
CREATE TABLE image_members (
  image_id   uuid NOT NULL REFERENCES images (id),
  member     text NOT NULL CHECK (length(member) BETWEEN 1 AND 255),
  status     text NOT NULL CHECK (status IN ('pending', 'accepted', 'rejected')),
  created_at timestamptz NOT NULL,
  updated_at timestamptz NOT NULL,
  deleted    boolean NOT NULL DEFAULT false,
  deleted_at timestamptz,
  -- Also serves "the members of this image" and the visibility check "is P a member of i".
  UNIQUE (image_id, member)
);

-- "Images shared with project P" (with a member status) for P's lists.
CREATE INDEX image_members_member_idx ON image_members (member, status, image_id)
  WHERE NOT deleted;

-- The public (and community) branch of a non-admin list, in the default order.
CREATE INDEX images_visibility_idx ON images (visibility, created_at, id) WHERE NOT deleted;
-- Sorting by name (the sort expression is COALESCE(name, '')) and the name filter.
CREATE INDEX images_name_idx ON images ((COALESCE(name, '')), created_at, id) WHERE NOT deleted;
-- Exact-match filters on digests; hash indexes stay small for long hex strings.
CREATE INDEX images_checksum_idx ON images USING hash (checksum) WHERE NOT deleted;
CREATE INDEX images_os_hash_value_idx ON images USING hash (os_hash_value) WHERE NOT deleted;
-- A project's quota usage from the index alone (index-only scan).
CREATE INDEX images_owner_usage_idx ON images (owner, status) INCLUDE (size) WHERE NOT deleted;
