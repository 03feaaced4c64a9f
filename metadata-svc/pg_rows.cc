// Row decoding for kImageColumns / kMemberColumns / kTaskColumns.
#include "metadata-svc/pg_rows.h"

#include <pqxx/row>
#include <string_view>
#include <type_traits>

#include "metadata-svc/enums.h"
#include "metadata-svc/json_codec.h"

namespace gaze::metadata {
namespace {

// A column's text where it lies in the result, for the hot DecodeImage: as<std::string>()
// would copy it into a temporary first.
std::string_view Text(const pqxx::field& f) { return {f.c_str(), f.size()}; }

// Sets an optional proto field from a nullable column.
template <typename T, typename Setter>
void SetIfNotNull(const pqxx::row& row, int col, Setter set) {
  const pqxx::field f = row[col];
  if (f.is_null()) return;
  if constexpr (std::is_same_v<T, std::string_view>) {
    set(Text(f));
  } else {
    set(f.as<T>());
  }
}

}  // namespace

void SetTimestamp(int64_t micros, google::protobuf::Timestamp* out) {
  int64_t secs = micros / 1000000;
  int64_t rem = micros % 1000000;
  if (rem < 0) {  // before 1970: nanos must stay non-negative
    rem += 1000000;
    --secs;
  }
  out->set_seconds(secs);
  out->set_nanos(static_cast<int32_t>(rem * 1000));
}

absl::Status DecodeImage(const pqxx::row& row, int c, v1::Image* out) {
  const std::string_view id = Text(row[c + 0]);
  out->set_id(id.data(), id.size());
  SetIfNotNull<std::string_view>(row, c + 1,
                                 [&](std::string_view v) { out->set_name(v.data(), v.size()); });
  out->set_status(ParseImageStatus(Text(row[c + 2])));
  out->set_visibility(ParseVisibility(Text(row[c + 3])));
  out->set_protected_(row[c + 4].as<bool>());
  out->set_os_hidden(row[c + 5].as<bool>());
  SetIfNotNull<std::string_view>(row, c + 6,
                                 [&](std::string_view v) { out->set_owner(v.data(), v.size()); });
  SetIfNotNull<std::string_view>(
      row, c + 7, [&](std::string_view v) { out->set_disk_format(v.data(), v.size()); });
  SetIfNotNull<std::string_view>(
      row, c + 8, [&](std::string_view v) { out->set_container_format(v.data(), v.size()); });
  SetIfNotNull<int64_t>(row, c + 9, [&](int64_t v) { out->set_size(v); });
  SetIfNotNull<int64_t>(row, c + 10, [&](int64_t v) { out->set_virtual_size(v); });
  SetIfNotNull<std::string_view>(
      row, c + 11, [&](std::string_view v) { out->set_checksum(v.data(), v.size()); });
  SetIfNotNull<std::string_view>(
      row, c + 12, [&](std::string_view v) { out->set_os_hash_algo(v.data(), v.size()); });
  SetIfNotNull<std::string_view>(
      row, c + 13, [&](std::string_view v) { out->set_os_hash_value(v.data(), v.size()); });
  out->set_min_ram(row[c + 14].as<int32_t>());
  out->set_min_disk(row[c + 15].as<int32_t>());
  if (absl::Status s = PropertiesFromJson(Text(row[c + 16]), out->mutable_properties()); !s.ok()) {
    return s;
  }
  if (absl::Status s = StringsFromJson(Text(row[c + 17]), out->mutable_tags()); !s.ok()) {
    return s;
  }
  if (absl::Status s = LocationsFromJson(Text(row[c + 18]), out->mutable_locations()); !s.ok()) {
    return s;
  }
  out->set_version(row[c + 19].as<int64_t>());
  SetTimestamp(row[c + 20].as<int64_t>(), out->mutable_created_at());
  SetTimestamp(row[c + 21].as<int64_t>(), out->mutable_updated_at());
  return absl::OkStatus();
}

void DecodeMember(const pqxx::row& row, v1::Member* out) {
  out->set_image_id(row[0].as<std::string>());
  out->set_member_id(row[1].as<std::string>());
  out->set_status(ParseMemberStatus(row[2].as<std::string>()));
  SetTimestamp(row[3].as<int64_t>(), out->mutable_created_at());
  SetTimestamp(row[4].as<int64_t>(), out->mutable_updated_at());
}

absl::Status DecodeTask(const pqxx::row& row, v1::Task* out) {
  out->set_id(row[0].as<std::string>());
  out->set_type(ParseTaskType(row[1].as<std::string>()));
  out->set_status(ParseTaskStatus(row[2].as<std::string>()));
  out->set_image_id(row[3].as<std::string>());
  out->set_request_id(row[4].as<std::string>());
  out->set_attempts(row[5].as<int32_t>());
  absl::Status input_decoded;
  switch (out->type()) {
    case v1::TASK_TYPE_DELETE_DATA:
      input_decoded = DeleteDataInputFromJson(row[6].c_str(), out->mutable_delete_data());
      break;
    case v1::TASK_TYPE_IMPORT:
      input_decoded = ImportInputFromJson(row[6].c_str(), out->mutable_import());
      break;
    default:
      break;
  }
  if (!input_decoded.ok()) return input_decoded;
  out->set_message(row[7].as<std::string>());
  SetTimestamp(row[8].as<int64_t>(), out->mutable_created_at());
  SetTimestamp(row[9].as<int64_t>(), out->mutable_updated_at());
  out->set_owner(row[10].as<std::string>());
  out->set_user_id(row[11].as<std::string>());
  out->set_input_json(row[12].as<std::string>());
  out->set_result_json(row[13].as<std::string>());
  out->mutable_progress()->set_stage(row[14].as<std::string>());
  out->mutable_progress()->set_bytes_done(row[15].as<int64_t>());
  out->mutable_progress()->set_bytes_total(row[16].as<int64_t>());
  SetIfNotNull<int64_t>(row, 17, [&](int64_t v) { SetTimestamp(v, out->mutable_expires_at()); });
  return absl::OkStatus();
}

}  // namespace gaze::metadata
