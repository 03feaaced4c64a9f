// ImageService / TaskService handlers (see grpc_services.h). Handlers run on gRPC's sync
// thread pool and block on a pooled database connection.
#include "metadata-svc/grpc_services.h"

#include <grpcpp/grpcpp.h>

#include "gaze/metadata/v1/metadata.grpc.pb.h"
#include "metadata-svc/enums.h"
#include "services/common/log.h"
#include "services/rpc/status.h"

namespace gaze::metadata {
namespace {

std::string RequestIdOf(const grpc::ServerContext& ctx) {
  auto it = ctx.client_metadata().find(rpc::kRequestIdKey);
  if (it == ctx.client_metadata().end()) return "";
  return std::string(it->second.data(), it->second.size());
}

// The stored name of `status`, "" for UNSPECIFIED (nothing changed).
const char* NameOf(v1::ImageStatus status) {
  const char* name = ImageStatusName(status);
  return name != nullptr ? name : "";
}

// Codes that mean the service, not the caller, has a problem.
bool IsServerError(absl::StatusCode code) {
  switch (code) {
    case absl::StatusCode::kInternal:
    case absl::StatusCode::kUnavailable:
    case absl::StatusCode::kUnknown:
    case absl::StatusCode::kDataLoss:
    case absl::StatusCode::kDeadlineExceeded:
      return true;
    default:
      return false;
  }
}

// One call: its method name, request id and the id of the object it is about.
class Rpc {
 public:
  Rpc(const grpc::ServerContext* ctx, const char* method, std::string subject)
      : method_(method), request_id_(RequestIdOf(*ctx)), subject_(std::move(subject)) {}

  const std::string& request_id() const { return request_id_; }

  grpc::Status Fail(const absl::Status& status) const {
    absl::string_view msg = status.message();
    auto line =
        IsServerError(status.code()) ? log::Error("rpc failed") : log::Warning("rpc failed");
    line.RequestId(request_id_)
        .Field("method", method_)
        .Field("id", subject_)
        .Field("code", absl::StatusCodeToString(status.code()))
        .Field("error", std::string_view(msg.data(), msg.size()));
    return rpc::ToGrpc(status);
  }

 private:
  const char* method_;
  std::string request_id_;
  std::string subject_;
};

class ImageServiceImpl final : public v1::ImageService::Service {
 public:
  explicit ImageServiceImpl(ImageRepository& images) : images_(images) {}

  grpc::Status CreateImage(grpc::ServerContext* ctx, const v1::CreateImageRequest* req,
                           v1::Image* resp) override {
    Rpc rpc(ctx, "CreateImage", req->image().id());
    auto r = images_.CreateImage(*req);
    if (!r.ok()) return rpc.Fail(r.status());
    *resp = std::move(*r);
    log::Info("image created")
        .RequestId(rpc.request_id())
        .Field("image_id", resp->id())
        .Field("owner", resp->owner())
        .Field("visibility", VisibilityName(resp->visibility()));
    return grpc::Status::OK;
  }

  grpc::Status GetImage(grpc::ServerContext* ctx, const v1::GetImageRequest* req,
                        v1::Image* resp) override {
    Rpc rpc(ctx, "GetImage", req->id());
    auto r = images_.GetImage(*req);
    if (!r.ok()) return rpc.Fail(r.status());
    *resp = std::move(*r);
    return grpc::Status::OK;
  }

  grpc::Status ListImages(grpc::ServerContext* ctx, const v1::ListImagesRequest* req,
                          v1::ListImagesResponse* resp) override {
    Rpc rpc(ctx, "ListImages", req->marker());
    auto r = images_.ListImages(*req);
    if (!r.ok()) return rpc.Fail(r.status());
    *resp = std::move(*r);
    return grpc::Status::OK;
  }

  grpc::Status UpdateImage(grpc::ServerContext* ctx, const v1::UpdateImageRequest* req,
                           v1::Image* resp) override {
    Rpc rpc(ctx, "UpdateImage", req->id());
    auto r = images_.UpdateImage(*req);
    if (!r.ok()) return rpc.Fail(r.status());
    *resp = std::move(*r);
    log::Info("image updated")
        .RequestId(rpc.request_id())
        .Field("image_id", resp->id())
        .Field("version", resp->version());
    return grpc::Status::OK;
  }

