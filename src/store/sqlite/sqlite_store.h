#pragma once

// The SQLite backend of Store. See docs/storage.md for the schema and the durability
// argument.
//
// Connections: one write connection, used by the group-commit writer thread and by
// configuration writes, guarded by write_mu_; one read connection guarded by read_mu_
// (WAL lets it read while the writer writes). For ":memory:" the write connection
// serves reads too.
//
// Thread safety: every public method is safe to call concurrently.

#include <atomic>
#include <deque>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/synchronization/mutex.h"
#include "store/sqlite/sqlite_db.h"
#include "tollgate/store.h"

namespace tollgate::store {

class SqliteStore final : public Store {
 public:
  static absl::StatusOr<std::unique_ptr<SqliteStore>> Open(const SqliteOptions& options,
                                                           const Clock* clock);
  // Commits everything still queued (every pending `done` runs), then closes.
  ~SqliteStore() override;

  absl::Status CreateTenant(const Tenant& tenant) override;
  absl::Status UpdateTenant(const Tenant& tenant) override;
  absl::Status DeleteTenant(std::string_view id) override;
  absl::StatusOr<Tenant> GetTenant(std::string_view id) override;
  absl::StatusOr<std::vector<Tenant>> ListTenants() override;

  absl::Status CreateKey(const ApiKey& key) override;
  absl::Status DeleteKey(std::string_view id) override;
  absl::StatusOr<ApiKey> GetKey(std::string_view id) override;
  absl::StatusOr<ApiKey> FindKeyByHash(std::string_view secret_hash) override;
  absl::StatusOr<std::vector<ApiKey>> ListKeys(std::string_view tenant_id) override;
  absl::StatusOr<int64_t> CountKeys() override;

  absl::Status PutLimit(const Limit& limit) override;
  absl::Status DeleteLimit(std::string_view id) override;
  absl::StatusOr<Limit> GetLimit(std::string_view id) override;
  absl::StatusOr<std::vector<Limit>> ListLimits() override;

  absl::Status PutPrice(const Price& price) override;
  absl::StatusOr<std::vector<Price>> ListPrices() override;

  absl::Status PutPolicy(const PolicyRecord& policy) override;
  absl::StatusOr<std::vector<PolicyRecord>> ListPolicies() override;

  void Append(LedgerEntry entry, std::function<void(absl::Status)> done) override;
  absl::StatusOr<std::optional<UsageEvent>> FindEventByIdempotencyKey(
      std::string_view tenant_id, std::string_view idempotency_key) override;
  absl::StatusOr<EventPage> ListEvents(const EventFilter& filter) override;
  absl::StatusOr<std::vector<DailyRow>> ListDaily(const DailyQuery& query) override;
  absl::StatusOr<std::vector<CounterDelta>> LoadCounters(absl::Time now) override;
  absl::StatusOr<int64_t> Sweep(absl::Time before, absl::Time now) override;
  absl::Status Ping() override;

  // Fault injection: while set, every commit on the write connection fails (SQLite
  // rolls it back), as a failed fsync would.
  void FailCommitsForTesting(bool fail) { fail_commits_.store(fail); }

 private:
  struct Pending {
    LedgerEntry entry;
    std::function<void(absl::Status)> done;
  };
  // Statements of the write path, prepared once.
  struct WriteStatements {
    Stmt begin, commit, savepoint, release, rollback_to;
    Stmt insert_event, upsert_counter, upsert_daily;
  };

  SqliteStore(const SqliteOptions& options, const Clock* clock);
  absl::Status Init();

  void WriterLoop();
  void WriteBatch(std::vector<Pending>& batch);
  // Writes one entry inside the open transaction. AlreadyExists for a duplicate.
  absl::Status ApplyEntry(const LedgerEntry& entry) ABSL_EXCLUSIVE_LOCKS_REQUIRED(write_mu_);
  bool HasWork() const ABSL_SHARED_LOCKS_REQUIRED(queue_mu_) {
    return !queue_.empty() || stopping_;
  }
  bool BatchFullOrStopping() const ABSL_SHARED_LOCKS_REQUIRED(queue_mu_) {
    return queue_.size() >= static_cast<size_t>(options_.max_batch) || stopping_;
  }

  // Runs `f(sqlite3*)` on the read connection under its mutex.
  template <typename F>
  auto Read(F&& f);
  // Runs one parameterised statement on the write connection; returns changes().
  template <typename... Args>
  absl::StatusOr<int> Write(std::string_view sql, const Args&... args);

  static int CommitHook(void* self);

  const SqliteOptions options_;
  const Clock* const clock_;
  std::atomic<bool> fail_commits_{false};

  absl::Mutex write_mu_ ABSL_ACQUIRED_BEFORE(queue_mu_);
  Db writer_ ABSL_GUARDED_BY(write_mu_);
  WriteStatements ws_ ABSL_GUARDED_BY(write_mu_);

  absl::Mutex read_mu_;
  Db reader_ ABSL_GUARDED_BY(read_mu_);  // empty for ":memory:"
  bool has_reader_ = false;              // set once in Init

  absl::Mutex queue_mu_;
  std::deque<Pending> queue_ ABSL_GUARDED_BY(queue_mu_);
  bool stopping_ ABSL_GUARDED_BY(queue_mu_) = false;

  std::thread writer_thread_;
};

}  // namespace tollgate::store
