#include "api-gateway/import_json.h"

#include <algorithm>
#include <boost/json.hpp>
#include <utility>

#include "absl/strings/str_cat.h"
#include "api-gateway/http_message.h"

namespace gaze::gateway {
namespace {

namespace json = boost::json;

json::string_view Js(std::string_view s) { return json::string_view(s.data(), s.size()); }
std::string_view Sv(json::string_view s) { return std::string_view(s.data(), s.size()); }

absl::Status Bad(std::string msg) { return absl::InvalidArgumentError(std::move(msg)); }

// Glance's import methods.
constexpr std::pair<std::string_view, v1::ImportMethod> kMethods[] = {
    {"glance-direct", v1::IMPORT_METHOD_GLANCE_DIRECT},
    {"web-download", v1::IMPORT_METHOD_WEB_DOWNLOAD},
    {"copy-image", v1::IMPORT_METHOD_COPY_IMAGE},
    {"glance-download", v1::IMPORT_METHOD_GLANCE_DOWNLOAD},
};

v1::ImportMethod MethodNamed(std::string_view name) {
  for (const auto& [known, method] : kMethods) {
    if (known == name) return method;
  }
  return v1::IMPORT_METHOD_UNSPECIFIED;
}

std::string_view Trim(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t')) s.remove_suffix(1);
  return s;
}

// Whether `uri` could pass the task worker's URI filter at all: an absolute http or https URL
// with a host, without blanks or control characters. The filter proper (allowed schemes, hosts
// and ports, addresses after resolution, redirects) needs DNS and the worker's configuration.
bool PlausibleDownloadUri(std::string_view uri) {
  if (std::any_of(uri.begin(), uri.end(), [](char c) {
        auto u = static_cast<unsigned char>(c);
        return u <= 0x20 || u == 0x7f;
      })) {
    return false;
  }
  for (std::string_view scheme : {"http://", "https://"}) {
    if (!EqualsIgnoreCase(uri.substr(0, scheme.size()), scheme)) continue;
    std::string_view authority = uri.substr(scheme.size());
    authority = authority.substr(0, authority.find_first_of("/?#"));
    size_t at = authority.rfind('@');
    std::string_view host = at == std::string_view::npos ? authority : authority.substr(at + 1);
    return !host.empty() && host.front() != ':';
  }
  return false;
}

}  // namespace

absl::StatusOr<std::vector<std::string>> ParseImportMethods(std::string_view list) {
  std::vector<std::string> methods;
  if (Trim(list).empty()) return methods;
  for (size_t start = 0; start <= list.size();) {
    size_t comma = std::min(list.find(',', start), list.size());
    std::string_view name = Trim(list.substr(start, comma - start));
    start = comma + 1;
    if (name.empty()) return Bad("--enabled_import_methods: empty entry");
    const v1::ImportMethod method = MethodNamed(name);
    if (method == v1::IMPORT_METHOD_UNSPECIFIED) {
      return Bad("--enabled_import_methods: unknown import method '" + std::string(name) +
                 "' (Glance's are glance-direct, web-download, copy-image, glance-download)");
    }
    if (method == v1::IMPORT_METHOD_COPY_IMAGE) {
      return Bad(
          "--enabled_import_methods: copy-image copies an image to more stores, and "
          "Gaze has one store");
    }
    if (method == v1::IMPORT_METHOD_GLANCE_DOWNLOAD) {
      return Bad(
          "--enabled_import_methods: glance-download (from another region's Glance) "
          "is not offered by Gaze");
    }
    if (std::find(methods.begin(), methods.end(), name) != methods.end()) {
      return Bad("--enabled_import_methods: '" + std::string(name) + "' is listed twice");
    }
    methods.emplace_back(name);
  }
  return methods;
}

std::string ImportInfoJson(std::span<const std::string> methods) {
  json::array value;
  for (const std::string& m : methods) value.emplace_back(Js(m));
  return json::serialize(
      json::object{{"import-methods", json::object{{"description", "Import methods available."},
                                                   {"type", "array"},
                                                   {"value", std::move(value)}}}});
}

absl::StatusOr<ImportRequest> ParseImportBody(std::string_view body,
                                              std::span<const std::string> enabled) {
  boost::system::error_code ec;
  json::value root = json::parse(Js(body), ec);
  if (ec) return Bad("Malformed JSON in request body.");
  if (!root.is_object()) return Bad("Body must be a JSON object.");
  const json::object& request = root.as_object();
  const json::value* method = request.if_contains("method");
  if (method == nullptr) return Bad("Import request requires a 'method' field.");
  if (!method->is_object()) return Bad("Import request 'method' must be an object.");
  const json::value* name = method->as_object().if_contains("name");
  if (name == nullptr) return Bad("Import request requires a 'name' field.");
  std::string_view method_name = name->is_string() ? Sv(name->as_string()) : "";
  ImportRequest out;
  out.method = MethodNamed(method_name);
  if (out.method == v1::IMPORT_METHOD_UNSPECIFIED ||
      std::find(enabled.begin(), enabled.end(), method_name) == enabled.end()) {
    return Bad("Unknown import method name '" +
               (name->is_string() ? std::string(method_name) : json::serialize(*name)) + "'.");
  }
  const json::value* must_succeed = request.if_contains("all_stores_must_succeed");
  if (must_succeed != nullptr && !must_succeed->is_bool()) {
    return Bad("'all_stores_must_succeed' must be boolean value only");
  }
  const json::value* all_stores = request.if_contains("all_stores");
  if (all_stores != nullptr && !all_stores->is_bool()) {
    return Bad("'all_stores' must be boolean value only");
  }
  // Letting some stores fail only means something with several stores (Glance's
  // enabled_backends); Gaze has one.
  if (must_succeed != nullptr && !must_succeed->as_bool()) {
    return Bad("all_stores_must_succeed can only be set with enabled_backends.");
  }

  if (out.method == v1::IMPORT_METHOD_WEB_DOWNLOAD) {
    const json::value* uri = method->as_object().if_contains("uri");
    if (uri == nullptr || !uri->is_string()) {
      return Bad("Import method web-download requires a 'uri' string.");
    }
    out.uri = std::string(Sv(uri->as_string()));
    if (!PlausibleDownloadUri(out.uri)) {
      return Bad("URI for web-download does not pass filtering: " + out.uri);
    }
  }
  out.body = json::serialize(root);
  return out;
}

std::string ImportTaskInput(std::string_view image_id, const ImportRequest& request) {
  // request.body is already serialized JSON: embed it rather than parse it again.
  return absl::StrCat(R"({"image_id":)", json::serialize(json::string(Js(image_id))),
                      R"(,"import_req":)", request.body, R"(,"backend":[null]})");
}

}  // namespace gaze::gateway
