// Reading an operator's policy file: a flat mapping of rule names to check strings, in JSON or
// in the YAML that oslo.policy's tools write (`oslopolicy-sample-generator`,
// `oslopolicy-policy-generator`):
//
//   # Create new image
//   #"add_image": "role:admin or (role:member and project_id:%(project_id)s)"
//   "publicize_image": "role:admin"
//   delete_image: 'role:admin'
//
// Only that subset of YAML is accepted: comment and blank lines, and one `key: value` entry
// per line at column 0 with a plain, 'single-' or "double-quoted" key and value. Anything
// else (nesting, flow collections, anchors, tags, multi-line scalars, duplicate keys) is an
// error rather than a guess, so an operator never runs with a policy it did not write.
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "absl/status/statusor.h"

namespace gaze::auth {

struct PolicyFileEntry {
  std::string name;
  std::string rule;  // the check string, not parsed yet
  int line = 0;      // 1-based; 0 for JSON files
};

// INVALID_ARGUMENT naming the line and the problem when `text` is not such a file.
absl::StatusOr<std::vector<PolicyFileEntry>> ParsePolicyFile(std::string_view text);

}  // namespace gaze::auth
