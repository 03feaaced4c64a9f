// The gRPC adapter against an in-process TaskService server on an ephemeral port: request id
// metadata, status mapping, and recovery after metadata-svc restarts.
#include "task-worker/grpc_task_service.h"

#include <grpcpp/grpcpp.h>

#include <chrono>
#include <thread>

#include "absl/synchronization/mutex.h"
#include "gaze/metadata/v1/metadata.grpc.pb.h"
#include "gtest/gtest.h"
#include "services/rpc/status.h"

namespace gaze::worker {
namespace {

namespace mv1 = ::gaze::metadata::v1;

class RecordingTaskService final : public mv1::TaskService::Service {
 public:
  grpc::Status ClaimTask(grpc::ServerContext* context, const mv1::ClaimTaskRequest* request,
                         mv1::ClaimTaskResponse* response) override {
    Record(context);
    if (request->task_id() == "missing") return grpc::Status(grpc::NOT_FOUND, "no such task");
    response->set_outcome(mv1::CLAIM_OUTCOME_CLAIMED);
    response->mutable_task()->set_id(request->task_id());
    response->mutable_task()->set_type(mv1::TASK_TYPE_DELETE_DATA);
    return grpc::Status::OK;
  }
  grpc::Status CompleteTask(grpc::ServerContext* context, const mv1::CompleteTaskRequest* request,
                            mv1::CompleteTaskResponse*) override {
    Record(context);
    if (!request->success()) return grpc::Status(grpc::FAILED_PRECONDITION, "lease lost");
    return grpc::Status::OK;
  }
  grpc::Status RenewTask(grpc::ServerContext* context, const mv1::RenewTaskRequest* request,
                         mv1::RenewTaskResponse*) override {
    Record(context);
    if (request->worker_id() != "w1") return grpc::Status(grpc::FAILED_PRECONDITION, "not w1's");
    if (request->progress().stage() != "fetching" || request->progress().bytes_done() != 42) {
      return grpc::Status(grpc::INVALID_ARGUMENT, "progress did not arrive");
    }
    return grpc::Status::OK;
  }
  grpc::Status FinishImport(grpc::ServerContext* context, const mv1::FinishImportRequest* request,
                            mv1::FinishImportResponse* response) override {
    Record(context);
    if (request->worker_id() != "w1") return grpc::Status(grpc::FAILED_PRECONDITION, "not w1's");
    // A success it cannot apply (the image is gone) ends the task as a failure.
    response->set_status(request->location().url().empty() ? mv1::TASK_STATUS_FAILURE
                                                           : mv1::TASK_STATUS_SUCCESS);
    return grpc::Status::OK;
  }

  std::vector<std::string> request_ids() const {
    absl::MutexLock lock(&mu_);
    return request_ids_;
  }

 private:
  void Record(grpc::ServerContext* context) {
    const auto& md = context->client_metadata();
    auto it = md.find(rpc::kRequestIdKey);
    absl::MutexLock lock(&mu_);
    request_ids_.push_back(it == md.end() ? "<none>"
                                          : std::string(it->second.data(), it->second.size()));
  }

