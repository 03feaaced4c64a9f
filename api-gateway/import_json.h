// Interoperable import as Glance's API shows it (contract §6.1, §6.2, §3.2): the import methods
// an operator enables, the discovery document GET /v2/info/import, and the bodies of
// POST /v2/images/{id}/import.
#pragma once

#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/statusor.h"
#include "gaze/metadata/v1/metadata.pb.h"

namespace gaze::gateway {

namespace v1 = ::gaze::metadata::v1;

// Parses --enabled_import_methods, a comma-separated list of Glance method names, into the
// enabled methods in the order given (Glance keeps its configuration order in the discovery
// document and the OpenStack-image-import-methods header). INVALID_ARGUMENT for unknown or
// repeated names and for the methods Gaze does not offer: copy-image (it needs more than one
// store) and glance-download (it needs another region's Glance and its Keystone).
absl::StatusOr<std::vector<std::string>> ParseImportMethods(std::string_view list);

// {"import-methods": {"description": "Import methods available.", "type": "array",
//  "value": [...]}}
std::string ImportInfoJson(std::span<const std::string> methods);

// What POST /v2/images/{id}/import asks for.
struct ImportRequest {
  v1::ImportMethod method = v1::IMPORT_METHOD_UNSPECIFIED;
  std::string uri;  // web-download
  // The body, serialized again.
  std::string body;
};

// The import task's input as Glance records it: {"image_id": ..., "import_req": <the body>,
// "backend": [null]} (one store, Glance's [None] without enabled_backends).
std::string ImportTaskInput(std::string_view image_id, const ImportRequest& request);

// Validates an import body in Glance's order: a 'method' object with a 'name' that is one of
// `enabled`; 'all_stores_must_succeed' and 'all_stores' booleans when present; with a single
// store, 'all_stores_must_succeed' false is refused and 'stores' / 'all_stores' are ignored, as
// Glance ignores them; web-download needs a 'uri' that could pass the worker's URI filter (an
// absolute http or https URL with a host; the filter itself, which resolves the host and
// re-checks every redirect, runs in the task worker). INVALID_ARGUMENT (400) otherwise.
absl::StatusOr<ImportRequest> ParseImportBody(std::string_view body,
                                              std::span<const std::string> enabled);

}  // namespace gaze::gateway
