// RunProcess against small shell scripts standing in for qemu-img: argv passed verbatim, limits,
// environment, descriptors and signal mask of the child, timeouts and cancellation that kill
// the whole process group.
#include "task-worker/subprocess.h"

#include <fcntl.h>
#include <signal.h>
#include <sys/stat.h>
#include <unistd.h>

#include <chrono>
#include <filesystem>
#include <fstream>
#include <thread>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/strings/strip.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace gaze::worker {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;

class SubprocessTest : public ::testing::Test {
 protected:
  void SetUp() override {
    char tmpl[] = "/tmp/gaze-subprocess-test-XXXXXX";
    ASSERT_NE(mkdtemp(tmpl), nullptr);
    dir_ = tmpl;
  }
  void TearDown() override { std::filesystem::remove_all(dir_); }

  std::string Script(const std::string& name, const std::string& body, mode_t mode = 0755) {
    const std::string path = dir_ + "/" + name;
    std::ofstream(path) << "#!/bin/sh\n" << body;
    chmod(path.c_str(), mode);
    return path;
  }

  std::string dir_;
};

// True when `pid` is gone or a zombie: killed, whether or not anyone reaped it yet.
bool Dead(pid_t pid) {
  std::ifstream stat("/proc/" + std::to_string(pid) + "/stat");
  std::string line;
  if (!std::getline(stat, line)) return true;
  const size_t paren = line.rfind(')');
  return paren != std::string::npos && paren + 2 < line.size() && line[paren + 2] == 'Z';
}

