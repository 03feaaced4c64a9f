#include "services/auth/static_tokens.h"

#include <algorithm>
#include <boost/json.hpp>
#include <fstream>
#include <sstream>

namespace gaze::auth {
namespace {

namespace json = boost::json;

absl::StatusOr<std::string> StringField(const json::object& entry, std::string_view key,
                                        bool required) {
  const json::value* v = entry.if_contains(json::string_view(key.data(), key.size()));
  if (v == nullptr || v->is_null()) {
    if (required)
      return absl::InvalidArgumentError("token entry lacks \"" + std::string(key) + "\"");
    return std::string();
  }
  if (!v->is_string())
    return absl::InvalidArgumentError("\"" + std::string(key) + "\" must be a string");
  std::string s(v->as_string().c_str(), v->as_string().size());
  if (required && s.empty())
    return absl::InvalidArgumentError("\"" + std::string(key) + "\" is empty");
  return s;
}

}  // namespace

absl::StatusOr<std::unique_ptr<StaticTokens>> StaticTokens::LoadFile(const std::string& path) {
  std::ifstream in(path);
  if (!in) return absl::NotFoundError("cannot read token file " + path);
  std::stringstream ss;
  ss << in.rdbuf();
  auto tokens = Parse(ss.str());
  if (!tokens.ok()) {
    return absl::InvalidArgumentError("token file " + path + ": " +
                                      std::string(tokens.status().message()));
  }
  return tokens;
}

absl::StatusOr<std::unique_ptr<StaticTokens>> StaticTokens::Parse(std::string_view text) {
  boost::system::error_code ec;
  json::value root = json::parse(json::string_view(text.data(), text.size()), ec);
  if (ec) return absl::InvalidArgumentError("not valid JSON: " + ec.message());
  const json::object* obj = root.if_object();
  const json::value* list = obj ? obj->if_contains("tokens") : nullptr;
  if (list == nullptr || !list->is_array()) {
    return absl::InvalidArgumentError("expected an object with a \"tokens\" array");
  }
  auto out = std::unique_ptr<StaticTokens>(new StaticTokens());
  for (const json::value& item : list->as_array()) {
    if (!item.is_object()) return absl::InvalidArgumentError("token entries must be objects");
    const json::object& entry = item.as_object();
    Identity id;
    std::string token;
    for (auto [key, dest, required] :
         {std::tuple<std::string_view, std::string*, bool>{"token", &token, true},
          {"user_id", &id.user_id, true},
          {"user_name", &id.user_name, false},
          {"project_id", &id.project_id, true},
          {"project_name", &id.project_name, false}}) {
      auto value = StringField(entry, key, required);
      if (!value.ok()) return value.status();
      *dest = *std::move(value);
    }
    if (const json::value* roles = entry.if_contains("roles")) {
      if (!roles->is_array()) return absl::InvalidArgumentError("\"roles\" must be an array");
      for (const json::value& r : roles->as_array()) {
        if (!r.is_string()) return absl::InvalidArgumentError("roles must be strings");
        std::string role(r.as_string().c_str(), r.as_string().size());
        std::transform(role.begin(), role.end(), role.begin(),
                       [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
        id.roles.push_back(std::move(role));
      }
    }
    if (!out->by_token_.emplace(std::move(token), std::move(id)).second) {
      return absl::InvalidArgumentError("duplicate token");
    }
  }
  return out;
}

std::optional<Identity> StaticTokens::Authenticate(std::string_view token) const {
  auto it = by_token_.find(std::string(token));
  if (it == by_token_.end()) return std::nullopt;
  return it->second;
}

}  // namespace gaze::auth
