// A minimal HTTP/1.1 server on 127.0.0.1 for the fetcher tests. Handlers write raw bytes, so a
// test can misbehave exactly as a broken or hostile source would: short bodies, stalls, endless
// headers, redirects. One request per connection, one thread per connection.
#pragma once

#include <atomic>
#include <cstdint>
#include <functional>
#include <mutex>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

namespace gaze::fetch::testing {

class TestHttpServer {
 public:
  struct Request {
    std::string method;
    std::string target;
    std::string host;  // the Host header
  };

  class Connection {
   public:
    Connection(int fd, int stop_fd) : fd_(fd), stop_fd_(stop_fd) {}
    // False once the client has gone.
    bool Write(std::string_view bytes) const;
    // Blocks until the client closes the connection or the server stops: a source that stalls.
    void WaitForClientClose() const;

   private:
    int fd_;
    int stop_fd_;
  };

  using Handler = std::function<void(const Request&, Connection&)>;

  explicit TestHttpServer(Handler handler);
  TestHttpServer(const TestHttpServer&) = delete;
  TestHttpServer& operator=(const TestHttpServer&) = delete;
  ~TestHttpServer();

  uint16_t port() const { return port_; }
  // "http://127.0.0.1:<port><target>"
  std::string Url(std::string_view target) const;
  // Requests received so far.
  int requests() const { return requests_.load(); }

 private:
  void AcceptLoop();
  void Serve(int fd);

  Handler handler_;
  int listen_fd_ = -1;
  int stop_fd_ = -1;  // an eventfd, readable once the server stops
  uint16_t port_ = 0;
  std::atomic<int> requests_{0};
  std::mutex mu_;
  std::vector<std::thread> workers_;  // guarded by mu_
  std::thread acceptor_;
};

// A complete response with Content-Length and "Connection: close". `extra_headers` are whole
// lines, each ending in "\r\n".
std::string HttpResponse(int status, std::string_view body, std::string_view extra_headers = "");

// A port on 127.0.0.1 that nothing listens on (bound, then released).
uint16_t UnusedPort();

}  // namespace gaze::fetch::testing
