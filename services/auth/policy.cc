#include "services/auth/policy.h"

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <functional>
#include <optional>
#include <set>
#include <sstream>
#include <vector>

#include "services/auth/policy_file.h"

namespace gaze::auth {
namespace {

// Glance's check strings (glance/policies/base.py), spelled out as literals so that the
// table below is a constant.
#define GAZE_PROJECT_MEMBER "role:member and project_id:%(project_id)s"
#define GAZE_PROJECT_READER "role:reader and project_id:%(project_id)s"
#define GAZE_IMAGE_MEMBER "project_id:%(member_id)s"
#define GAZE_OWNER_OR_MEMBER_OR_VISIBLE              \
  "(project_id:%(project_id)s or " GAZE_IMAGE_MEMBER \
  " or \"community\":%(visibility)s or \"public\":%(visibility)s or \"shared\":%(visibility)s)"

constexpr std::string_view kAdmin = "role:admin";
constexpr std::string_view kAdminOrProjectMember = "role:admin or (" GAZE_PROJECT_MEMBER ")";
constexpr std::string_view kAdminOrProjectReader = "role:admin or (" GAZE_PROJECT_READER ")";
constexpr std::string_view kAdminOrReaderOfVisibleImage =
    "role:admin or (role:reader and " GAZE_OWNER_OR_MEMBER_OR_VISIBLE ")";
constexpr std::string_view kAdminOrMemberOfVisibleImage =
    "role:admin or (role:member and " GAZE_OWNER_OR_MEMBER_OR_VISIBLE ")";
constexpr std::string_view kAdminOrProjectMemberCreateImage =
    "role:admin or (" GAZE_PROJECT_MEMBER " and project_id:%(owner)s)";
constexpr std::string_view kAdminOrSharedMember =
    "role:admin or (role:member and " GAZE_IMAGE_MEMBER ")";
constexpr std::string_view kAdminOrProjectReaderOrSharedMember =
    "role:admin or role:reader and (project_id:%(project_id)s or " GAZE_IMAGE_MEMBER ")";
constexpr std::string_view kAdminOrServiceOrProjectMember =
    "role:admin or rule:service_api or (" GAZE_PROJECT_MEMBER ")";
constexpr std::string_view kAdminOrReaderOfVisibleNamespace =
    "role:admin or (role:reader and (project_id:%(project_id)s or \"public\":%(visibility)s))";
constexpr std::string_view kDefault = "rule:default";
constexpr std::string_view kMetadefAdmin = "rule:metadef_admin";

#undef GAZE_OWNER_OR_MEMBER_OR_VISIBLE
#undef GAZE_IMAGE_MEMBER
#undef GAZE_PROJECT_READER
#undef GAZE_PROJECT_MEMBER

// glance/policies/{base,image,tasks,cache,discovery,metadef}.py with new defaults on, plus
// the location rules of the 2.17 location API (contract §17.1).
constexpr DefaultRule kDefaultRules[] = {
    {"default", ""},
    {"context_is_admin", kAdmin},
    {"service_api", "role:service"},
    {"add_image", kAdminOrProjectMemberCreateImage},
    {"delete_image", kAdminOrProjectMember},
    {"get_image", kAdminOrReaderOfVisibleImage},
    {"get_images", kAdminOrProjectReader},
    {"modify_image", kAdminOrProjectMember},
    {"publicize_image", kAdmin},
    {"communitize_image", kAdminOrProjectMember},
    {"download_image", kAdminOrMemberOfVisibleImage},
    {"upload_image", kAdminOrProjectMember},
    {"delete_image_location", kAdmin},
    {"get_image_location", kAdminOrProjectReader},
    {"set_image_location", kAdminOrProjectMember},
    {"add_image_location", kAdminOrServiceOrProjectMember},
    {"fetch_image_location", "rule:service_api"},
    {"add_member", kAdminOrProjectMember},
    {"delete_member", kAdminOrProjectMember},
    {"get_member", kAdminOrProjectReaderOrSharedMember},
    {"get_members", kAdminOrProjectReaderOrSharedMember},
    {"modify_member", kAdminOrSharedMember},
    {"manage_image_cache", kAdmin},
    {"deactivate", kAdminOrProjectMember},
    {"reactivate", kAdminOrProjectMember},
    {"copy_image", kAdmin},
    {"get_task", kDefault},
    {"get_tasks", kDefault},
    {"add_task", kDefault},
    {"modify_task", kDefault},
    {"tasks_api_access", kAdmin},
    {"cache_image", kAdmin},
    {"cache_list", kAdmin},
    {"cache_delete", kAdmin},
    {"cache_clean", kAdmin},
    {"cache_prune", kAdmin},
    {"list_cached_nodes", kAdmin},
    {"stores_info_detail", "role:admin or rule:service_api"},
    {"metadef_admin", kAdmin},
    {"get_metadef_namespace", kAdminOrReaderOfVisibleNamespace},
    {"get_metadef_namespaces", kAdminOrProjectReader},
    {"modify_metadef_namespace", kMetadefAdmin},
    {"add_metadef_namespace", kMetadefAdmin},
    {"delete_metadef_namespace", kMetadefAdmin},
    {"get_metadef_object", kAdminOrReaderOfVisibleNamespace},
    {"get_metadef_objects", kAdminOrReaderOfVisibleNamespace},
    {"modify_metadef_object", kMetadefAdmin},
    {"add_metadef_object", kMetadefAdmin},
    {"delete_metadef_object", kMetadefAdmin},
    {"list_metadef_resource_types", kAdminOrReaderOfVisibleNamespace},
    {"get_metadef_resource_type", kAdminOrReaderOfVisibleNamespace},
    {"add_metadef_resource_type_association", kMetadefAdmin},
    {"remove_metadef_resource_type_association", kMetadefAdmin},
    {"get_metadef_property", kAdminOrReaderOfVisibleNamespace},
    {"get_metadef_properties", kAdminOrReaderOfVisibleNamespace},
    {"modify_metadef_property", kMetadefAdmin},
    {"add_metadef_property", kMetadefAdmin},
    {"remove_metadef_property", kMetadefAdmin},
    {"get_metadef_tag", kAdminOrReaderOfVisibleNamespace},
    {"get_metadef_tags", kAdminOrReaderOfVisibleNamespace},
    {"modify_metadef_tag", kMetadefAdmin},
    {"add_metadef_tag", kMetadefAdmin},
    {"add_metadef_tags", kMetadefAdmin},
    {"delete_metadef_tag", kMetadefAdmin},
    {"delete_metadef_tags", kMetadefAdmin},
};

// MATCH text: literal pieces and %(field)s substitutions from the target.
struct Piece {
  bool is_field = false;
  std::string text;  // the literal text, or the target field's name
};
using Template = std::vector<Piece>;

// A parsed check string.
struct Expr {
  enum class Kind { kTrue, kFalse, kRule, kRole, kCredential, kLiteral, kNot, kAnd, kOr };
  Kind kind = Kind::kTrue;
  // kRule: the rule's name; kCredential: the credential's key; kLiteral: the literal as
  // Python's str() renders it.
  std::string name;
  Template match;              // kRole, kCredential, kLiteral
  std::vector<Expr> operands;  // kNot: one; kAnd, kOr: two or more
};

absl::Status Bad(std::string message) { return absl::InvalidArgumentError(std::move(message)); }

std::string Lower(std::string_view s) {
  std::string out(s);
  std::transform(out.begin(), out.end(), out.begin(),
                 [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  return out;
}

absl::StatusOr<Template> ParseTemplate(std::string_view match) {
  Template out;
  std::string literal;
  for (size_t i = 0; i < match.size(); ++i) {
    if (match[i] != '%') {
      literal += match[i];
      continue;
    }
    if (i + 1 < match.size() && match[i + 1] == '%') {
      literal += '%';
      ++i;
      continue;
    }
    size_t close = match.find(')', i);
    if (i + 1 >= match.size() || match[i + 1] != '(' || close == std::string_view::npos ||
        close == i + 2 || close + 1 >= match.size() || match[close + 1] != 's') {
      return Bad("'" + std::string(match) + "': a % must start %(name)s or be written %%");
    }
    if (!literal.empty()) out.push_back({false, std::move(literal)});
    literal.clear();
    out.push_back({true, std::string(match.substr(i + 2, close - i - 2))});
    i = close + 1;
  }
  if (!literal.empty() || out.empty()) out.push_back({false, std::move(literal)});
  return out;
}

// What Python's ast.literal_eval accepts of oslo's literal check kinds, rendered by str().
std::optional<std::string> Literal(std::string_view kind) {
  if (kind.size() >= 2 && (kind.front() == '"' || kind.front() == '\'') &&
      kind.back() == kind.front()) {
    return std::string(kind.substr(1, kind.size() - 2));
  }
  if (kind == "True" || kind == "False" || kind == "None") return std::string(kind);
  bool digits = !kind.empty() && (kind.size() == 1 || kind.front() != '0') &&
                kind.find_first_not_of("0123456789") == std::string_view::npos;
  if (digits) return std::string(kind);
  return std::nullopt;
}

absl::StatusOr<Expr> ParseCheck(std::string_view text) {
  Expr e;
  if (text == "@") return e;
  if (text == "!") {
    e.kind = Expr::Kind::kFalse;
    return e;
  }
  size_t colon = text.find(':');
  if (colon == std::string_view::npos || colon == 0) {
    return Bad("'" + std::string(text) + "' is not a check (expected KIND:MATCH, @ or !)");
  }
  std::string_view kind = text.substr(0, colon);
  std::string_view match = text.substr(colon + 1);
  if (kind == "rule") {
    if (match.empty()) return Bad("'rule:' needs a rule name");
    e.kind = Expr::Kind::kRule;
    e.name = std::string(match);
    return e;
  }
  if (kind == "http" || kind == "https") {
    return Bad("'" + std::string(text) + "': remote (http, https) checks are not supported");
  }
  auto tmpl = ParseTemplate(match);
  if (!tmpl.ok()) return tmpl.status();
  e.match = *std::move(tmpl);
  if (kind == "role") {
    e.kind = Expr::Kind::kRole;
  } else if (std::optional<std::string> literal = Literal(kind)) {
    e.kind = Expr::Kind::kLiteral;
    e.name = *std::move(literal);
  } else if (kind.front() == '"' || kind.front() == '\'') {
    return Bad("'" + std::string(text) + "': unbalanced quotes");
  } else {
    e.kind = Expr::Kind::kCredential;
    e.name = std::string(kind);
  }
  return e;
}

enum class Tok { kLParen, kRParen, kAnd, kOr, kNot, kCheck };
struct Token {
  Tok kind;
  std::string text;
};

// oslo.policy's _parse_tokenize: whitespace-separated words, with any parentheses at the
// start or end of a word split off.
std::vector<Token> Tokenize(std::string_view rule) {
  std::vector<Token> out;
  size_t i = 0;
  while (i < rule.size()) {
    if (std::isspace(static_cast<unsigned char>(rule[i]))) {
      ++i;
      continue;
    }
    size_t end = i;
    while (end < rule.size() && !std::isspace(static_cast<unsigned char>(rule[end]))) ++end;
    std::string_view word = rule.substr(i, end - i);
    i = end;
    while (!word.empty() && word.front() == '(') {
      out.push_back({Tok::kLParen, "("});
      word.remove_prefix(1);
    }
    size_t trailing = 0;
    while (!word.empty() && word.back() == ')') {
      ++trailing;
      word.remove_suffix(1);
    }
    if (!word.empty()) {
      std::string lowered = Lower(word);
      if (lowered == "and") {
        out.push_back({Tok::kAnd, lowered});
      } else if (lowered == "or") {
        out.push_back({Tok::kOr, lowered});
      } else if (lowered == "not") {
        out.push_back({Tok::kNot, lowered});
      } else {
        out.push_back({Tok::kCheck, std::string(word)});
      }
    }
    for (size_t n = 0; n < trailing; ++n) out.push_back({Tok::kRParen, ")"});
  }
  return out;
}

class Parser {
 public:
  explicit Parser(std::vector<Token> tokens) : tokens_(std::move(tokens)) {}

  absl::StatusOr<Expr> ParseAll() {
    if (tokens_.empty()) return Expr{};  // an empty check string always passes
    auto e = ParseOr();
    if (!e.ok()) return e;
    if (pos_ < tokens_.size()) return Bad("unexpected '" + tokens_[pos_].text + "'");
    return e;
  }

 private:
  bool Next(Tok kind) {
    if (pos_ < tokens_.size() && tokens_[pos_].kind == kind) {
      ++pos_;
      return true;
    }
    return false;
  }

  absl::StatusOr<Expr> ParseBinary(Expr::Kind kind, Tok op,
                                   absl::StatusOr<Expr> (Parser::*operand)()) {
    auto first = (this->*operand)();
    if (!first.ok() || pos_ >= tokens_.size() || tokens_[pos_].kind != op) return first;
    Expr e;
    e.kind = kind;
    e.operands.push_back(*std::move(first));
    while (Next(op)) {
      auto more = (this->*operand)();
      if (!more.ok()) return more;
      e.operands.push_back(*std::move(more));
    }
    return e;
  }

  absl::StatusOr<Expr> ParseOr() {
    return ParseBinary(Expr::Kind::kOr, Tok::kOr, &Parser::ParseAnd);
  }
  absl::StatusOr<Expr> ParseAnd() {
    return ParseBinary(Expr::Kind::kAnd, Tok::kAnd, &Parser::ParseFactor);
  }

  absl::StatusOr<Expr> ParseFactor() {
    if (pos_ >= tokens_.size()) return Bad("unexpected end of the check string");
    if (Next(Tok::kNot)) {
      auto operand = ParseFactor();
      if (!operand.ok()) return operand;
      Expr e;
      e.kind = Expr::Kind::kNot;
      e.operands.push_back(*std::move(operand));
      return e;
    }
    if (Next(Tok::kLParen)) {
      auto inner = ParseOr();
      if (!inner.ok()) return inner;
      if (!Next(Tok::kRParen)) return Bad("missing ')'");
      return inner;
    }
    const Token& token = tokens_[pos_];
    if (token.kind != Tok::kCheck) return Bad("unexpected '" + token.text + "'");
    ++pos_;
    return ParseCheck(token.text);
  }

  std::vector<Token> tokens_;
  size_t pos_ = 0;
};

absl::StatusOr<Expr> ParseRule(std::string_view check) {
  auto e = Parser(Tokenize(check)).ParseAll();
  if (!e.ok()) return Bad("\"" + std::string(check) + "\": " + std::string(e.status().message()));
  return e;
}

// `tmpl` with the target's fields filled in; nullopt when the target lacks one.
std::optional<std::string> Substitute(const Template& tmpl, const PolicyTarget& target) {
  std::string out;
  for (const Piece& piece : tmpl) {
    if (!piece.is_field) {
      out += piece.text;
      continue;
    }
    auto it = target.find(piece.text);
    if (it == target.end()) return std::nullopt;
    out += it->second;
  }
  return out;
}

bool CredentialEquals(std::string_view key, std::string_view value, const Identity& caller) {
  if (key == "project_id" || key == "tenant") return caller.project_id == value;
  if (key == "user_id" || key == "user") return caller.user_id == value;
  if (key == "is_admin") return value == (caller.is_admin ? "True" : "False");
  if (key == "roles") {
    return std::find(caller.roles.begin(), caller.roles.end(), value) != caller.roles.end();
  }
  return false;
}

void CollectRuleReferences(const Expr& e, std::vector<std::string>* out) {
  if (e.kind == Expr::Kind::kRule) out->push_back(e.name);
  for (const Expr& operand : e.operands) CollectRuleReferences(operand, out);
}

}  // namespace

struct Policy::Rules {
  using Attributes = std::set<std::string, std::less<>>;

  std::map<std::string, Expr, std::less<>> by_name;
  // The target attributes each rule reads (CollectTargetAttributes), found once the rules
  // are final (IndexAttributes): callers ask for them per request.
  std::map<std::string, Attributes, std::less<>> attributes_by_name;

  bool Eval(const Expr& e, const Identity& caller, const PolicyTarget& target) const {
    switch (e.kind) {
      case Expr::Kind::kTrue:
        return true;
      case Expr::Kind::kFalse:
        return false;
      case Expr::Kind::kRule: {
        auto it = by_name.find(e.name);
        return it != by_name.end() && Eval(it->second, caller, target);
      }
      case Expr::Kind::kNot:
        return !Eval(e.operands[0], caller, target);
      case Expr::Kind::kAnd:
        return std::all_of(e.operands.begin(), e.operands.end(),
                           [&](const Expr& o) { return Eval(o, caller, target); });
      case Expr::Kind::kOr:
        return std::any_of(e.operands.begin(), e.operands.end(),
                           [&](const Expr& o) { return Eval(o, caller, target); });
      case Expr::Kind::kRole:
      case Expr::Kind::kCredential:
      case Expr::Kind::kLiteral:
        break;
    }
    std::optional<std::string> match = Substitute(e.match, target);
    if (!match) return false;
    if (e.kind == Expr::Kind::kLiteral) return e.name == *match;
    if (e.kind == Expr::Kind::kCredential) return CredentialEquals(e.name, *match, caller);
    std::string role = Lower(*match);
    return std::any_of(caller.roles.begin(), caller.roles.end(),
                       [&](const std::string& r) { return Lower(r) == role; });
  }

  // Adds the target attributes `e` reads, through the rules it refers to, to `out`.
  void CollectTargetAttributes(const Expr& e, Attributes* out) const {
    if (e.kind == Expr::Kind::kRule) {
      auto it = by_name.find(e.name);
      if (it != by_name.end()) CollectTargetAttributes(it->second, out);
      return;
    }
    for (const Piece& piece : e.match) {
      if (piece.is_field) out->insert(piece.text);
    }
    for (const Expr& operand : e.operands) CollectTargetAttributes(operand, out);
  }

  // Fills attributes_by_name; the rules must be valid (no cycle).
  void IndexAttributes() {
    attributes_by_name.clear();
    for (const auto& [name, e] : by_name) CollectTargetAttributes(e, &attributes_by_name[name]);
  }

  // Every rule:NAME must name a rule, and no rule may depend on itself.
  absl::Status Validate() const {
    enum class Mark { kVisiting, kDone };
    std::map<std::string_view, Mark> marks;
    std::vector<std::string_view> path;
    std::function<absl::Status(std::string_view)> visit = [&](std::string_view name) {
      auto mark = marks.find(name);
      if (mark != marks.end() && mark->second == Mark::kDone) return absl::OkStatus();
      if (mark != marks.end()) {
        std::string cycle;
        auto from = std::find(path.begin(), path.end(), name);
        for (auto it = from; it != path.end(); ++it) cycle += std::string(*it) + " -> ";
        return Bad("the rules refer to each other in a cycle: " + cycle + std::string(name));
      }
      marks[name] = Mark::kVisiting;
      path.push_back(name);
      std::vector<std::string> refs;
      CollectRuleReferences(by_name.find(name)->second, &refs);
      for (const std::string& ref : refs) {
        auto it = by_name.find(ref);
        if (it == by_name.end()) {
          return Bad("the rule \"" + std::string(name) + "\" refers to the undefined rule \"" +
                     ref + "\"");
        }
        if (absl::Status st = visit(it->first); !st.ok()) return st;
      }
      path.pop_back();
      marks[name] = Mark::kDone;
      return absl::OkStatus();
    };
    for (const auto& entry : by_name) {
      if (absl::Status st = visit(entry.first); !st.ok()) return st;
    }
    return absl::OkStatus();
  }
};

Policy::Policy() : rules_(std::make_unique<Rules>()) {
  for (const DefaultRule& rule : kDefaultRules) {
    auto e = ParseRule(rule.check);
    if (!e.ok()) {  // the table above is wrong: policy_test catches this
      std::fprintf(stderr, "default policy rule %.*s: %s\n", static_cast<int>(rule.name.size()),
                   rule.name.data(), std::string(e.status().message()).c_str());
      std::abort();
    }
    rules_->by_name.emplace(rule.name, *std::move(e));
  }
  rules_->IndexAttributes();
}

Policy::Policy(std::unique_ptr<Rules> rules) : rules_(std::move(rules)) {}
Policy::~Policy() = default;
Policy::Policy(Policy&&) noexcept = default;
Policy& Policy::operator=(Policy&&) noexcept = default;

std::span<const DefaultRule> Policy::Defaults() { return kDefaultRules; }

absl::StatusOr<Policy> Policy::WithOverrides(std::string_view text) {
  auto entries = ParsePolicyFile(text);
  if (!entries.ok()) return entries.status();
  Policy policy;
  for (PolicyFileEntry& entry : *entries) {
    auto e = ParseRule(entry.rule);
    if (!e.ok()) {
      std::string where = entry.line > 0 ? " (line " + std::to_string(entry.line) + ")" : "";
      return Bad("rule \"" + entry.name + "\"" + where + ": " + std::string(e.status().message()));
    }
    policy.rules_->by_name.insert_or_assign(std::move(entry.name), *std::move(e));
  }
  if (absl::Status st = policy.rules_->Validate(); !st.ok()) return st;
  policy.rules_->IndexAttributes();
  return policy;
}

absl::StatusOr<Policy> Policy::FromFile(const std::string& path) {
  std::ifstream in(path);
  if (!in) return absl::NotFoundError("cannot read policy file " + path);
  std::stringstream text;
  text << in.rdbuf();
  auto policy = WithOverrides(text.str());
  if (!policy.ok()) {
    return Bad("policy file " + path + ": " + std::string(policy.status().message()));
  }
  return policy;
}

bool Policy::Allowed(std::string_view rule, const Identity& caller,
                     const PolicyTarget& target) const {
  auto it = rules_->by_name.find(rule);
  return it != rules_->by_name.end() && rules_->Eval(it->second, caller, target);
}

const std::set<std::string, std::less<>>& Policy::TargetAttributes(std::string_view rule) const {
  static const Rules::Attributes kNone;
  auto it = rules_->attributes_by_name.find(rule);
  return it == rules_->attributes_by_name.end() ? kNone : it->second;
}

bool Policy::IsAdmin(const Identity& caller) const {
  return Allowed("context_is_admin", caller, PolicyTarget{});
}

}  // namespace gaze::auth
