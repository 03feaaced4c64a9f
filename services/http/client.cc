#include "services/http/client.h"

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <charconv>
#include <mutex>

namespace gaze::http {
namespace {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace bhttp = beast::http;
using tcp = asio::ip::tcp;
constexpr auto kNoThrow = asio::as_tuple(asio::use_awaitable);

bool EqualsIgnoreCase(std::string_view a, std::string_view b) {
  return a.size() == b.size() && beast::iequals(a, b);
}

}  // namespace

std::string ClientResponse::Header(std::string_view name) const {
  for (const auto& [k, v] : headers) {
    if (EqualsIgnoreCase(k, name)) return v;
  }
  return "";
}

struct Client::Impl {
  asio::any_io_executor executor;
  std::string host;  // for the Host header
  std::string address;
  std::string port;
  ClientOptions options;
  std::mutex mu;
  std::vector<std::unique_ptr<beast::tcp_stream>> idle;  // guarded by mu

  std::unique_ptr<beast::tcp_stream> TakeIdle() {
    std::lock_guard<std::mutex> lock(mu);
    if (idle.empty()) return nullptr;
    auto stream = std::move(idle.back());
    idle.pop_back();
    return stream;
  }

  void GiveBack(std::unique_ptr<beast::tcp_stream> stream) {
    std::lock_guard<std::mutex> lock(mu);
    if (idle.size() < options.max_idle_connections) idle.push_back(std::move(stream));
  }

  asio::awaitable<absl::StatusOr<std::unique_ptr<beast::tcp_stream>>> Connect() {
    tcp::resolver resolver(executor);
    auto resolved = co_await resolver.async_resolve(address, port, kNoThrow);
    if (std::get<0>(resolved)) {
      co_return absl::UnavailableError("cannot resolve " + address + ": " +
                                       std::get<0>(resolved).message());
    }
    auto stream = std::make_unique<beast::tcp_stream>(executor);
    stream->expires_after(absl::ToChronoNanoseconds(options.timeout));
    auto endpoints = std::get<1>(resolved);
    auto connected = co_await stream->async_connect(endpoints, kNoThrow);
    if (std::get<0>(connected)) {
      co_return absl::UnavailableError("cannot connect to " + host + ": " +
                                       std::get<0>(connected).message());
    }
    co_return stream;
  }

  // One exchange on `stream`. Sets *reusable when the connection may carry another request.
  asio::awaitable<absl::StatusOr<ClientResponse>> Exchange(beast::tcp_stream& stream,
                                                           const ClientRequest& request,
                                                           bool* reusable) {
    *reusable = false;
    bhttp::request<bhttp::string_body> req;
    req.method_string(request.method);
    req.target(request.target);
    req.version(11);
    req.set(bhttp::field::host, host);
    for (const auto& [name, value] : request.headers) req.insert(name, value);
    req.body() = request.body;
    req.keep_alive(true);
    req.prepare_payload();
    stream.expires_after(absl::ToChronoNanoseconds(options.timeout));
    auto written = co_await bhttp::async_write(stream, req, kNoThrow);
    if (auto ec = std::get<0>(written)) {
      co_return ec == beast::error::timeout
          ? absl::DeadlineExceededError("sending to " + host + " timed out")
          : absl::UnavailableError("sending to " + host + ": " + ec.message());
    }
    beast::flat_buffer buffer;
    bhttp::response_parser<bhttp::string_body> parser;
    parser.body_limit(options.max_response_bytes);
    auto read = co_await bhttp::async_read(stream, buffer, parser, kNoThrow);
    if (auto ec = std::get<0>(read)) {
      co_return ec == beast::error::timeout
          ? absl::DeadlineExceededError("waiting for " + host + " timed out")
          : absl::UnavailableError("reading from " + host + ": " + ec.message());
    }
    auto& msg = parser.get();
    ClientResponse response;
    response.status = static_cast<int>(msg.result_int());
    for (const auto& field : msg) {
      response.headers.emplace_back(std::string(field.name_string()), std::string(field.value()));
    }
    response.body = std::move(msg.body());
    *reusable = msg.keep_alive() && buffer.size() == 0;
    co_return response;
  }
};

Client::Client(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
Client::~Client() = default;

absl::StatusOr<std::unique_ptr<Client>> Client::Create(asio::any_io_executor executor,
                                                       std::string_view base_url,
                                                       ClientOptions options) {
  constexpr std::string_view kScheme = "http://";
  if (base_url.substr(0, kScheme.size()) != kScheme) {
    return absl::InvalidArgumentError("only http:// URLs are supported: " + std::string(base_url));
  }
  std::string_view authority = base_url.substr(kScheme.size());
  authority = authority.substr(0, authority.find('/'));
  if (authority.empty()) return absl::InvalidArgumentError("no host in " + std::string(base_url));
  auto impl = std::make_unique<Impl>();
  impl->executor = std::move(executor);
  impl->host = std::string(authority);
  impl->options = options;
  size_t colon = authority.rfind(':');
  if (colon != std::string_view::npos && authority.find(']', colon) == std::string_view::npos) {
    impl->address = std::string(authority.substr(0, colon));
    impl->port = std::string(authority.substr(colon + 1));
    int port = 0;
    auto [ptr, ec] =
        std::from_chars(impl->port.data(), impl->port.data() + impl->port.size(), port);
    if (ec != std::errc() || ptr != impl->port.data() + impl->port.size() || port <= 0 ||
        port > 65535) {
      return absl::InvalidArgumentError("bad port in " + std::string(base_url));
    }
  } else {
    impl->address = std::string(authority);
    impl->port = "80";
  }
  if (impl->address.size() > 2 && impl->address.front() == '[') {
    impl->address = impl->address.substr(1, impl->address.size() - 2);
  }
  return std::unique_ptr<Client>(new Client(std::move(impl)));
}

asio::awaitable<absl::StatusOr<ClientResponse>> Client::Send(const ClientRequest& request) {
  Impl& impl = *impl_;
  bool reusable = false;
  if (std::unique_ptr<beast::tcp_stream> idle = impl.TakeIdle()) {
    auto response = co_await impl.Exchange(*idle, request, &reusable);
    if (response.ok()) {
      if (reusable) impl.GiveBack(std::move(idle));
      co_return response;
    }
    // The server may have closed the idle connection meanwhile: try once on a new one.
  }
  auto connected = co_await impl.Connect();
  if (!connected.ok()) co_return connected.status();
  std::unique_ptr<beast::tcp_stream> stream = *std::move(connected);
  auto response = co_await impl.Exchange(*stream, request, &reusable);
  if (response.ok() && reusable) impl.GiveBack(std::move(stream));
  co_return response;
}

}  // namespace gaze::http
