// TaskService over gRPC: the adapter from task-worker to metadata-svc.
#pragma once

#include <memory>
#include <string>

#include "absl/time/time.h"
#include "task-worker/task_service.h"

namespace gaze::worker {

// A client for the TaskService at `target` (host:port). Each call has `call_timeout` as its
// deadline and carries the request id as metadata "x-openstack-request-id". The channel
// reconnects by itself when metadata-svc comes back after a restart (within a few seconds);
// until then calls fail fast with UNAVAILABLE.
std::unique_ptr<TaskService> NewGrpcTaskService(const std::string& target,
                                                absl::Duration call_timeout);

}  // namespace gaze::worker
