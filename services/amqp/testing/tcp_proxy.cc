#include "services/amqp/testing/tcp_proxy.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <netdb.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <vector>

#include "absl/strings/str_cat.h"

namespace gaze::amqp::testing {
namespace {

absl::Status ErrnoError(std::string_view what) {
  return absl::InternalError(absl::StrCat(std::string(what), ": ", std::strerror(errno)));
}

int ConnectTo(const std::string& host, int port) {
  addrinfo hints{};
  hints.ai_family = AF_UNSPEC;
  hints.ai_socktype = SOCK_STREAM;
  addrinfo* res = nullptr;
  if (getaddrinfo(host.c_str(), std::to_string(port).c_str(), &hints, &res) != 0) return -1;
  int fd = -1;
  for (addrinfo* ai = res; ai != nullptr; ai = ai->ai_next) {
    fd = ::socket(ai->ai_family, ai->ai_socktype | SOCK_CLOEXEC, ai->ai_protocol);
    if (fd < 0) continue;
    if (::connect(fd, ai->ai_addr, ai->ai_addrlen) == 0) break;
    ::close(fd);
    fd = -1;
  }
  freeaddrinfo(res);
  return fd;
}

// Writes all of `data`; false when the peer is gone.
bool WriteAll(int fd, const char* data, size_t size) {
  while (size > 0) {
    ssize_t n = ::send(fd, data, size, MSG_NOSIGNAL);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return false;
    data += n;
    size -= static_cast<size_t>(n);
  }
  return true;
}

struct Pair {
  int client;
  int upstream;
};

}  // namespace

absl::StatusOr<std::unique_ptr<TcpProxy>> TcpProxy::Start(const std::string& upstream_host,
                                                          int upstream_port) {
  int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) return ErrnoError("socket");
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  socklen_t len = sizeof addr;
  if (::bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0 || ::listen(fd, 16) != 0 ||
      ::getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len) != 0) {
    absl::Status status = ErrnoError("listen on 127.0.0.1:0");
    ::close(fd);
    return status;
  }
  int wake[2];
  if (::pipe2(wake, O_CLOEXEC) != 0) {
    absl::Status status = ErrnoError("pipe");
    ::close(fd);
    return status;
  }
  return std::unique_ptr<TcpProxy>(
      new TcpProxy(fd, ntohs(addr.sin_port), wake[0], wake[1], upstream_host, upstream_port));
}

TcpProxy::TcpProxy(int listen_fd, int port, int wake_read, int wake_write,
                   std::string upstream_host, int upstream_port)
    : listen_fd_(listen_fd),
      port_(port),
      wake_read_(wake_read),
      wake_write_(wake_write),
      upstream_host_(std::move(upstream_host)),
      upstream_port_(upstream_port),
      thread_([this] { Run(); }) {}

TcpProxy::~TcpProxy() {
  {
    absl::MutexLock lock(&mu_);
    stop_ = true;
    const char byte = 0;
    [[maybe_unused]] ssize_t n = ::write(wake_write_, &byte, 1);
  }
  thread_.join();
  ::close(listen_fd_);
  ::close(wake_read_);
  ::close(wake_write_);
}

void TcpProxy::Apply() {
  const int wanted = ++generation_;
  const char byte = 0;
  [[maybe_unused]] ssize_t n = ::write(wake_write_, &byte, 1);
  struct Applied {
    const int* applied;
    int wanted;
  } applied{&applied_generation_, wanted};
  mu_.Await(absl::Condition(
      +[](Applied* a) { return *a->applied >= a->wanted; }, &applied));
}

void TcpProxy::CutConnections() {
  absl::MutexLock lock(&mu_);
  cut_pending_ = true;
  Apply();
}

void TcpProxy::SetRefusing(bool refusing) {
  absl::MutexLock lock(&mu_);
  refusing_ = refusing;
  Apply();
}

void TcpProxy::SetBlackhole(bool blackhole) {
  absl::MutexLock lock(&mu_);
  blackhole_ = blackhole;
  Apply();
}

void TcpProxy::Run() {
  std::vector<Pair> pairs;
  auto close_pair = [](const Pair& p) {
    ::close(p.client);
    ::close(p.upstream);
  };
  for (;;) {
    bool blackhole = false;
    bool refusing = false;
    {
      absl::MutexLock lock(&mu_);
      if (stop_) break;
      if (cut_pending_) {
        for (const Pair& p : pairs) close_pair(p);
        pairs.clear();
        cut_pending_ = false;
      }
      blackhole = blackhole_;
      refusing = refusing_;
      applied_generation_ = generation_;
    }

    std::vector<pollfd> fds = {{listen_fd_, POLLIN, 0}, {wake_read_, POLLIN, 0}};
    for (const Pair& p : pairs) {
      const short events = blackhole ? 0 : POLLIN;
      fds.push_back({p.client, events, 0});
      fds.push_back({p.upstream, events, 0});
    }
    if (::poll(fds.data(), fds.size(), -1) < 0) continue;

    if ((fds[1].revents & POLLIN) != 0) {
      char buf[64];
      [[maybe_unused]] ssize_t n = ::read(wake_read_, buf, sizeof buf);
    }
    if ((fds[0].revents & POLLIN) != 0) {
      int client = ::accept4(listen_fd_, nullptr, nullptr, SOCK_CLOEXEC);
      if (client >= 0) {
        int upstream = refusing ? -1 : ConnectTo(upstream_host_, upstream_port_);
        if (upstream < 0) {
          ::close(client);
        } else {
          pairs.push_back({client, upstream});
        }
      }
    }
    // Relay. A pair with a side that closed or failed is closed on both sides. A pair accepted
    // just now was not polled yet: it sits after the `polled` ones.
    std::vector<Pair> alive;
    const size_t polled = (fds.size() - 2) / 2;
    for (size_t i = 0; i < pairs.size(); ++i) {
      const Pair& p = pairs[i];
      bool ok = true;
      if (i < polled) {
        for (int side = 0; side < 2 && ok; ++side) {
          const pollfd& pfd = fds[2 + 2 * i + static_cast<size_t>(side)];
          if ((pfd.revents & (POLLIN | POLLHUP | POLLERR)) == 0) continue;
          char buf[65536];
          ssize_t n = ::recv(pfd.fd, buf, sizeof buf, 0);
          ok = n > 0 && WriteAll(side == 0 ? p.upstream : p.client, buf, static_cast<size_t>(n));
        }
      }
      if (ok) {
        alive.push_back(p);
      } else {
        close_pair(p);
      }
    }
    pairs = std::move(alive);
  }
  for (const Pair& p : pairs) close_pair(p);
}

}  // namespace gaze::amqp::testing
