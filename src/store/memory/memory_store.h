#pragma once

// An in-memory Store: the test double of the SQLite backend, with the same contract
// (the typed suite in store_test.cc holds both to it). Nothing survives the object.
// Append completes on the calling thread, before it returns.
//
// Thread safety: every method is safe to call concurrently (one mutex).

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <tuple>
#include <utility>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/container/flat_hash_map.h"
#include "absl/synchronization/mutex.h"
#include "tollgate/store.h"

namespace tollgate::store {

class MemoryStore final : public Store {
 public:
  explicit MemoryStore(const Clock* clock) : clock_(clock) {}

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

  // Fault injection: while set, every write (config and ledger) fails with Aborted and
  // changes nothing, as a failed commit of the SQLite backend does.
  void FailCommitsForTesting(bool fail) ABSL_LOCKS_EXCLUDED(mu_);

 private:
  using EventKey = std::pair<int64_t, std::string>;  // (ts unix nanos, event_id)
  using CellKey = std::tuple<std::string, std::string, int64_t>;
  using DailyKey =
      std::tuple<std::string, std::string, std::string, std::string, std::string, std::string>;
  using PolicyKey = std::tuple<Level, std::string, std::string>;

  absl::Status CheckWritable() const ABSL_SHARED_LOCKS_REQUIRED(mu_);
  absl::Status CheckTenantRef(std::string_view tenant_id) const ABSL_SHARED_LOCKS_REQUIRED(mu_);

  const Clock* const clock_;
  mutable absl::Mutex mu_;
  bool fail_commits_ ABSL_GUARDED_BY(mu_) = false;
  std::map<std::string, Tenant> tenants_ ABSL_GUARDED_BY(mu_);
  std::map<std::string, ApiKey> keys_ ABSL_GUARDED_BY(mu_);
  std::map<std::string, Limit> limits_ ABSL_GUARDED_BY(mu_);
  std::map<std::pair<std::string, std::string>, Price> prices_ ABSL_GUARDED_BY(mu_);
  std::map<PolicyKey, PolicyRecord> policies_ ABSL_GUARDED_BY(mu_);
  std::map<EventKey, UsageEvent> events_ ABSL_GUARDED_BY(mu_);
  absl::flat_hash_map<std::string, int64_t> event_ts_ ABSL_GUARDED_BY(mu_);  // by event_id
  // (tenant_id, idempotency_key) -> EventKey, for non-empty keys.
  absl::flat_hash_map<std::pair<std::string, std::string>, EventKey> by_idempotency_
      ABSL_GUARDED_BY(mu_);
  std::map<CellKey, CounterDelta> counters_ ABSL_GUARDED_BY(mu_);
  std::map<DailyKey, DailyRow> daily_ ABSL_GUARDED_BY(mu_);
};

}  // namespace tollgate::store