  mutable absl::Mutex mu_;
  std::vector<std::string> request_ids_ ABSL_GUARDED_BY(mu_);
};

std::unique_ptr<grpc::Server> StartServer(grpc::Service* service, int* port) {
  grpc::ServerBuilder builder;
  builder.AddListeningPort("127.0.0.1:" + std::to_string(*port), grpc::InsecureServerCredentials(),
                           port);
  builder.RegisterService(service);
  return builder.BuildAndStart();
}

mv1::ClaimTaskRequest Claim(const std::string& task_id) {
  mv1::ClaimTaskRequest request;
  request.set_task_id(task_id);
  request.set_worker_id("w1");
  request.set_lease_seconds(60);
  return request;
}

TEST(GrpcTaskService, CallsCarryTheRequestIdAndMapStatuses) {
  RecordingTaskService service;
  int port = 0;
  auto server = StartServer(&service, &port);
  ASSERT_NE(server, nullptr);
  ASSERT_GT(port, 0);
  auto client = NewGrpcTaskService("127.0.0.1:" + std::to_string(port), absl::Seconds(5));

  auto claimed = client->ClaimTask(Claim("t1"), "req-123");
  ASSERT_TRUE(claimed.ok()) << claimed.status();
  EXPECT_EQ(claimed->outcome(), mv1::CLAIM_OUTCOME_CLAIMED);
  EXPECT_EQ(claimed->task().id(), "t1");

  auto missing = client->ClaimTask(Claim("missing"), "req-456");
  EXPECT_EQ(missing.status().code(), absl::StatusCode::kNotFound);

  mv1::CompleteTaskRequest complete;
  complete.set_task_id("t1");
  complete.set_success(false);
  EXPECT_EQ(client->CompleteTask(complete, "req-789").code(),
            absl::StatusCode::kFailedPrecondition);
  // A request id gRPC would refuse as a header value is left off instead of failing the call.
  complete.set_success(true);
  EXPECT_TRUE(client->CompleteTask(complete, "bad\nid").ok());

  EXPECT_EQ(service.request_ids(),
            (std::vector<std::string>{"req-123", "req-456", "req-789", "<none>"}));
  server->Shutdown();
}

TEST(GrpcTaskService, RenewsLeasesAndFinishesImports) {
  RecordingTaskService service;
  int port = 0;
  auto server = StartServer(&service, &port);
  ASSERT_NE(server, nullptr);
  auto client = NewGrpcTaskService("127.0.0.1:" + std::to_string(port), absl::Seconds(5));

  mv1::RenewTaskRequest renew;
  renew.set_task_id("t1");
  renew.set_worker_id("w1");
  renew.set_lease_seconds(60);
  renew.mutable_progress()->set_stage("fetching");
  renew.mutable_progress()->set_bytes_done(42);
  EXPECT_TRUE(client->RenewTask(renew, "req-1").ok());
  renew.set_worker_id("w2");
  EXPECT_EQ(client->RenewTask(renew, "req-2").code(), absl::StatusCode::kFailedPrecondition);

  mv1::FinishImportRequest finish;
  finish.set_task_id("t1");
  finish.set_worker_id("w1");
  finish.set_success(true);
  finish.mutable_location()->set_url("file:///images/x");
  auto finished = client->FinishImport(finish, "req-3");
  ASSERT_TRUE(finished.ok()) << finished.status();
  EXPECT_EQ(finished->status(), mv1::TASK_STATUS_SUCCESS);
  finish.clear_location();
  finished = client->FinishImport(finish, "req-4");
  ASSERT_TRUE(finished.ok()) << finished.status();
  EXPECT_EQ(finished->status(), mv1::TASK_STATUS_FAILURE) << "the answer's status is passed on";
  finish.set_worker_id("w2");
  EXPECT_EQ(client->FinishImport(finish, "req-5").status().code(),
            absl::StatusCode::kFailedPrecondition);

  EXPECT_EQ(service.request_ids(),
            (std::vector<std::string>{"req-1", "req-2", "req-3", "req-4", "req-5"}));
  server->Shutdown();
}

TEST(GrpcTaskService, RecoversAfterMetadataSvcRestarts) {
  RecordingTaskService service;
  int port = 0;
  auto server = StartServer(&service, &port);
  ASSERT_NE(server, nullptr);
  auto client = NewGrpcTaskService("127.0.0.1:" + std::to_string(port), absl::Seconds(2));
  ASSERT_TRUE(client->ClaimTask(Claim("t1"), "req-1").ok());

  server->Shutdown();
  server.reset();
  auto down = client->ClaimTask(Claim("t1"), "req-2");
  EXPECT_EQ(down.status().code(), absl::StatusCode::kUnavailable) << down.status();

  const int fixed_port = port;
  server = StartServer(&service, &port);
  ASSERT_NE(server, nullptr) << "port " << fixed_port << " not free again";
  ASSERT_EQ(port, fixed_port);
  // The channel reconnects on its own back-off (capped at 5 s): poll with a deadline.
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(15);
  absl::StatusOr<mv1::ClaimTaskResponse> up = absl::UnavailableError("not tried");
  while (!up.ok() && std::chrono::steady_clock::now() < deadline) {
    up = client->ClaimTask(Claim("t1"), "req-3");
    if (!up.ok()) std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
  EXPECT_TRUE(up.ok()) << up.status();
  server->Shutdown();
}

}  // namespace
}  // namespace gaze::worker
