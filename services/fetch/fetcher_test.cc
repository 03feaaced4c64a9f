// The fetcher against a local HTTP server on 127.0.0.1, which the tests' policies allow
// explicitly; names are resolved by a fake resolver so that "DNS" is part of the test.
#include "services/fetch/fetcher.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <openssl/evp.h>

#include <chrono>
#include <cstdlib>
#include <map>
#include <mutex>
#include <random>
#include <thread>

#include "absl/strings/str_cat.h"
#include "absl/synchronization/notification.h"
#include "services/fetch/test_http_server.h"

namespace gaze::fetch {
namespace {

using ::testing::HasSubstr;
using testing::HttpResponse;
using ::testing::Not;
using testing::TestHttpServer;

UriPolicy Policy(const UriFilterConfig& config) {
  absl::StatusOr<UriPolicy> policy = UriPolicy::Create(config);
  EXPECT_TRUE(policy.ok()) << policy.status();
  return *std::move(policy);
}

// Allows the test server's address and any port.
UriPolicy LocalPolicy(std::string allowed_hosts = "127.0.0.1") {
  return Policy({.allowed_hosts = std::move(allowed_hosts), .allowed_ports = ""});
}

// Answers from a table; each name has a list of answers, the last one repeated.
class FakeResolver : public Resolver {
 public:
  void Add(const std::string& name, std::vector<std::vector<std::string>> answers) {
    std::lock_guard<std::mutex> lock(mu_);
    answers_[name] = std::move(answers);
  }
  int calls() {
    std::lock_guard<std::mutex> lock(mu_);
    return calls_;
  }
  absl::StatusOr<std::vector<IpAddress>> Resolve(const std::string& name) override {
    std::lock_guard<std::mutex> lock(mu_);
    const int call = calls_++;
    auto it = answers_.find(name);
    if (it == answers_.end()) return absl::NotFoundError("no such name");
    const std::vector<std::string>& answer =
        it->second[std::min<size_t>(static_cast<size_t>(call), it->second.size() - 1)];
    std::vector<IpAddress> addresses;
    for (const std::string& a : answer) addresses.push_back(*IpAddress::Parse(a));
    return addresses;
  }

 private:
  std::mutex mu_;
  int calls_ = 0;
  std::map<std::string, std::vector<std::vector<std::string>>> answers_;
};

Fetcher::Sink Collect(std::string* out) {
  return [out](const char* data, size_t size) {
    out->append(data, size);
    return absl::OkStatus();
  };
}

// Streaming SHA-256, the way the worker's sink hashes an import.
class Sha256 {
 public:
  Sha256() : ctx_(EVP_MD_CTX_new(), &EVP_MD_CTX_free) {
    EVP_DigestInit_ex(ctx_.get(), EVP_sha256(), nullptr);
  }
  void Update(const char* data, size_t size) { EVP_DigestUpdate(ctx_.get(), data, size); }
  std::string HexDigest() {
    unsigned char digest[EVP_MAX_MD_SIZE];
    unsigned int length = 0;
    EVP_DigestFinal_ex(ctx_.get(), digest, &length);
    std::string hex;
    for (unsigned int i = 0; i < length; ++i) {
      absl::StrAppend(&hex, absl::Hex(digest[i], absl::kZeroPad2));
    }
    return hex;
  }

