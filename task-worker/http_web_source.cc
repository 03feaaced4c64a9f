// WebSource over services/fetch.
#include "services/fetch/fetcher.h"
#include "task-worker/web_source.h"

namespace gaze::worker {
namespace {

class HttpWebSource final : public WebSource {
 public:
  explicit HttpWebSource(const fetch::Fetcher& fetcher) : fetcher_(fetcher) {}

  absl::Status Fetch(const std::string& uri, const Sink& sink, const Progress& progress,
                     std::stop_token stop) override {
    absl::StatusOr<fetch::FetchResult> fetched = fetcher_.Fetch(
        uri, sink, [&](const fetch::FetchProgress& p) { progress(p.bytes, p.total); }, stop);
    return fetched.status();
  }

 private:
  const fetch::Fetcher& fetcher_;
};

}  // namespace

std::unique_ptr<WebSource> NewHttpWebSource(const fetch::Fetcher& fetcher) {
  return std::make_unique<HttpWebSource>(fetcher);
}

}  // namespace gaze::worker
