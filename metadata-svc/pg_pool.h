// A fixed-size pool of PostgreSQL connections that survives a database restart.
//
// Run() borrows a connection (waiting up to acquire_timeout for a free one), lets the callback
// run one transaction on it, and returns it. Connections are opened lazily and every new one
// gets the statements of the Preparer. When the connection turns out to be dead
// (pqxx::broken_connection, SQLSTATE 08xxx/57P0x) it is thrown away, a new one is built and the
// callback runs once more; the lost transaction was rolled back by the server, so the callback
// must keep all its effects inside the transaction.
#pragma once

#include <functional>
#include <memory>
#include <optional>
#include <string>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/time/time.h"

namespace pqxx {
class connection_base;
}  // namespace pqxx

namespace gaze::metadata {

class PgPool {
 public:
  struct Options {
    std::string dsn;
    int size = 8;
    absl::Duration acquire_timeout = absl::Seconds(5);
  };
  // Registers prepared statements on a freshly opened connection.
  using Preparer = std::function<void(pqxx::connection_base&)>;
  using Work = std::function<absl::Status(pqxx::connection_base&)>;

  PgPool(Options options, Preparer preparer);
  ~PgPool();
  PgPool(const PgPool&) = delete;
  PgPool& operator=(const PgPool&) = delete;

  // Runs `work` on a pooled connection. Exceptions are mapped by ClassifyDbException; a status
  // returned by `work` is passed through unchanged.
  absl::Status Run(const Work& work);

  // Convenience for callbacks that produce a value.
  template <typename T>
  absl::StatusOr<T> Run(const std::function<absl::StatusOr<T>(pqxx::connection_base&)>& work) {
    std::optional<absl::StatusOr<T>> result;
    absl::Status status = Run(Work([&](pqxx::connection_base& c) {
      result.emplace(work(c));
      return result->status();
    }));
    if (!status.ok()) return status;
    return std::move(*result);
  }

  // Connections currently open (for tests and diagnostics).
  int OpenConnections() const;

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace gaze::metadata
