#include "api-gateway/member_json.h"

#include <boost/json.hpp>

#include "api-gateway/image_json.h"

namespace gaze::gateway {
namespace {

namespace json = boost::json;

json::string_view Js(std::string_view s) { return json::string_view(s.data(), s.size()); }

std::string_view MemberStatusName(v1::MemberStatus status) {
  switch (status) {
    case v1::MEMBER_STATUS_ACCEPTED:
      return "accepted";
    case v1::MEMBER_STATUS_REJECTED:
      return "rejected";
    default:
      return "pending";
  }
}

json::object MemberToJson(const v1::Member& member) {
  return json::object{
      {"member_id", Js(member.member_id())},
      {"image_id", Js(member.image_id())},
      {"status", Js(MemberStatusName(member.status()))},
      {"created_at", FormatTimestamp(member.created_at().seconds())},
      {"updated_at", FormatTimestamp(member.updated_at().seconds())},
      {"schema", "/v2/schemas/member"},
  };
}

// The body as a JSON object, or INVALID_ARGUMENT.
absl::StatusOr<json::object> ParseObject(std::string_view body) {
  boost::system::error_code ec;
  json::value root = json::parse(Js(body), ec);
  if (ec) return absl::InvalidArgumentError("Malformed JSON in request body.");
  if (!root.is_object()) return absl::InvalidArgumentError("Body must be a JSON object.");
  return std::move(root.as_object());
}

}  // namespace

std::string SerializeMember(const v1::Member& member) {
  return json::serialize(MemberToJson(member));
}

std::string SerializeMembers(const v1::ListMembersResponse& members) {
  json::array list;
  list.reserve(static_cast<size_t>(members.members_size()));
  for (const v1::Member& m : members.members()) list.emplace_back(MemberToJson(m));
  return json::serialize(
      json::object{{"members", std::move(list)}, {"schema", "/v2/schemas/members"}});
}

absl::StatusOr<std::string> ParseAddMemberBody(std::string_view body) {
  auto root = ParseObject(body);
  if (!root.ok()) return root.status();
  const json::value* member = root->if_contains("member");
  if (member == nullptr) return absl::InvalidArgumentError("Member to be added not specified");
  if (!member->is_string()) return absl::InvalidArgumentError("Member must be a string.");
  std::string_view id(member->as_string().data(), member->as_string().size());
  if (id.empty()) return absl::InvalidArgumentError("Member can't be empty");
  if (id.size() > 255)
    return absl::InvalidArgumentError("Member is too long: at most 255 characters.");
  return std::string(id);
}

absl::StatusOr<v1::MemberStatus> ParseMemberStatusBody(std::string_view body) {
  auto root = ParseObject(body);
  if (!root.ok()) return root.status();
  const json::value* status = root->if_contains("status");
  if (status == nullptr) return absl::InvalidArgumentError("Status not specified");
  for (auto s :
       {v1::MEMBER_STATUS_PENDING, v1::MEMBER_STATUS_ACCEPTED, v1::MEMBER_STATUS_REJECTED}) {
    if (status->is_string() && status->as_string() == Js(MemberStatusName(s))) return s;
  }
  return absl::InvalidArgumentError(
      "Incorrect request: Status must be \"pending\", \"accepted\" or \"rejected\".");
}

std::string SerializeUsage(const v1::GetUsageResponse& usage) {
  json::object quotas;
  for (const v1::QuotaUsage& q : usage.usage()) {
    quotas[Js(q.resource())] = json::object{{"limit", q.limit()}, {"usage", q.usage()}};
  }
  return json::serialize(json::object{{"usage", std::move(quotas)}});
}

}  // namespace gaze::gateway
