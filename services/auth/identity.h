// Who made a request, as established by authentication (static token file today, Keystone
// later). Everything downstream (visibility, policy) decides from this.
#pragma once

#include <string>
#include <vector>

namespace gaze::auth {

struct Identity {
  std::string user_id;
  std::string user_name;
  std::string project_id;
  std::string project_name;
  std::vector<std::string> roles;  // lower-case
  // Glance's is_admin: set from the policy's context_is_admin rule (Policy::IsAdmin) once the
  // caller is authenticated.
  bool is_admin = false;
};

}  // namespace gaze::auth