 private:
  std::unique_ptr<EVP_MD_CTX, decltype(&EVP_MD_CTX_free)> ctx_;
};

std::string RandomBytes(size_t size) {
  std::mt19937_64 rng(42);
  std::string bytes(size, '\0');
  for (char& c : bytes) c = static_cast<char>(rng());
  return bytes;
}

// Serves `body` at every path.
TestHttpServer::Handler Serve(std::string body) {
  return [body = std::move(body)](const TestHttpServer::Request&, TestHttpServer::Connection& c) {
    c.Write(HttpResponse(200, body));
  };
}

TestHttpServer::Handler RedirectTo(std::string location, int status = 302) {
  return [location = std::move(location), status](const TestHttpServer::Request&,
                                                  TestHttpServer::Connection& c) {
    c.Write(HttpResponse(status, "moved", absl::StrCat("Location: ", location, "\r\n")));
  };
}

TEST(FetcherTest, DownloadIsByteIdenticalWithItsSha256) {
  const std::string image = RandomBytes(3 * 1024 * 1024 + 17);
  TestHttpServer server(Serve(image));
  Fetcher fetcher(LocalPolicy());

  std::string received;
  Sha256 streamed;
  auto sink = [&](const char* data, size_t size) {
    received.append(data, size);
    streamed.Update(data, size);
    return absl::OkStatus();
  };
  absl::StatusOr<FetchResult> result = fetcher.Fetch(server.Url("/disk.raw?x=1"), sink);
  ASSERT_TRUE(result.ok()) << result.status();
  Sha256 whole;
  whole.Update(image.data(), image.size());

  EXPECT_EQ(result->bytes, image.size());
  EXPECT_EQ(result->content_length, image.size());
  EXPECT_EQ(result->uri, server.Url("/disk.raw?x=1"));
  EXPECT_EQ(result->remote_address, "127.0.0.1");
  EXPECT_EQ(result->redirects, 0);
  EXPECT_TRUE(received == image);
  EXPECT_EQ(streamed.HexDigest(), whole.HexDigest());
}

TEST(FetcherTest, BodyWithoutContentLength) {
  const std::string image = RandomBytes(300 * 1024);
  TestHttpServer server([&](const TestHttpServer::Request&, TestHttpServer::Connection& c) {
    c.Write("HTTP/1.1 200 OK\r\nConnection: close\r\n\r\n");
    c.Write(image);
  });
  std::string received;
  absl::StatusOr<FetchResult> result =
      Fetcher(LocalPolicy()).Fetch(server.Url("/"), Collect(&received));
  ASSERT_TRUE(result.ok()) << result.status();
  EXPECT_FALSE(result->content_length);
  EXPECT_EQ(result->bytes, image.size());
  EXPECT_TRUE(received == image);
}

TEST(FetcherTest, ReportsProgress) {
  const std::string image = RandomBytes(2 * 1024 * 1024);
  TestHttpServer server(Serve(image));
  std::vector<FetchProgress> reports;
  auto record = [&](const FetchProgress& p) { reports.push_back(p); };
  std::string received;

  Fetcher every_chunk(LocalPolicy(), {.progress_interval = absl::ZeroDuration()});
  ASSERT_TRUE(every_chunk.Fetch(server.Url("/"), Collect(&received), record).ok());
  ASSERT_GE(reports.size(), 3u);
  EXPECT_EQ(reports.front().bytes, 0u);
  for (size_t i = 0; i < reports.size(); ++i) {
    EXPECT_EQ(reports[i].total, image.size());
    if (i > 0) {
      EXPECT_GE(reports[i].bytes, reports[i - 1].bytes);
    }
  }
  EXPECT_EQ(reports.back().bytes, image.size());

  // With the default interval a fast download reports its start and its end.
  reports.clear();
  received.clear();
  ASSERT_TRUE(Fetcher(LocalPolicy()).Fetch(server.Url("/"), Collect(&received), record).ok());
  ASSERT_GE(reports.size(), 2u);
  EXPECT_EQ(reports.front().bytes, 0u);
  EXPECT_EQ(reports.back().bytes, image.size());
}

TEST(FetcherTest, LoopbackIsRefusedWithoutAnAllowEntry) {
  TestHttpServer server(Serve("secret"));
  Fetcher fetcher(Policy({.allowed_ports = ""}));
  std::string received;
  absl::StatusOr<FetchResult> result = fetcher.Fetch(server.Url("/"), Collect(&received));
  EXPECT_EQ(result.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(result.status().message(), "URI not allowed: host 127.0.0.1 is a loopback address");
  EXPECT_EQ(server.requests(), 0);
}

TEST(FetcherTest, NameResolvingToLoopbackIsRefusedWithoutAnAllowEntry) {
  TestHttpServer server(Serve("secret"));
  const std::string uri = absl::StrCat("http://localhost:", server.port(), "/");
  std::string received;

  // The system resolver: /etc/hosts maps localhost to loopback.
  absl::StatusOr<FetchResult> result =
      Fetcher(Policy({.allowed_ports = ""})).Fetch(uri, Collect(&received));
  EXPECT_EQ(result.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(result.status().message(),
            "URI not allowed: host localhost resolves to a loopback address");
  EXPECT_EQ(server.requests(), 0);

  result = Fetcher(LocalPolicy("localhost")).Fetch(uri, Collect(&received));
  ASSERT_TRUE(result.ok()) << result.status();
  EXPECT_EQ(received, "secret");
}

TEST(FetcherTest, ConnectsOnlyToTheCheckedAddress) {
  std::mutex mu;
  std::string host_header;
  TestHttpServer server([&](const TestHttpServer::Request& request, TestHttpServer::Connection& c) {
    {
      std::lock_guard<std::mutex> lock(mu);
      host_header = request.host;
    }
    c.Write(HttpResponse(200, "pinned"));
  });
  // A rebinding name: the first answer is checked, later answers point elsewhere. libcurl must
  // never ask again: the connection goes to the first, checked answer.
  auto resolver = std::make_shared<FakeResolver>();
  resolver->Add("mirror.test", {{"127.0.0.1"}, {"192.0.2.1"}});
  Fetcher fetcher(LocalPolicy("mirror.test"), {}, resolver);
  std::string received;
  absl::StatusOr<FetchResult> result = fetcher.Fetch(
      absl::StrCat("http://mirror.test:", server.port(), "/disk"), Collect(&received));
  ASSERT_TRUE(result.ok()) << result.status();
  EXPECT_EQ(received, "pinned");
  EXPECT_EQ(result->remote_address, "127.0.0.1");
  EXPECT_EQ(resolver->calls(), 1);
  // The request still names the host (Host header, TLS SNI), only the address is pinned.
  std::lock_guard<std::mutex> lock(mu);
  EXPECT_EQ(host_header, absl::StrCat("mirror.test:", server.port()));
}

TEST(FetcherTest, EveryAddressOfANameIsCheckedAndAnyOfThemMayBeUsed) {
  TestHttpServer server(Serve("dual"));
  auto resolver = std::make_shared<FakeResolver>();
  // Nothing listens on [::1]:port, so libcurl falls back to 127.0.0.1: both were pinned.
  resolver->Add("dual.test", {{"::1", "127.0.0.1"}});
  resolver->Add("mixed.test", {{"8.8.8.8", "127.0.0.1"}});
  std::string received;

  absl::StatusOr<FetchResult> result =
      Fetcher(LocalPolicy("dual.test"), {}, resolver)
          .Fetch(absl::StrCat("http://dual.test:", server.port(), "/"), Collect(&received));
  ASSERT_TRUE(result.ok()) << result.status();
  EXPECT_EQ(result->remote_address, "127.0.0.1");

  // One refused address refuses the name: libcurl could connect to any of them.
  result = Fetcher(Policy({.allowed_ports = ""}), {}, resolver)
               .Fetch(absl::StrCat("http://mixed.test:", server.port(), "/"), Collect(&received));
  EXPECT_EQ(result.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(result.status().message(),
            "URI not allowed: host mixed.test resolves to a loopback address");
}

TEST(FetcherTest, NamesThatDoNotResolve) {
  auto resolver = std::make_shared<FakeResolver>();
  resolver->Add("empty.test", {{}});
  Fetcher fetcher(Policy({}), {}, resolver);
  std::string received;
  for (const char* uri : {"http://nowhere.test/", "http://empty.test/"}) {
    absl::StatusOr<FetchResult> result = fetcher.Fetch(uri, Collect(&received));
    EXPECT_EQ(result.status().code(), absl::StatusCode::kInvalidArgument) << uri;
    EXPECT_THAT(std::string(result.status().message()), HasSubstr("does not resolve")) << uri;
  }

  class Failing : public Resolver {
    absl::StatusOr<std::vector<IpAddress>> Resolve(const std::string& /*name*/) override {
      return absl::UnavailableError("could not resolve host: DNS timed out");
    }
  };
  absl::StatusOr<FetchResult> result = Fetcher(Policy({}), {}, std::make_shared<Failing>())
                                           .Fetch("http://example.org/", Collect(&received));
  EXPECT_EQ(result.status().code(), absl::StatusCode::kUnavailable);
}

TEST(FetcherTest, CheckRefusesWhatFetchWouldRefuseWithoutConnecting) {
  TestHttpServer server(Serve("image"));
  auto resolver = std::make_shared<FakeResolver>();
  resolver->Add("metadata.test", {{"169.254.169.254"}});
  resolver->Add("mirror.test", {{"93.184.216.34"}});
  Fetcher fetcher(Policy({.allowed_ports = ""}), {}, resolver);
  EXPECT_TRUE(fetcher.Check("http://mirror.test/disk").ok());
  EXPECT_EQ(fetcher.Check("http://metadata.test/").message(),
            "URI not allowed: host metadata.test resolves to a link-local address (cloud metadata "
            "service)");
  EXPECT_EQ(fetcher.Check("http://nowhere.test/").message(),
            "URI not allowed: host nowhere.test does not resolve");
  EXPECT_EQ(fetcher.Check(server.Url("/")).message(),
            "URI not allowed: host 127.0.0.1 is a loopback address");
  EXPECT_TRUE(Fetcher(LocalPolicy()).Check(server.Url("/")).ok());
  EXPECT_EQ(server.requests(), 0);
}

TEST(FetcherTest, IgnoresProxiesFromTheEnvironment) {
  TestHttpServer server(Serve("direct"));
  // A proxy would resolve and connect on our behalf, after our checks.
  TestHttpServer proxy(Serve("via the proxy"));
  for (const char* name : {"http_proxy", "HTTPS_PROXY", "ALL_PROXY"}) {
    setenv(name, proxy.Url("").c_str(), 1);
  }
  std::string received;
  absl::StatusOr<FetchResult> result =
      Fetcher(LocalPolicy()).Fetch(server.Url("/"), Collect(&received));
  for (const char* name : {"http_proxy", "HTTPS_PROXY", "ALL_PROXY"}) unsetenv(name);
  ASSERT_TRUE(result.ok()) << result.status();
  EXPECT_EQ(received, "direct");
  EXPECT_EQ(proxy.requests(), 0);
}

TEST(FetcherTest, FollowsRedirectsButNeverPassesTheirBodies) {
  TestHttpServer final_server(Serve("the image"));
  TestHttpServer first([&](const TestHttpServer::Request& request, TestHttpServer::Connection& c) {
    if (request.target == "/start") {
      c.Write(HttpResponse(302, "redirect body", "Location: /next\r\n"));
    } else {
      c.Write(HttpResponse(301, "", "Location: " + final_server.Url("/final") + "\r\n"));
    }
  });
  std::string received;
  absl::StatusOr<FetchResult> result =
      Fetcher(LocalPolicy()).Fetch(first.Url("/start"), Collect(&received));
  ASSERT_TRUE(result.ok()) << result.status();
  EXPECT_EQ(received, "the image");
  EXPECT_EQ(result->redirects, 2);
  EXPECT_EQ(result->uri, final_server.Url("/final"));
}

TEST(FetcherTest, EveryRedirectTargetIsCheckedFromScratch) {
  TestHttpServer target(Serve("should not be fetched"));
  struct Case {
    std::string location;
    std::string message;
  };
  const Case cases[] = {
      {"http://169.254.169.254/latest/meta-data/",
       "URI not allowed: host 169.254.169.254 is a link-local address (cloud metadata service) "
       "(in a redirect from host 127.0.0.1)"},
      {absl::StrCat("http://127.0.0.2:", target.port(), "/"), "host 127.0.0.2 is a loopback"},
      {absl::StrCat("http://[::1]:", target.port(), "/"), "host ::1 is a loopback"},
      {absl::StrCat("http://[::ffff:127.0.0.1]:", target.port(), "/"), "(IPv4-mapped)"},
      {absl::StrCat("http://localhost:", target.port(), "/"),
       "host localhost is not in the allowed hosts"},
      {absl::StrCat("http://2130706433:", target.port(), "/"), "not a canonical IP address"},
      {absl::StrCat("http://0x7f.1:", target.port(), "/"), "not a canonical IP address"},
      {"http://10.0.0.1/", "host 10.0.0.1 is a private address"},
      {"file:///etc/passwd", "scheme file is not supported"},
      {"gopher://127.0.0.1:6379/_INFO", "scheme gopher is not supported"},
      {"http://user@example.org/", "user information"},
      {"/a b", "space"},
  };
  for (const Case& c : cases) {
    TestHttpServer server(RedirectTo(c.location));
    std::string received;
    absl::StatusOr<FetchResult> result =
        Fetcher(LocalPolicy()).Fetch(server.Url("/"), Collect(&received));
    EXPECT_EQ(result.status().code(), absl::StatusCode::kInvalidArgument) << c.location;
    EXPECT_THAT(std::string(result.status().message()), HasSubstr(c.message)) << c.location;
    EXPECT_THAT(std::string(result.status().message()),
                HasSubstr("(in a redirect from host 127.0.0.1)"));
  }
  EXPECT_EQ(target.requests(), 0);
}

TEST(FetcherTest, RedirectFromAnAllowedNameToItsLoopbackAddressIsRefused) {
  TestHttpServer target(Serve("should not be fetched"));
  TestHttpServer server(RedirectTo(absl::StrCat("http://127.0.0.1:", target.port(), "/")));
  auto resolver = std::make_shared<FakeResolver>();
  resolver->Add("mirror.test", {{"127.0.0.1"}});
  std::string received;
  absl::StatusOr<FetchResult> result =
      Fetcher(LocalPolicy("mirror.test"), {}, resolver)
          .Fetch(absl::StrCat("http://mirror.test:", server.port(), "/"), Collect(&received));
  EXPECT_EQ(result.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(std::string(result.status().message()),
              HasSubstr("host 127.0.0.1 is a loopback address (in a redirect from host "
                        "mirror.test)"));
  EXPECT_EQ(target.requests(), 0);
}

TEST(FetcherTest, RedirectToADisallowedPortIsRefused) {
  TestHttpServer target(Serve("should not be fetched"));
  TestHttpServer server(RedirectTo(target.Url("/")));
  std::string received;

  const std::string this_port = absl::StrCat(server.port());
  absl::StatusOr<FetchResult> result =
      Fetcher(Policy({.allowed_hosts = "127.0.0.1", .allowed_ports = this_port}))
          .Fetch(server.Url("/"), Collect(&received));
  EXPECT_EQ(result.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(std::string(result.status().message()),
              HasSubstr(absl::StrCat("port ", target.port(), " is not in the allowed ports")));

  result = Fetcher(Policy({.allowed_hosts = "127.0.0.1",
                           .allowed_ports = "",
                           .disallowed_ports = absl::StrCat(target.port())}))
               .Fetch(server.Url("/"), Collect(&received));
  EXPECT_THAT(std::string(result.status().message()),
              HasSubstr(absl::StrCat("port ", target.port(), " is disallowed")));
  EXPECT_EQ(target.requests(), 0);
}

TEST(FetcherTest, RedirectLoopsAreLimited) {
  TestHttpServer server(RedirectTo("/again", 307));
  std::string received;
  absl::StatusOr<FetchResult> result =
      Fetcher(LocalPolicy(), {.max_redirects = 3}).Fetch(server.Url("/again"), Collect(&received));
  EXPECT_EQ(result.status().code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_EQ(result.status().message(), "too many redirects (more than 3)");
  EXPECT_EQ(server.requests(), 4);
}

TEST(FetcherTest, RedirectWithoutLocation) {
  TestHttpServer server([](const TestHttpServer::Request&, TestHttpServer::Connection& c) {
    c.Write(HttpResponse(302, ""));
  });
  std::string received;
  absl::StatusOr<FetchResult> result =
      Fetcher(LocalPolicy()).Fetch(server.Url("/"), Collect(&received));
  EXPECT_EQ(result.status().code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_THAT(std::string(result.status().message()),
              HasSubstr("answered HTTP 302 without a Location"));
}

TEST(FetcherTest, SizeLimitByContentLength) {
  TestHttpServer server(Serve(std::string(1000, 'x')));
  int sink_calls = 0;
  auto sink = [&](const char*, size_t) {
    ++sink_calls;
    return absl::OkStatus();
  };
  absl::StatusOr<FetchResult> result =
      Fetcher(LocalPolicy(), {.max_bytes = 999}).Fetch(server.Url("/"), sink);
  EXPECT_EQ(result.status().code(), absl::StatusCode::kResourceExhausted);
  EXPECT_EQ(result.status().message(),
            "the image at host 127.0.0.1 is larger than the limit of 999 bytes");
  EXPECT_EQ(sink_calls, 0);

  std::string received;
  ASSERT_TRUE(
      Fetcher(LocalPolicy(), {.max_bytes = 1000}).Fetch(server.Url("/"), Collect(&received)).ok());
  EXPECT_EQ(received.size(), 1000u);
}

TEST(FetcherTest, SizeLimitByStreamedBytes) {
  TestHttpServer server([](const TestHttpServer::Request&, TestHttpServer::Connection& c) {
    c.Write("HTTP/1.1 200 OK\r\nConnection: close\r\n\r\n");
    const std::string chunk(64 * 1024, 'x');
    for (int i = 0; i < 64 && c.Write(chunk); ++i) {
    }
  });
  std::string received;
  absl::StatusOr<FetchResult> result =
      Fetcher(LocalPolicy(), {.max_bytes = 100000}).Fetch(server.Url("/"), Collect(&received));
  EXPECT_EQ(result.status().code(), absl::StatusCode::kResourceExhausted);
  EXPECT_LE(received.size(), 100000u);
}

TEST(FetcherTest, BodyShorterThanContentLengthFails) {
  TestHttpServer server([](const TestHttpServer::Request&, TestHttpServer::Connection& c) {
    c.Write("HTTP/1.1 200 OK\r\nContent-Length: 1000\r\n\r\n");
    c.Write(std::string(500, 'x'));
  });
  std::string received;
  absl::StatusOr<FetchResult> result =
      Fetcher(LocalPolicy()).Fetch(server.Url("/"), Collect(&received));
  EXPECT_EQ(result.status().code(), absl::StatusCode::kUnavailable);
  EXPECT_THAT(std::string(result.status().message()),
              HasSubstr("closed the connection after 500 of 1000 bytes"));
}

// Sends the headers and a little of the body, then nothing until the client gives up.
TestHttpServer::Handler Stall() {
  return [](const TestHttpServer::Request&, TestHttpServer::Connection& c) {
    c.Write("HTTP/1.1 200 OK\r\nContent-Length: 1000\r\n\r\n0123456789");
    c.WaitForClientClose();
  };
}

TEST(FetcherTest, SlowSourceTimesOut) {
  TestHttpServer server(Stall());
  std::string received;
  absl::StatusOr<FetchResult> result =
      Fetcher(LocalPolicy(), {.low_speed_limit = 1000, .low_speed_time = absl::Seconds(1)})
          .Fetch(server.Url("/"), Collect(&received));
  EXPECT_EQ(result.status().code(), absl::StatusCode::kDeadlineExceeded);
  EXPECT_THAT(std::string(result.status().message()),
              HasSubstr("sent less than 1000 bytes/s for 1s"));
  EXPECT_EQ(received, "0123456789");

  result = Fetcher(LocalPolicy(), {.total_timeout = absl::Milliseconds(300)})
               .Fetch(server.Url("/"), Collect(&received));
  EXPECT_EQ(result.status().code(), absl::StatusCode::kDeadlineExceeded);
  EXPECT_THAT(std::string(result.status().message()),
              HasSubstr("took longer than the limit of 300ms"));
}

TEST(FetcherTest, StalledSourceStillReportsWhatItSent) {
  TestHttpServer server(Stall());
  std::vector<FetchProgress> reports;
  std::string received;
  absl::StatusOr<FetchResult> result =
      Fetcher(LocalPolicy(), {.low_speed_limit = 1000,
                              .low_speed_time = absl::Seconds(2),
                              .progress_interval = absl::Milliseconds(200)})
          .Fetch(server.Url("/"), Collect(&received),
                 [&](const FetchProgress& p) { reports.push_back(p); });
  EXPECT_EQ(result.status().code(), absl::StatusCode::kDeadlineExceeded);
  // The ten bytes came with the headers, inside the first interval; only a report made
  // during the stall can show them.
  ASSERT_FALSE(reports.empty());
  EXPECT_EQ(reports.front().bytes, 0u);
  EXPECT_EQ(reports.back().bytes, 10u);
  EXPECT_EQ(reports.back().total, 1000u);
}

TEST(FetcherTest, CancellationStopsAStalledDownloadAtOnce) {
  TestHttpServer server(Stall());
  std::stop_source stop;
  absl::Notification first_chunk;
  auto sink = [&](const char*, size_t) {
    if (!first_chunk.HasBeenNotified()) first_chunk.Notify();
    return absl::OkStatus();
  };
  // The lease is lost on another thread while the transfer waits for bytes.
  std::chrono::steady_clock::time_point stopped_at;
  std::thread lease_keeper([&] {
    first_chunk.WaitForNotification();
    stopped_at = std::chrono::steady_clock::now();
    stop.request_stop();
  });
  absl::StatusOr<FetchResult> result =
      Fetcher(LocalPolicy()).Fetch(server.Url("/"), sink, nullptr, stop.get_token());
  lease_keeper.join();
  EXPECT_EQ(result.status().code(), absl::StatusCode::kCancelled);
  EXPECT_EQ(result.status().message(), "the download was cancelled");
  // Long before the 60 s low-speed timeout, and before the 1 s poll period would have ended:
  // the stop request wakes the waiting transfer.
  EXPECT_LT(std::chrono::steady_clock::now() - stopped_at, std::chrono::milliseconds(900));

  std::stop_source already;
  already.request_stop();
  std::string received;
  result = Fetcher(LocalPolicy())
               .Fetch(server.Url("/"), Collect(&received), nullptr, already.get_token());
  EXPECT_EQ(result.status().code(), absl::StatusCode::kCancelled);
}

TEST(FetcherTest, SinkErrorStopsTheDownload) {
  TestHttpServer server(Serve(RandomBytes(1024 * 1024)));
  auto sink = [](const char*, size_t) { return absl::DataLossError("disk full"); };
  absl::StatusOr<FetchResult> result = Fetcher(LocalPolicy()).Fetch(server.Url("/"), sink);
  EXPECT_EQ(result.status(), absl::DataLossError("disk full"));
}

TEST(FetcherTest, HttpErrors) {
  for (const auto& [status, code] :
       std::vector<std::pair<int, absl::StatusCode>>{{404, absl::StatusCode::kFailedPrecondition},
                                                     {403, absl::StatusCode::kFailedPrecondition},
                                                     {206, absl::StatusCode::kFailedPrecondition},
                                                     {429, absl::StatusCode::kUnavailable},
                                                     {503, absl::StatusCode::kUnavailable}}) {
    TestHttpServer server(
        [status = status](const TestHttpServer::Request&, TestHttpServer::Connection& c) {
          c.Write(HttpResponse(status, "error page"));
        });
    std::string received;
    absl::StatusOr<FetchResult> result =
        Fetcher(LocalPolicy()).Fetch(server.Url("/"), Collect(&received));
    EXPECT_EQ(result.status().code(), code) << status;
    EXPECT_EQ(result.status().message(),
              absl::StrCat("the source host 127.0.0.1 answered HTTP ", status));
    EXPECT_EQ(received, "");
  }
}

TEST(FetcherTest, ConnectionRefused) {
  std::string received;
  absl::StatusOr<FetchResult> result =
      Fetcher(LocalPolicy())
          .Fetch(absl::StrCat("http://127.0.0.1:", testing::UnusedPort(), "/"), Collect(&received));
  EXPECT_EQ(result.status().code(), absl::StatusCode::kUnavailable);
  EXPECT_THAT(std::string(result.status().message()),
              HasSubstr("could not connect to host 127.0.0.1 port"));
}

TEST(FetcherTest, EndlessHeadersAreCut) {
  TestHttpServer server([](const TestHttpServer::Request&, TestHttpServer::Connection& c) {
    c.Write("HTTP/1.1 200 OK\r\n");
    const std::string header = "X-Filler: " + std::string(1000, 'a') + "\r\n";
    for (int i = 0; i < 1000 && c.Write(header); ++i) {
    }
  });
  std::string received;
  absl::StatusOr<FetchResult> result =
      Fetcher(LocalPolicy()).Fetch(server.Url("/"), Collect(&received));
  EXPECT_EQ(result.status().code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_THAT(std::string(result.status().message()), HasSubstr("larger than 64 KiB"));
}

TEST(FetcherTest, MessagesNeverEchoThePathOrQuery) {
  TestHttpServer server([](const TestHttpServer::Request&, TestHttpServer::Connection& c) {
    c.Write("HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\n");
  });
  std::string received;
  absl::StatusOr<FetchResult> result =
      Fetcher(LocalPolicy())
          .Fetch(server.Url("/bucket/disk?X-Amz-Signature=s3cr3t"), Collect(&received));
  ASSERT_FALSE(result.ok());
  EXPECT_THAT(std::string(result.status().message()), Not(HasSubstr("s3cr3t")));
  EXPECT_THAT(std::string(result.status().message()), HasSubstr("after 0 of 10 bytes"));
}

}  // namespace
}  // namespace gaze::fetch
