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
// $1 id, $2 is_admin, $3 project -> the image (even deleted) locked FOR UPDATE, plus a last
// column `visible`.
inline constexpr char kLockImage[] = "lock_image";
// $1 id, $2 is_admin, $3 project -> one boolean row (visible?) unless missing or deleted.
inline constexpr char kMarkerVisible[] = "marker_visible";
// $1 id, $2..$12 as kInsertImage's $2..$12, $13 expected version -> the updated image.
inline constexpr char kUpdateImage[] = "update_image";
// $1 id: tombstones the image.
inline constexpr char kDeleteImage[] = "delete_image";
// $1 id: soft-deletes the members of a deleted image.
inline constexpr char kDeleteImageMembers[] = "delete_image_members";
// $1 id, $2 from status, $3 to status -> the image, when it was in $2 (compare-and-set).
inline constexpr char kChangeImageStatus[] = "change_image_status";
// $1 type, $2 image id, $3 request id, $4 input jsonb: a pending task and its outbox row.
// Returns the task id.
inline constexpr char kInsertTask[] = "insert_task";
// $1 id, $2 upload id, $3 object url, $4 holder, $5 lease seconds: queued -> saving.
// Returns the image and the lease expiry (microseconds).
inline constexpr char kBeginUpload[] = "begin_upload";
// $1 id, $2 upload id, $3 lease seconds -> the new lease expiry (microseconds).
inline constexpr char kRenewUpload[] = "renew_upload";
// $1 id, $2 upload id, $3 size, $4 checksum, $5 os_hash_algo, $6 os_hash_value,
// $7 virtual_size, $8 location jsonb: saving -> active. Returns the image.
inline constexpr char kCompleteUpload[] = "complete_upload";
// $1 id, $2 upload id: releases the upload (saving -> queued). Returns the status after.
inline constexpr char kReleaseUpload[] = "release_upload";
// $1 id, $2 upload id -> owner of the image, locked, when the upload is in progress (saving).
inline constexpr char kLockUpload[] = "lock_upload";
// $1 limit -> id, upload_id, upload_object_url, upload_holder of expired uploads,
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

// $1 task id, $2 worker, $3 lease seconds -> the task when it was claimable: pending, or
// processing under an expired lease (its worker died; the re-drive sends it again) or under
// this worker's own lease.
inline constexpr char kClaimTask[] = "claim_task";
// $1 task id -> the task.
inline constexpr char kGetTask[] = "get_task";
// $1 task id, $2 worker, $3 success, $4 message -> one row when the worker held the task.
inline constexpr char kCompleteTask[] = "complete_task";
// $1 limit, $2 redrive_after (microseconds) -> task id, type, image id, request id, status,
// lease owner, attempts of the unfinished tasks that nothing will deliver again: pending, or
// processing under an expired lease, not touched for redrive_after, and with no outbox row
// waiting. Oldest first, locked, skipping rows that another replica's re-drive holds.
inline constexpr char kLockStaleTasks[] = "lock_stale_tasks";
// $1 task ids uuid[]: queues an outbox row for each (the relay publishes it like a new task)
// and sets updated_at, which keeps the task out of kLockStaleTasks for redrive_after.
inline constexpr char kRedriveTasks[] = "redrive_tasks";

// Prepares every statement above on `conn`.
void PrepareStatements(pqxx::connection_base& conn);

}  // namespace gaze::metadata::stmt
