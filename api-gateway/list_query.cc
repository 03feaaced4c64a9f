#include "api-gateway/list_query.h"

#include <algorithm>
#include <charconv>
#include <climits>
#include <optional>

#include "absl/time/civil_time.h"
#include "absl/time/time.h"
#include "api-gateway/http_message.h"
#include "api-gateway/image_json.h"

namespace gaze::gateway {
namespace {

absl::Status Bad(std::string msg) { return absl::InvalidArgumentError(std::move(msg)); }

bool ParseInt64(std::string_view s, int64_t* out) {
  if (s.empty()) return false;
  auto [ptr, ec] = std::from_chars(s.data(), s.data() + s.size(), *out);
  return ec == std::errc() && ptr == s.data() + s.size();
}

// Splits "a,b" / "\"a,b\",c" as Glance's split_filter_value_for_quotes does.
absl::StatusOr<std::vector<std::string>> SplitInList(std::string_view list) {
  std::vector<std::string> out;
  size_t i = 0;
  while (i <= list.size()) {
    std::string item;
    if (i < list.size() && list[i] == '"') {
      size_t close = list.find('"', i + 1);
      if (close == std::string_view::npos)
        return Bad("Invalid filter value " + std::string(list) + ". The quote is not closed.");
      item = std::string(list.substr(i + 1, close - i - 1));
      i = close + 1;
      if (i < list.size() && list[i] != ',') {
        return Bad("Invalid filter value " + std::string(list) +
                   ". There is no comma after closing quotation mark.");
      }
    } else {
      size_t comma = list.find(',', i);
      std::string_view raw =
          list.substr(i, comma == std::string_view::npos ? std::string_view::npos : comma - i);
      if (raw.find('"') != std::string_view::npos) {
        return Bad("Invalid filter value " + std::string(list) +
                   ". There is no comma before opening quotation mark.");
      }
      item = std::string(raw);
      i = comma == std::string_view::npos ? list.size() : comma;
    }
    out.push_back(std::move(item));
    if (i >= list.size()) break;
    ++i;  // the comma
  }
  return out;
}

// name/id/status/disk_format/container_format accept "v", "eq:v" and "in:v1,v2".
absl::StatusOr<std::vector<std::string>> ParseListFilter(std::string_view key,
                                                         std::string_view value) {
  size_t colon = value.find(':');
  if (colon == std::string_view::npos) return std::vector<std::string>{std::string(value)};
  std::string_view op = value.substr(0, colon);
  std::string_view operand = value.substr(colon + 1);
  if (op == "eq") return std::vector<std::string>{std::string(operand)};
  if (op == "in") return SplitInList(operand);
  return Bad("Unable to filter by unknown operator '" + std::string(op) + "' for " +
             std::string(key) + ".");
}

// The value `name` stands for in `table`, or nullopt.
template <typename T, size_t N>
std::optional<T> Lookup(const std::pair<std::string_view, T> (&table)[N], std::string_view name) {
  for (const auto& [key, value] : table) {
    if (key == name) return value;
  }
  return std::nullopt;
}

std::string_view Strip(std::string_view s) {
  while (!s.empty() && std::isspace(static_cast<unsigned char>(s.front()))) s.remove_prefix(1);
  while (!s.empty() && std::isspace(static_cast<unsigned char>(s.back()))) s.remove_suffix(1);
  return s;
}

// Reads `n` digits at `*pos`.
bool ReadDigits(std::string_view s, size_t* pos, size_t n, int* out) {
  if (*pos + n > s.size()) return false;
  int value = 0;
  for (size_t i = *pos; i < *pos + n; ++i) {
    if (s[i] < '0' || s[i] > '9') return false;
    value = value * 10 + (s[i] - '0');
  }
  *pos += n;
  *out = value;
  return true;
}

bool Next(std::string_view s, size_t* pos, std::string_view chars) {
  if (*pos < s.size() && chars.find(s[*pos]) != std::string_view::npos) {
    ++*pos;
    return true;
  }
  return false;
}

// An ISO 8601 time as Glance's parse_isotime reads it: YYYY-MM-DD, optionally followed by
// T (or a space) hh[:mm[:ss[.fraction]]] and Z or an offset ±hh[[:]mm]. No offset means UTC.
bool ParseIsoTime(std::string_view s, google::protobuf::Timestamp* out) {
  size_t pos = 0;
  int year = 0, month = 0, day = 0, hour = 0, minute = 0, second = 0, nanos = 0;
  int64_t offset = 0;  // seconds east of UTC
  if (!ReadDigits(s, &pos, 4, &year) || !Next(s, &pos, "-") || !ReadDigits(s, &pos, 2, &month) ||
      !Next(s, &pos, "-") || !ReadDigits(s, &pos, 2, &day)) {
    return false;
  }
  if (Next(s, &pos, "Tt ")) {
    if (!ReadDigits(s, &pos, 2, &hour)) return false;
    if (Next(s, &pos, ":") && !ReadDigits(s, &pos, 2, &minute)) return false;
    if (Next(s, &pos, ":") && !ReadDigits(s, &pos, 2, &second)) return false;
    if (Next(s, &pos, ".,")) {
      size_t start = pos;
      int scale = 100000000;
      for (; pos < s.size() && s[pos] >= '0' && s[pos] <= '9'; ++pos, scale /= 10) {
        nanos += (s[pos] - '0') * scale;  // digits past nanoseconds add 0
      }
      if (pos == start) return false;
    }
    if (!Next(s, &pos, "Zz") && pos < s.size()) {
      int sign = s[pos] == '-' ? -1 : 1;
      int tz_hour = 0, tz_minute = 0;
      if (!Next(s, &pos, "+-") || !ReadDigits(s, &pos, 2, &tz_hour)) return false;
      if (pos < s.size()) {
        Next(s, &pos, ":");
        if (!ReadDigits(s, &pos, 2, &tz_minute)) return false;
      }
      if (tz_hour > 23 || tz_minute > 59) return false;
      offset = sign * (tz_hour * 3600 + tz_minute * 60);
    }
  }
  if (pos != s.size()) return false;
  // CivilSecond normalizes out-of-range fields (month 13, hour 24): refuse those instead.
  absl::CivilSecond civil(year, month, day, hour, minute, second);
  if (civil.year() != year || civil.month() != month || civil.day() != day ||
      civil.hour() != hour || civil.minute() != minute || civil.second() != second) {
    return false;
  }
  out->set_seconds(absl::ToUnixSeconds(absl::FromCivil(civil, absl::UTCTimeZone())) - offset);
  out->set_nanos(nanos);
  return true;
}

// created_at / updated_at: "<op>:<time>" with op one of gt gte lt lte eq neq, or a bare time
// (eq). A bare time contains colons itself, so it is tried whole first, as Glance does.
absl::StatusOr<v1::TimeCondition> ParseTimeFilter(std::string_view key, std::string_view value) {
  v1::TimeCondition condition;
  if (ParseIsoTime(value, condition.mutable_value())) {
    condition.set_op(v1::COMPARISON_OP_EQ);
    return condition;
  }
  size_t colon = value.find(':');
  std::string_view op = colon == std::string_view::npos ? "" : value.substr(0, colon);
  std::string_view time = colon == std::string_view::npos ? value : value.substr(colon + 1);
  if (!ParseIsoTime(time, condition.mutable_value())) {
    return Bad("Invalid value '" + std::string(value) + "' for parameter '" + std::string(key) +
               "': expected [gt|gte|lt|lte|eq|neq:]<ISO 8601 time>.");
  }
  static constexpr std::pair<std::string_view, v1::ComparisonOp> kOps[] = {
      {"eq", v1::COMPARISON_OP_EQ}, {"neq", v1::COMPARISON_OP_NEQ},
      {"gt", v1::COMPARISON_OP_GT}, {"gte", v1::COMPARISON_OP_GTE},
      {"lt", v1::COMPARISON_OP_LT}, {"lte", v1::COMPARISON_OP_LTE}};
  if (std::optional<v1::ComparisonOp> comparison = Lookup(kOps, op)) {
    condition.set_op(*comparison);
    return condition;
  }
  return Bad("Unable to filter on '" + std::string(key) + "' using the operator '" +
             std::string(op) + "'.");
}

absl::StatusOr<v1::SortField> ParseSortKey(std::string_view key) {
  static constexpr std::pair<std::string_view, v1::SortField> kKeys[] = {
      {"name", v1::SORT_FIELD_NAME},
      {"status", v1::SORT_FIELD_STATUS},
      {"container_format", v1::SORT_FIELD_CONTAINER_FORMAT},
      {"disk_format", v1::SORT_FIELD_DISK_FORMAT},
      {"size", v1::SORT_FIELD_SIZE},
      {"id", v1::SORT_FIELD_ID},
      {"created_at", v1::SORT_FIELD_CREATED_AT},
      {"updated_at", v1::SORT_FIELD_UPDATED_AT},
  };
  if (std::optional<v1::SortField> field = Lookup(kKeys, key)) return *field;
  return Bad("Invalid sort key: " + std::string(key) +
             ". It should be one of the following: "
             "name, status, container_format, disk_format, size, id, created_at, updated_at.");
}

absl::StatusOr<bool> ParseSortDir(std::string_view dir) {
  if (dir == "asc") return false;
  if (dir == "desc") return true;
  return Bad("Invalid sort direction: " + std::string(dir));
}

absl::StatusOr<bool> ParseBool(std::string_view key, std::string_view v) {
  if (v == "true" || v == "True") return true;
  if (v == "false" || v == "False") return false;
  return Bad("Invalid value '" + std::string(v) + "' for '" + std::string(key) +
             "' filter. Valid values are 'true' and 'false'.");
}

absl::Status ParseSort(const std::vector<std::string>& keys, const std::vector<std::string>& dirs,
                       const std::vector<std::string>& sort, v1::ListImagesRequest* out) {
  if (!sort.empty() && (!keys.empty() || !dirs.empty())) {
    return Bad("The 'sort' parameter cannot be combined with 'sort_key' or 'sort_dir'.");
  }
  for (const std::string& spec : sort) {
    // Every comma-separated item must be a key: "name," and "" are errors, as in Glance.
    std::string_view rest = Strip(spec);
    for (bool more = true; more;) {
      size_t comma = rest.find(',');
      std::string_view item = rest.substr(0, comma);
      more = comma != std::string_view::npos;
      if (more) rest = rest.substr(comma + 1);
      size_t colon = item.find(':');
      auto field = ParseSortKey(Strip(item.substr(0, colon)));
      if (!field.ok()) return field.status();
      bool desc = true;  // new syntax: a key without direction sorts descending
      if (colon != std::string_view::npos && !Strip(item.substr(colon + 1)).empty()) {
        auto d = ParseSortDir(Strip(item.substr(colon + 1)));
        if (!d.ok()) return d.status();
        desc = *d;
      }
      v1::SortKey* k = out->add_sort();
      k->set_field(*field);
      k->set_descending(desc);
    }
  }
  if (dirs.size() > 1 && dirs.size() != keys.size()) {
    return Bad("Number of sort dirs does not match the number of sort keys");
  }
  std::vector<bool> descending;
  for (const std::string& d : dirs) {
    auto parsed = ParseSortDir(Strip(d));
    if (!parsed.ok()) return parsed.status();
    descending.push_back(*parsed);
  }
  for (size_t i = 0; i < keys.size(); ++i) {
    auto field = ParseSortKey(Strip(keys[i]));
    if (!field.ok()) return field.status();
    v1::SortKey* k = out->add_sort();
    k->set_field(*field);
    k->set_descending(descending.empty() ? true : descending[descending.size() == 1 ? 0 : i]);
  }
  if (keys.empty() && dirs.size() == 1) {  // sort_dir alone applies to the default key
    v1::SortKey* k = out->add_sort();
    k->set_field(v1::SORT_FIELD_CREATED_AT);
    k->set_descending(descending[0]);
  }
  return absl::OkStatus();
}

std::string Link(std::string_view collection, const QueryParams& query, const std::string* marker) {
  std::string out(collection);
  char sep = '?';
  for (const auto& [k, v] : query) {
    if (k == "marker") continue;
    out += sep;
    out += PercentEncode(k) + "=" + PercentEncode(v);
    sep = '&';
  }
  if (marker != nullptr) {
    out += sep;
    out += "marker=" + PercentEncode(*marker);
  }
  return out;
}

}  // namespace

absl::StatusOr<ListQuery> ParseListQuery(const QueryParams& query) {
  ListQuery out;
  v1::ListImagesRequest& req = out.request;
  v1::ImageFilter& f = *req.mutable_filter();
  std::vector<std::string> sort_keys, sort_dirs, sort;
  for (const auto& [key, value] : query) {
    if (key == "limit") {
      absl::StatusOr<int32_t> limit = ParseLimit(value);
      if (!limit.ok()) return limit.status();
      req.set_limit(*limit);
      out.empty_page = out.empty_page || *limit == 0;
    } else if (key == "marker") {
      req.set_marker(value);
    } else if (key == "sort_key") {
      sort_keys.push_back(value);
    } else if (key == "sort_dir") {
      sort_dirs.push_back(value);
    } else if (key == "sort") {
      sort.push_back(value);
    } else if (key == "name" || key == "id" || key == "status" || key == "disk_format" ||
               key == "container_format") {
      auto values = ParseListFilter(key, value);
      if (!values.ok()) return values.status();
      for (std::string& v : *values) {
        if (key == "name") f.add_names(std::move(v));
        if (key == "id") f.add_ids(std::move(v));
        if (key == "disk_format") f.add_disk_formats(std::move(v));
        if (key == "container_format") f.add_container_formats(std::move(v));
        v1::ImageStatus s;
        if (key == "status" && ParseStatus(v, &s)) f.add_statuses(s);
      }
      // Unknown statuses match nothing, as in Glance; if no known one is left, nothing does.
      if (key == "status" && f.statuses().empty()) out.empty_page = true;
    } else if (key == "visibility") {
      static constexpr std::pair<std::string_view, v1::VisibilityFilter> kVis[] = {
          {"public", v1::VISIBILITY_FILTER_PUBLIC},
          {"private", v1::VISIBILITY_FILTER_PRIVATE},
          {"shared", v1::VISIBILITY_FILTER_SHARED},
          {"community", v1::VISIBILITY_FILTER_COMMUNITY},
          {"all", v1::VISIBILITY_FILTER_ALL}};
      std::optional<v1::VisibilityFilter> visibility = Lookup(kVis, value);
      if (!visibility) return Bad("Invalid visibility value: " + value);
      f.set_visibility(*visibility);
    } else if (key == "owner") {
      f.set_owner(value);
    } else if (key == "tag") {
      f.add_tags(value);
    } else if (key == "size_min" || key == "size_max") {
      int64_t n = 0;
      if (!ParseInt64(value, &n)) return Bad("Invalid " + key + " value: " + value);
      key == "size_min" ? f.set_size_min(n) : f.set_size_max(n);
    } else if (key == "protected" || key == "os_hidden") {
      auto b = ParseBool(key, value);
      if (!b.ok()) return b.status();
      key == "protected" ? f.set_protected_(*b) : f.set_os_hidden(*b);
    } else if (key == "member_status") {
      static constexpr std::pair<std::string_view, v1::MemberStatusFilter> kStatuses[] = {
          {"accepted", v1::MEMBER_STATUS_FILTER_ACCEPTED},
          {"pending", v1::MEMBER_STATUS_FILTER_PENDING},
          {"rejected", v1::MEMBER_STATUS_FILTER_REJECTED},
          {"all", v1::MEMBER_STATUS_FILTER_ALL}};
      std::optional<v1::MemberStatusFilter> status = Lookup(kStatuses, value);
      if (!status) return Bad("Invalid status value: " + value);
      f.set_member_status(*status);
    } else if (key == "changes-since") {
      return Bad("The 'changes-since' filter is no longer available on v2.");
    } else if (key == "created_at" || key == "updated_at") {
      auto condition = ParseTimeFilter(key, value);
      if (!condition.ok()) return condition.status();
      *(key == "created_at" ? f.add_created_at() : f.add_updated_at()) = *std::move(condition);
    } else if (key == "checksum") {
      f.set_checksum(value);
    } else if (key == "os_hash_value") {
      f.set_os_hash_value(value);
    } else if (key == "min_ram" || key == "min_disk") {
      int64_t n = 0;
      if (!ParseInt64(value, &n) || n < INT32_MIN || n > INT32_MAX) {
        return Bad("Invalid " + key + " value: " + value + ". It must be an integer.");
      }
      key == "min_ram" ? f.set_min_ram(static_cast<int32_t>(n))
                       : f.set_min_disk(static_cast<int32_t>(n));
    } else {
      (*f.mutable_properties())[key] = value;
    }
  }
  if (absl::Status st = ParseSort(sort_keys, sort_dirs, sort, &req); !st.ok()) return st;
  return out;
}

absl::StatusOr<int32_t> ParseLimit(std::string_view value) {
  int64_t limit = 0;
  if (!ParseInt64(value, &limit)) return Bad("limit param must be an integer");
  if (limit < 0) return Bad("limit param must be positive");
  return static_cast<int32_t>(std::min<int64_t>(limit, kMaxPageSize));
}

std::string FirstLink(std::string_view collection, const QueryParams& query) {
  return Link(collection, query, nullptr);
}

std::string NextLink(std::string_view collection, const QueryParams& query,
                     const std::string& last_id) {
  return Link(collection, query, &last_id);
}

}  // namespace gaze::gateway
