// Glance's action policy: the oslo.policy check language (the subset Glance's rules and
// operators' policy files use), Glance's default rules (secure RBAC, project scope), and
// operator overrides from a policy file.
//
// Check strings, as oslo.policy reads them (tokens are separated by whitespace; parentheses
// may stick to a token; `and`, `or`, `not` are case-insensitive; `not` binds tighter than
// `and`, which binds tighter than `or`):
//
//   expr  := term ("or" term)*
//   term  := factor ("and" factor)*
//   factor:= "not" factor | "(" expr ")" | check
//   check := "@"                     always passes
//          | "!"                     never passes
//          | "rule:" NAME            the rule NAME passes
//          | "role:" MATCH           the caller has the role MATCH (case-insensitive)
//          | KEY ":" MATCH           the caller's credential KEY equals MATCH
//          | LITERAL ":" MATCH       the literal ('text', "text", True, False, None or an
//                                    integer) equals MATCH
//
// MATCH is text in which `%(name)s` stands for the target's attribute `name` (`%%` for a
// percent sign); a check whose target lacks the attribute fails. Credentials are `project_id`
// (alias `tenant`), `user_id` (alias `user`), `roles` (passes when any role equals MATCH) and
// `is_admin` ("True"/"False"); any other KEY fails, as oslo.policy's would for a context
// that lacks it. An empty check string always passes.
//
// Stricter than oslo.policy, which logs a broken rule and denies: a syntax error, a remote
// (http/https) check, a reference to an undefined rule or a cycle of rules is an error when
// the policy is loaded, so that the gateway does not start with a policy it cannot apply.
#pragma once

#include <map>
#include <memory>
#include <set>
#include <span>
#include <string>
#include <string_view>

#include "absl/status/statusor.h"
#include "services/auth/identity.h"

namespace gaze::auth {

// The attributes of what an action is applied to (oslo.policy's "target"), by name: for an
// image `project_id` and `owner` (its owner), `visibility`, `member_id`, its other base
// attributes and its free-form properties. Absent attributes are absent keys.
using PolicyTarget = std::map<std::string, std::string, std::less<>>;

struct DefaultRule {
  std::string_view name;
  std::string_view check;
};

class Policy {
 public:
  // Glance's default rules only.
  Policy();
  ~Policy();
  Policy(Policy&&) noexcept;
  Policy& operator=(Policy&&) noexcept;

  // The defaults, with every rule of the policy file `text` (JSON or YAML, see
  // policy_file.h) replacing or adding to them. INVALID_ARGUMENT names the rule and the
  // problem.
  static absl::StatusOr<Policy> WithOverrides(std::string_view text);
  // WithOverrides on the contents of the file at `path` (NOT_FOUND when it cannot be read).
  static absl::StatusOr<Policy> FromFile(const std::string& path);

  // Whether `caller` may perform the action guarded by rule `rule` on `target`. An unknown
  // rule name denies.
  bool Allowed(std::string_view rule, const Identity& caller, const PolicyTarget& target) const;

  // The target attributes rule `rule` can read (its %(name)s, through the rules it refers
  // to): Allowed gives the same answer for two targets that agree on these, which lets a
  // caller decide a page of images once per distinct combination. Found when the policy is
  // loaded.
  const std::set<std::string, std::less<>>& TargetAttributes(std::string_view rule) const;
  // Glance's `context_is_admin` rule: whether `caller` is an administrator. Everything that
  // depends on "is admin" (Identity::is_admin) follows this rule.
  bool IsAdmin(const Identity& caller) const;

  // Glance's default rules, in the order Glance documents them.
  static std::span<const DefaultRule> Defaults();

 private:
  struct Rules;
  explicit Policy(std::unique_ptr<Rules> rules);
  std::unique_ptr<Rules> rules_;
};

}  // namespace gaze::auth
