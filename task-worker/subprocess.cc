#include "task-worker/subprocess.h"

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sys/eventfd.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstring>
#include <filesystem>
#include <utility>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/strings/string_view.h"

namespace gaze::worker {
namespace {

// The helper sees only this: the worker's environment may hold credentials, and a
// predictable locale keeps its messages stable.
const char* const kEnvironment[] = {"LC_ALL=C", "PATH=/usr/sbin:/usr/bin:/sbin:/bin", nullptr};
constexpr size_t kStderrKept = 4096;

class Fd {
 public:
  explicit Fd(int fd = -1) : fd_(fd) {}
  Fd(Fd&& other) noexcept : fd_(std::exchange(other.fd_, -1)) {}
  Fd& operator=(Fd&& other) noexcept {
    if (this != &other) {
      Close();
      fd_ = std::exchange(other.fd_, -1);
    }
    return *this;
  }
  ~Fd() { Close(); }
  int get() const { return fd_; }
  void Close() {
    if (fd_ >= 0) ::close(fd_);
    fd_ = -1;
  }

 private:
  int fd_;
};

absl::Status ErrnoError(absl::string_view what, int err) {
  return absl::UnavailableError(absl::StrCat(what, ": ", std::strerror(err)));
}

struct Pipe {
  Fd read;
  Fd write;
};

absl::Status OpenPipe(Pipe& pipe) {
  int fds[2];
  if (::pipe2(fds, O_CLOEXEC) != 0) return ErrnoError("pipe", errno);
  pipe.read = Fd(fds[0]);
  pipe.write = Fd(fds[1]);
  return absl::OkStatus();
}

// Between fork and exec only async-signal-safe calls: the parent has other threads, whose
// locks (malloc's included) may be held at the moment of the fork.
[[noreturn]] void ExecChild(char* const* argv, int stdin_fd, int stdout_fd, int stderr_fd,
                            int status_fd, const rlimit* as_limit, const rlimit* cpu_limit) {
  ::setpgid(0, 0);
  sigset_t none;
  sigemptyset(&none);
  sigprocmask(SIG_SETMASK, &none, nullptr);
  struct sigaction default_action {};
  default_action.sa_handler = SIG_DFL;
  sigaction(SIGPIPE, &default_action, nullptr);
  const rlimit no_core{0, 0};
  setrlimit(RLIMIT_CORE, &no_core);  // a crash on a hostile image must not fill the disk
  if (as_limit != nullptr) setrlimit(RLIMIT_AS, as_limit);
  if (cpu_limit != nullptr) setrlimit(RLIMIT_CPU, cpu_limit);
  ::dup2(stdin_fd, 0);
  ::dup2(stdout_fd, 1);
  ::dup2(stderr_fd, 2);
  for (int fd = 0; fd <= 2; ++fd) ::fcntl(fd, F_SETFD, 0);
  // Every other descriptor closes at exec, whoever opened it without O_CLOEXEC; status_fd
  // with them, which tells the parent the exec worked.
  ::close_range(3, ~0U, CLOSE_RANGE_CLOEXEC);
  ::execve(argv[0], argv, const_cast<char* const*>(kEnvironment));
  const int err = errno;
  [[maybe_unused]] ssize_t n = ::write(status_fd, &err, sizeof err);
  ::_exit(127);
}

void KillGroup(pid_t pid) {
  ::kill(-pid, SIGKILL);
  ::kill(pid, SIGKILL);
}

int Reap(pid_t pid) {
  int status = 0;
  while (::waitpid(pid, &status, 0) < 0 && errno == EINTR) {
  }
  return status;
}

// Appends what `fd` has to `out`; false at end of file (or error).
bool ReadSome(int fd, std::string& out) {
  char buf[65536];
  for (;;) {
    const ssize_t n = ::read(fd, buf, sizeof buf);
    if (n > 0) {
      out.append(buf, static_cast<size_t>(n));
      return true;
    }
    if (n < 0 && errno == EINTR) continue;
    return false;
  }
}

}  // namespace

absl::StatusOr<ProcessResult> RunProcess(const std::vector<std::string>& argv,
                                         const ProcessLimits& limits, std::stop_token stop) {
  if (argv.empty() || argv[0].empty() || argv[0][0] != '/') {
    return absl::InvalidArgumentError("RunProcess needs an absolute program path");
  }
  std::vector<char*> args;
  for (const std::string& arg : argv) args.push_back(const_cast<char*>(arg.c_str()));
  args.push_back(nullptr);
  rlimit as_limit{};
  rlimit cpu_limit{};
  if (limits.address_space_bytes) {
    as_limit.rlim_cur = as_limit.rlim_max = *limits.address_space_bytes;
  }
  if (limits.cpu_seconds) {
    cpu_limit.rlim_cur = *limits.cpu_seconds;
    cpu_limit.rlim_max = *limits.cpu_seconds + 1;
  }

  Fd devnull(::open("/dev/null", O_RDONLY | O_CLOEXEC));
  if (devnull.get() < 0) return ErrnoError("open /dev/null", errno);
  Pipe out, err, status;
  for (Pipe* p : {&out, &err, &status}) {
    if (absl::Status s = OpenPipe(*p); !s.ok()) return s;
  }
  Fd stop_fd(::eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK));
  if (stop_fd.get() < 0) return ErrnoError("eventfd", errno);

