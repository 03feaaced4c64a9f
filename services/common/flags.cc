#include "services/common/flags.h"

#include <cstdio>
#include <cstdlib>

#include "absl/flags/commandlineflag.h"
#include "absl/flags/parse.h"
#include "absl/flags/reflection.h"
#include "absl/flags/usage.h"

namespace gaze {
namespace {

std::string g_program = "gaze";

std::string EnvName(absl::string_view flag) {
  std::string env = "GAZE_";
  for (char c : flag) {
    env += static_cast<char>(c >= 'a' && c <= 'z' ? c - 'a' + 'A' : c);
  }
  return env;
}

}  // namespace

void ConfigError(std::string_view message) {
  std::fprintf(stderr, "%s: invalid configuration: %.*s\n", g_program.c_str(),
               static_cast<int>(message.size()), message.data());
  std::exit(2);
}

std::vector<std::string> ParseFlagsWithEnv(int argc, char** argv, std::string_view usage) {
  if (argc > 0) {
    std::string_view path = argv[0];
    auto slash = path.rfind('/');
    g_program = std::string(slash == std::string_view::npos ? path : path.substr(slash + 1));
  }
  absl::SetProgramUsageMessage(absl::string_view(usage.data(), usage.size()));
  for (auto& [name, flag] : absl::GetAllFlags()) {
    std::string env = EnvName(name);
    const char* value = std::getenv(env.c_str());
    if (value == nullptr) continue;
    std::string error;
    if (!flag->ParseFrom(value, &error)) {
      ConfigError(env + "=" + value + ": " + error);
    }
  }
  std::vector<char*> positional = absl::ParseCommandLine(argc, argv);
  std::vector<std::string> out;
  for (size_t i = 1; i < positional.size(); ++i) out.emplace_back(positional[i]);
  return out;
}

}  // namespace gaze
