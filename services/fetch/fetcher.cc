#include "services/fetch/fetcher.h"

#include <curl/curl.h>
#include <netdb.h>
#include <netinet/in.h>
#include <sys/socket.h>

#include <algorithm>
#include <chrono>
#include <cstring>
#include <utility>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "services/common/status_macros.h"

namespace gaze::fetch {
namespace {

using Clock = std::chrono::steady_clock;

// Enough for any real response; without a bound a source could stream headers forever.
constexpr uint64_t kMaxHeaderBytes = uint64_t{64} * 1024;
// libcurl's default is 16 KiB; larger chunks mean fewer sink calls on fast links.
constexpr long kReceiveBufferBytes = 256L * 1024;
// curl_multi_poll() returns at least this often even when nothing happens; cancellation does
// not depend on it (curl_multi_wakeup), it only bounds a missed wake-up.
constexpr int kPollMillis = 1000;

struct EasyDeleter {
  void operator()(CURL* easy) const { curl_easy_cleanup(easy); }
};
struct MultiDeleter {
  void operator()(CURLM* multi) const { curl_multi_cleanup(multi); }
};
struct SlistDeleter {
  void operator()(curl_slist* list) const { curl_slist_free_all(list); }
};

// curl_global_init() is not thread-safe on every libcurl build; a function-local static runs it
// exactly once.
CURLcode GlobalInit() {
  static const CURLcode result = curl_global_init(CURL_GLOBAL_DEFAULT);
  return result;
}

std::optional<IpAddress> FromSockaddr(const sockaddr* address, size_t length) {
  if (address->sa_family == AF_INET && length >= sizeof(sockaddr_in)) {
    sockaddr_in in{};
    std::memcpy(&in, address, sizeof(in));
    std::array<uint8_t, 4> bytes{};
    std::memcpy(bytes.data(), &in.sin_addr, bytes.size());
    return IpAddress::V4(bytes);
  }
  if (address->sa_family == AF_INET6 && length >= sizeof(sockaddr_in6)) {
    sockaddr_in6 in6{};
    std::memcpy(&in6, address, sizeof(in6));
    std::array<uint8_t, 16> bytes{};
    std::memcpy(bytes.data(), &in6.sin6_addr, bytes.size());
    return IpAddress::V6(bytes);
  }
  return std::nullopt;
}

class GetAddrInfoResolver : public Resolver {
 public:
  absl::StatusOr<std::vector<IpAddress>> Resolve(const std::string& name) override {
    addrinfo hints{};
    hints.ai_family = AF_UNSPEC;
    hints.ai_socktype = SOCK_STREAM;
    addrinfo* list = nullptr;
    const int rc = getaddrinfo(name.c_str(), nullptr, &hints, &list);
    if (rc == EAI_NONAME || rc == EAI_NODATA) {
      return absl::NotFoundError(absl::StrCat("host ", name, " does not resolve"));
    }
    if (rc != 0) {
      return absl::UnavailableError(
          absl::StrCat("could not resolve host ", name, ": ", gai_strerror(rc)));
    }
    std::unique_ptr<addrinfo, decltype(&freeaddrinfo)> owner(list, &freeaddrinfo);
    std::vector<IpAddress> addresses;
    for (const addrinfo* ai = list; ai != nullptr; ai = ai->ai_next) {
      if (std::optional<IpAddress> a = FromSockaddr(ai->ai_addr, ai->ai_addrlen)) {
        addresses.push_back(*a);
      }
    }
    return addresses;
  }
};

bool IsRedirect(long status) {
  return status == 301 || status == 302 || status == 303 || status == 307 || status == 308;
}

long ResponseCode(CURL* easy) {
  long status = 0;
  curl_easy_getinfo(easy, CURLINFO_RESPONSE_CODE, &status);
  return status;
}

absl::Status TooBig(const Url& url, uint64_t limit) {
  return absl::ResourceExhaustedError(absl::StrCat(
      "the image at host ", url.host, " is larger than the limit of ", limit, " bytes"));
}

// What one request produced: a redirect to follow, or a body that went to the sink.
struct Response {
  std::optional<std::string> location;
  std::string remote_address;
  uint64_t bytes = 0;
  std::optional<uint64_t> content_length;
};

// One request to a URL whose addresses have been checked, and the state its libcurl callbacks
// share. The callbacks report failures through `stopped_`, never by throwing through libcurl.
class Request {
 public:
  Request(const FetchOptions& options, const Url& url, const std::vector<IpAddress>& checked,
          const Fetcher::Sink& sink, const Fetcher::ProgressCallback& progress,
          const std::stop_token& stop, Clock::time_point deadline)
      : options_(options),
        url_(url),
        checked_(checked),
        sink_(sink),
        progress_(progress),
        stop_(stop),
        deadline_(deadline) {}

