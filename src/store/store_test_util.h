#pragma once

// Backends and builders for the store tests. Test-only.

#include <unistd.h>

#include <atomic>
#include <cstdlib>
#include <filesystem>
#include <memory>
#include <string>

#include "absl/strings/str_cat.h"
#include "absl/time/time.h"
#include "gtest/gtest.h"
#include "store/memory/memory_store.h"
#include "store/sqlite/sqlite_store.h"
#include "tollgate/store.h"

namespace tollgate::store::testing {

// A fresh directory under the test temp dir, removed with the object.
class TempDir {
 public:
  TempDir() {
    std::string pattern = absl::StrCat(::testing::TempDir(), "/tollgate_store_XXXXXX");
    char* made = mkdtemp(pattern.data());
    EXPECT_NE(made, nullptr);
    path_ = pattern;
  }
  ~TempDir() {
    std::error_code ec;
    std::filesystem::remove_all(path_, ec);
  }
  const std::string& path() const { return path_; }

 private:
  std::string path_;
};

struct MemoryBackend {
  static constexpr bool kDurable = false;
  static std::unique_ptr<Store> Open(const std::string& dir, const Clock* clock,
                                     absl::Duration batch_delay = absl::Milliseconds(2)) {
    return NewMemoryStore(clock);
  }
  static void FailCommits(Store* store, bool fail) {
    static_cast<MemoryStore*>(store)->FailCommitsForTesting(fail);
  }
};

// `kFsync`: SqliteOptions::fsync_each_commit (without it Append journals on the
// caller's thread).
template <bool kFsync>
struct SqliteBackendT {
  static constexpr bool kDurable = true;
  static std::unique_ptr<Store> Open(const std::string& dir, const Clock* clock,
                                     absl::Duration batch_delay = absl::Milliseconds(2)) {
    SqliteOptions options;
    options.path = dir + "/tollgate.db";
    options.max_batch_delay = batch_delay;
    options.fsync_each_commit = kFsync;
    absl::StatusOr<std::unique_ptr<Store>> store = OpenSqliteStore(options, clock);
    EXPECT_TRUE(store.ok()) << store.status();
    return store.ok() ? *std::move(store) : nullptr;
  }
  static void FailCommits(Store* store, bool fail) {
    static_cast<SqliteStore*>(store)->FailCommitsForTesting(fail);
  }
};
using SqliteBackend = SqliteBackendT<true>;
using SqliteNoSyncBackend = SqliteBackendT<false>;

// A ledger entry with a distinct event id; `amount` goes to total tokens, one counter
// cell and the cost.
inline LedgerEntry MakeEntry(std::string tenant, std::string key, int64_t amount, absl::Time ts,
                             std::string user = "alice") {
  static std::atomic<int64_t> next_id{0};
  LedgerEntry entry;
  UsageEvent& e = entry.event;
  e.event_id = absl::StrCat("evt_", next_id.fetch_add(1));
  e.ts = ts;
  e.tenant_id = std::move(tenant);
  e.user_id = std::move(user);
  e.agent = "rag";
  e.key_id = "key_1";
  e.request_id = "req_1";
  e.idempotency_key = std::move(key);
  e.provider = "openai";
  e.model = "gpt-4o";
  e.model_used = "gpt-4o-mini";
  e.endpoint = "/v1/chat/completions";
  e.usage = Usage{amount, 0, 0, 0, 0, amount};
  e.cost = Cost{amount * 10, 0};
  e.latency_ms = 5;
  entry.date = absl::FormatTime("%Y-%m-%d", ts, absl::UTCTimeZone());
  entry.counters.push_back(
      CounterDelta{"lim_day", "alice", 1'700'000'000, amount, ts + absl::Hours(24)});
  return entry;
}

}  // namespace tollgate::store::testing