  grpc::Status DeleteImage(grpc::ServerContext* ctx, const v1::DeleteImageRequest* req,
                           v1::DeleteImageResponse* resp) override {
    Rpc rpc(ctx, "DeleteImage", req->id());
    auto r = images_.DeleteImage(*req, rpc.request_id());
    if (!r.ok()) return rpc.Fail(r.status());
    *resp = std::move(r->response);
    log::Info("image deleted")
        .RequestId(rpc.request_id())
        .Field("image_id", req->id())
        .Field("status", NameOf(r->status))
        .Field("task_id", resp->task_id());
    return grpc::Status::OK;
  }

  grpc::Status BeginUpload(grpc::ServerContext* ctx, const v1::BeginUploadRequest* req,
                           v1::BeginUploadResponse* resp) override {
    Rpc rpc(ctx, "BeginUpload", req->id());
    auto r = images_.BeginUpload(*req);
    if (!r.ok()) return rpc.Fail(r.status());
    *resp = std::move(*r);
    auto line = log::Info("upload started");
    line.RequestId(rpc.request_id())
        .Field("image_id", req->id())
        .Field("status", NameOf(resp->image().status()))
        .Field("upload_id", req->upload_id())
        .Field("holder", req->holder())
        .Field("lease_seconds", req->lease_seconds());
    if (req->has_declared_size()) line.Field("declared_size", req->declared_size());
    if (resp->has_remaining_bytes()) line.Field("remaining_bytes", resp->remaining_bytes());
    return grpc::Status::OK;
  }

  grpc::Status RenewUpload(grpc::ServerContext* ctx, const v1::RenewUploadRequest* req,
                           v1::RenewUploadResponse* resp) override {
    Rpc rpc(ctx, "RenewUpload", req->id());
    auto r = images_.RenewUpload(*req);
    if (!r.ok()) return rpc.Fail(r.status());
    *resp = std::move(*r);
    return grpc::Status::OK;
  }

  grpc::Status CompleteUpload(grpc::ServerContext* ctx, const v1::CompleteUploadRequest* req,
                              v1::Image* resp) override {
    Rpc rpc(ctx, "CompleteUpload", req->id());
    auto r = images_.CompleteUpload(*req);
    if (!r.ok()) return rpc.Fail(r.status());
    *resp = std::move(*r);
    log::Info("upload completed")
        .RequestId(rpc.request_id())
        .Field("image_id", req->id())
        .Field("upload_id", req->upload_id())
        .Field("status", NameOf(resp->status()))
        .Field("size", req->size());
    return grpc::Status::OK;
  }

  grpc::Status AbortUpload(grpc::ServerContext* ctx, const v1::AbortUploadRequest* req,
                           v1::AbortUploadResponse*) override {
    Rpc rpc(ctx, "AbortUpload", req->id());
    auto r = images_.AbortUpload(*req);
    if (!r.ok()) return rpc.Fail(r.status());
    if (*r) {
      log::Info("upload aborted")
          .RequestId(rpc.request_id())
          .Field("image_id", req->id())
          .Field("upload_id", req->upload_id());
    }
    return grpc::Status::OK;
  }

  grpc::Status ChangeImageStatus(grpc::ServerContext* ctx, const v1::ChangeImageStatusRequest* req,
                                 v1::Image* resp) override {
    Rpc rpc(ctx, "ChangeImageStatus", req->id());
    auto r = images_.ChangeImageStatus(*req);
    if (!r.ok()) return rpc.Fail(r.status());
    *resp = std::move(*r);
    // Repeating an action is a no-op: the version then stays what it was.
    log::Info("image status action")
        .RequestId(rpc.request_id())
        .Field("image_id", resp->id())
        .Field("action", v1::StatusAction_Name(req->action()))
        .Field("status", ImageStatusName(resp->status()))
        .Field("version", resp->version());
    return grpc::Status::OK;
  }

  grpc::Status AddMember(grpc::ServerContext* ctx, const v1::AddMemberRequest* req,
                         v1::Member* resp) override {
    Rpc rpc(ctx, "AddMember", req->image_id());
    auto r = images_.AddMember(*req);
    if (!r.ok()) return rpc.Fail(r.status());
    *resp = std::move(*r);
    log::Info("member added")
        .RequestId(rpc.request_id())
        .Field("image_id", resp->image_id())
        .Field("member_id", resp->member_id());
    return grpc::Status::OK;
  }

