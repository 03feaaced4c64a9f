#include "bench/json_line.h"

#include <boost/json.hpp>
#include <charconv>
#include <cmath>

namespace gaze::bench {
namespace {

void Write(const boost::json::value& v, std::string& out) {
  switch (v.kind()) {
    case boost::json::kind::object: {
      out += '{';
      bool first = true;
      for (const auto& member : v.get_object()) {
        if (!first) out += ',';
        first = false;
        out += boost::json::serialize(boost::json::string_view(member.key()));
        out += ':';
        Write(member.value(), out);
      }
      out += '}';
      return;
    }
    case boost::json::kind::array: {
      out += '[';
      bool first = true;
      for (const auto& item : v.get_array()) {
        if (!first) out += ',';
        first = false;
        Write(item, out);
      }
      out += ']';
      return;
    }
    case boost::json::kind::double_: {
      double d = v.get_double();
      if (!std::isfinite(d)) {
        out += "null";
        return;
      }
      char buf[64];
      // Shortest round-trip form in fixed notation: 19.2, 2976.7, 0.003.
      auto r = std::to_chars(buf, buf + sizeof buf, d, std::chars_format::fixed);
      out.append(buf, r.ptr);
      return;
    }
    default:
      out += boost::json::serialize(v);
      return;
  }
}

}  // namespace

std::string JsonLine(const boost::json::value& value) {
  std::string out;
  Write(value, out);
  return out;
}

}  // namespace gaze::bench
