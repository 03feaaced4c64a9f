// Reading image, member and task rows: the column lists every query selects, and their decoding.
#pragma once

#include "absl/status/status.h"
#include "gaze/metadata/v1/metadata.pb.h"

namespace pqxx {
class row;
}  // namespace pqxx

namespace gaze::metadata {

// Every column of an image, of the row aliased `i`, in the order DecodeImage expects.
// Timestamps come as microseconds since the epoch (exact; PostgreSQL stores microseconds).
inline constexpr char kImageColumns[] =
    "i.id::text, i.name, i.status, i.visibility, i.protected, i.os_hidden, i.owner, "
    "i.disk_format, i.container_format, i.size, i.virtual_size, i.checksum, i.os_hash_algo, "
    "i.os_hash_value, i.min_ram, i.min_disk, i.properties::text, to_json(i.tags)::text, "
    "i.locations::text, i.version, (EXTRACT(EPOCH FROM i.created_at) * 1000000)::bigint, "
    "(EXTRACT(EPOCH FROM i.updated_at) * 1000000)::bigint";
inline constexpr int kImageColumnCount = 22;

// Every column of an image member, of the row aliased `m`, in the order DecodeMember expects.
inline constexpr char kMemberColumns[] =
    "m.image_id::text, m.member, m.status, (EXTRACT(EPOCH FROM m.created_at) * 1000000)::bigint, "
    "(EXTRACT(EPOCH FROM m.updated_at) * 1000000)::bigint";

// Every column of a task, of the row aliased `t`, in the order DecodeTask expects.
inline constexpr char kTaskColumns[] =
    "t.id::text, t.type, t.status, COALESCE(t.image_id::text, ''), t.request_id, t.attempts, "
    "t.input::text, t.message, (EXTRACT(EPOCH FROM t.created_at) * 1000000)::bigint, "
    "(EXTRACT(EPOCH FROM t.updated_at) * 1000000)::bigint, COALESCE(t.owner, ''), t.user_id, "
    "COALESCE(t.input_json::text, ''), COALESCE(t.result::text, ''), t.progress_stage, "
    "t.progress_bytes_done, t.progress_bytes_total, "
    "(EXTRACT(EPOCH FROM t.expires_at) * 1000000)::bigint";
inline constexpr int kTaskColumnCount = 18;

// Decodes kImageColumns starting at column `first`.
absl::Status DecodeImage(const pqxx::row& row, int first, v1::Image* out);
void DecodeMember(const pqxx::row& row, v1::Member* out);
absl::Status DecodeTask(const pqxx::row& row, v1::Task* out);

// Microseconds since the epoch -> Timestamp.
void SetTimestamp(int64_t micros, google::protobuf::Timestamp* out);

}  // namespace gaze::metadata
