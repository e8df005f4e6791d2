#pragma once

#include <atomic>
#include <boost/asio/associated_executor.hpp>
#include <boost/asio/async_result.hpp>
#include <boost/asio/awaitable.hpp>
#include <boost/asio/execution/outstanding_work.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/prefer.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <functional>
#include <memory>
#include <optional>
#include <utility>

namespace tollgate::server {

// Suspends the calling coroutine until a callback-style operation completes, without
// blocking the io thread. `start` is called at once (on the calling thread) with a
// `done` callback; `done(value)` may then be called from any thread (e.g. the store's
// group-commit thread), and the coroutine resumes on its own executor with `value`.
//
//   absl::Status s = co_await AwaitCallback<absl::Status>(
//       [&](std::function<void(absl::Status)> done) { store->Commit(batch, done); });
//
// Contract for `done`: call it once. Later calls are ignored. If every copy of `done`
// is destroyed without being called, the coroutine is abandoned (its frame destroyed,
// the connection closed): never rely on that. While `done` is pending the io_context
// counts it as outstanding work, so the server's threads keep running.
template <class T>
boost::asio::awaitable<T> AwaitCallback(std::function<void(std::function<void(T)>)> start) {
  auto initiation = [](auto handler, std::function<void(std::function<void(T)>)> start) {
    using Handler = decltype(handler);
    struct State {
      using Executor = decltype(boost::asio::prefer(
          boost::asio::get_associated_executor(std::declval<Handler&>()),
          boost::asio::execution::outstanding_work.tracked));
      explicit State(Handler h)
          : executor(boost::asio::prefer(boost::asio::get_associated_executor(h),
                                         boost::asio::execution::outstanding_work.tracked)),
            handler(std::move(h)) {}
      // Engaged until `done` is called: keeps the io_context's work count up while the
      // operation is pending, and no longer, even if copies of `done` live on.
      std::optional<Executor> executor;
      Handler handler;
      std::atomic<bool> called{false};
    };
    auto state = std::make_shared<State>(std::move(handler));
    std::function<void(T)> done = [state](T value) {
      if (state->called.exchange(true)) return;
      typename State::Executor executor = std::move(*state->executor);
      state->executor.reset();
      boost::asio::post(executor, [state, value = std::move(value)]() mutable {
        std::move(state->handler)(std::move(value));
      });
    };
    start(std::move(done));
  };
  co_return co_await boost::asio::async_initiate<const boost::asio::use_awaitable_t<>&, void(T)>(
      std::move(initiation), boost::asio::use_awaitable, std::move(start));
}

}  // namespace tollgate::server
