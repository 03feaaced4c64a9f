// Single-flight for Boost.Asio coroutines: concurrent callers asking for the same key share one
// execution of the work and its result. The first caller (the leader) runs the work; the others
// wait for it without blocking a thread (their coroutine is parked until the leader lands) and
// are resumed on their own executor (e.g. their session's strand) with a copy of the leader's
// result, or its exception. The key is released when the leader lands, so the next caller runs
// the work afresh: nothing is remembered here; caching is up to the caller.
//
// Thread-safe: callers may run on different threads and executors.
#pragma once

#include <boost/asio/associated_executor.hpp>
#include <boost/asio/async_result.hpp>
#include <boost/asio/awaitable.hpp>
#include <boost/asio/execution/outstanding_work.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/prefer.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <cstddef>
#include <exception>
#include <memory>
#include <mutex>
#include <string>
#include <unordered_map>
#include <utility>
#include <vector>

namespace gaze::keystone {

template <typename Result>
class SingleFlight {
 public:
  SingleFlight() = default;
  SingleFlight(const SingleFlight&) = delete;
  SingleFlight& operator=(const SingleFlight&) = delete;

  // co_awaits work() (a callable returning awaitable<Result>) unless a call for `key` is in
  // flight already, in which case it waits for that call's result instead. Result must be
  // default-constructible and copyable. `key` and whatever `work` refers to must stay valid
  // until this returns.
  template <typename Work>
  boost::asio::awaitable<Result> Run(const std::string& key, Work work) {
    std::shared_ptr<Flight> flight;
    bool leader = false;
    {
      std::lock_guard<std::mutex> lock(mu_);
      std::shared_ptr<Flight>& slot = flights_[key];
      if (slot == nullptr) {
        slot = std::make_shared<Flight>();
        leader = true;
      }
      flight = slot;
    }
    if (!leader) {
      auto join = [this, flight](auto handler) { Join(*flight, std::move(handler)); };
      co_return co_await boost::asio::async_initiate<const boost::asio::use_awaitable_t<>&,
                                                     void(std::exception_ptr, Result)>(
          join, boost::asio::use_awaitable);
    }
    std::exception_ptr error;
    Result result{};
    try {
      result = co_await work();
    } catch (...) {
      error = std::current_exception();
    }
    Land(key, *flight, error, result);
    if (error) std::rethrow_exception(error);
    co_return result;
  }

  // How many keys have a call in flight.
  size_t in_flight() const {
    std::lock_guard<std::mutex> lock(mu_);
    return flights_.size();
  }

 private:
  struct Waiter {
    virtual ~Waiter() = default;
    virtual void Complete(std::exception_ptr error, const Result& result) = 0;
  };

  // A parked coroutine: the completion handler of its co_await, and work tracked on its
  // executor so that executor's io_context does not run out of work while it waits.
  template <typename Handler>
  struct WaiterFor final : Waiter {
    explicit WaiterFor(Handler h)
        : handler(std::move(h)),
          work(boost::asio::prefer(boost::asio::get_associated_executor(handler),
                                   boost::asio::execution::outstanding_work.tracked)) {}
    void Complete(std::exception_ptr error, const Result& result) override {
      boost::asio::post(work, [h = std::move(handler), error, result]() mutable {
        std::move(h)(error, std::move(result));
      });
    }
    Handler handler;
    decltype(boost::asio::prefer(std::declval<boost::asio::associated_executor_t<Handler>>(),
                                 boost::asio::execution::outstanding_work.tracked)) work;
  };

  struct Flight {
    bool landed = false;  // error and result are final
    std::exception_ptr error;
    Result result{};
    std::vector<std::unique_ptr<Waiter>> waiters;
  };

  template <typename Handler>
  void Join(Flight& flight, Handler handler) {
    auto waiter = std::make_unique<WaiterFor<Handler>>(std::move(handler));
    {
      std::lock_guard<std::mutex> lock(mu_);
      if (!flight.landed) {
        flight.waiters.push_back(std::move(waiter));
        return;
      }
    }
    // The leader landed between our lookup and now: its result is final, take it. (Posted,
    // never run inline: this is an initiating function.)
    waiter->Complete(flight.error, flight.result);
  }

  void Land(const std::string& key, Flight& flight, std::exception_ptr error,
            const Result& result) {
    std::vector<std::unique_ptr<Waiter>> waiters;
    {
      std::lock_guard<std::mutex> lock(mu_);
      flight.error = error;
      flight.result = result;
      flight.landed = true;
      waiters.swap(flight.waiters);
      flights_.erase(key);
    }
    for (auto& waiter : waiters) waiter->Complete(error, result);
  }

  mutable std::mutex mu_;
  std::unordered_map<std::string, std::shared_ptr<Flight>> flights_;  // guarded by mu_
};

}  // namespace gaze::keystone
