// The Glance JSON of image members (contract §8.1) and of quota usage (§10.1): the member
// object, the member list, the bodies of POST and PUT on members, and GET /v2/info/usage.
#pragma once

#include <string>
#include <string_view>

#include "absl/status/statusor.h"
#include "gaze/metadata/v1/metadata.pb.h"

namespace gaze::gateway {

namespace v1 = ::gaze::metadata::v1;

// {"member_id","image_id","status","created_at","updated_at","schema"}
std::string SerializeMember(const v1::Member& member);
// {"members":[…],"schema":"/v2/schemas/members"}
std::string SerializeMembers(const v1::ListMembersResponse& members);

// The member id of a POST …/members body {"member": "<project id>"}. INVALID_ARGUMENT (400)
// for malformed JSON, a missing, empty or non-string member, or one over 255 characters.
absl::StatusOr<std::string> ParseAddMemberBody(std::string_view body);
// The status of a PUT …/members/{member} body {"status": "pending|accepted|rejected"}.
// INVALID_ARGUMENT (400) for malformed JSON, a missing status or any other value.
absl::StatusOr<v1::MemberStatus> ParseMemberStatusBody(std::string_view body);

// {"usage": {"<resource>": {"limit": L, "usage": U}, …}}; {"usage": {}} without quotas.
std::string SerializeUsage(const v1::GetUsageResponse& usage);

}  // namespace gaze::gateway
