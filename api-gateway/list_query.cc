#include "api-gateway/list_query.h"

#include <charconv>

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
  for (auto [name, field] : kKeys) {
    if (name == key) return field;
  }
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
    std::string_view rest = spec;
    while (!rest.empty()) {
      size_t comma = rest.find(',');
      std::string_view item = rest.substr(0, comma);
      rest = comma == std::string_view::npos ? std::string_view() : rest.substr(comma + 1);
      size_t colon = item.find(':');
      auto field = ParseSortKey(item.substr(0, colon));
      if (!field.ok()) return field.status();
      bool desc = true;  // new syntax: a key without direction sorts descending
      if (colon != std::string_view::npos) {
        auto d = ParseSortDir(item.substr(colon + 1));
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
    auto parsed = ParseSortDir(d);
    if (!parsed.ok()) return parsed.status();
    descending.push_back(*parsed);
  }
  for (size_t i = 0; i < keys.size(); ++i) {
    auto field = ParseSortKey(keys[i]);
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

std::string Link(const QueryParams& query, const std::string* marker) {
  std::string out = "/v2/images";
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
      int64_t limit = 0;
      if (!ParseInt64(value, &limit)) return Bad("limit param must be an integer");
      if (limit < 0) return Bad("limit param must be positive");
      req.set_limit(static_cast<int32_t>(std::min<int64_t>(limit, kMaxPageSize)));
      out.zero_limit = limit == 0;
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
        if (key == "status") {
          v1::ImageStatus s;
          // An unknown status matches nothing, as in Glance.
          f.add_statuses(ParseStatus(v, &s) ? s : v1::IMAGE_STATUS_UNSPECIFIED);
        }
      }
    } else if (key == "visibility") {
      static constexpr std::pair<std::string_view, v1::VisibilityFilter> kVis[] = {
          {"public", v1::VISIBILITY_FILTER_PUBLIC},
          {"private", v1::VISIBILITY_FILTER_PRIVATE},
          {"shared", v1::VISIBILITY_FILTER_SHARED},
          {"community", v1::VISIBILITY_FILTER_COMMUNITY},
          {"all", v1::VISIBILITY_FILTER_ALL}};
      bool ok = false;
      for (auto [name, vis] : kVis) {
        if (name == value) {
          f.set_visibility(vis);
          ok = true;
        }
      }
      if (!ok) {
        return Bad("Invalid visibility value: " + value);
      }
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
      if (value != "accepted" && value != "pending" && value != "rejected" && value != "all") {
        return Bad("Invalid status value: " + value);
      }
      // Members are not implemented yet: no image is shared with anyone, so the filter can
      // only affect images that do not exist.
    } else if (key == "changes-since") {
      return Bad("The 'changes-since' filter is no longer available on v2.");
    } else if (key == "created_at" || key == "updated_at" || key == "checksum" ||
               key == "os_hash_value" || key == "min_ram" || key == "min_disk") {
      return absl::UnimplementedError("Filtering images by '" + key +
                                      "' is not implemented by Gaze yet.");
    } else {
      (*f.mutable_properties())[key] = value;
    }
  }
  if (absl::Status st = ParseSort(sort_keys, sort_dirs, sort, &req); !st.ok()) return st;
  return out;
}

std::string FirstLink(const QueryParams& query) { return Link(query, nullptr); }

std::string NextLink(const QueryParams& query, const std::string& last_id) {
  return Link(query, &last_id);
}

}  // namespace gaze::gateway
