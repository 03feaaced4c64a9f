// A TCP forwarder for tests in which the broker has to go away: it relays every connection to
// an upstream address and, on request, cuts all relayed connections (what a client sees when
// the broker crashes or restarts), closes new connections right after accepting them (a broker
// that is down), or stops relaying while keeping the sockets open (a network black hole).
#pragma once

#include <memory>
#include <string>
#include <thread>

#include "absl/base/thread_annotations.h"
#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"

namespace gaze::amqp::testing {

class TcpProxy {
 public:
  // Listens on 127.0.0.1 on an ephemeral port and relays to upstream_host:upstream_port.
  static absl::StatusOr<std::unique_ptr<TcpProxy>> Start(const std::string& upstream_host,
                                                         int upstream_port);
  TcpProxy(const TcpProxy&) = delete;
  TcpProxy& operator=(const TcpProxy&) = delete;
  ~TcpProxy();

  int port() const { return port_; }

  // Closes every relayed connection on both sides; returns once they are closed.
  void CutConnections();
  // While refusing, a new connection is closed as soon as it is accepted.
  void SetRefusing(bool refusing);
  // While black-holed, no bytes are relayed in either direction; sockets stay open.
  void SetBlackhole(bool blackhole);

 private:
  TcpProxy(int listen_fd, int port, int wake_read, int wake_write, std::string upstream_host,
           int upstream_port);
  void Run();
  // Wakes the relay thread and waits until it has taken in the current settings, so each
  // setter is in force when it returns.
  void Apply() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);

  const int listen_fd_;
  const int port_;
  const int wake_read_;
  const int wake_write_;
  const std::string upstream_host_;
  const int upstream_port_;

  absl::Mutex mu_;
  bool stop_ ABSL_GUARDED_BY(mu_) = false;
  bool refusing_ ABSL_GUARDED_BY(mu_) = false;
  bool blackhole_ ABSL_GUARDED_BY(mu_) = false;
  bool cut_pending_ ABSL_GUARDED_BY(mu_) = false;
  int generation_ ABSL_GUARDED_BY(mu_) = 0;
  int applied_generation_ ABSL_GUARDED_BY(mu_) = 0;

  std::thread thread_;
};

}  // namespace gaze::amqp::testing