  absl::StatusOr<Response> Run();

 private:
  absl::Status Configure();
  // Judges the status line and headers of the final response: a redirect, a 200 within the
  // size limit, or an error.
  absl::Status AcceptResponse();
  absl::StatusOr<std::string> Location();
  absl::Status TransferError(CURLcode code) const;
  void Report(bool force);

  static size_t OnHeader(char* data, size_t size, size_t count, void* self);
  static size_t OnBody(char* data, size_t size, size_t count, void* self);
  static curl_socket_t OnOpenSocket(void* self, curlsocktype purpose, curl_sockaddr* address);
  static int OnTransferInfo(void* self, curl_off_t, curl_off_t, curl_off_t, curl_off_t);

  const FetchOptions& options_;
  const Url& url_;
  const std::vector<IpAddress>& checked_;
  const Fetcher::Sink& sink_;
  const Fetcher::ProgressCallback& progress_;
  const std::stop_token& stop_;
  const Clock::time_point deadline_;

  // The list must outlive the handle that points to it, hence declared first.
  std::unique_ptr<curl_slist, SlistDeleter> resolve_;
  std::unique_ptr<CURL, EasyDeleter> easy_;
  bool response_accepted_ = false;
  bool redirect_ = false;
  std::optional<uint64_t> content_length_;
  uint64_t header_bytes_ = 0;
  uint64_t bytes_ = 0;
  // Why a callback stopped the transfer; checked before libcurl's own result.
  absl::Status stopped_;
  Clock::time_point last_report_;
};

size_t Request::OnHeader(char* /*data*/, size_t size, size_t count, void* self) {
  auto& request = *static_cast<Request*>(self);
  const size_t length = size * count;
  request.header_bytes_ += length;
  if (request.header_bytes_ > kMaxHeaderBytes) {
    request.stopped_ = absl::FailedPreconditionError(absl::StrCat(
        "the response headers from host ", request.url_.host, " are larger than 64 KiB"));
    return 0;
  }
  return length;
}

size_t Request::OnBody(char* data, size_t size, size_t count, void* self) {
  auto& request = *static_cast<Request*>(self);
  const size_t length = size * count;
  // Returning anything but `length` makes libcurl abort the transfer.
  if (request.stop_.stop_requested()) {
    request.stopped_ = absl::CancelledError("the download was cancelled");
    return 0;
  }
  if (!request.response_accepted_) {
    request.response_accepted_ = true;
    if (absl::Status s = request.AcceptResponse(); !s.ok()) {
      request.stopped_ = std::move(s);
      return 0;
    }
  }
  // The body of a redirect is of no use; stop reading it rather than let it be large or slow.
  if (request.redirect_) return 0;
  if (length > request.options_.max_bytes - request.bytes_) {
    request.stopped_ = TooBig(request.url_, request.options_.max_bytes);
    return 0;
  }
  if (absl::Status s = request.sink_(data, length); !s.ok()) {
    request.stopped_ = std::move(s);
    return 0;
  }
  request.bytes_ += length;
  request.Report(false);
  return length;
}

// The last line of defence against connecting somewhere unchecked: whatever libcurl decides
// (happy eyeballs, a cached name, a bug), a socket is only opened to a checked address.
curl_socket_t Request::OnOpenSocket(void* self, curlsocktype purpose, curl_sockaddr* address) {
  auto& request = *static_cast<Request*>(self);
  std::optional<IpAddress> target = FromSockaddr(&address->addr, address->addrlen);
  if (purpose != CURLSOCKTYPE_IPCXN || !target ||
      std::find(request.checked_.begin(), request.checked_.end(), *target) ==
          request.checked_.end()) {
    request.stopped_ =
        absl::InternalError("refused to connect to an address the URI policy has not checked");
    return CURL_SOCKET_BAD;
  }
  // Close-on-exec: the worker runs qemu-img, which must not inherit the connection.
  return socket(address->family, address->socktype | SOCK_CLOEXEC, address->protocol);
}

// libcurl calls this often, also while no byte arrives, so a stalled source still reports the
// bytes it sent (OnBody reports at most once per interval, and may have skipped the last
// bytes before the stall).
int Request::OnTransferInfo(void* self, curl_off_t, curl_off_t, curl_off_t, curl_off_t) {
  auto& request = *static_cast<Request*>(self);
  if (request.response_accepted_ && !request.redirect_) request.Report(false);
  return 0;
}

void Request::Report(bool force) {
  if (!progress_) return;
  const Clock::time_point now = Clock::now();
  if (!force && now - last_report_ < absl::ToChronoNanoseconds(options_.progress_interval)) {
    return;
  }
  last_report_ = now;
  progress_(FetchProgress{bytes_, content_length_});
}

absl::Status Request::AcceptResponse() {
  const long status = ResponseCode(easy_.get());
  if (IsRedirect(status)) {
    redirect_ = true;
    return absl::OkStatus();
  }
  if (status != 200) {
    std::string message = absl::StrCat("the source host ", url_.host, " answered HTTP ", status);
    // Worth retrying later: the server said it is overloaded or failing.
    if (status >= 500 || status == 429 || status == 408) {
      return absl::UnavailableError(message);
    }
    return absl::FailedPreconditionError(message);
  }
  curl_off_t length = -1;
  curl_easy_getinfo(easy_.get(), CURLINFO_CONTENT_LENGTH_DOWNLOAD_T, &length);
  if (length >= 0) content_length_ = static_cast<uint64_t>(length);
  if (content_length_ && *content_length_ > options_.max_bytes) {
    return TooBig(url_, options_.max_bytes);
  }
  Report(true);
  return absl::OkStatus();
}

absl::StatusOr<std::string> Request::Location() {
  const long status = ResponseCode(easy_.get());
  curl_header* header = nullptr;
  const CURLHcode rc = curl_easy_header(easy_.get(), "Location", 0, CURLH_HEADER, -1, &header);
  std::string value;
  if (rc == CURLHE_OK) {
    // Which of two Location headers a client follows is a guess; refuse to make it.
    if (header->amount > 1) {
      return absl::FailedPreconditionError(absl::StrCat("the source host ", url_.host,
                                                        " answered HTTP ", status,
                                                        " with several Location headers"));
    }
    value = std::string(absl::StripAsciiWhitespace(header->value));
  }
  if (value.empty()) {
    return absl::FailedPreconditionError(absl::StrCat(
        "the source host ", url_.host, " answered HTTP ", status, " without a Location"));
  }
  return value;
}

absl::Status Request::TransferError(CURLcode code) const {
  const std::string source = absl::StrCat("host ", url_.host, " port ", url_.port);
  switch (code) {
    case CURLE_OPERATION_TIMEDOUT: {
      // libcurl's total timer and ours start a moment apart; the margin keeps a total timeout
      // from being reported as the connect or low-speed one.
      if (Clock::now() + std::chrono::milliseconds(50) >= deadline_) {
        return absl::DeadlineExceededError(
            absl::StrCat("the download from ", source, " took longer than the limit of ",
                         absl::FormatDuration(options_.total_timeout)));
      }
      curl_off_t connect_micros = 0;
      curl_easy_getinfo(easy_.get(), CURLINFO_CONNECT_TIME_T, &connect_micros);
      if (connect_micros == 0) {
        return absl::DeadlineExceededError(absl::StrCat("timed out connecting to ", source));
      }
      return absl::DeadlineExceededError(
          absl::StrCat("the source ", source, " sent less than ", options_.low_speed_limit,
                       " bytes/s for ", absl::FormatDuration(options_.low_speed_time)));
    }
    case CURLE_COULDNT_CONNECT:
      return absl::UnavailableError(absl::StrCat("could not connect to ", source));
    case CURLE_GOT_NOTHING:
      return absl::UnavailableError(
          absl::StrCat("the source ", source, " closed the connection without answering"));
    case CURLE_PARTIAL_FILE:
      if (content_length_) {
        return absl::UnavailableError(absl::StrCat("the source ", source,
                                                   " closed the connection after ", bytes_, " of ",
                                                   *content_length_, " bytes"));
      }
      return absl::UnavailableError(
          absl::StrCat("the source ", source, " closed the connection early"));
    case CURLE_PEER_FAILED_VERIFICATION:
      return absl::FailedPreconditionError(
          absl::StrCat("the TLS certificate of ", source, " could not be verified"));
    default:
      // curl_easy_strerror() gives a fixed description of the code, nothing from the server.
      return absl::UnavailableError(
          absl::StrCat("the download from ", source, " failed: ", curl_easy_strerror(code)));
  }
}

absl::Status Request::Configure() {
  CURL* easy = easy_.get();
  CURLcode rc = CURLE_OK;
  // Every option matters for safety, so a libcurl that refuses one must not run the transfer.
  auto set = [&](CURLoption option, auto value) {
    if (rc == CURLE_OK) rc = curl_easy_setopt(easy, option, value);
  };
  const std::string spec = url_.Spec();
  const long total_millis = std::max<long>(
      1, std::chrono::duration_cast<std::chrono::milliseconds>(deadline_ - Clock::now()).count());
  set(CURLOPT_URL, spec.c_str());
  set(CURLOPT_PROTOCOLS_STR, "http,https");
  set(CURLOPT_REDIR_PROTOCOLS_STR, "http,https");
  set(CURLOPT_FOLLOWLOCATION, 0L);
  // An empty proxy overrides http_proxy/https_proxy/all_proxy from the environment.
  set(CURLOPT_PROXY, "");
  set(CURLOPT_NOSIGNAL, 1L);
  set(CURLOPT_HTTPGET, 1L);
  // No CURLOPT_ACCEPT_ENCODING: the bytes the sink gets are the bytes Content-Length counts.
  set(CURLOPT_USERAGENT, options_.user_agent.c_str());
  set(CURLOPT_BUFFERSIZE, kReceiveBufferBytes);
  set(CURLOPT_CONNECTTIMEOUT_MS,
      std::max<long>(1, static_cast<long>(absl::ToInt64Milliseconds(options_.connect_timeout))));
  set(CURLOPT_TIMEOUT_MS, total_millis);
  set(CURLOPT_LOW_SPEED_LIMIT, static_cast<long>(options_.low_speed_limit));
  set(CURLOPT_LOW_SPEED_TIME, std::max<long>(1, static_cast<long>(absl::ToInt64Seconds(absl::Ceil(
                                                    options_.low_speed_time, absl::Seconds(1))))));
  set(CURLOPT_HEADERFUNCTION, &Request::OnHeader);
  set(CURLOPT_HEADERDATA, this);
  set(CURLOPT_WRITEFUNCTION, &Request::OnBody);
  set(CURLOPT_WRITEDATA, this);
  set(CURLOPT_OPENSOCKETFUNCTION, &Request::OnOpenSocket);
  set(CURLOPT_OPENSOCKETDATA, this);
  set(CURLOPT_XFERINFOFUNCTION, &Request::OnTransferInfo);
  set(CURLOPT_XFERINFODATA, this);
  set(CURLOPT_NOPROGRESS, 0L);
  if (resolve_) set(CURLOPT_RESOLVE, resolve_.get());
  if (rc != CURLE_OK) {
    return absl::InternalError(
        absl::StrCat("libcurl refused a download option: ", curl_easy_strerror(rc)));
  }
  return absl::OkStatus();
}

absl::StatusOr<Response> Request::Run() {
  if (Clock::now() >= deadline_) {
    return absl::DeadlineExceededError(absl::StrCat("the download took longer than the limit of ",
                                                    absl::FormatDuration(options_.total_timeout)));
  }
  // The name is pinned to the checked addresses: libcurl takes them from its DNS cache, which
  // CURLOPT_RESOLVE fills, and never asks DNS itself. An IP literal needs no entry.
  if (!url_.address) {
    std::vector<std::string> addresses;
    for (const IpAddress& a : checked_) {
      addresses.push_back(a.is_v4() ? a.ToString() : absl::StrCat("[", a.ToString(), "]"));
    }
    const std::string entry =
        absl::StrCat(url_.host, ":", url_.port, ":", absl::StrJoin(addresses, ","));
    resolve_.reset(curl_slist_append(nullptr, entry.c_str()));
    if (!resolve_) return absl::ResourceExhaustedError("out of memory");
  }
  easy_.reset(curl_easy_init());
  std::unique_ptr<CURLM, MultiDeleter> multi(curl_multi_init());
  if (!easy_ || !multi) return absl::ResourceExhaustedError("libcurl could not allocate a handle");
  GAZE_RETURN_IF_ERROR(Configure());
  if (curl_multi_add_handle(multi.get(), easy_.get()) != CURLM_OK) {
    return absl::InternalError("libcurl could not start the transfer");
  }
  struct Detach {
    CURLM* multi;
    CURL* easy;
    ~Detach() { curl_multi_remove_handle(multi, easy); }
  } detach{multi.get(), easy_.get()};
  // Declared last so it is gone before the handles: a stop request wakes the poll below.
  std::stop_callback wake(stop_, [m = multi.get()] { curl_multi_wakeup(m); });

  int running = 1;
  while (true) {
    if (stop_.stop_requested()) return absl::CancelledError("the download was cancelled");
    if (curl_multi_perform(multi.get(), &running) != CURLM_OK) {
      return absl::InternalError("libcurl failed to run the transfer");
    }
    if (running == 0) break;
    if (curl_multi_poll(multi.get(), nullptr, 0, kPollMillis, nullptr) != CURLM_OK) {
      return absl::InternalError("libcurl failed to wait for the transfer");
    }
  }
  CURLcode result = CURLE_OK;
  int queued = 0;
  while (CURLMsg* message = curl_multi_info_read(multi.get(), &queued)) {
    if (message->msg == CURLMSG_DONE) result = message->data.result;
  }

  if (!stopped_.ok()) return stopped_;
  // A response whose body never started (empty, or cut short) is judged now. A redirect is
  // followed even when its body was cut short: only its headers matter.
  if (!response_accepted_ && ResponseCode(easy_.get()) != 0) {
    response_accepted_ = true;
    GAZE_RETURN_IF_ERROR(AcceptResponse());
  }
  Response response;
  if (redirect_) {
    GAZE_ASSIGN_OR_RETURN(response.location, Location());
    return response;
  }
  if (result != CURLE_OK) return TransferError(result);
  // libcurl reports a short body as CURLE_PARTIAL_FILE; this also covers protocols and builds
  // where it would not.
  if (content_length_ && bytes_ != *content_length_) return TransferError(CURLE_PARTIAL_FILE);
  const char* ip = nullptr;
  curl_easy_getinfo(easy_.get(), CURLINFO_PRIMARY_IP, &ip);
  response.remote_address = ip != nullptr ? ip : "";
  response.bytes = bytes_;
  response.content_length = content_length_;
  return response;
}

}  // namespace

std::shared_ptr<Resolver> SystemResolver() { return std::make_shared<GetAddrInfoResolver>(); }

Fetcher::Fetcher(UriPolicy policy, FetchOptions options, std::shared_ptr<Resolver> resolver)
    : policy_(std::move(policy)), options_(std::move(options)), resolver_(std::move(resolver)) {}

absl::StatusOr<std::vector<IpAddress>> Fetcher::CheckedAddresses(const Url& url) const {
  // An IP literal was checked by CheckUri; a name is resolved once, here, and every address it
  // has must pass, since libcurl may connect to any of them.
  if (url.address) return std::vector<IpAddress>{*url.address};
  absl::StatusOr<std::vector<IpAddress>> resolved = resolver_->Resolve(url.host);
  if (!resolved.ok() && resolved.status().code() != absl::StatusCode::kNotFound) {
    return resolved.status();
  }
  if (!resolved.ok() || resolved->empty()) {
    return absl::InvalidArgumentError(
        absl::StrCat("URI not allowed: host ", url.host, " does not resolve"));
  }
  std::vector<IpAddress> addresses;
  for (const IpAddress& a : *resolved) {
    GAZE_RETURN_IF_ERROR(policy_.CheckResolvedAddress(url, a));
    if (std::find(addresses.begin(), addresses.end(), a) == addresses.end()) {
      addresses.push_back(a);
    }
  }
  return addresses;
}

absl::Status Fetcher::Check(std::string_view uri) const {
  GAZE_ASSIGN_OR_RETURN(const Url url, policy_.CheckUri(uri));
  return CheckedAddresses(url).status();
}

absl::StatusOr<FetchResult> Fetcher::Fetch(std::string_view uri, const Sink& sink,
                                           const ProgressCallback& progress,
                                           const std::stop_token& stop) const {
  if (GlobalInit() != CURLE_OK) return absl::InternalError("libcurl failed to initialise");
  // Clamped so that an infinite duration does not overflow the clock.
  const Clock::time_point deadline =
      Clock::now() +
      absl::ToChronoMilliseconds(std::min(options_.total_timeout, absl::Hours(24 * 365)));

  GAZE_ASSIGN_OR_RETURN(Url url, policy_.CheckUri(uri));
  for (int redirects = 0;; ++redirects) {
    GAZE_ASSIGN_OR_RETURN(const std::vector<IpAddress> addresses, CheckedAddresses(url));
    Request request(options_, url, addresses, sink, progress, stop, deadline);
    GAZE_ASSIGN_OR_RETURN(Response response, request.Run());
    if (!response.location) {
      if (progress) progress(FetchProgress{response.bytes, response.content_length});
      return FetchResult{url.Spec(), std::move(response.remote_address), response.bytes,
                         response.content_length, redirects};
    }
    if (redirects >= options_.max_redirects) {
      return absl::FailedPreconditionError(
          absl::StrCat("too many redirects (more than ", options_.max_redirects, ")"));
    }
    // The target is checked from scratch, like the URI the client gave.
    absl::StatusOr<Url> target = ResolveReference(url, *response.location);
    if (target.ok()) target = policy_.CheckUri(target->Spec());
    if (!target.ok()) {
      std::string message(target.status().message());
      if (!absl::StartsWith(message, "URI not allowed: ")) message.insert(0, "URI not allowed: ");
      return absl::InvalidArgumentError(
          absl::StrCat(message, " (in a redirect from host ", url.host, ")"));
    }
    url = *std::move(target);
  }
}

}  // namespace gaze::fetch
