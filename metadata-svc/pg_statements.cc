// SQL text of the named statements (see pg_statements.h). Image rows are aliased `i` and member
// rows `m` so that the shared column lists and visibility predicate apply everywhere.
#include "metadata-svc/pg_statements.h"

#include <pqxx/connection_base>
#include <string>

#include "absl/strings/str_cat.h"
#include "metadata-svc/pg_rows.h"
#include "metadata-svc/visibility_sql.h"

namespace gaze::metadata::stmt {
namespace {

constexpr char kMicros[] = "(EXTRACT(EPOCH FROM i.upload_expires_at) * 1000000)::bigint";

// Every column an upload releases, and a return to queued clears size and virtual_size
// (Glance's state machine). An upload in progress is saving, or uploading for staging; a
// deleted image keeps its status.
constexpr char kReleaseUploadSet[] =
    "status = CASE WHEN i.status IN ('saving', 'uploading') THEN 'queued' ELSE i.status END, "
    "size = CASE WHEN i.status IN ('saving', 'uploading') THEN NULL ELSE i.size END, "
    "virtual_size = CASE WHEN i.status IN ('saving', 'uploading') THEN NULL "
    "ELSE i.virtual_size END, "
    "upload_id = NULL, upload_object_url = NULL, upload_holder = NULL, "
    "upload_expires_at = NULL, version = i.version + 1, updated_at = now()";

// Ends a task (see kEndTask), with kEndTask's parameter numbers.
constexpr char kEndTaskSet[] =
    "status = CASE WHEN $2::boolean THEN 'success' ELSE 'failure' END, message = $3, "
    "result = $4::jsonb, lease_owner = NULL, lease_expires_at = NULL, "
    "expires_at = now() + $5::bigint * interval '1 second', updated_at = now()";

// Task `t` may be claimed by worker $2: pending, or processing under an expired lease or $2's
// own.
constexpr char kClaimableSql[] =
    "t.status = 'pending' OR (t.status = 'processing' AND "
    "(t.lease_expires_at < now() OR t.lease_owner = $2))";

// A finished task is listed until it expires (Glance's task_time_to_live).
constexpr char kTaskNotExpiredSql[] = "t.expires_at IS NULL OR t.expires_at > now()";

}  // namespace

void PrepareStatements(pqxx::connection_base& conn) {
  const std::string can_see = CanSeeImageSql("$2::boolean", "$3::text");
  conn.prepare(kInsertImage,
               absl::StrCat("INSERT INTO images AS i (id, name, status, visibility, protected, "
                            "os_hidden, owner, disk_format, container_format, min_ram, min_disk, "
                            "tags, properties, created_at, updated_at) "
                            "VALUES ($1::uuid, $2, 'queued', $3, $4, $5, $6, $7, $8, $9, $10, "
                            "$11::text[], $12::jsonb, now(), now()) "
                            "ON CONFLICT (id) DO NOTHING RETURNING ",
                            kImageColumns));
  conn.prepare(kGetImage, absl::StrCat("SELECT ", kImageColumns,
                                       " FROM images i WHERE i.id = $1::uuid AND ", can_see));
  conn.prepare(kLockImage, absl::StrCat("SELECT ", kImageColumns, ", ", can_see,
                                        ", COALESCE(i.staging_url, ''), "
                                        "COALESCE(i.pending_delete_task_id::text, '') "
                                        "FROM images i WHERE i.id = $1::uuid FOR UPDATE"));
  conn.prepare(
      kMarkerVisible,
      absl::StrCat("SELECT ", can_see, " FROM images i WHERE i.id = $1::uuid AND NOT i.deleted"));
  conn.prepare(kUpdateImage,
               absl::StrCat("UPDATE images i SET name = $2, visibility = $3, protected = $4, "
                            "os_hidden = $5, owner = $6, disk_format = $7, container_format = $8, "
                            "min_ram = $9, min_disk = $10, tags = $11::text[], "
                            "properties = $12::jsonb, version = i.version + 1, updated_at = now() "
                            "WHERE i.id = $1::uuid AND i.version = $13 RETURNING ",
                            kImageColumns));
  conn.prepare(kDeleteImage,
               "WITH members AS (UPDATE image_members m SET deleted = true, deleted_at = now(), "
               "updated_at = now() WHERE m.image_id = $1::uuid AND NOT m.deleted) "
               "UPDATE images i SET status = 'deleted', deleted = true, deleted_at = now(), "
               "version = i.version + 1, updated_at = now() "
               "WHERE i.id = $1::uuid AND NOT i.deleted");
  conn.prepare(kPendingDeleteImage,
               "UPDATE images i SET status = 'pending_delete', pending_delete_task_id = $2::uuid, "
               "version = i.version + 1, updated_at = now() "
               "WHERE i.id = $1::uuid AND NOT i.deleted");
  conn.prepare(kScrubImage,
               "UPDATE images i SET status = 'deleted', deleted = true, deleted_at = now(), "
               "version = i.version + 1, updated_at = now() "
               "WHERE i.id = $1::uuid AND i.status = 'pending_delete' AND NOT i.deleted "
               "AND i.pending_delete_task_id = $2::uuid RETURNING 1");
  conn.prepare(kRestoreImage,
               absl::StrCat("UPDATE images i SET status = 'active', pending_delete_task_id = NULL, "
                            "version = i.version + 1, updated_at = now() "
                            "WHERE i.id = $1::uuid AND i.status = 'pending_delete' "
                            "AND NOT i.deleted RETURNING ",
                            kImageColumns));
  // most_common_elem_freqs has three more entries than most_common_elems (minimum, maximum and
  // null frequencies): unnest pads the elements with NULLs for them.
  conn.prepare(kCommonTags,
               "SELECT u.tag FROM pg_stats s, unnest(s.most_common_elems::text::text[], "
               "s.most_common_elem_freqs) AS u(tag, frequency) "
               "WHERE s.schemaname = current_schema() AND s.tablename = 'images' "
               "AND s.attname = 'tags' AND u.tag IS NOT NULL AND u.frequency >= $1::real");
  conn.prepare(kTryLockImage,
               "SELECT 1 FROM images i WHERE i.id = $1::uuid FOR UPDATE SKIP LOCKED");
  conn.prepare(kDeleteImageMembers,
               "UPDATE image_members m SET deleted = true, deleted_at = now(), updated_at = now() "
               "WHERE m.image_id = $1::uuid AND NOT m.deleted");
  conn.prepare(kChangeImageStatus,
               absl::StrCat("UPDATE images i SET status = $3, version = i.version + 1, "
                            "updated_at = now() "
                            "WHERE i.id = $1::uuid AND i.status = $2 AND NOT i.deleted RETURNING ",
                            kImageColumns));
  conn.prepare(kInsertTask,
               "WITH t AS (INSERT INTO tasks (id, type, status, image_id, request_id, input, "
               "owner, user_id, input_json) "
               "VALUES ($1::uuid, $2, 'pending', $3::uuid, $4, $5::jsonb, $6, $7, $8::jsonb) "
               "RETURNING id, type, request_id) "
               "INSERT INTO outbox (task_id, type, request_id, not_before) "
               "SELECT id, type, request_id, now() + $9::bigint * interval '1 second' FROM t "
               "RETURNING task_id::text");
  conn.prepare(kStartImport,
               absl::StrCat("UPDATE images i SET status = 'importing', properties = i.properties "
                            "|| jsonb_build_object('",
                            kImportLockProperty,
                            "', $3::text), version = i.version + 1, updated_at = now() "
                            "WHERE i.id = $1::uuid AND i.status = $2 AND NOT i.deleted RETURNING ",
                            kImageColumns));
  conn.prepare(kImportSucceeded,
               absl::StrCat("UPDATE images i SET status = 'active', size = $2, "
                            "checksum = NULLIF($3, ''), os_hash_algo = NULLIF($4, ''), "
                            "os_hash_value = NULLIF($5, ''), virtual_size = $6, disk_format = $7, "
                            "container_format = $8, locations = jsonb_build_array($9::jsonb), "
                            "properties = $10::jsonb, staging_url = NULL, "
                            "version = i.version + 1, updated_at = now() "
                            "WHERE i.id = $1::uuid AND i.status = 'importing' AND NOT i.deleted "
                            "RETURNING ",
                            kImageColumns));
  conn.prepare(kImportReverted,
               absl::StrCat("UPDATE images i SET status = 'queued', size = NULL, "
                            "virtual_size = NULL, properties = i.properties - '",
                            kImportLockProperty,
                            "', staging_url = NULL, version = i.version + 1, updated_at = now() "
                            "WHERE i.id = $1::uuid AND i.status = 'importing' AND NOT i.deleted "
                            "RETURNING i.status"));
  conn.prepare(kBeginUpload,
               absl::StrCat("UPDATE images i SET status = $6::text, upload_id = $2, "
                            "upload_object_url = $3, upload_holder = $4, "
                            "upload_expires_at = now() + $5::integer * interval '1 second', "
                            "version = i.version + 1, updated_at = now() "
                            "WHERE i.id = $1::uuid AND i.status = 'queued' AND NOT i.deleted "
                            "RETURNING ",
                            kImageColumns, ", ", kMicros));
  conn.prepare(kRenewUpload,
               absl::StrCat("UPDATE images i SET "
                            "upload_expires_at = now() + $3::integer * interval '1 second' "
                            "WHERE i.id = $1::uuid AND i.upload_id = $2 RETURNING ",
                            kMicros));
  conn.prepare(kCompleteUpload,
               absl::StrCat("UPDATE images i SET status = 'active', size = $3, "
                            "checksum = NULLIF($4, ''), os_hash_algo = NULLIF($5, ''), "
                            "os_hash_value = NULLIF($6, ''), virtual_size = $7, "
                            "locations = jsonb_build_array($8::jsonb), upload_id = NULL, "
                            "upload_object_url = NULL, upload_holder = NULL, "
                            "upload_expires_at = NULL, version = i.version + 1, "
                            "updated_at = now() "
                            "WHERE i.id = $1::uuid AND i.upload_id = $2 AND i.status = 'saving' "
                            "RETURNING ",
                            kImageColumns));
  conn.prepare(kCompleteStaging,
               absl::StrCat("UPDATE images i SET size = $3, staging_url = $4, upload_id = NULL, "
                            "upload_object_url = NULL, upload_holder = NULL, "
                            "upload_expires_at = NULL, version = i.version + 1, "
                            "updated_at = now() "
                            "WHERE i.id = $1::uuid AND i.upload_id = $2 "
                            "AND i.status = 'uploading' RETURNING ",
                            kImageColumns));
  conn.prepare(kReleaseUpload,
               absl::StrCat("UPDATE images i SET ", kReleaseUploadSet,
                            " WHERE i.id = $1::uuid AND i.upload_id = $2 RETURNING i.status"));
  conn.prepare(kLockUpload,
               "SELECT i.owner, i.status FROM images i WHERE i.id = $1::uuid AND i.upload_id = $2 "
               "AND i.status IN ('saving', 'uploading') FOR UPDATE");
  conn.prepare(kExpiredUploads,
               "SELECT i.id::text, i.upload_id, COALESCE(i.upload_object_url, ''), "
               "COALESCE(i.upload_holder, ''), i.owner FROM images i "
               "WHERE i.upload_id IS NOT NULL AND i.upload_expires_at < now() "
               "ORDER BY i.upload_expires_at LIMIT $1 FOR UPDATE SKIP LOCKED");
  conn.prepare(
      kCountMembers,
      "SELECT count(*) FROM image_members m WHERE m.image_id = $1::uuid AND NOT m.deleted");
  conn.prepare(kAddMember,
               absl::StrCat("INSERT INTO image_members AS m (image_id, member, status, created_at, "
                            "updated_at) VALUES ($1::uuid, $2, 'pending', now(), now()) "
                            "ON CONFLICT (image_id, member) DO UPDATE SET status = 'pending', "
                            "deleted = false, deleted_at = NULL, created_at = now(), "
                            "updated_at = now() WHERE m.deleted RETURNING ",
                            kMemberColumns));
  conn.prepare(kListMembers,
               absl::StrCat("SELECT ", kMemberColumns,
                            " FROM image_members m WHERE m.image_id = $1::uuid AND NOT m.deleted "
                            "AND ($2::text IS NULL OR m.member = $2::text) "
                            "ORDER BY m.created_at, m.member"));
  conn.prepare(kUpdateMember,
               absl::StrCat("UPDATE image_members m SET status = $3, updated_at = now() "
                            "WHERE m.image_id = $1::uuid AND m.member = $2 AND NOT m.deleted "
                            "RETURNING ",
                            kMemberColumns));
  conn.prepare(kDeleteMember,
               "UPDATE image_members m SET deleted = true, deleted_at = now(), updated_at = now() "
               "WHERE m.image_id = $1::uuid AND m.member = $2 AND NOT m.deleted RETURNING 1");
  conn.prepare(kLockProjectQuota, absl::StrCat("SELECT pg_advisory_xact_lock(", kQuotaLockNamespace,
                                               ", hashtext($1::text))"));
  // Answered by an index-only scan of images_owner_usage_idx (owner, status) INCLUDE (size);
  // deleted images are not in it. Its cost grows with the project: on 1M images, 0.2 ms for a
  // project of 400 images, 9 ms for 30k, 86 ms for 300k (pages vacuumed all-visible).
  conn.prepare(kProjectUsage,
               "SELECT count(*) FILTER (WHERE i.status NOT IN ('killed', 'pending_delete')), "
               "COALESCE(sum(i.size) FILTER (WHERE i.status IN ('active', 'deactivated')), 0)"
               "::bigint, "
               "count(*) FILTER (WHERE i.status IN ('saving', 'uploading', 'importing')), "
               "COALESCE(sum(i.size) FILTER (WHERE i.status IN ('uploading', 'importing')), 0)"
               "::bigint "
               "FROM images i WHERE i.owner = $1::text AND NOT i.deleted");
  conn.prepare(kClaimTask,
               absl::StrCat("UPDATE tasks t SET status = 'processing', lease_owner = $2, "
                            "lease_expires_at = now() + $3::integer * interval '1 second', "
                            "attempts = t.attempts + 1, updated_at = now() WHERE t.id = $1::uuid "
                            "AND (",
                            kClaimableSql,
                            ") AND (t.type = 'delete_data' OR t.attempts < $4::integer) "
                            "RETURNING ",
                            kTaskColumns));
  conn.prepare(kLockTaskImage,
               absl::StrCat("SELECT ", kImageColumns,
                            " FROM images i WHERE i.id = (SELECT t.image_id FROM tasks t "
                            "WHERE t.id = $1::uuid) FOR UPDATE OF i"));
  conn.prepare(kLockTask,
               absl::StrCat("SELECT ", kTaskColumns, ", ", kClaimableSql,
                            ", COALESCE(t.lease_owner, ''), t.status IN ('pending', 'processing') "
                            "AND t.updated_at < now() - CASE WHEN t.status = 'pending' "
                            "THEN interval '120 minutes' ELSE interval '60 minutes' END "
                            "FROM tasks t WHERE t.id = $1::uuid FOR UPDATE"));
  conn.prepare(kEndTask,
               absl::StrCat("UPDATE tasks t SET ", kEndTaskSet,
                            " WHERE t.id = $1::uuid AND t.status IN ('pending', 'processing') "
                            "RETURNING t.status"));
  conn.prepare(kRenewTask,
               "UPDATE tasks t SET lease_expires_at = now() + $3::integer * interval '1 second', "
               "progress_stage = $4, progress_bytes_done = $5, progress_bytes_total = $6, "
               "message = $7, updated_at = now() "
               "WHERE t.id = $1::uuid AND t.status = 'processing' AND t.lease_owner = $2 "
               "RETURNING 1");
  conn.prepare(kDeleteTaskOutbox, "DELETE FROM outbox o WHERE o.task_id = $1::uuid");
  const std::string can_see_task = CanSeeTaskSql("$2::boolean", "$3::text");
  conn.prepare(kGetVisibleTask,
               absl::StrCat("SELECT ", kTaskColumns, " FROM tasks t WHERE t.id = $1::uuid AND (",
                            kTaskNotExpiredSql, ") AND ", can_see_task));
  conn.prepare(kTaskMarkerVisible,
               absl::StrCat("SELECT 1 FROM tasks t WHERE t.id = $1::uuid AND ", can_see_task));
  // `updated_at` is the creation time of a pending task, and the claim time or last renewal of
  // a processing one (nothing else writes it before the task finishes), so requiring it to be
  // old in both cases also spaces out re-drives of a task whose lease has long expired. The
  // status list repeats the predicate of the partial index tasks_unfinished_idx so that the
  // planner uses it.
  conn.prepare(kLockStaleTasks,
               "SELECT t.id::text, t.type, COALESCE(t.image_id::text, ''), t.request_id, "
               "t.status, COALESCE(t.lease_owner, ''), t.attempts, "
               "t.type <> 'delete_data' AND t.attempts >= $3::integer FROM tasks t "
               "WHERE t.status IN ('pending', 'processing') "
               "AND t.updated_at < now() - $2::bigint * interval '1 microsecond' "
               "AND (t.status = 'pending' OR t.lease_expires_at < now()) "
               "AND NOT EXISTS (SELECT 1 FROM outbox o WHERE o.task_id = t.id) "
               "ORDER BY t.updated_at LIMIT $1 FOR UPDATE OF t SKIP LOCKED");
  conn.prepare(kRedriveTasks,
               "WITH t AS (UPDATE tasks t SET updated_at = now() WHERE t.id = ANY($1::uuid[]) "
               "RETURNING t.id, t.type, t.request_id) "
               "INSERT INTO outbox (task_id, type, request_id) "
               "SELECT id, type, request_id FROM t");
}

}  // namespace gaze::metadata::stmt
