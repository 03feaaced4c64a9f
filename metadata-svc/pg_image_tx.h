// Steps shared by the transactions of PgImageRepository (pg_image_repository.cc for images
// and uploads, pg_image_members.cc for members): decoding and locking the image a call is
// about.
#pragma once

#include <pqxx/result>
#include <pqxx/transaction>
#include <string>

#include "absl/status/statusor.h"
#include "gaze/metadata/v1/metadata.pb.h"

namespace gaze::metadata {

// The image in the first row of `r` (kImageColumns first).
absl::StatusOr<v1::Image> DecodeFirst(const pqxx::result& r);

// Image `id` as the caller sees it: NOT_FOUND when it is missing, deleted or invisible to
// the caller.
absl::StatusOr<v1::Image> ReadVisible(pqxx::transaction_base& tx, const v1::Caller& caller,
                                      const std::string& id);

// What the images table holds about an image beyond the Image message.
struct ImageInternals {
  std::string staging_url;             // "" when nothing is staged
  std::string pending_delete_task_id;  // "" unless pending_delete
};

// Locks image `id` (FOR UPDATE) for the rest of `tx`: NOT_FOUND when it is missing, deleted or
// invisible to the caller. With `internals`, also those columns, read by the same statement.
absl::StatusOr<v1::Image> LockVisible(pqxx::work& tx, const v1::Caller& caller,
                                      const std::string& id, ImageInternals* internals = nullptr);

// LockVisible, then PERMISSION_DENIED when the caller may not modify the image.
absl::StatusOr<v1::Image> LockForModify(pqxx::work& tx, const v1::Caller& caller,
                                        const std::string& id, ImageInternals* internals = nullptr);

}  // namespace gaze::metadata
