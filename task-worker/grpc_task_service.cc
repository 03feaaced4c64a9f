#include "task-worker/grpc_task_service.h"

#include <grpcpp/grpcpp.h>

#include <algorithm>
#include <chrono>

#include "gaze/metadata/v1/metadata.grpc.pb.h"
#include "services/rpc/status.h"

namespace gaze::worker {
namespace {

namespace mv1 = ::gaze::metadata::v1;

// gRPC's default reconnect back-off grows to 120 s; a worker whose metadata-svc restarted
// should be working again within seconds.
constexpr int kInitialReconnectBackoffMs = 500;
constexpr int kMaxReconnectBackoffMs = 5000;

// gRPC refuses a call whose metadata value has bytes outside printable ASCII; a request id
// that is not printable is left off rather than failing the call.
bool IsPrintableAscii(const std::string& s) {
  return std::ranges::all_of(s, [](char c) { return c >= 0x20 && c <= 0x7e; });
}

class GrpcTaskService final : public TaskService {
 public:
  GrpcTaskService(std::shared_ptr<grpc::Channel> channel, absl::Duration call_timeout)
      : stub_(mv1::TaskService::NewStub(std::move(channel))), call_timeout_(call_timeout) {}

  absl::StatusOr<mv1::ClaimTaskResponse> ClaimTask(const mv1::ClaimTaskRequest& request,
                                                   const std::string& request_id) override {
    grpc::ClientContext context;
    Prepare(context, request_id);
    mv1::ClaimTaskResponse response;
    grpc::Status status = stub_->ClaimTask(&context, request, &response);
    if (!status.ok()) return rpc::FromGrpc(status);
    return response;
  }

  absl::Status CompleteTask(const mv1::CompleteTaskRequest& request,
                            const std::string& request_id) override {
    grpc::ClientContext context;
    Prepare(context, request_id);
    mv1::CompleteTaskResponse response;
    return rpc::FromGrpc(stub_->CompleteTask(&context, request, &response));
  }

  absl::Status RenewTask(const mv1::RenewTaskRequest& request,
                         const std::string& request_id) override {
    grpc::ClientContext context;
    Prepare(context, request_id);
    mv1::RenewTaskResponse response;
    return rpc::FromGrpc(stub_->RenewTask(&context, request, &response));
  }

  absl::StatusOr<mv1::FinishImportResponse> FinishImport(const mv1::FinishImportRequest& request,
                                                         const std::string& request_id) override {
    grpc::ClientContext context;
    Prepare(context, request_id);
    mv1::FinishImportResponse response;
    grpc::Status status = stub_->FinishImport(&context, request, &response);
    if (!status.ok()) return rpc::FromGrpc(status);
    return response;
  }

 private:
  void Prepare(grpc::ClientContext& context, const std::string& request_id) const {
    context.set_deadline(std::chrono::system_clock::now() +
                         absl::ToChronoMilliseconds(call_timeout_));
    if (!request_id.empty() && IsPrintableAscii(request_id)) {
      context.AddMetadata(rpc::kRequestIdKey, request_id);
    }
  }

  std::unique_ptr<mv1::TaskService::Stub> stub_;
  absl::Duration call_timeout_;
};

}  // namespace

std::unique_ptr<TaskService> NewGrpcTaskService(const std::string& target,
                                                absl::Duration call_timeout) {
  grpc::ChannelArguments args;
  args.SetInt(GRPC_ARG_INITIAL_RECONNECT_BACKOFF_MS, kInitialReconnectBackoffMs);
  args.SetInt(GRPC_ARG_MIN_RECONNECT_BACKOFF_MS, kInitialReconnectBackoffMs);
  args.SetInt(GRPC_ARG_MAX_RECONNECT_BACKOFF_MS, kMaxReconnectBackoffMs);
  return std::make_unique<GrpcTaskService>(
      grpc::CreateCustomChannel(target, grpc::InsecureChannelCredentials(), args), call_timeout);
}

}  // namespace gaze::worker
