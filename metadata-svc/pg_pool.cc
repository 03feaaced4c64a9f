// PgPool: slots guarded by a mutex; a condition variable hands free slots to waiters.
#include "metadata-svc/pg_pool.h"

#include <condition_variable>
#include <mutex>
#include <pqxx/connection>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/strings/str_cat.h"
#include "metadata-svc/pg_errors.h"
#include "services/common/log.h"

namespace gaze::metadata {

struct PgPool::Impl {
  Options options;
  Preparer preparer;
  std::mutex mu;
  std::condition_variable freed;
  // A slot's connection is only touched by the thread that checked the slot out.
  std::vector<std::unique_ptr<pqxx::connection>> slots;
  std::vector<int> free_slots ABSL_GUARDED_BY(mu);
  int open ABSL_GUARDED_BY(mu) = 0;

  absl::StatusOr<int> Acquire() {
    std::unique_lock<std::mutex> lock(mu);
    auto timeout = absl::ToChronoMilliseconds(options.acquire_timeout);
    if (!freed.wait_for(lock, timeout, [&] { return !free_slots.empty(); })) {
      return absl::UnavailableError(absl::StrCat("no database connection free within ",
                                                 absl::FormatDuration(options.acquire_timeout),
                                                 " (pool size ", options.size, ")"));
    }
    int slot = free_slots.back();
    free_slots.pop_back();
    return slot;
  }

  void Release(int slot) {
    {
      std::lock_guard<std::mutex> lock(mu);
      free_slots.push_back(slot);
    }
    freed.notify_one();
  }

  void Drop(int slot) {
    slots[static_cast<size_t>(slot)].reset();
    std::lock_guard<std::mutex> lock(mu);
    --open;
  }

  absl::Status Open(int slot) {
    try {
      auto conn = std::make_unique<pqxx::connection>(options.dsn);
      preparer(*conn);
      slots[static_cast<size_t>(slot)] = std::move(conn);
    } catch (const std::exception& e) {
      return ClassifyDbException(e).status;
    }
    std::lock_guard<std::mutex> lock(mu);
    ++open;
    return absl::OkStatus();
  }
};

PgPool::PgPool(Options options, Preparer preparer) : impl_(std::make_unique<Impl>()) {
  impl_->options = std::move(options);
  impl_->preparer = std::move(preparer);
  impl_->slots.resize(static_cast<size_t>(impl_->options.size));
  for (int i = impl_->options.size - 1; i >= 0; --i) impl_->free_slots.push_back(i);
}

PgPool::~PgPool() = default;

absl::Status PgPool::Run(const Work& work) {
  absl::StatusOr<int> slot = impl_->Acquire();
  if (!slot.ok()) return slot.status();
  absl::Status result;
  for (int attempt = 1; attempt <= 2; ++attempt) {
    auto& conn = impl_->slots[static_cast<size_t>(*slot)];
    if (conn == nullptr) {
      result = impl_->Open(*slot);
      if (!result.ok()) break;
    }
    try {
      result = work(*conn);
      break;
    } catch (const std::exception& e) {
      DbFailure failure = ClassifyDbException(e);
      result = failure.status;
      if (!failure.connection_lost) break;
      impl_->Drop(*slot);
      log::Warning("database connection lost")
          .Field("attempt", attempt)
          .Field("error", std::string(e.what()));
      if (failure.outcome_unknown) break;
    }
  }
  impl_->Release(*slot);
  return result;
}

int PgPool::OpenConnections() const {
  std::lock_guard<std::mutex> lock(impl_->mu);
  return impl_->open;
}

}  // namespace gaze::metadata
