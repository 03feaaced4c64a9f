// The Glance JSON representation of images (contract §3.1) and the parsing of
// POST /v2/images bodies (§3.2). The only place that knows which keys are base attributes,
// which are read-only or reserved, and how a gaze.metadata.v1.Image looks as JSON.
#pragma once

#include <boost/json/fwd.hpp>
#include <optional>
#include <span>
#include <string>
#include <string_view>

#include "absl/status/statusor.h"
#include "gaze/metadata/v1/metadata.pb.h"
#include "services/auth/identity.h"

namespace gaze::gateway {

namespace v1 = ::gaze::metadata::v1;

// The formats Glance accepts by default ([image_format] disk_formats / container_formats).
std::span<const std::string_view> DiskFormats();
std::span<const std::string_view> ContainerFormats();

std::string_view StatusName(v1::ImageStatus status);
std::string_view VisibilityName(v1::Visibility visibility);
// False for anything that is not one of Glance's four visibilities.
bool ParseVisibility(std::string_view name, v1::Visibility* out);
bool ParseStatus(std::string_view name, v1::ImageStatus* out);

// "2026-03-01T10:00:00Z"
std::string FormatTimestamp(int64_t seconds_since_epoch);

// The image as Glance shows it: every base attribute (null when unset), links, and the
// free-form properties flattened at the top level; appended to `out` as a JSON object.
void AppendImageJson(const v1::Image& image, std::string& out);
std::string SerializeImage(const v1::Image& image);

// The body of GET /v2/images, written as the page's images come:
//   {"images": [...], "first": ..., "schema": "/v2/schemas/images"[, "next": ...]}
class ImageListWriter {
 public:
  ImageListWriter();
  // Room for `images` images of a typical size.
  void Reserve(size_t images);
  void Add(const v1::Image& image);
  bool empty() const { return images_ == 0; }
  std::string Finish(std::string_view first, std::optional<std::string_view> next) &&;

 private:
  std::string body_;
  size_t images_ = 0;
};

// How a top-level image key may be used by clients.
enum class KeyClass {
  kSettable,  // name, visibility, protected, os_hidden, owner, formats, min_*, tags
  kId,        // settable on create only
  kReadOnly,  // status, size, checksum, timestamps, ... and the server links
  kReserved,  // location, deleted, deleted_at, locations; any os_glance* key
  kExtra,     // a free-form property
};
KeyClass ClassifyKey(std::string_view key);

// Checks `value` against the image schema for the settable base attribute `key`
// (INVALID_ARGUMENT with Glance's wording otherwise) and writes it into `image`.
absl::Status SetBaseAttribute(std::string_view key, const boost::json::value& value,
                              v1::Image* image);

// Parses a create body into the image to create, with Glance's defaults (owner: the caller's
// project, visibility: shared). Errors: INVALID_ARGUMENT (400: malformed JSON, schema
// violations), PERMISSION_DENIED (403: read-only/reserved keys, another owner without being
// admin). The policy (add_image, publicize_image, communitize_image) is the caller's to apply.
absl::StatusOr<v1::Image> ParseCreateBody(std::string_view body, const auth::Identity& caller);

}  // namespace gaze::gateway
