// The import plugin pipeline's configuration (Glance's image_import_plugins and the options of
// its plugins), and the pure decisions the plugins make.
//
// --import_plugins lists the plugins in the order the data goes through them:
//   decompress  gzip, zstd, bzip2, xz (decompressor.h), unless container_format is compressed;
//   inspect     services/imageformat: the real format must be the claimed disk_format and pass
//               its safety checks (contract §16.2); also run on the output of convert;
//   convert     qemu-img convert to --convert_to (qemu_img.h);
//   inject      sets --inject_properties on the image.
// Order matters and is checked at start-up, because the wrong one is unsafe rather than merely
// different: inspection must see decompressed data (compressed bytes look like raw to it), and
// qemu-img must only ever see inspected data. Inspection cannot be left out: no ingest path
// skips it (PUT /file inspects too). inject only sets metadata and may go anywhere.
#pragma once

#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/statusor.h"

namespace gaze::imageformat {
struct Inspection;
}

namespace gaze::worker {

enum class ImportPlugin { kDecompress, kInspect, kConvert, kInject };

std::string_view ImportPluginName(ImportPlugin plugin);

struct ImportPlugins {
  std::vector<ImportPlugin> order;

  bool Has(ImportPlugin plugin) const;
};

// Parses a comma-separated list. INVALID_ARGUMENT starting with "--import_plugins: " for an
// unknown or repeated name, a missing inspect, decompress after inspect, convert before
// inspect.
absl::StatusOr<ImportPlugins> ParseImportPlugins(std::string_view list);

// The target formats convert supports.
bool IsConvertTarget(std::string_view format);

// Parses "key=value,key=value" (blanks around items ignored; a value may contain '=' but not
// ','). INVALID_ARGUMENT starting with "--inject_properties: " for an empty key, a repeated key,
// or a key that is reserved: os_glance_* (the server's own namespace) and the names of image
// base attributes, which Glance refuses as properties.
absl::StatusOr<std::map<std::string, std::string>> ParseInjectProperties(std::string_view list);

// How qemu-img must read data accepted as `disk_format` (imageformat::CheckDiskFormat passed)
// for conversion: "raw" for disk_format raw, whatever the content looks like, since that is
// what the owner said it is; the detected format's qemu name for the other formats qemu-img
// converts (qcow2, vmdk, vhd, vhdx, vdi). nullopt when the image is not to be converted at all:
// an empty payload, ISO (stays ISO, as in Glance), and formats qemu-img does not convert or
// that carry no disk (ami, ari, aki, ploop, ...).
std::optional<std::string> ConversionSourceFormat(std::string_view disk_format,
                                                  const imageformat::Inspection& inspection);

}  // namespace gaze::worker
