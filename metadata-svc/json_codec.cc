// jsonb <-> proto conversions with nlohmann::json (kept out of the header).
#include "metadata-svc/json_codec.h"

#include <nlohmann/json.hpp>

#include "absl/strings/str_cat.h"
#include "metadata-svc/enums.h"

namespace gaze::metadata {
namespace {

using nlohmann::json;

// Proto strings are valid UTF-8, so `replace` never fires for API input; it keeps a stray
// byte from turning into an exception.
std::string Dump(const json& j) { return j.dump(-1, ' ', false, json::error_handler_t::replace); }

absl::Status Parse(std::string_view text, json* out) {
  *out = json::parse(text.begin(), text.end(), nullptr, /*allow_exceptions=*/false);
  if (out->is_discarded()) {
    return absl::InternalError(
        absl::StrCat("stored JSON does not parse: ", absl::string_view(text.data(), text.size())));
  }
  return absl::OkStatus();
}

std::string AsString(const json& v) {
  if (v.is_string()) return v.get<std::string>();
  if (v.is_null()) return "";
  return Dump(v);
}

json MapToJson(const StringMap& map) {
  json j = json::object();
  for (const auto& [k, v] : map) j[k] = v;
  return j;
}

absl::Status MapFromJson(const json& j, StringMap* out) {
  if (!j.is_object()) return absl::InternalError("stored JSON is not an object");
  for (const auto& [k, v] : j.items()) (*out)[k] = AsString(v);
  return absl::OkStatus();
}

}  // namespace

std::string PropertiesToJson(const StringMap& properties) { return Dump(MapToJson(properties)); }

absl::Status PropertiesFromJson(std::string_view text, StringMap* out) {
  json j;
  if (absl::Status s = Parse(text, &j); !s.ok()) return s;
  return MapFromJson(j, out);
}

std::string LocationToJson(const v1::Location& location) {
  return Dump(json{{"url", location.url()}, {"metadata", MapToJson(location.metadata())}});
}

absl::Status LocationsFromJson(std::string_view text,
                               google::protobuf::RepeatedPtrField<v1::Location>* out) {
  json j;
  if (absl::Status s = Parse(text, &j); !s.ok()) return s;
  if (!j.is_array()) return absl::InternalError("stored locations are not an array");
  for (const json& item : j) {
    if (!item.is_object()) return absl::InternalError("stored location is not an object");
    v1::Location* loc = out->Add();
    if (auto url = item.find("url"); url != item.end()) loc->set_url(AsString(*url));
    if (auto md = item.find("metadata"); md != item.end() && !md->is_null()) {
      if (absl::Status s = MapFromJson(*md, loc->mutable_metadata()); !s.ok()) return s;
    }
  }
  return absl::OkStatus();
}

absl::Status StringsFromJson(std::string_view text,
                             google::protobuf::RepeatedPtrField<std::string>* out) {
  json j;
  if (absl::Status s = Parse(text, &j); !s.ok()) return s;
  if (!j.is_array()) return absl::InternalError("stored JSON is not an array");
  for (const json& item : j) out->Add(AsString(item));
  return absl::OkStatus();
}

std::string DeleteDataInputToJson(const v1::DeleteDataInput& input) {
  json urls = json::array();
  for (const std::string& url : input.urls()) urls.push_back(url);
  return Dump(json{{"urls", urls}});
}

absl::Status DeleteDataInputFromJson(std::string_view text, v1::DeleteDataInput* out) {
  json j;
  if (absl::Status s = Parse(text, &j); !s.ok()) return s;
  auto urls = j.find("urls");
  if (!j.is_object() || urls == j.end() || !urls->is_array()) {
    return absl::InternalError("delete_data task input has no \"urls\" array");
  }
  for (const json& url : *urls) out->add_urls(AsString(url));
  return absl::OkStatus();
}

std::string ImportInputToJson(const v1::ImportInput& input) {
  const char* method = ImportMethodName(input.method());
  return Dump(json{{"method", method != nullptr ? method : ""},
                   {"uri", input.uri()},
                   {"staging_url", input.staging_url()},
                   {"disk_format", input.disk_format()},
                   {"container_format", input.container_format()}});
}

absl::Status ImportInputFromJson(std::string_view text, v1::ImportInput* out) {
  json j;
  if (absl::Status s = Parse(text, &j); !s.ok()) return s;
  if (!j.is_object()) return absl::InternalError("import task input is not an object");
  auto text_of = [&](const char* key) {
    auto it = j.find(key);
    return it == j.end() ? std::string() : AsString(*it);
  };
  out->set_method(ParseImportMethod(text_of("method")));
  out->set_uri(text_of("uri"));
  out->set_staging_url(text_of("staging_url"));
  out->set_disk_format(text_of("disk_format"));
  out->set_container_format(text_of("container_format"));
  return absl::OkStatus();
}

absl::Status ValidateJsonObject(std::string_view text, std::string_view what) {
  json j = json::parse(text.begin(), text.end(), nullptr, /*allow_exceptions=*/false);
  if (j.is_discarded() || !j.is_object()) {
    return absl::InvalidArgumentError(
        absl::StrCat(absl::string_view(what.data(), what.size()), " must be a JSON object"));
  }
  return absl::OkStatus();
}

}  // namespace gaze::metadata