  grpc::Status ListMembers(grpc::ServerContext* ctx, const v1::ListMembersRequest* req,
                           v1::ListMembersResponse* resp) override {
    Rpc rpc(ctx, "ListMembers", req->image_id());
    auto r = images_.ListMembers(*req);
    if (!r.ok()) return rpc.Fail(r.status());
    *resp = std::move(*r);
    return grpc::Status::OK;
  }

  grpc::Status GetMember(grpc::ServerContext* ctx, const v1::GetMemberRequest* req,
                         v1::Member* resp) override {
    Rpc rpc(ctx, "GetMember", req->image_id());
    auto r = images_.GetMember(*req);
    if (!r.ok()) return rpc.Fail(r.status());
    *resp = std::move(*r);
    return grpc::Status::OK;
  }

  grpc::Status UpdateMember(grpc::ServerContext* ctx, const v1::UpdateMemberRequest* req,
                            v1::Member* resp) override {
    Rpc rpc(ctx, "UpdateMember", req->image_id());
    auto r = images_.UpdateMember(*req);
    if (!r.ok()) return rpc.Fail(r.status());
    *resp = std::move(*r);
    log::Info("member status changed")
        .RequestId(rpc.request_id())
        .Field("image_id", resp->image_id())
        .Field("member_id", resp->member_id())
        .Field("status", MemberStatusName(resp->status()));
    return grpc::Status::OK;
  }

  grpc::Status DeleteMember(grpc::ServerContext* ctx, const v1::DeleteMemberRequest* req,
                            v1::DeleteMemberResponse*) override {
    Rpc rpc(ctx, "DeleteMember", req->image_id());
    if (absl::Status s = images_.DeleteMember(*req); !s.ok()) return rpc.Fail(s);
    log::Info("member deleted")
        .RequestId(rpc.request_id())
        .Field("image_id", req->image_id())
        .Field("member_id", req->member_id());
    return grpc::Status::OK;
  }

  grpc::Status GetUsage(grpc::ServerContext* ctx, const v1::GetUsageRequest* req,
                        v1::GetUsageResponse* resp) override {
    Rpc rpc(ctx, "GetUsage", req->caller().project_id());
    auto r = images_.GetUsage(*req);
    if (!r.ok()) return rpc.Fail(r.status());
    *resp = std::move(*r);
    return grpc::Status::OK;
  }

  grpc::Status StartImport(grpc::ServerContext* ctx, const v1::StartImportRequest* req,
                           v1::StartImportResponse* resp) override {
    Rpc rpc(ctx, "StartImport", req->id());
    auto r = images_.StartImport(*req, rpc.request_id());
    if (!r.ok()) return rpc.Fail(r.status());
    *resp = std::move(r->response);
    if (!r->preempted_task_id.empty()) {
      log::Warning("stale import lock broken")
          .RequestId(rpc.request_id())
          .Field("image_id", req->id())
          .Field("stale_task_id", r->preempted_task_id);
    }
    log::Info("import started")
        .RequestId(rpc.request_id())
        .Field("image_id", req->id())
        .Field("method", v1::ImportMethod_Name(req->method()))
        .Field("status", NameOf(resp->image().status()))
        .Field("task_id", resp->task_id());
    return grpc::Status::OK;
  }

  grpc::Status RestoreImage(grpc::ServerContext* ctx, const v1::RestoreImageRequest* req,
                            v1::Image* resp) override {
    Rpc rpc(ctx, "RestoreImage", req->id());
    auto r = images_.RestoreImage(*req);
    if (!r.ok()) return rpc.Fail(r.status());
    *resp = std::move(r->image);
    log::Info("image restored")
        .RequestId(rpc.request_id())
        .Field("image_id", resp->id())
        .Field("status", NameOf(resp->status()))
        .Field("cancelled_task_id", r->cancelled_task_id);
    return grpc::Status::OK;
  }

