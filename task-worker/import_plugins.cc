#include "task-worker/import_plugins.h"

#include <algorithm>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/strings/string_view.h"
#include "absl/strings/strip.h"
#include "services/imageformat/inspector.h"

namespace gaze::worker {
namespace {

constexpr ImportPlugin kAllPlugins[] = {ImportPlugin::kDecompress, ImportPlugin::kInspect,
                                        ImportPlugin::kConvert, ImportPlugin::kInject};

// Image base attributes and the names Glance reserves in the image document: a property of
// such a name is refused (403) by Glance and would shadow the attribute.
constexpr std::string_view kReservedProperties[] = {"checksum",     "container_format",
                                                    "created_at",   "deleted",
                                                    "deleted_at",   "direct_url",
                                                    "disk_format",  "file",
                                                    "id",           "location",
                                                    "locations",    "min_disk",
                                                    "min_ram",      "name",
                                                    "os_hash_algo", "os_hash_value",
                                                    "os_hidden",    "owner",
                                                    "protected",    "schema",
                                                    "self",         "size",
                                                    "status",       "stores",
                                                    "tags",         "updated_at",
                                                    "virtual_size", "visibility"};

// Formats qemu-img converts from, by disk_format (the raw case is handled apart).
constexpr std::string_view kConvertible[] = {"qcow2", "vmdk", "vhd", "vhdx", "vdi"};

// Debian's Abseil has its own string_view; absl's string functions take that one.
absl::string_view Absl(std::string_view s) { return absl::string_view(s.data(), s.size()); }

absl::Status PluginsError(absl::string_view problem) {
  return absl::InvalidArgumentError(absl::StrCat("--import_plugins: ", problem));
}

absl::Status InjectError(absl::string_view problem) {
  return absl::InvalidArgumentError(absl::StrCat("--inject_properties: ", problem));
}

}  // namespace

std::string_view ImportPluginName(ImportPlugin plugin) {
  switch (plugin) {
    case ImportPlugin::kDecompress:
      return "decompress";
    case ImportPlugin::kInspect:
      return "inspect";
    case ImportPlugin::kConvert:
      return "convert";
    case ImportPlugin::kInject:
      return "inject";
  }
  return "?";
}

bool ImportPlugins::Has(ImportPlugin plugin) const {
  return std::find(order.begin(), order.end(), plugin) != order.end();
}

absl::StatusOr<ImportPlugins> ParseImportPlugins(std::string_view list) {
  ImportPlugins plugins;
  for (absl::string_view item : absl::StrSplit(Absl(list), ',')) {
    item = absl::StripAsciiWhitespace(item);
    const auto* known =
        std::find_if(std::begin(kAllPlugins), std::end(kAllPlugins),
                     [&](ImportPlugin p) { return Absl(ImportPluginName(p)) == item; });
    if (known == std::end(kAllPlugins)) {
      return PluginsError(absl::StrCat("unknown plugin \"", item,
                                       "\" (known: decompress, inspect, convert, inject)"));
    }
    if (plugins.Has(*known)) return PluginsError(absl::StrCat("\"", item, "\" is listed twice"));
    plugins.order.push_back(*known);
  }
  auto position = [&](ImportPlugin p) {
    return std::find(plugins.order.begin(), plugins.order.end(), p) - plugins.order.begin();
  };
  if (!plugins.Has(ImportPlugin::kInspect)) {
    return PluginsError("inspect is required: no image is stored without format inspection");
  }
  if (plugins.Has(ImportPlugin::kDecompress) &&
      position(ImportPlugin::kDecompress) > position(ImportPlugin::kInspect)) {
    return PluginsError("decompress must come before inspect: compressed data cannot be inspected");
  }
  if (plugins.Has(ImportPlugin::kConvert) &&
      position(ImportPlugin::kConvert) < position(ImportPlugin::kInspect)) {
    return PluginsError("convert must come after inspect: qemu-img must only see inspected images");
  }
  return plugins;
}

bool IsConvertTarget(std::string_view format) { return format == "raw" || format == "qcow2"; }

absl::StatusOr<std::map<std::string, std::string>> ParseInjectProperties(std::string_view list) {
  std::map<std::string, std::string> properties;
  if (absl::StripAsciiWhitespace(Absl(list)).empty()) return properties;
  for (absl::string_view item : absl::StrSplit(Absl(list), ',')) {
    item = absl::StripAsciiWhitespace(item);
    const size_t eq = item.find('=');
    if (eq == absl::string_view::npos) {
      return InjectError(absl::StrCat("\"", item, "\" is not key=value"));
    }
    const std::string key(absl::StripAsciiWhitespace(item.substr(0, eq)));
    const std::string value(absl::StripAsciiWhitespace(item.substr(eq + 1)));
    if (key.empty()) return InjectError(absl::StrCat("\"", item, "\" has no key"));
    if (absl::StartsWith(key, "os_glance")) {
      return InjectError(absl::StrCat(key, ": the os_glance namespace belongs to the server"));
    }
    if (std::find(std::begin(kReservedProperties), std::end(kReservedProperties), key) !=
        std::end(kReservedProperties)) {
      return InjectError(absl::StrCat(key, " is an image attribute, not a property"));
    }
    if (!properties.emplace(key, value).second) {
      return InjectError(absl::StrCat(key, " is set twice"));
    }
  }
  return properties;
}

std::optional<std::string> ConversionSourceFormat(std::string_view disk_format,
                                                  const imageformat::Inspection& inspection) {
  if (inspection.bytes == 0) return std::nullopt;
  if (disk_format == "raw") return "raw";
  if (std::find(std::begin(kConvertible), std::end(kConvertible), disk_format) ==
          std::end(kConvertible) ||
      imageformat::FormatName(inspection.format) != disk_format) {
    return std::nullopt;
  }
  return std::string(imageformat::QemuFormatName(inspection.format));
}

}  // namespace gaze::worker
