#include "api-gateway/image_json.h"

#include <array>
#include <boost/json.hpp>
#include <charconv>

#include "services/common/ids.h"
#include "services/common/json_string.h"

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

namespace {

// Appends "YYYY-MM-DDTHH:MM:SSZ" for `seconds` since the epoch (proleptic Gregorian, UTC).
// Hand-rolled: gmtime_r + strftime were a visible share of a list page (two per image).
void AppendTimestamp(int64_t seconds, std::string& out) {
  int64_t days = seconds / 86400, rem = seconds % 86400;
  if (rem < 0) {
    rem += 86400;
    --days;
  }
  // Howard Hinnant's civil_from_days.
  days += 719468;
  const int64_t era = (days >= 0 ? days : days - 146096) / 146097;
  const int64_t doe = days - era * 146097;
  const int64_t yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
  const int64_t doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
  const int64_t mp = (5 * doy + 2) / 153;
  const int64_t day = doy - (153 * mp + 2) / 5 + 1;
  const int64_t month = mp < 10 ? mp + 3 : mp - 9;
  const int64_t year = yoe + era * 400 + (month <= 2);
  // Fixed width, digit by digit: snprintf was most of this function's time.
  auto digits = [&out](int64_t v, int width) {
    char buf[20];
    for (int k = width - 1; k >= 0; --k, v /= 10) buf[k] = static_cast<char>('0' + v % 10);
    out.append(buf, static_cast<size_t>(width));
  };
  if (year < 0 || year > 9999) {  // outside the 4-digit years; never a real image's time
    out += std::to_string(year);
  } else {
    digits(year, 4);
  }
  out += '-';
  digits(month, 2);
  out += '-';
  digits(day, 2);
  out += 'T';
  digits(rem / 3600, 2);
  out += ':';
  digits(rem / 60 % 60, 2);
  out += ':';
  digits(rem % 60, 2);
  out += 'Z';
}

// The keys AppendImageJson writes itself: a free-form property of the same name (which
// create and PATCH refuse anyway) is left out, so that the base attribute always wins.
bool IsWrittenBaseKey(std::string_view key) {
  static constexpr std::array<std::string_view, 22> kKeys = {
      "id",           "name",     "status",       "visibility",       "protected",
      "os_hidden",    "owner",    "disk_format",  "container_format", "size",
      "virtual_size", "checksum", "os_hash_algo", "os_hash_value",    "min_ram",
      "min_disk",     "tags",     "created_at",   "updated_at",       "self",
      "file",         "schema"};
  return Contains(kKeys, key);
}

}  // namespace

std::string FormatTimestamp(int64_t seconds) {
  std::string out;
  AppendTimestamp(seconds, out);
  return out;
}

void AppendImageJson(const v1::Image& image, std::string& out) {
  // Written straight into `out` in the order of Glance's image (properties first): building a
  // JSON document and serializing it hashed every key and copied every value twice.
  auto key = [&out](std::string_view k) {
    out += '"';
    out += k;  // base keys need no escaping
    out += "\":";
  };
  auto str = [&](std::string_view k, std::string_view v) {
    key(k);
    AppendJsonString(out, v);
    out += ',';
  };
  auto opt = [&](std::string_view k, bool has, std::string_view v) {
    if (has) return str(k, v);
    key(k);
    out += "null,";
  };
  auto num = [&](std::string_view k, bool has, int64_t v) {
    key(k);
    if (has) {
      char buf[24];
      out.append(buf, std::to_chars(buf, buf + sizeof buf, v).ptr);
    } else {
      out += "null";
    }
    out += ',';
  };
  auto boolean = [&](std::string_view k, bool v) {
    key(k);
    out += v ? "true," : "false,";
  };
  out += '{';
  for (const auto& [k, v] : image.properties()) {
    if (IsWrittenBaseKey(k)) continue;
    AppendJsonString(out, k);
    out += ':';
    AppendJsonString(out, v);
    out += ',';
  }
  str("id", image.id());
  opt("name", image.has_name(), image.name());
  str("status", StatusName(image.status()));
  str("visibility", VisibilityName(image.visibility()));
  boolean("protected", image.protected_());
  boolean("os_hidden", image.os_hidden());
  opt("owner", image.has_owner(), image.owner());
  opt("disk_format", image.has_disk_format(), image.disk_format());
  opt("container_format", image.has_container_format(), image.container_format());
  num("size", image.has_size(), image.size());
  num("virtual_size", image.has_virtual_size(), image.virtual_size());
  opt("checksum", image.has_checksum(), image.checksum());
  opt("os_hash_algo", image.has_os_hash_algo(), image.os_hash_algo());
  opt("os_hash_value", image.has_os_hash_value(), image.os_hash_value());
  num("min_ram", true, image.min_ram());
  num("min_disk", true, image.min_disk());
  key("tags");
  out += '[';
  for (int i = 0; i < image.tags_size(); ++i) {
    if (i > 0) out += ',';
    AppendJsonString(out, image.tags(i));
  }
  out += "],";
  key("created_at");
  out += '"';
  AppendTimestamp(image.created_at().seconds(), out);
  out += "\",";
  key("updated_at");
  out += '"';
  AppendTimestamp(image.updated_at().seconds(), out);
  out += "\",";
  // An id is a UUID (metadata-svc makes it or checks it), so the links need no escaping.
  key("self");
  out += "\"/v2/images/";
  out += image.id();
  out += "\",";
  key("file");
  out += "\"/v2/images/";
  out += image.id();
  out += "/file\",";
  key("schema");
  out += "\"/v2/schemas/image\"}";
}

std::string SerializeImage(const v1::Image& image) {
  std::string out;
  out.reserve(1024);
  AppendImageJson(image, out);
  return out;
}

ImageListWriter::ImageListWriter() : body_("{\"images\":[") {}

void ImageListWriter::Reserve(size_t images) { body_.reserve(256 + 1024 * images); }

void ImageListWriter::Add(const v1::Image& image) {
  if (images_ > 0) body_ += ',';
  AppendImageJson(image, body_);
  ++images_;
}

std::string ImageListWriter::Finish(std::string_view first,
                                    std::optional<std::string_view> next) && {
  body_ += "],\"first\":";
  AppendJsonString(body_, first);
  body_ += ",\"schema\":\"/v2/schemas/images\"";
  if (next) {
    body_ += ",\"next\":";
    AppendJsonString(body_, *next);
  }
  body_ += '}';
  return std::move(body_);
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
