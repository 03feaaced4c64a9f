#include "api-gateway/image_patch.h"

#include <boost/json.hpp>
#include <vector>

namespace gaze::gateway {
namespace {

namespace json = boost::json;

std::string_view Sv(json::string_view s) { return std::string_view(s.data(), s.size()); }

enum class Op { kAdd, kReplace, kRemove };

struct Operation {
  Op op;
  std::string key;
  const json::value* value = nullptr;
};

absl::Status BadPointer(std::string_view path) {
  return absl::InvalidArgumentError("Invalid JSON pointer for this resource: '" +
                                    std::string(path) + "'");
}

std::string_view TrimSpace(std::string_view s) {
  while (!s.empty() && std::isspace(static_cast<unsigned char>(s.front()))) s.remove_prefix(1);
  while (!s.empty() && std::isspace(static_cast<unsigned char>(s.back()))) s.remove_suffix(1);
  return s;
}

// Decodes a JSON pointer into its single key (Glance patches only top-level keys).
absl::StatusOr<std::string> PointerKey(std::string_view path) {
  if (path.empty() || path.front() != '/') {
    return absl::InvalidArgumentError("Pointer `" + std::string(path) +
                                      "` does not start with \"/\".");
  }
  std::vector<std::string> segments;
  std::string_view rest = path.substr(1);
  for (;;) {
    size_t slash = rest.find('/');
    std::string_view raw = rest.substr(0, slash);
    if (raw.empty()) return BadPointer(path);
    std::string seg;
    for (size_t i = 0; i < raw.size(); ++i) {
      if (raw[i] != '~') {
        seg += raw[i];
      } else if (i + 1 < raw.size() && (raw[i + 1] == '0' || raw[i + 1] == '1')) {
        seg += raw[i + 1] == '0' ? '~' : '/';
        ++i;
      } else {
        return BadPointer(path);
      }
    }
    segments.emplace_back(TrimSpace(seg));
    if (slash == std::string_view::npos) break;
    rest = rest.substr(slash + 1);
  }
  if (segments.front() == "locations") {
    return absl::UnimplementedError(
        "Changing image locations is not supported: this Gaze deployment keeps image data in "
        "its own store.");
  }
  if (segments.size() != 1) return BadPointer(path);
  return segments.front();
}

absl::StatusOr<Operation> ParseOperation(PatchDialect dialect, const json::value& item) {
  if (!item.is_object()) {
    return absl::InvalidArgumentError("Operations must be JSON objects.");
  }
  const json::object& obj = item.as_object();
  Operation op;
  std::string_view path;
  auto op_from_name = [](std::string_view name, Op* out) {
    if (name == "add")
      *out = Op::kAdd;
    else if (name == "replace")
      *out = Op::kReplace;
    else if (name == "remove")
      *out = Op::kRemove;
    else
      return false;
    return true;
  };
  if (dialect == PatchDialect::kV21) {
    const json::value* name = obj.if_contains("op");
    if (name == nullptr || !name->is_string()) {
      return absl::InvalidArgumentError("Unable to find 'op' in JSON Schema change");
    }
    if (!op_from_name(Sv(name->as_string()), &op.op)) {
      return absl::InvalidArgumentError("Invalid operation: `" +
                                        std::string(Sv(name->as_string())) +
                                        "`: must be one of add, remove, replace.");
    }
    const json::value* p = obj.if_contains("path");
    if (p == nullptr || !p->is_string()) {
      return absl::InvalidArgumentError("Unable to find 'path' in JSON Schema change");
    }
    path = Sv(p->as_string());
  } else {
    int found = 0;
    for (std::string_view name : {"add", "replace", "remove"}) {
      const json::value* p = obj.if_contains(json::string_view(name.data(), name.size()));
      if (p == nullptr) continue;
      ++found;
      op_from_name(name, &op.op);
      if (!p->is_string()) return absl::InvalidArgumentError("Operation paths must be strings.");
      path = Sv(p->as_string());
    }
    if (found != 1) {
      return absl::InvalidArgumentError(
          "Operation objects must contain exactly one member named \"add\", \"remove\", or "
          "\"replace\".");
    }
  }
  auto key = PointerKey(path);
  if (!key.ok()) return key.status();
  op.key = *std::move(key);
  if (op.op != Op::kRemove) {
    op.value = obj.if_contains("value");
    if (op.value == nullptr) {
      return absl::InvalidArgumentError("Operation \"" +
                                        std::string(op.op == Op::kAdd ? "add" : "replace") +
                                        "\" requires a member named \"value\".");
    }
  }
  return op;
}

// Fills `mask` with the base attributes that differ between the two images.
void DiffBaseAttributes(const v1::Image& a, const v1::Image& b, google::protobuf::FieldMask* mask) {
  auto diff = [&](const char* path, bool changed) {
    if (changed) mask->add_paths(path);
  };
  auto opt_differs = [](bool has_a, const std::string& va, bool has_b, const std::string& vb) {
    return has_a != has_b || (has_a && va != vb);
  };
  diff("name", opt_differs(a.has_name(), a.name(), b.has_name(), b.name()));
  diff("visibility", a.visibility() != b.visibility());
  diff("protected", a.protected_() != b.protected_());
  diff("os_hidden", a.os_hidden() != b.os_hidden());
  diff("owner", opt_differs(a.has_owner(), a.owner(), b.has_owner(), b.owner()));
  diff("disk_format",
       opt_differs(a.has_disk_format(), a.disk_format(), b.has_disk_format(), b.disk_format()));
  diff("container_format", opt_differs(a.has_container_format(), a.container_format(),
                                       b.has_container_format(), b.container_format()));
  diff("min_ram", a.min_ram() != b.min_ram());
  diff("min_disk", a.min_disk() != b.min_disk());
  diff("tags", !std::equal(a.tags().begin(), a.tags().end(), b.tags().begin(), b.tags().end()));
}

}  // namespace

std::optional<PatchDialect> PatchDialectFor(std::string_view content_type) {
  std::string_view media = content_type.substr(0, content_type.find(';'));
  while (!media.empty() && media.back() == ' ') media.remove_suffix(1);
  if (media == "application/openstack-images-v2.1-json-patch") return PatchDialect::kV21;
  if (media == "application/openstack-images-v2.0-json-patch") return PatchDialect::kV20;
  return std::nullopt;
}

absl::StatusOr<std::optional<v1::UpdateImageRequest>> PlanPatch(PatchDialect dialect,
                                                                std::string_view body,
                                                                const v1::Image& current,
                                                                const auth::Identity& caller) {
  boost::system::error_code ec;
  json::value root = json::parse(json::string_view(body.data(), body.size()), ec);
  if (ec) return absl::InvalidArgumentError("Malformed JSON in request body.");
  if (!root.is_array()) {
    return absl::InvalidArgumentError("Request body must be a JSON array of operation objects.");
  }
  if (root.as_array().empty()) return std::nullopt;
  v1::Image draft = current;
  auto& props = *draft.mutable_properties();
  for (const json::value& item : root.as_array()) {
    auto op = ParseOperation(dialect, item);
    if (!op.ok()) return op.status();
    switch (ClassifyKey(op->key)) {
      case KeyClass::kId:
      case KeyClass::kReadOnly:
        return absl::PermissionDeniedError("Attribute '" + op->key + "' is read-only.");
      case KeyClass::kReserved:
        return absl::PermissionDeniedError("Attribute '" + op->key + "' is reserved.");
      case KeyClass::kSettable:
        if (op->op == Op::kRemove) {
          return absl::PermissionDeniedError("Properties " + op->key + " must not be removed.");
        }
        // The 2.0 dialect's add never overwrites, and a base attribute always exists.
        if (op->op == Op::kAdd && dialect == PatchDialect::kV20) {
          return absl::FailedPreconditionError("Property " + op->key + " already present.");
        }
        if (absl::Status st = SetBaseAttribute(op->key, *op->value, &draft); !st.ok()) return st;
        break;
      case KeyClass::kExtra: {
        if (op->key.size() > 255) return absl::InvalidArgumentError("Property name is too long.");
        bool exists = props.contains(op->key);
        if (op->op == Op::kRemove) {
          if (!exists) {
            return absl::FailedPreconditionError("Property " + op->key + " does not exist.");
          }
          props.erase(op->key);
          break;
        }
        if (!op->value->is_string()) {
          return absl::InvalidArgumentError(
              "Provided object does not match schema 'image': extra properties must be strings "
              "(attribute '" +
              op->key + "')");
        }
        if (op->op == Op::kReplace && !exists) {
          return absl::FailedPreconditionError("Property " + op->key + " does not exist.");
        }
        if (op->op == Op::kAdd && exists && dialect == PatchDialect::kV20) {
          return absl::FailedPreconditionError("Property " + op->key + " already present.");
        }
        props[op->key] = std::string(Sv(op->value->as_string()));
        break;
      }
    }
  }

  v1::UpdateImageRequest update;
  update.set_id(current.id());
  update.set_expected_version(current.version());
  DiffBaseAttributes(current, draft, update.mutable_update_mask());
  for (const std::string& path : update.update_mask().paths()) {
    if (path == "owner" && !caller.is_admin) {
      return absl::PermissionDeniedError("Owner can't be updated by non admin.");
    }
    if ((path == "disk_format" || path == "container_format") &&
        current.status() != v1::IMAGE_STATUS_QUEUED &&
        current.status() != v1::IMAGE_STATUS_IMPORTING) {
      return absl::PermissionDeniedError("Attribute " + path +
                                         " can be only replaced for a queued image.");
    }
  }
  for (const auto& [key, value] : draft.properties()) {
    auto it = current.properties().find(key);
    if (it == current.properties().end() || it->second != value) {
      (*update.mutable_set_properties())[key] = value;
    }
  }
  for (const auto& [key, value] : current.properties()) {
    if (!draft.properties().contains(key)) update.add_remove_properties(key);
  }
  *update.mutable_image() = std::move(draft);
  update.mutable_image()->clear_properties();
  return update;
}

}  // namespace gaze::gateway
