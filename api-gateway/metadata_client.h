// Asynchronous client of metadata-svc for the gateway's coroutines. Each call is a gRPC
// callback-API call whose completion resumes the awaiting coroutine on its own executor, so
// an I/O thread never blocks on metadata-svc.
//
// Requests are taken by reference: callers co_await at once, so the request outlives the
// call, and no temporary appears in the co_await expression (GCC 12 destroys such
// temporaries twice, see docs/decisions.md).
#pragma once

#include <boost/asio/awaitable.hpp>
#include <memory>
#include <string_view>

#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "gaze/metadata/v1/metadata.pb.h"

namespace grpc {
class Channel;
}

namespace gaze::gateway {

namespace v1 = ::gaze::metadata::v1;
template <typename T>
using Async = boost::asio::awaitable<absl::StatusOr<T>>;

class MetadataClient {
 public:
  // `timeout` bounds every call (its gRPC deadline).
  MetadataClient(std::shared_ptr<grpc::Channel> channel, absl::Duration timeout);
  ~MetadataClient();

  // Every call sends `request_id` as x-openstack-request-id metadata.
  Async<v1::Image> CreateImage(std::string_view request_id, const v1::CreateImageRequest& request);
  Async<v1::Image> GetImage(std::string_view request_id, const v1::GetImageRequest& request);
  Async<v1::ListImagesResponse> ListImages(std::string_view request_id,
                                           const v1::ListImagesRequest& request);
  Async<v1::Image> UpdateImage(std::string_view request_id, const v1::UpdateImageRequest& request);
  Async<v1::DeleteImageResponse> DeleteImage(std::string_view request_id,
                                             const v1::DeleteImageRequest& request);
  Async<v1::BeginUploadResponse> BeginUpload(std::string_view request_id,
                                             const v1::BeginUploadRequest& request);
  Async<v1::RenewUploadResponse> RenewUpload(std::string_view request_id,
                                             const v1::RenewUploadRequest& request);
  Async<v1::Image> CompleteUpload(std::string_view request_id,
                                  const v1::CompleteUploadRequest& request);
  Async<v1::AbortUploadResponse> AbortUpload(std::string_view request_id,
                                             const v1::AbortUploadRequest& request);
  Async<v1::Image> ChangeImageStatus(std::string_view request_id,
                                     const v1::ChangeImageStatusRequest& request);
  Async<v1::Member> AddMember(std::string_view request_id, const v1::AddMemberRequest& request);
  Async<v1::ListMembersResponse> ListMembers(std::string_view request_id,
                                             const v1::ListMembersRequest& request);
  Async<v1::Member> GetMember(std::string_view request_id, const v1::GetMemberRequest& request);
  Async<v1::Member> UpdateMember(std::string_view request_id,
                                 const v1::UpdateMemberRequest& request);
  Async<v1::DeleteMemberResponse> DeleteMember(std::string_view request_id,
                                               const v1::DeleteMemberRequest& request);
  Async<v1::GetUsageResponse> GetUsage(std::string_view request_id,
                                       const v1::GetUsageRequest& request);
  Async<v1::StartImportResponse> StartImport(std::string_view request_id,
                                             const v1::StartImportRequest& request);
  Async<v1::ListTasksResponse> ListTasks(std::string_view request_id,
                                         const v1::ListTasksRequest& request);
  Async<v1::Task> GetTask(std::string_view request_id, const v1::GetTaskRequest& request);
  // True when metadata-svc reports SERVING on the gRPC health protocol.
  boost::asio::awaitable<bool> Healthy();

 private:
  struct Stubs;
  std::unique_ptr<Stubs> stubs_;
  absl::Duration timeout_;
};

}  // namespace gaze::gateway
