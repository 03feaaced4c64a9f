// The WebSource over services/fetch, against a one-shot HTTP server on 127.0.0.1: a loopback
// source is refused unless the operator allows its host and port, which is how a test set-up
// serves images to web-download.
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <string>
#include <thread>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "services/fetch/fetcher.h"
#include "task-worker/web_source.h"

namespace gaze::worker {
namespace {

using ::testing::HasSubstr;

// Answers one request with `body`, then closes.
class OneShotServer {
 public:
  explicit OneShotServer(std::string body) : body_(std::move(body)) {
    fd_ = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    socklen_t len = sizeof addr;
    ::bind(fd_, reinterpret_cast<sockaddr*>(&addr), len);
    ::listen(fd_, 1);
    ::getsockname(fd_, reinterpret_cast<sockaddr*>(&addr), &len);
    port_ = ntohs(addr.sin_port);
  }
  ~OneShotServer() {
    ::shutdown(fd_, SHUT_RDWR);
    if (thread_.joinable()) thread_.join();
    ::close(fd_);
  }

  // Serves in the background; call before the client connects.
  void Start() {
    thread_ = std::thread([this] {
      const int conn = ::accept4(fd_, nullptr, nullptr, SOCK_CLOEXEC);
      if (conn < 0) return;
      std::string request;
      char buf[4096];
      while (request.find("\r\n\r\n") == std::string::npos) {
        const ssize_t n = ::read(conn, buf, sizeof buf);
        if (n <= 0) break;
        request.append(buf, static_cast<size_t>(n));
      }
      const std::string response =
          "HTTP/1.1 200 OK\r\nContent-Length: " + std::to_string(body_.size()) +
          "\r\nConnection: close\r\n\r\n" + body_;
      [[maybe_unused]] ssize_t n = ::write(conn, response.data(), response.size());
      ::close(conn);
    });
  }

  std::string Url() const { return "http://127.0.0.1:" + std::to_string(port_) + "/disk.raw"; }
  std::string port() const { return std::to_string(port_); }

 private:
  std::string body_;
  int fd_ = -1;
  uint16_t port_ = 0;
  std::thread thread_;
};

absl::Status Fetch(const fetch::UriFilterConfig& filter, const std::string& uri,
                   std::string* body) {
  const fetch::Fetcher fetcher(*fetch::UriPolicy::Create(filter));
  std::unique_ptr<WebSource> web = NewHttpWebSource(fetcher);
  return web->Fetch(
      uri,
      [body](const char* data, size_t size) {
        body->append(data, size);
        return absl::OkStatus();
      },
      [](uint64_t, std::optional<uint64_t>) {}, {});
}

TEST(HttpWebSource, LoopbackIsRefusedByDefault) {
  OneShotServer server("bytes");
  std::string body;
  fetch::UriFilterConfig filter;
  filter.allowed_ports = server.port();
  absl::Status s = Fetch(filter, server.Url(), &body);
  EXPECT_EQ(s.code(), absl::StatusCode::kInvalidArgument) << s;
  EXPECT_THAT(std::string(s.message()), HasSubstr("loopback"));
  EXPECT_TRUE(body.empty());
}

TEST(HttpWebSource, AnAllowedLoopbackSourceIsFetched) {
  OneShotServer server(std::string(100000, 'x'));
  server.Start();
  fetch::UriFilterConfig filter;
  filter.allowed_hosts = "127.0.0.1";
  filter.allowed_ports = server.port();
  std::string body;
  absl::Status s = Fetch(filter, server.Url(), &body);
  ASSERT_TRUE(s.ok()) << s;
  EXPECT_EQ(body, std::string(100000, 'x'));
}

}  // namespace
}  // namespace gaze::worker
