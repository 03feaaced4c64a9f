// JSON string literals, written straight into a buffer (logs, hand-written response bodies).
#pragma once

#include <string>
#include <string_view>

namespace gaze {

// Appends `s` to `out` as a JSON string literal: quoted, with quote, backslash and control
// characters escaped the way Boost.JSON's serializer escapes them; other bytes (UTF-8) pass
// through.
void AppendJsonString(std::string& out, std::string_view s);

}  // namespace gaze
