#include "services/http/client.h"

#include <boost/asio.hpp>
#include <thread>

#include "gtest/gtest.h"

namespace gaze::http {
namespace {

namespace asio = boost::asio;
using tcp = asio::ip::tcp;

// A blocking one-thread HTTP server that answers every request on a connection with
// `reply`, then closes the connection after `requests_per_connection` requests.
class CannedServer {
 public:
  CannedServer(std::string reply, int requests_per_connection)
      : acceptor_(io_, tcp::endpoint(asio::ip::make_address("127.0.0.1"), 0)),
        reply_(std::move(reply)),
        per_connection_(requests_per_connection) {
    thread_ = std::thread([this] { Serve(); });
  }
  ~CannedServer() {
    // A blocking accept() is not interrupted by close(): wake it with one last connection.
    stopping_ = true;
    boost::system::error_code ec;
    tcp::socket waker(io_);
    waker.connect(acceptor_.local_endpoint(), ec);
    thread_.join();
  }
  std::string url() const {
    return "http://127.0.0.1:" + std::to_string(acceptor_.local_endpoint().port());
  }
  int connections() const { return connections_.load(); }

 private:
  void Serve() {
    for (;;) {
      boost::system::error_code ec;
      tcp::socket socket(io_);
      acceptor_.accept(socket, ec);
      if (ec || stopping_) return;
      ++connections_;
      std::string buffer;
      for (int i = 0; i < per_connection_; ++i) {
        size_t n = asio::read_until(socket, asio::dynamic_buffer(buffer), "\r\n\r\n", ec);
        if (ec) break;
        buffer.erase(0, n);
        asio::write(socket, asio::buffer(reply_), ec);
        if (ec) break;
      }
    }
  }

  asio::io_context io_;
  tcp::acceptor acceptor_;
  std::string reply_;
  int per_connection_;
  std::atomic<int> connections_{0};
  std::atomic<bool> stopping_{false};
  std::thread thread_;
};

template <typename T>
T RunSync(asio::io_context& io, asio::awaitable<T> op) {
  auto future = asio::co_spawn(io, std::move(op), asio::use_future);
  io.run();
  io.restart();
  return future.get();
}

constexpr const char* kOk =
    "HTTP/1.1 200 OK\r\nContent-Length: 5\r\nX-Subject-Token: abc\r\n\r\nhello";

TEST(HttpClientTest, GetAndKeepAlive) {
  CannedServer server(kOk, 100);
  asio::io_context io;
  auto client = Client::Create(io.get_executor(), server.url());
  ASSERT_TRUE(client.ok()) << client.status();
  for (int i = 0; i < 3; ++i) {
    ClientRequest req;
    req.target = "/v3";
    auto resp = RunSync(io, (*client)->Send(req));
    ASSERT_TRUE(resp.ok()) << resp.status();
    EXPECT_EQ(resp->status, 200);
    EXPECT_EQ(resp->body, "hello");
    EXPECT_EQ(resp->Header("x-subject-token"), "abc");
  }
  EXPECT_EQ(server.connections(), 1) << "keep-alive connection reused";
}

TEST(HttpClientTest, RetriesOnceWhenTheServerClosedAnIdleConnection) {
  CannedServer server(kOk, 1);  // closes after every request, without saying so
  asio::io_context io;
  auto client = Client::Create(io.get_executor(), server.url());
  ASSERT_TRUE(client.ok());
  for (int i = 0; i < 3; ++i) {
    auto resp = RunSync(io, (*client)->Send(ClientRequest{}));
    ASSERT_TRUE(resp.ok()) << resp.status();
    EXPECT_EQ(resp->body, "hello");
  }
}

TEST(HttpClientTest, UnreachableServer) {
  asio::io_context io;
  tcp::acceptor probe(io, tcp::endpoint(asio::ip::make_address("127.0.0.1"), 0));
  std::string url = "http://127.0.0.1:" + std::to_string(probe.local_endpoint().port());
  probe.close();  // nothing listens there now
  auto client = Client::Create(io.get_executor(), url);
  ASSERT_TRUE(client.ok());
  auto resp = RunSync(io, (*client)->Send(ClientRequest{}));
  EXPECT_EQ(resp.status().code(), absl::StatusCode::kUnavailable);
}

TEST(HttpClientTest, SilentServerTimesOut) {
  asio::io_context server_io;
  tcp::acceptor silent(server_io, tcp::endpoint(asio::ip::make_address("127.0.0.1"), 0));
  std::string url = "http://127.0.0.1:" + std::to_string(silent.local_endpoint().port());
  asio::io_context io;
  ClientOptions options;
  options.timeout = absl::Milliseconds(200);
  auto client = Client::Create(io.get_executor(), url, options);
  ASSERT_TRUE(client.ok());
  auto resp = RunSync(io, (*client)->Send(ClientRequest{}));
  EXPECT_EQ(resp.status().code(), absl::StatusCode::kDeadlineExceeded) << resp.status();
}

TEST(HttpClientTest, RejectsUnsupportedUrls) {
  asio::io_context io;
  EXPECT_FALSE(Client::Create(io.get_executor(), "https://keystone:5000").ok());
  EXPECT_FALSE(Client::Create(io.get_executor(), "http://").ok());
  EXPECT_FALSE(Client::Create(io.get_executor(), "http://host:99999").ok());
  EXPECT_TRUE(Client::Create(io.get_executor(), "http://keystone:5000/v3").ok());
}

}  // namespace
}  // namespace gaze::http
