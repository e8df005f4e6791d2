#include "server/ledger_batcher.h"

#include <boost/asio/post.hpp>
#include <memory>
#include <utility>
#include <vector>

namespace tollgate::server {
namespace {

// The entries of the current turn of this thread's loop. Owned by the handler posted to
// flush it; `current_turn` points to it until then.
struct Turn {
  ~Turn() {
    if (current_turn == this) current_turn = nullptr;
  }
  void Flush() {
    if (current_turn == this) current_turn = nullptr;
    if (!entries.empty()) store->AppendAll(std::exchange(entries, {}));
  }

  Store* store = nullptr;
  std::vector<Store::Appending> entries;
  static thread_local Turn* current_turn;
};
thread_local Turn* Turn::current_turn = nullptr;

}  // namespace

void LedgerBatcher::Append(const boost::asio::any_io_executor& loop, LedgerEntry entry,
                           std::function<void(absl::Status)> done) {
  if (!loop) {
    store_->Append(std::move(entry), std::move(done));
    return;
  }
  Turn*& current = Turn::current_turn;
  // Another store's turn (two servers on one thread): it goes first, now.
  if (current != nullptr && current->store != store_) current->Flush();
  if (current == nullptr) {
    auto turn = std::make_unique<Turn>();
    turn->store = store_;
    current = turn.get();
    // Runs after the handlers already queued on the loop: the rest of this turn.
    boost::asio::post(loop, [turn = std::move(turn)] { turn->Flush(); });
  }
  current->entries.push_back(Store::Appending{std::move(entry), std::move(done)});
}

}  // namespace tollgate::server
