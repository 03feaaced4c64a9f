// SqlParams and array-literal quoting.
#include "metadata-svc/sql_params.h"

namespace gaze::metadata {

std::string SqlParams::Add(std::string value) {
  values_.push_back(std::move(value));
  return "$" + std::to_string(values_.size());
}

std::string PgArrayLiteral(const std::vector<std::string>& elements) {
  std::string out = "{";
  for (size_t i = 0; i < elements.size(); ++i) {
    if (i > 0) out += ',';
    // Quoting every element keeps NULL, empty strings, commas and braces literal.
    out += '"';
    for (char c : elements[i]) {
      if (c == '"' || c == '\\') out += '\\';
      out += c;
    }
    out += '"';
  }
  out += '}';
  return out;
}

}  // namespace gaze::metadata