 private:
  ImageRepository& images_;
};

// The fields every log line about a task's end carries.
void LogOutcome(log::Line& line, const TaskOutcome& outcome) {
  line.Field("status", TaskStatusName(outcome.status))
      .Field("image_id", outcome.image_id)
      .Field("image_status", NameOf(outcome.image_status))
      .Field("cleanup_task_id", outcome.cleanup_task_id);
}

class TaskServiceImpl final : public v1::TaskService::Service {
 public:
  explicit TaskServiceImpl(TaskRepository& tasks) : tasks_(tasks) {}

  grpc::Status ClaimTask(grpc::ServerContext* ctx, const v1::ClaimTaskRequest* req,
                         v1::ClaimTaskResponse* resp) override {
    Rpc rpc(ctx, "ClaimTask", req->task_id());
    auto r = tasks_.ClaimTask(*req);
    if (!r.ok()) return rpc.Fail(r.status());
    *resp = std::move(r->response);
    log::Info("task claim")
        .RequestId(rpc.request_id())
        .Field("task_id", req->task_id())
        .Field("worker_id", req->worker_id())
        .Field("outcome", v1::ClaimOutcome_Name(resp->outcome()))
        .Field("attempts", resp->task().attempts());
    if (r->gave_up) {
      auto line = log::Error("task failed after too many attempts");
      line.RequestId(rpc.request_id()).Field("task_id", req->task_id());
      LogOutcome(line, *r->gave_up);
    }
    return grpc::Status::OK;
  }

  grpc::Status CompleteTask(grpc::ServerContext* ctx, const v1::CompleteTaskRequest* req,
                            v1::CompleteTaskResponse*) override {
    Rpc rpc(ctx, "CompleteTask", req->task_id());
    auto r = tasks_.CompleteTask(*req);
    if (!r.ok()) return rpc.Fail(r.status());
    auto line = log::Info("task finished");
    line.RequestId(rpc.request_id())
        .Field("task_id", req->task_id())
        .Field("worker_id", req->worker_id())
        .Field("message", req->message());
    LogOutcome(line, *r);
    return grpc::Status::OK;
  }

  grpc::Status RenewTask(grpc::ServerContext* ctx, const v1::RenewTaskRequest* req,
                         v1::RenewTaskResponse*) override {
    Rpc rpc(ctx, "RenewTask", req->task_id());
    if (absl::Status s = tasks_.RenewTask(*req); !s.ok()) return rpc.Fail(s);
    return grpc::Status::OK;
  }

  grpc::Status FinishImport(grpc::ServerContext* ctx, const v1::FinishImportRequest* req,
                            v1::FinishImportResponse* resp) override {
    Rpc rpc(ctx, "FinishImport", req->task_id());
    auto r = tasks_.FinishImport(*req);
    if (!r.ok()) return rpc.Fail(r.status());
    resp->set_status(r->status);
    auto line = log::Info(r->replay ? "import finish repeated" : "import finished");
    line.RequestId(rpc.request_id())
        .Field("task_id", req->task_id())
        .Field("worker_id", req->worker_id())
        .Field("reported_success", req->success())
        .Field("message", req->message());
    LogOutcome(line, *r);
    return grpc::Status::OK;
  }

  grpc::Status ListTasks(grpc::ServerContext* ctx, const v1::ListTasksRequest* req,
                         v1::ListTasksResponse* resp) override {
    Rpc rpc(ctx, "ListTasks", req->image_id());
    auto r = tasks_.ListTasks(*req);
    if (!r.ok()) return rpc.Fail(r.status());
    *resp = std::move(*r);
    return grpc::Status::OK;
  }

  grpc::Status GetTask(grpc::ServerContext* ctx, const v1::GetTaskRequest* req,
                       v1::Task* resp) override {
    Rpc rpc(ctx, "GetTask", req->id());
    auto r = tasks_.GetTask(*req);
    if (!r.ok()) return rpc.Fail(r.status());
    *resp = std::move(*r);
    return grpc::Status::OK;
  }

 private:
  TaskRepository& tasks_;
};

}  // namespace

std::unique_ptr<grpc::Service> NewImageService(ImageRepository& images) {
  return std::make_unique<ImageServiceImpl>(images);
}

std::unique_ptr<grpc::Service> NewTaskService(TaskRepository& tasks) {
  return std::make_unique<TaskServiceImpl>(tasks);
}

}  // namespace gaze::metadata
