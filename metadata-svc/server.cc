// MetadataServer (see server.h).
#include "metadata-svc/server.h"

#include <grpcpp/ext/proto_server_reflection_plugin.h>
#include <grpcpp/grpcpp.h>
#include <grpcpp/health_check_service_interface.h>
#include <grpcpp/impl/service_type.h>

#include "absl/strings/str_cat.h"
#include "metadata-svc/grpc_services.h"

namespace gaze::metadata {

struct MetadataServer::Impl {
  std::unique_ptr<grpc::Service> image_service;
  std::unique_ptr<grpc::Service> task_service;
  std::unique_ptr<grpc::Server> server;
  int port = 0;
  bool shut_down = false;
};

MetadataServer::MetadataServer(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}

MetadataServer::~MetadataServer() { Shutdown(absl::ZeroDuration()); }

absl::StatusOr<std::unique_ptr<MetadataServer>> MetadataServer::Start(const Options& options,
                                                                      ImageRepository& images,
                                                                      TaskRepository& tasks) {
  // Both are process-wide switches read by the ServerBuilder.
  grpc::EnableDefaultHealthCheckService(true);
  grpc::reflection::InitProtoReflectionServerBuilderPlugin();

  auto impl = std::make_unique<Impl>();
  impl->image_service = NewImageService(images);
  impl->task_service = NewTaskService(tasks);
  grpc::ServerBuilder builder;
  std::string address = absl::StrCat(options.listen_address, ":", options.port);
  builder.AddListeningPort(address, grpc::InsecureServerCredentials(), &impl->port);
  builder.RegisterService(impl->image_service.get());
  builder.RegisterService(impl->task_service.get());
  // The sync server's thread manager keeps at most MAX_POLLERS idle threads (default 2) and
  // starts a new one whenever a call leaves fewer than MIN_POLLERS polling: under 64
  // concurrent calls nearly every call started a thread and ended one (thousands a second,
  // page faults and stack unmapping in the profile). Idle threads up to the concurrency the
  // gateways drive stay instead; the number of running threads is unchanged.
  builder.SetSyncServerOption(grpc::ServerBuilder::SyncServerOption::MAX_POLLERS, 64);
  impl->server = builder.BuildAndStart();
  if (impl->server == nullptr || impl->port == 0) {
    return absl::UnavailableError(absl::StrCat("cannot listen on ", address));
  }
  auto server = std::unique_ptr<MetadataServer>(new MetadataServer(std::move(impl)));
  // The default health service starts out SERVING; report NOT_SERVING until the caller has
  // finished starting everything else.
  server->SetServing(false);
  return server;
}

int MetadataServer::port() const { return impl_->port; }

void MetadataServer::SetServing(bool serving) {
  impl_->server->GetHealthCheckService()->SetServingStatus(serving);
}

void MetadataServer::Shutdown(absl::Duration grace) {
  if (impl_->shut_down) return;
  impl_->shut_down = true;
  SetServing(false);
  impl_->server->Shutdown(std::chrono::system_clock::now() + absl::ToChronoMilliseconds(grace));
  impl_->server->Wait();
}

}  // namespace gaze::metadata
