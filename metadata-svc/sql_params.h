// Building blocks for SQL text assembled at run time: positional parameters and PostgreSQL
// array literals. Values always travel as bound parameters, never inside the SQL text.
#pragma once

#include <string>
#include <vector>

namespace gaze::metadata {

// Collects the values of a statement's $1..$N parameters in text form; the SQL casts them
// ("$3::bigint"), so one representation serves every type.
class SqlParams {
 public:
  // Appends `value` and returns its placeholder, e.g. "$4".
  std::string Add(std::string value);
  const std::vector<std::string>& values() const { return values_; }

 private:
  std::vector<std::string> values_;
};

// A PostgreSQL array literal for text[] / uuid[] / bigint[] parameters: {"a","b\"c"}.
std::string PgArrayLiteral(const std::vector<std::string>& elements);

}  // namespace gaze::metadata
