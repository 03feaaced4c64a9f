// JSON forms of the jsonb columns: images.properties ({"k": "v"}), images.locations
// ([{"url": ..., "metadata": {...}}]), images.tags read as to_json(tags), tasks.input (the
// typed input of each task type) and tasks.input_json / tasks.result (Glance's objects).
#pragma once

#include <string>
#include <string_view>

#include "absl/status/status.h"
#include "gaze/metadata/v1/metadata.pb.h"

namespace gaze::metadata {

using StringMap = ::google::protobuf::Map<std::string, std::string>;

std::string PropertiesToJson(const StringMap& properties);
// Non-string values (only possible in rows written by other tools) are rendered as JSON text,
// and null as "", as Glance renders legacy null properties.
absl::Status PropertiesFromJson(std::string_view json, StringMap* out);

std::string LocationToJson(const v1::Location& location);
absl::Status LocationsFromJson(std::string_view json,
                               ::google::protobuf::RepeatedPtrField<v1::Location>* out);

// A JSON array of strings (to_json(text[])).
absl::Status StringsFromJson(std::string_view json,
                             ::google::protobuf::RepeatedPtrField<std::string>* out);

std::string DeleteDataInputToJson(const v1::DeleteDataInput& input);
absl::Status DeleteDataInputFromJson(std::string_view json, v1::DeleteDataInput* out);

// {"method": "glance-direct", "uri": ..., "staging_url": ..., "disk_format": ...,
// "container_format": ...}; the method by its Glance name.
std::string ImportInputToJson(const v1::ImportInput& input);
absl::Status ImportInputFromJson(std::string_view json, v1::ImportInput* out);

// INVALID_ARGUMENT unless `json` is a JSON object (what Glance's task input and result are).
absl::Status ValidateJsonObject(std::string_view json, std::string_view what);

}  // namespace gaze::metadata
