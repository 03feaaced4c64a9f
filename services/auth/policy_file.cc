#include "services/auth/policy_file.h"

#include <boost/json.hpp>
#include <set>

namespace gaze::auth {
namespace {

namespace json = boost::json;

bool IsBlank(char c) { return c == ' ' || c == '\t'; }

std::string_view SkipBlanks(std::string_view s) {
  while (!s.empty() && IsBlank(s.front())) s.remove_prefix(1);
  return s;
}

// Reads a YAML scalar from the front of `*rest` and advances past it. `is_key` ends a plain
// scalar at ": " (or ":" at the end of the line) instead of at the end of the line.
absl::StatusOr<std::string> ReadScalar(std::string_view* rest, bool is_key) {
  std::string_view s = *rest;
  std::string out;
  if (s.empty()) return absl::InvalidArgumentError("expected a value");
  if (s.front() == '"') {
    size_t i = 1;
    for (; i < s.size() && s[i] != '"'; ++i) {
      if (s[i] != '\\') {
        out += s[i];
        continue;
      }
      if (++i == s.size()) break;
      // The escapes a check string can need; YAML's others (\n, \x..) have no use in one.
      if (s[i] != '"' && s[i] != '\\' && s[i] != '/') {
        return absl::InvalidArgumentError(std::string("unsupported escape \\") + s[i]);
      }
      out += s[i];
    }
    if (i >= s.size()) return absl::InvalidArgumentError("unterminated double-quoted string");
    *rest = s.substr(i + 1);
    return out;
  }
  if (s.front() == '\'') {
    size_t i = 1;
    for (;; ++i) {
      if (i >= s.size()) return absl::InvalidArgumentError("unterminated single-quoted string");
      if (s[i] != '\'') {
        out += s[i];
      } else if (i + 1 < s.size() && s[i + 1] == '\'') {  // '' is an escaped quote
        out += '\'';
        ++i;
      } else {
        break;
      }
    }
    *rest = s.substr(i + 1);
    return out;
  }
  // A plain scalar. These first characters mean something else in YAML (flow collections,
  // anchors, aliases, tags, block scalars, directives, reserved): such a value must be quoted.
  static constexpr std::string_view kIndicators = "[]{},&*!|>%@`#\"'";
  if (kIndicators.find(s.front()) != std::string_view::npos ||
      ((s.front() == '-' || s.front() == '?' || s.front() == ':') &&
       (s.size() == 1 || IsBlank(s[1])))) {
    return absl::InvalidArgumentError(std::string("a value starting with '") + s.front() +
                                      "' must be quoted");
  }
  size_t end = s.size();
  for (size_t i = 0; i < s.size(); ++i) {
    bool before_blank = i + 1 == s.size() || IsBlank(s[i + 1]);
    if (is_key && s[i] == ':' && before_blank) {
      end = i;
      break;
    }
    if (s[i] == '#' && i > 0 && IsBlank(s[i - 1])) {  // a comment ends the scalar
      end = i;
      break;
    }
    if (!is_key && s[i] == ':' && before_blank) {
      return absl::InvalidArgumentError("a value containing ': ' must be quoted");
    }
  }
  std::string_view plain = s.substr(0, end);
  while (!plain.empty() && IsBlank(plain.back())) plain.remove_suffix(1);
  *rest = s.substr(end);
  return std::string(plain);
}

absl::StatusOr<std::vector<PolicyFileEntry>> ParseJson(std::string_view text) {
  boost::system::error_code ec;
  json::value root = json::parse(json::string_view(text.data(), text.size()), ec);
  if (ec) return absl::InvalidArgumentError("not valid JSON: " + ec.message());
  if (!root.is_object()) return absl::InvalidArgumentError("expected a JSON object");
  std::vector<PolicyFileEntry> out;
  for (const auto& [key, value] : root.as_object()) {
    std::string name(key.data(), key.size());
    if (!value.is_string()) {
      return absl::InvalidArgumentError("the rule \"" + name + "\" must be a string");
    }
    out.push_back({name, std::string(value.as_string().data(), value.as_string().size()), 0});
  }
  return out;
}

absl::StatusOr<std::vector<PolicyFileEntry>> ParseYaml(std::string_view text) {
  std::vector<PolicyFileEntry> out;
  std::set<std::string, std::less<>> seen;
  int line_no = 0;
  while (!text.empty()) {
    size_t nl = text.find('\n');
    std::string_view line = text.substr(0, nl);
    text = nl == std::string_view::npos ? std::string_view() : text.substr(nl + 1);
    ++line_no;
    if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
    std::string_view content = SkipBlanks(line);
    if (content.empty() || content.front() == '#') continue;
    if (line_no == 1 && content.substr(0, 3) == "---" && SkipBlanks(content.substr(3)).empty()) {
      continue;  // document start marker
    }
    auto fail = [&](std::string_view why) {
      return absl::InvalidArgumentError("line " + std::to_string(line_no) + ": " +
                                        std::string(why));
    };
    if (content.size() != line.size()) {
      return fail("unexpected indentation: expected one \"rule\": \"check string\" per line");
    }
    std::string_view rest = line;
    auto name = ReadScalar(&rest, /*is_key=*/true);
    if (!name.ok()) return fail(std::string(name.status().message()));
    rest = SkipBlanks(rest);
    if (rest.empty() || rest.front() != ':') return fail("expected ':' after the rule name");
    rest = SkipBlanks(rest.substr(1));
    if (rest.empty() || rest.front() == '#') {
      return fail("the rule \"" + *name + "\" has no check string (write \"\" to allow everyone)");
    }
    auto rule = ReadScalar(&rest, /*is_key=*/false);
    if (!rule.ok()) return fail(std::string(rule.status().message()));
    rest = SkipBlanks(rest);
    if (!rest.empty() && rest.front() != '#') return fail("unexpected text after the value");
    if (name->empty()) return fail("empty rule name");
    if (!seen.insert(*name).second) return fail("the rule \"" + *name + "\" is defined twice");
    out.push_back({*std::move(name), *std::move(rule), line_no});
  }
  return out;
}

}  // namespace

absl::StatusOr<std::vector<PolicyFileEntry>> ParsePolicyFile(std::string_view text) {
  if (text.substr(0, 3) == "\xEF\xBB\xBF") text.remove_prefix(3);  // UTF-8 byte order mark
  // JSON is a subset of YAML, but a JSON file is a single flow mapping: read it as JSON.
  size_t first = text.find_first_not_of(" \t\r\n");
  if (first != std::string_view::npos && text[first] == '{') return ParseJson(text);
  return ParseYaml(text);
}

}  // namespace gaze::auth