  const pid_t pid = ::fork();
  if (pid < 0) return ErrnoError("fork", errno);
  if (pid == 0) {
    ExecChild(args.data(), devnull.get(), out.write.get(), err.write.get(), status.write.get(),
              limits.address_space_bytes ? &as_limit : nullptr,
              limits.cpu_seconds ? &cpu_limit : nullptr);
  }
  // Also here, so that a kill of the group cannot come before the child made it.
  ::setpgid(pid, pid);
  out.write.Close();
  err.write.Close();
  status.write.Close();

  int exec_errno = 0;
  ssize_t got;
  while ((got = ::read(status.read.get(), &exec_errno, sizeof exec_errno)) < 0 && errno == EINTR) {
  }
  if (got == sizeof exec_errno) {
    Reap(pid);
    return ErrnoError(absl::StrCat("cannot run ", argv[0]), exec_errno);
  }

  // Not glibc's pidfd_open: its 2.36 header lacks extern "C".
  Fd pidfd(static_cast<int>(::syscall(SYS_pidfd_open, pid, 0)));
  if (pidfd.get() < 0) {
    const int e = errno;
    KillGroup(pid);
    Reap(pid);
    return absl::InternalError(absl::StrCat("pidfd_open: ", std::strerror(e)));
  }
  std::stop_callback on_stop(stop, [fd = stop_fd.get()] {
    const uint64_t one = 1;
    [[maybe_unused]] ssize_t n = ::write(fd, &one, sizeof one);
  });

  ProcessResult result;
  const auto deadline =
      std::chrono::steady_clock::now() + absl::ToChronoMilliseconds(limits.timeout);
  bool out_open = true;
  bool err_open = true;
  bool exited = false;
  auto abandon = [&](absl::Status why) {
    KillGroup(pid);
    Reap(pid);
    return why;
  };
  while (!exited || out_open || err_open) {
    pollfd fds[4];
    nfds_t n = 0;
    fds[n++] = {stop_fd.get(), POLLIN, 0};
    if (!exited) fds[n++] = {pidfd.get(), POLLIN, 0};
    const nfds_t first_pipe = n;
    if (out_open) fds[n++] = {out.read.get(), POLLIN, 0};
    if (err_open) fds[n++] = {err.read.get(), POLLIN, 0};
    const auto left =
        std::chrono::ceil<std::chrono::milliseconds>(deadline - std::chrono::steady_clock::now());
    if (left.count() <= 0) {
      return abandon(absl::DeadlineExceededError(
          absl::StrCat(argv[0], " did not finish within ", absl::FormatDuration(limits.timeout))));
    }
    const int ready = ::poll(fds, n, static_cast<int>(left.count()));
    if (ready < 0) {
      if (errno == EINTR) continue;
      return abandon(ErrnoError("poll", errno));
    }
    if (fds[0].revents != 0) return abandon(absl::CancelledError(argv[0] + " was cancelled"));
    if (!exited && fds[1].revents != 0) {
      exited = true;
      // The child is a zombie now, which keeps its pid (= group id) from being reused: kill
      // whatever it left behind in its group, so that the pipes reach end of file.
      ::kill(-pid, SIGKILL);
    }
    for (nfds_t i = first_pipe; i < n; ++i) {
      if (fds[i].revents == 0) continue;
      if (fds[i].fd == out.read.get()) {
        out_open = ReadSome(fds[i].fd, result.out);
        if (result.out.size() > limits.max_stdout) {
          return abandon(absl::ResourceExhaustedError(
              absl::StrCat(argv[0], " wrote more than ", limits.max_stdout, " bytes")));
        }
      } else {
        err_open = ReadSome(fds[i].fd, result.err);
        if (result.err.size() > 2 * kStderrKept) {
          result.err.erase(0, result.err.size() - kStderrKept);
        }
      }
    }
  }
  if (result.err.size() > kStderrKept) result.err.erase(0, result.err.size() - kStderrKept);
  const int wait_status = Reap(pid);
  if (WIFEXITED(wait_status)) {
    result.exit_code = WEXITSTATUS(wait_status);
  } else if (WIFSIGNALED(wait_status)) {
    result.signal = WTERMSIG(wait_status);
  }
  return result;
}

absl::StatusOr<std::string> FindExecutable(const std::string& program) {
  auto executable = [](const std::string& path) {
    struct stat st {};
    return ::stat(path.c_str(), &st) == 0 && S_ISREG(st.st_mode) &&
           ::access(path.c_str(), X_OK) == 0;
  };
  if (program.find('/') != std::string::npos) {
    std::error_code ec;
    std::string path = std::filesystem::absolute(program, ec).string();
    if (!ec && executable(path)) return path;
    return absl::NotFoundError(program + " is not an executable file");
  }
  const char* path_env = std::getenv("PATH");
  if (path_env != nullptr) {
    // Empty entries (the current directory) are skipped: where the worker happens to run from
    // must not decide which program it executes.
    for (absl::string_view dir : absl::StrSplit(path_env, ':', absl::SkipEmpty())) {
      if (dir.front() != '/') continue;
      std::string candidate = absl::StrCat(dir, "/", program);
      if (executable(candidate)) return candidate;
    }
  }
  return absl::NotFoundError(program + " was not found on PATH");
}

}  // namespace gaze::worker
