// The named SQL statements of metadata-svc, prepared once on every pooled connection.
// Parameters are documented next to each name as $n:type.
#pragma once

namespace pqxx {
class connection_base;
}  // namespace pqxx

namespace gaze::metadata::stmt {

// $1 id, $2 name, $3 visibility, $4 protected, $5 os_hidden, $6 owner, $7 disk_format,
// $8 container_format, $9 min_ram, $10 min_disk, $11 tags text[], $12 properties jsonb.
// Returns the image, or no row when the id is taken (also by a deleted image).
inline constexpr char kInsertImage[] = "insert_image";
// $1 id, $2 is_admin, $3 project -> the image when the caller can see it.
inline constexpr char kGetImage[] = "get_image";
// $1 id, $2 is_admin, $3 project -> the image (even deleted) locked FOR UPDATE, then the
// columns `visible`, the staging url and the pending delete task id ("" when none).
inline constexpr char kLockImage[] = "lock_image";
// $1 id, $2 is_admin, $3 project -> one boolean row (visible?) unless missing or deleted.
inline constexpr char kMarkerVisible[] = "marker_visible";
// $1 id, $2..$12 as kInsertImage's $2..$12, $13 expected version -> the updated image.
inline constexpr char kUpdateImage[] = "update_image";
// $1 id: tombstones the image and its members.
inline constexpr char kDeleteImage[] = "delete_image";
// $1 id, $2 delete_data task id: the image waits in pending_delete for that task (delayed
// delete).
inline constexpr char kPendingDeleteImage[] = "pending_delete_image";
// $1 id, $2 task id: pending_delete -> deleted, when $2 is the image's pending delete. One row
// when it was.
inline constexpr char kScrubImage[] = "scrub_image";
// $1 id: pending_delete -> active, forgetting the pending delete. Returns the image.
inline constexpr char kRestoreImage[] = "restore_image";
// $1 minimum frequency -> the tags PostgreSQL's statistics find on at least that share of the
// images (pg_stats.most_common_elems of images.tags), one per row.
inline constexpr char kCommonTags[] = "common_tags";
// $1 id -> one row when the image exists and no other transaction holds its row; the row is
// then locked (SKIP LOCKED, for background jobs that lock a task first).
inline constexpr char kTryLockImage[] = "try_lock_image";
// $1 id: soft-deletes the members of a deleted image.
inline constexpr char kDeleteImageMembers[] = "delete_image_members";
// $1 id, $2 from status, $3 to status -> the image, when it was in $2 (compare-and-set).
inline constexpr char kChangeImageStatus[] = "change_image_status";
// $1 task id, $2 type, $3 image id, $4 request id, $5 input jsonb, $6 owner, $7 user id,
// $8 Glance input jsonb (NULL for none), $9 delay seconds: a pending task and its outbox row,
// due for publishing after the delay. Returns the task id.
inline constexpr char kInsertTask[] = "insert_task";

// The import lock (Glance's): the image property naming the import task that holds it.
inline constexpr char kImportLockProperty[] = "os_glance_import_task";
// $1 id, $2 status before, $3 task id: $2 -> importing, taking the import lock for task $3.
// Returns the image.
inline constexpr char kStartImport[] = "start_import";
// $1 id, $2 size, $3 checksum, $4 os_hash_algo, $5 os_hash_value, $6 virtual_size,
// $7 disk_format, $8 container_format, $9 location jsonb, $10 properties jsonb: importing ->
// active with the imported data; the staging object is forgotten. Returns the image.
inline constexpr char kImportSucceeded[] = "import_succeeded";
// $1 id: importing -> queued, dropping the import lock, the size and the staging object.
// Returns the status after.
inline constexpr char kImportReverted[] = "import_reverted";
// $1 id, $2 upload id, $3 object url, $4 holder, $5 lease seconds, $6 status ('saving' for an
// upload, 'uploading' for staging): queued -> $6. Returns the image and the lease expiry
// (microseconds).
inline constexpr char kBeginUpload[] = "begin_upload";
// $1 id, $2 upload id, $3 lease seconds -> the new lease expiry (microseconds).
inline constexpr char kRenewUpload[] = "renew_upload";
// $1 id, $2 upload id, $3 size, $4 checksum, $5 os_hash_algo, $6 os_hash_value,
// $7 virtual_size, $8 location jsonb: saving -> active. Returns the image.
inline constexpr char kCompleteUpload[] = "complete_upload";
// $1 id, $2 upload id, $3 size, $4 staging url: the staging upload is done; the image stays
// uploading with its staged size and object. Returns the image.
inline constexpr char kCompleteStaging[] = "complete_staging";
// $1 id, $2 upload id: releases the upload (saving or uploading -> queued). Returns the status
// after.
inline constexpr char kReleaseUpload[] = "release_upload";
// $1 id, $2 upload id -> owner and status of the image, locked, when the upload is in progress
// (saving, or uploading for staging).
inline constexpr char kLockUpload[] = "lock_upload";
// $1 limit -> id, upload_id, upload_object_url, upload_holder, owner of expired uploads,
// locked, skipping rows other sweepers hold.
inline constexpr char kExpiredUploads[] = "expired_uploads";
// $1 image id -> the number of its live members.
inline constexpr char kCountMembers[] = "count_members";
// $1 image id, $2 member: a new pending member, or a deleted one revived as pending.
// Returns the member; no row when it is a live member already.
inline constexpr char kAddMember[] = "add_member";
// $1 image id, $2 member or NULL -> the live members of the image (only $2 unless NULL),
// oldest first.
inline constexpr char kListMembers[] = "list_members";
// $1 image id, $2 member, $3 status -> the updated member, when live.
inline constexpr char kUpdateMember[] = "update_member";
// $1 image id, $2 member: soft-deletes a live member; one row when there was one.
inline constexpr char kDeleteMember[] = "delete_member";

// The per-project quota lock is the transaction-scoped advisory lock with the two-integer key
// (kQuotaLockNamespace, hashtext(project)). PostgreSQL keeps two-integer keys apart from the
// single bigint keys (the migration lock), and the namespace keeps them apart from other
// users of two-integer keys. The bytes spell "gzqt".
inline constexpr int kQuotaLockNamespace = 0x677a7174;
// $1 project: waits for and takes the project's quota lock until the transaction ends.
inline constexpr char kLockProjectQuota[] = "lock_project_quota";
// $1 project -> count_total, size_bytes, count_uploading, stage_bytes (see quotas.h).
inline constexpr char kProjectUsage[] = "project_usage";

// $1 task id, $2 worker, $3 lease seconds, $4 max attempts -> the task when it was claimable:
// pending, or processing under an expired lease (its worker died; the re-drive sends it again)
// or under this worker's own lease; and, unless it deletes data, claimed fewer than $4 times.
inline constexpr char kClaimTask[] = "claim_task";
// $1 task id -> the task's image (deleted or not) locked FOR UPDATE, without locking the task;
// no row when the task does not exist or has no image.
inline constexpr char kLockTaskImage[] = "lock_task_image";
// $1 task id, $2 worker -> the task locked FOR UPDATE, then `claimable` (as kClaimTask sees it
// for worker $2, attempts aside), the lease owner ("" when none), and `lock_stale`: unfinished
// but silent so long (60 minutes processing, 120 pending) that its import lock may be broken.
inline constexpr char kLockTask[] = "lock_task";
// $1 task id, $2 success, $3 message, $4 result jsonb (NULL for none), $5 time to live
// seconds: ends an unfinished task, clearing its lease; it is listed until the time to live is
// over. Returns the status after.
inline constexpr char kEndTask[] = "end_task";
// $1 task id, $2 worker, $3 lease seconds, $4 stage, $5 bytes done, $6 bytes total,
// $7 message: extends the lease of a task processing under $2's lease and records its
// progress. One row when it was.
inline constexpr char kRenewTask[] = "renew_task";
// $1 task id: drops the task's outbox rows (a cancelled task needs no message).
inline constexpr char kDeleteTaskOutbox[] = "delete_task_outbox";
// $1 task id, $2 is_admin, $3 project -> the task unless it expired or the caller may not see
// it: admins see every task, a project the non-internal tasks it owns.
inline constexpr char kGetVisibleTask[] = "get_visible_task";
// $1 task id, $2 is_admin, $3 project -> one row when the task exists and the caller may see
// it (expired or not; a list marker).
inline constexpr char kTaskMarkerVisible[] = "task_marker_visible";
// $1 limit, $2 redrive_after (microseconds), $3 max attempts -> task id, type, image id,
// request id, status, lease owner, attempts, gives_up of the unfinished tasks that nothing
// will deliver again: pending, or processing under an expired lease, not touched for
// redrive_after, and with no outbox row waiting. Oldest first, locked, skipping rows that
// another replica's re-drive holds. `gives_up`: the task has been claimed $3 times and does
// not delete data; it is failed instead of re-driven.
inline constexpr char kLockStaleTasks[] = "lock_stale_tasks";
// $1 task ids uuid[]: queues an outbox row for each (the relay publishes it like a new task)
// and sets updated_at, which keeps the task out of kLockStaleTasks for redrive_after.
inline constexpr char kRedriveTasks[] = "redrive_tasks";

// Prepares every statement above on `conn`.
void PrepareStatements(pqxx::connection_base& conn);

}  // namespace gaze::metadata::stmt
