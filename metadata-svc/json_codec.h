// JSON forms of the jsonb columns: images.properties ({"k": "v"}), images.locations
// ([{"url": ..., "metadata": {...}}]), images.tags read as to_json(tags), and tasks.input.
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

}  // namespace gaze::metadata
