// The gRPC server of metadata-svc: ImageService, TaskService, the standard health service
// (grpc.health.v1, NOT_SERVING until SetServing(true)) and server reflection.
#pragma once

#include <memory>
#include <string>

#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "metadata-svc/image_repository.h"
#include "metadata-svc/task_repository.h"

namespace gaze::metadata {

class MetadataServer {
 public:
  struct Options {
    std::string listen_address = "127.0.0.1";
    int port = 9191;  // 0: an ephemeral port, see port()
  };

  // Binds and starts serving. The repositories must outlive the server.
  static absl::StatusOr<std::unique_ptr<MetadataServer>> Start(const Options& options,
                                                               ImageRepository& images,
                                                               TaskRepository& tasks);
  ~MetadataServer();  // Shutdown(zero grace) if not done yet
  MetadataServer(const MetadataServer&) = delete;
  MetadataServer& operator=(const MetadataServer&) = delete;

  // The bound port.
  int port() const;
  // What the health service reports for the whole server ("").
  void SetServing(bool serving);
  // Stops accepting calls, lets running ones finish for up to `grace`, then cancels the rest.
  void Shutdown(absl::Duration grace);

 private:
  struct Impl;
  explicit MetadataServer(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

}  // namespace gaze::metadata