bool EventuallyDead(pid_t pid) {
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(10);
  while (!Dead(pid)) {
    if (std::chrono::steady_clock::now() > deadline) return false;
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  return true;
}

TEST_F(SubprocessTest, ArgumentsArePassedVerbatimWithoutAShell) {
  const std::string echo = Script("args", "for a in \"$@\"; do printf '%s\\n' \"$a\"; done\n");
  auto run = RunProcess({echo, "a b", "; rm -rf /", "$(id)", "*", "-f"}, {});
  ASSERT_TRUE(run.ok()) << run.status();
  EXPECT_EQ(run->exit_code, 0);
  EXPECT_THAT(absl::StrSplit(absl::StripSuffix(run->out, "\n"), '\n'),
              ElementsAre("a b", "; rm -rf /", "$(id)", "*", "-f"));
}

TEST_F(SubprocessTest, ReportsExitCodeAndStandardError) {
  const std::string fail = Script("fail", "echo 'it went wrong' >&2\nexit 3\n");
  auto run = RunProcess({fail}, {});
  ASSERT_TRUE(run.ok()) << run.status();
  EXPECT_EQ(run->exit_code, 3);
  EXPECT_EQ(run->signal, 0);
  EXPECT_EQ(run->err, "it went wrong\n");
}

TEST_F(SubprocessTest, LimitsAreSetInTheChild) {
  const std::string show = Script("limits", "ulimit -v\nulimit -t\nulimit -c\n");
  ProcessLimits limits;
  limits.address_space_bytes = uint64_t{512} << 20;
  limits.cpu_seconds = 7;
  auto run = RunProcess({show}, limits);
  ASSERT_TRUE(run.ok()) << run.status();
  EXPECT_THAT(absl::StrSplit(absl::StripSuffix(run->out, "\n"), '\n'),
              ElementsAre("524288", "7", "0"));
}

TEST_F(SubprocessTest, TheChildSeesAFixedEnvironmentAndNoInheritedDescriptors) {
  setenv("GAZE_TEST_SECRET", "hunter2", 1);
  const int leaked = ::open("/dev/null", O_RDONLY);  // no O_CLOEXEC, on purpose
  ASSERT_GE(leaked, 0);
  ASSERT_EQ(::dup2(leaked, 200), 200);
  const std::string show = Script(
      "env", "env\n[ -e /proc/$$/fd/200 ] && echo LEAKED\n[ -e /proc/$$/fd/0 ] && echo stdin\n");
  auto run = RunProcess({show}, {});
  ::close(leaked);
  ::close(200);
  unsetenv("GAZE_TEST_SECRET");
  ASSERT_TRUE(run.ok()) << run.status();
  EXPECT_THAT(run->out, HasSubstr("LC_ALL=C"));
  EXPECT_THAT(run->out, ::testing::Not(HasSubstr("hunter2")));
  EXPECT_THAT(run->out, ::testing::Not(HasSubstr("LEAKED")));
  EXPECT_THAT(run->out, HasSubstr("stdin"));
}

TEST_F(SubprocessTest, TheChildDoesNotInheritTheBlockedSignals) {
  // The worker blocks SIGTERM in every thread (shutdown.h); a child that kept the mask could
  // not be stopped with it.
  sigset_t term, old;
  sigemptyset(&term);
  sigaddset(&term, SIGTERM);
  pthread_sigmask(SIG_BLOCK, &term, &old);
  const std::string self_kill = Script("term", "kill -TERM $$\nsleep 5\necho survived\n");
  auto run = RunProcess({self_kill}, {});
  pthread_sigmask(SIG_SETMASK, &old, nullptr);
  ASSERT_TRUE(run.ok()) << run.status();
  EXPECT_EQ(run->signal, SIGTERM);
  EXPECT_EQ(run->exit_code, -1);
}

TEST_F(SubprocessTest, TimeoutKillsTheWholeProcessGroup) {
  const std::string pids = dir_ + "/pids";
  const std::string hang =
      Script("hang", absl::StrCat("sleep 1000 &\necho $$ $! > ", pids, "\nwait\n"));
  ProcessLimits limits;
  limits.timeout = absl::Milliseconds(300);
  const auto start = std::chrono::steady_clock::now();
  auto run = RunProcess({hang}, limits);
  EXPECT_LT(std::chrono::steady_clock::now() - start, std::chrono::seconds(5));
  EXPECT_EQ(run.status().code(), absl::StatusCode::kDeadlineExceeded) << run.status();
  std::ifstream in(pids);
  pid_t shell = 0, sleeper = 0;
  ASSERT_TRUE(in >> shell >> sleeper);
  EXPECT_TRUE(EventuallyDead(shell));
  EXPECT_TRUE(EventuallyDead(sleeper)) << "the grandchild is killed too";
}

TEST_F(SubprocessTest, StopRequestKillsAtOnce) {
  const std::string hang = Script("hang", "sleep 1000\n");
  std::stop_source stop;
  std::thread stopper([&] {
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
    stop.request_stop();
  });
  ProcessLimits limits;
  limits.timeout = absl::Minutes(5);
  const auto start = std::chrono::steady_clock::now();
  auto run = RunProcess({hang}, limits, stop.get_token());
  stopper.join();
  EXPECT_EQ(run.status().code(), absl::StatusCode::kCancelled) << run.status();
  EXPECT_LT(std::chrono::steady_clock::now() - start, std::chrono::seconds(5));
}

TEST_F(SubprocessTest, TooMuchOutputIsAnError) {
  const std::string chatty = Script("chatty", "head -c 3000000 /dev/zero\n");
  ProcessLimits limits;
  limits.max_stdout = 1 << 20;
  auto run = RunProcess({chatty}, limits);
  EXPECT_EQ(run.status().code(), absl::StatusCode::kResourceExhausted) << run.status();
}

TEST_F(SubprocessTest, AProgramThatCannotBeExecutedIsAnError) {
  const std::string not_executable = Script("plain", "exit 0\n", 0644);
  auto run = RunProcess({not_executable}, {});
  EXPECT_EQ(run.status().code(), absl::StatusCode::kUnavailable) << run.status();
  EXPECT_THAT(run.status().message(), HasSubstr("Permission denied"));
  EXPECT_EQ(RunProcess({"relative/path"}, {}).status().code(),
            absl::StatusCode::kInvalidArgument);
}

TEST_F(SubprocessTest, FindExecutableSearchesPath) {
  const std::string tool = Script("gaze-fake-tool", "exit 0\n");
  Script("gaze-not-executable", "exit 0\n", 0644);
  const std::string old_path = std::getenv("PATH") != nullptr ? std::getenv("PATH") : "";
  setenv("PATH", ("relative:" + dir_ + ":/usr/bin").c_str(), 1);
  EXPECT_EQ(FindExecutable("gaze-fake-tool").value_or(""), tool);
  EXPECT_EQ(FindExecutable("gaze-not-executable").status().code(), absl::StatusCode::kNotFound);
  EXPECT_EQ(FindExecutable("no-such-program-anywhere").status().code(),
            absl::StatusCode::kNotFound);
  setenv("PATH", old_path.c_str(), 1);
  EXPECT_EQ(FindExecutable(tool).value_or(""), tool) << "a path is taken as it is";
}

}  // namespace
}  // namespace gaze::worker
