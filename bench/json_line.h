// One JSON document on one line, with numbers as people read them: Boost.JSON 1.81 writes every
// double in exponent form ("1.92E1"), which makes the result lines hard to scan by eye.
#pragma once

#include <boost/json/value.hpp>
#include <string>

namespace gaze::bench {

std::string JsonLine(const boost::json::value& value);

}  // namespace gaze::bench
