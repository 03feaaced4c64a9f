#include "api-gateway/metadata_client.h"

#include <grpcpp/grpcpp.h>

#include <boost/asio/associated_executor.hpp>
#include <boost/asio/async_result.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/use_awaitable.hpp>

#include "gaze/metadata/v1/metadata.grpc.pb.h"
#include "grpc/health/v1/health.grpc.pb.h"
#include "services/rpc/status.h"

namespace gaze::gateway {
namespace {

namespace asio = boost::asio;

template <typename Req, typename Resp>
struct CallState {
  grpc::ClientContext context;
  Req request;
  Resp response;
};

// Starts `start(context, request, response, on_done)` — a callback-API method — and suspends
// the calling coroutine until on_done runs, then resumes it on the coroutine's executor.
//
// GCC 12 destroys the temporaries of a co_await full-expression twice, so the initiation is
// a named object that captures only raw pointers, and the awaited operation is named too.
template <typename Resp, typename Req, typename Start>
asio::awaitable<std::pair<grpc::Status, Resp>> Call(Start start, const Req& request,
                                                    std::string_view request_id,
                                                    absl::Duration timeout) {
  using State = CallState<Req, Resp>;
  auto state = std::make_shared<State>();
  state->request = request;
  state->context.set_deadline(absl::ToChronoTime(absl::Now() + timeout));
  if (!request_id.empty()) {
    state->context.AddMetadata(rpc::kRequestIdKey, std::string(request_id));
  }
  std::shared_ptr<State>* state_ptr = &state;
  Start* start_ptr = &start;
  auto initiation = [state_ptr, start_ptr](auto handler) {
    auto shared = std::make_shared<decltype(handler)>(std::move(handler));
    // The callback owns the call state too: it must outlive the call even if the awaiting
    // coroutine is destroyed first (e.g. at shutdown).
    std::shared_ptr<State> keep = *state_ptr;
    State* raw = keep.get();
    (*start_ptr)(&raw->context, &raw->request, &raw->response,
                 [shared, keep = std::move(keep)](grpc::Status s) {
                   auto executor = asio::get_associated_executor(*shared);
                   asio::post(executor,
                              [shared, s = std::move(s)]() mutable { (*shared)(std::move(s)); });
                 });
  };
  auto operation = asio::async_initiate<const asio::use_awaitable_t<>&, void(grpc::Status)>(
      std::move(initiation), asio::use_awaitable);
  grpc::Status status = co_await std::move(operation);
  co_return std::pair<grpc::Status, Resp>(std::move(status), std::move(state->response));
}

}  // namespace

struct MetadataClient::Stubs {
  std::unique_ptr<v1::ImageService::Stub> images;
  std::unique_ptr<v1::TaskService::Stub> tasks;
  std::unique_ptr<grpc::health::v1::Health::Stub> health;
};

MetadataClient::MetadataClient(std::shared_ptr<grpc::Channel> channel, absl::Duration timeout)
    : stubs_(new Stubs{v1::ImageService::NewStub(channel), v1::TaskService::NewStub(channel),
                       grpc::health::v1::Health::NewStub(channel)}),
      timeout_(timeout) {}

MetadataClient::~MetadataClient() = default;

// `Service` names the stub in Stubs that serves `Method`.
#define GAZE_RPC(Service, Method, Req, Resp)                                                    \
  Async<v1::Resp> MetadataClient::Method(std::string_view request_id, const v1::Req& request) { \
    auto* stub = stubs_->Service.get();                                                         \
    auto result = co_await Call<v1::Resp>(                                                      \
        [stub](grpc::ClientContext* c, const v1::Req* q, v1::Resp* r,                           \
               std::function<void(grpc::Status)> done) {                                        \
          stub->async()->Method(c, q, r, std::move(done));                                      \
        },                                                                                      \
        request, request_id, timeout_);                                                         \
    if (!result.first.ok()) co_return rpc::FromGrpc(result.first);                              \
    co_return std::move(result.second);                                                         \
  }

GAZE_RPC(images, CreateImage, CreateImageRequest, Image)
GAZE_RPC(images, GetImage, GetImageRequest, Image)
GAZE_RPC(images, ListImages, ListImagesRequest, ListImagesResponse)
GAZE_RPC(images, UpdateImage, UpdateImageRequest, Image)
GAZE_RPC(images, DeleteImage, DeleteImageRequest, DeleteImageResponse)
GAZE_RPC(images, BeginUpload, BeginUploadRequest, BeginUploadResponse)
GAZE_RPC(images, RenewUpload, RenewUploadRequest, RenewUploadResponse)
GAZE_RPC(images, CompleteUpload, CompleteUploadRequest, Image)
GAZE_RPC(images, AbortUpload, AbortUploadRequest, AbortUploadResponse)
GAZE_RPC(images, ChangeImageStatus, ChangeImageStatusRequest, Image)
GAZE_RPC(images, AddMember, AddMemberRequest, Member)
GAZE_RPC(images, ListMembers, ListMembersRequest, ListMembersResponse)
GAZE_RPC(images, GetMember, GetMemberRequest, Member)
GAZE_RPC(images, UpdateMember, UpdateMemberRequest, Member)
GAZE_RPC(images, DeleteMember, DeleteMemberRequest, DeleteMemberResponse)
GAZE_RPC(images, GetUsage, GetUsageRequest, GetUsageResponse)
GAZE_RPC(images, StartImport, StartImportRequest, StartImportResponse)
GAZE_RPC(tasks, ListTasks, ListTasksRequest, ListTasksResponse)
GAZE_RPC(tasks, GetTask, GetTaskRequest, Task)
#undef GAZE_RPC

asio::awaitable<bool> MetadataClient::Healthy() {
  using grpc::health::v1::HealthCheckRequest;
  using grpc::health::v1::HealthCheckResponse;
  auto* stub = stubs_->health.get();
  HealthCheckRequest request;
  auto result = co_await Call<HealthCheckResponse>(
      [stub](grpc::ClientContext* c, const HealthCheckRequest* q, HealthCheckResponse* r,
             std::function<void(grpc::Status)> done) {
        stub->async()->Check(c, q, r, std::move(done));
      },
      request, "", std::min(timeout_, absl::Seconds(2)));
  co_return result.first.ok() && result.second.status() == HealthCheckResponse::SERVING;
}

}  // namespace gaze::gateway
