// Command-line parsing shared by every Gaze binary.
//
// Each option is an ABSL_FLAG. Its environment override is GAZE_<FLAG NAME IN CAPITALS>
// (flag `api_port` <- GAZE_API_PORT); a flag given on the command line wins over the
// environment. An environment value that does not parse stops start-up with a message
// naming the variable.
#pragma once

#include <string>
#include <string_view>
#include <vector>

namespace gaze {

// Applies environment overrides, parses argv, and returns the positional arguments
// (argv[0] excluded). Exits with status 2 and a message on any invalid value.
std::vector<std::string> ParseFlagsWithEnv(int argc, char** argv, std::string_view usage);

// Prints "<program>: invalid configuration: <message>" to stderr and exits with status 2.
// For validation of parsed values that flag parsing alone cannot express.
[[noreturn]] void ConfigError(std::string_view message);

}  // namespace gaze
