#include "api-gateway/image_json.h"

#include <array>
#include <boost/json.hpp>
#include <ctime>

#include "services/common/ids.h"

namespace gaze::gateway {
namespace {

namespace json = boost::json;

constexpr std::array<std::string_view, 11> kDiskFormats = {
    "ami", "ari", "aki", "vhd", "vhdx", "vmdk", "raw", "qcow2", "vdi", "iso", "ploop"};
constexpr std::array<std::string_view, 8> kContainerFormats = {
    "ami", "ari", "aki", "bare", "ovf", "ova", "docker", "compressed"};

json::string_view Js(std::string_view s) { return json::string_view(s.data(), s.size()); }
std::string_view Sv(json::string_view s) { return std::string_view(s.data(), s.size()); }

bool Contains(std::span<const std::string_view> list, std::string_view v) {
  for (std::string_view x : list) {
    if (x == v) return true;
  }
  return false;
}

absl::Status SchemaError(std::string_view key, std::string_view why) {
  return absl::InvalidArgumentError("Provided object does not match schema 'image': " +
                                    std::string(why) + " (attribute '" + std::string(key) + "')");
}

absl::Status StringOrNull(std::string_view key, const json::value& v, size_t max_len,
                          std::span<const std::string_view> allowed, bool* has, std::string* out) {
  if (v.is_null()) {
    *has = false;
    return absl::OkStatus();
  }
  if (!v.is_string()) return SchemaError(key, "must be a string or null");
  std::string_view s = Sv(v.as_string());
  if (s.size() > max_len) return SchemaError(key, "is too long");
  if (!allowed.empty() && !Contains(allowed, s)) {
    return SchemaError(key, "'" + std::string(s) + "' is not one of the allowed values");
  }
  *has = true;
  *out = std::string(s);
  return absl::OkStatus();
}

absl::Status NonNegativeInt(std::string_view key, const json::value& v, int32_t* out) {
  if (!v.is_int64() && !v.is_uint64()) return SchemaError(key, "must be an integer");
  int64_t n = v.is_int64() ? v.as_int64()
                           : static_cast<int64_t>(std::min<uint64_t>(v.as_uint64(), INT64_MAX));
  if (n < 0)
    return absl::InvalidArgumentError("Cannot set " + std::string(key) + " to a negative value");
  if (n > INT32_MAX) return SchemaError(key, "is too large");
  *out = static_cast<int32_t>(n);
  return absl::OkStatus();
}

}  // namespace

std::span<const std::string_view> DiskFormats() { return kDiskFormats; }
std::span<const std::string_view> ContainerFormats() { return kContainerFormats; }

std::string_view StatusName(v1::ImageStatus status) {
  switch (status) {
    case v1::IMAGE_STATUS_QUEUED:
      return "queued";
    case v1::IMAGE_STATUS_SAVING:
      return "saving";
    case v1::IMAGE_STATUS_UPLOADING:
      return "uploading";
    case v1::IMAGE_STATUS_IMPORTING:
      return "importing";
    case v1::IMAGE_STATUS_ACTIVE:
      return "active";
    case v1::IMAGE_STATUS_DEACTIVATED:
      return "deactivated";
    case v1::IMAGE_STATUS_KILLED:
      return "killed";
    case v1::IMAGE_STATUS_PENDING_DELETE:
      return "pending_delete";
    case v1::IMAGE_STATUS_DELETED:
      return "deleted";
    default:
      return "queued";
  }
}

bool ParseStatus(std::string_view name, v1::ImageStatus* out) {
  for (int s = v1::IMAGE_STATUS_QUEUED; s <= v1::IMAGE_STATUS_DELETED; ++s) {
    auto status = static_cast<v1::ImageStatus>(s);
    if (StatusName(status) == name) {
      *out = status;
      return true;
    }
  }
  return false;
}

std::string_view VisibilityName(v1::Visibility visibility) {
  switch (visibility) {
    case v1::VISIBILITY_PUBLIC:
      return "public";
    case v1::VISIBILITY_COMMUNITY:
      return "community";
    case v1::VISIBILITY_PRIVATE:
      return "private";
    default:
      return "shared";
  }
}

bool ParseVisibility(std::string_view name, v1::Visibility* out) {
  for (auto v : {v1::VISIBILITY_PUBLIC, v1::VISIBILITY_COMMUNITY, v1::VISIBILITY_SHARED,
                 v1::VISIBILITY_PRIVATE}) {
    if (VisibilityName(v) == name) {
      *out = v;
      return true;
    }
  }
  return false;
}

std::string FormatTimestamp(int64_t seconds) {
  std::time_t t = static_cast<std::time_t>(seconds);
  std::tm tm{};
  gmtime_r(&t, &tm);
  char buf[32];
  std::strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%SZ", &tm);
  return buf;
}

json::object ImageToJson(const v1::Image& image, json::storage_ptr sp) {
  // Every value is made in the object's storage, so that with a monotonic_resource (the list
  // page, SerializeImage) nothing is copied across resources and nothing is freed one by one.
  auto str = [&sp](std::string_view v) { return json::value(Js(v), sp); };
  auto opt = [&sp](bool has, const std::string& v) {
    return has ? json::value(Js(v), sp) : json::value(nullptr, sp);
  };
  json::object o(sp);
  o.reserve(24 + static_cast<size_t>(image.properties_size()));
  // Free-form properties first, so that base attributes always win (they cannot collide:
  // create and PATCH refuse base names as property keys).
  for (const auto& [key, value] : image.properties()) o[Js(key)] = str(value);
  o["id"] = str(image.id());
  o["name"] = opt(image.has_name(), image.name());
  o["status"] = str(StatusName(image.status()));
  o["visibility"] = str(VisibilityName(image.visibility()));
  o["protected"] = image.protected_();
  o["os_hidden"] = image.os_hidden();
  o["owner"] = opt(image.has_owner(), image.owner());
  o["disk_format"] = opt(image.has_disk_format(), image.disk_format());
  o["container_format"] = opt(image.has_container_format(), image.container_format());
  o["size"] = image.has_size() ? json::value(image.size(), sp) : json::value(nullptr, sp);
  o["virtual_size"] =
      image.has_virtual_size() ? json::value(image.virtual_size(), sp) : json::value(nullptr, sp);
  o["checksum"] = opt(image.has_checksum(), image.checksum());
  o["os_hash_algo"] = opt(image.has_os_hash_algo(), image.os_hash_algo());
  o["os_hash_value"] = opt(image.has_os_hash_value(), image.os_hash_value());
  o["min_ram"] = image.min_ram();
  o["min_disk"] = image.min_disk();
  json::array tags(sp);
  tags.reserve(static_cast<size_t>(image.tags_size()));
  for (const std::string& t : image.tags()) tags.emplace_back(Js(t));
  o["tags"] = std::move(tags);
  o["created_at"] = str(FormatTimestamp(image.created_at().seconds()));
  o["updated_at"] = str(FormatTimestamp(image.updated_at().seconds()));
  std::string self = "/v2/images/" + image.id();
  o["self"] = str(self);
  o["file"] = str(self + "/file");
  o["schema"] = "/v2/schemas/image";
  return o;
}

std::string SerializeImage(const v1::Image& image) {
  json::monotonic_resource mr(4096);
  return json::serialize(ImageToJson(image, &mr));
}

KeyClass ClassifyKey(std::string_view key) {
  static constexpr std::array<std::string_view, 10> kSettable = {
      "name",        "visibility",       "protected", "os_hidden", "owner",
      "disk_format", "container_format", "min_ram",   "min_disk",  "tags"};
  static constexpr std::array<std::string_view, 14> kReadOnly = {
      "created_at",   "updated_at",   "status",        "checksum", "size",
      "virtual_size", "os_hash_algo", "os_hash_value", "self",     "file",
      "schema",       "direct_url",   "stores",        "deleted"};
  static constexpr std::array<std::string_view, 3> kReserved = {"location", "deleted_at",
                                                                "locations"};
  if (key == "id") return KeyClass::kId;
  if (Contains(kSettable, key)) return KeyClass::kSettable;
  if (Contains(kReadOnly, key)) return KeyClass::kReadOnly;
  if (Contains(kReserved, key) || key.substr(0, 9) == "os_glance") return KeyClass::kReserved;
  return KeyClass::kExtra;
}

absl::Status SetBaseAttribute(std::string_view key, const json::value& v, v1::Image* image) {
  bool has = false;
  std::string s;
  if (key == "name" || key == "owner" || key == "disk_format" || key == "container_format") {
    std::span<const std::string_view> allowed;
    if (key == "disk_format") allowed = kDiskFormats;
    if (key == "container_format") allowed = kContainerFormats;
    if (absl::Status st = StringOrNull(key, v, 255, allowed, &has, &s); !st.ok()) return st;
    if (key == "name") has ? image->set_name(s) : image->clear_name();
    if (key == "owner") has ? image->set_owner(s) : image->clear_owner();
    if (key == "disk_format") has ? image->set_disk_format(s) : image->clear_disk_format();
    if (key == "container_format") {
      has ? image->set_container_format(s) : image->clear_container_format();
    }
    return absl::OkStatus();
  }
  if (key == "visibility") {
    v1::Visibility vis;
    if (!v.is_string() || !ParseVisibility(Sv(v.as_string()), &vis)) {
      return SchemaError(key, "must be one of community, public, private, shared");
    }
    image->set_visibility(vis);
    return absl::OkStatus();
  }
  if (key == "protected" || key == "os_hidden") {
    if (!v.is_bool()) return SchemaError(key, "must be a boolean");
    key == "protected" ? image->set_protected_(v.as_bool()) : image->set_os_hidden(v.as_bool());
    return absl::OkStatus();
  }
  if (key == "min_ram" || key == "min_disk") {
    int32_t n = 0;
    if (absl::Status st = NonNegativeInt(key, v, &n); !st.ok()) return st;
    key == "min_ram" ? image->set_min_ram(n) : image->set_min_disk(n);
    return absl::OkStatus();
  }
  if (key == "tags") {
    if (!v.is_array()) return SchemaError(key, "must be an array");
    image->clear_tags();
    for (const json::value& t : v.as_array()) {
      if (!t.is_string()) return SchemaError(key, "items must be strings");
      std::string_view tag = Sv(t.as_string());
      if (tag.size() > 255) return SchemaError(key, "item is too long");
      bool seen = false;
      for (const std::string& existing : image->tags()) seen = seen || existing == tag;
      if (!seen) image->add_tags(std::string(tag));
    }
    return absl::OkStatus();
  }
  return absl::InvalidArgumentError("not a settable attribute: " + std::string(key));
}

absl::StatusOr<v1::Image> ParseCreateBody(std::string_view body, const auth::Identity& caller) {
  boost::system::error_code ec;
  json::value root = json::parse(Js(body), ec);
  if (ec) return absl::InvalidArgumentError("Malformed JSON in request body.");
  if (!root.is_object()) return absl::InvalidArgumentError("Body must be a JSON object.");
  v1::Image image;
  for (const auto& [jkey, value] : root.as_object()) {
    std::string_view key = Sv(jkey);
    switch (ClassifyKey(key)) {
      case KeyClass::kId:
        if (!value.is_string() || !IsUuid(Sv(value.as_string()))) {
          return SchemaError(key, "does not match the UUID pattern");
        }
        image.set_id(std::string(Sv(value.as_string())));
        break;
      case KeyClass::kSettable:
        if (absl::Status st = SetBaseAttribute(key, value, &image); !st.ok()) return st;
        break;
      case KeyClass::kReadOnly:
        return absl::PermissionDeniedError("Attribute '" + std::string(key) + "' is read-only.");
      case KeyClass::kReserved:
        return absl::PermissionDeniedError("Attribute '" + std::string(key) + "' is reserved.");
      case KeyClass::kExtra:
        if (key.size() > 255) return SchemaError(key.substr(0, 64), "property name is too long");
        if (!value.is_string()) return SchemaError(key, "extra properties must be strings");
        (*image.mutable_properties())[std::string(key)] = std::string(Sv(value.as_string()));
        break;
    }
  }
  if (image.has_owner() && image.owner() != caller.project_id && !caller.is_admin) {
    return absl::PermissionDeniedError("You are not permitted to create images owned by '" +
                                       image.owner() + "'.");
  }
  if (!image.has_owner()) image.set_owner(caller.project_id);
  if (image.visibility() == v1::VISIBILITY_UNSPECIFIED) image.set_visibility(v1::VISIBILITY_SHARED);
  return image;
}

}  // namespace gaze::gateway
