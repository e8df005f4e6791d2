#pragma once

#include <boost/asio/any_io_executor.hpp>
#include <functional>

#include "absl/status/status.h"
#include "tollgate/store.h"

namespace tollgate::server {

// Gathers the ledger entries that one event-loop thread appends while it runs the
// handlers that are ready, and hands them to the store together once they have run: one
// journal write (or one hand-off to the store's writer thread) per turn of the loop
// instead of one per report.
//
// Thread safety: Append may be called from any thread. With a `loop` the calling thread
// must be the one thread running that executor's event loop (HttpServer runs one loop
// per thread): the batch lives in the thread and is flushed by a handler posted on
// `loop`. Without one the entry is appended at once.
class LedgerBatcher {
 public:
  explicit LedgerBatcher(Store* store) : store_(store) {}

  // Store::Append, deferred to the end of the current turn of `loop`. `done` runs as
  // Store::Append says, after that.
  void Append(const boost::asio::any_io_executor& loop, LedgerEntry entry,
              std::function<void(absl::Status)> done);

 private:
  Store* const store_;
};

}  // namespace tollgate::server
