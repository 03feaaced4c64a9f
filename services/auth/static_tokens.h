// Authentication from a static token file, for deployments without Keystone and for the dev
// stack. The file is JSON:
//   {"tokens": [{"token": "…", "user_id": "…", "user_name": "…", "project_id": "…",
//                "project_name": "…", "roles": ["member", "reader"]}, …]}
#pragma once

#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>

#include "absl/status/statusor.h"
#include "services/auth/identity.h"

namespace gaze::auth {

class StaticTokens {
 public:
  // Reads and validates the file: every entry needs a non-empty token, user_id and
  // project_id; tokens must be unique.
  static absl::StatusOr<std::unique_ptr<StaticTokens>> LoadFile(const std::string& path);
  static absl::StatusOr<std::unique_ptr<StaticTokens>> Parse(std::string_view json);

  // The identity for `token`, or nullopt when the token is unknown.
  std::optional<Identity> Authenticate(std::string_view token) const;
  size_t size() const { return by_token_.size(); }

 private:
  std::unordered_map<std::string, Identity> by_token_;
};

}  // namespace gaze::auth
