#pragma once

// Durable state: configuration (tenants, keys, limits, price overrides, policies) and
// the usage ledger (events, counter cells, daily aggregates).
//
// Thread safety: every method is safe to call concurrently. Methods other than Append
// block on the database; do not call them from a latency-critical event loop when the
// answer can wait (Append never blocks on I/O).

#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "tollgate/clock.h"
#include "tollgate/types.h"

namespace tollgate {

// One report to record: the event, the counter cells it changed, and the calendar date
// (YYYY-MM-DD, in the tenant's time zone) its daily aggregate belongs to.
struct LedgerEntry {
  UsageEvent event;
  std::string date;
  std::vector<CounterDelta> counters;
};

struct EventFilter {
  std::string tenant_id;  // empty: every tenant (admin)
  std::string user_id;
  std::string agent;
  std::string model;  // matches model or model_used
  std::optional<absl::Time> from;  // inclusive
  std::optional<absl::Time> to;    // exclusive
  int limit = 100;                 // 1..1000
  std::string cursor;  // opaque, from EventPage::next_cursor; empty = newest first page
};

struct EventPage {
  std::vector<UsageEvent> events;  // newest first
  std::string next_cursor;         // empty when no more
};

// Daily aggregate row, per (date, tenant, user, provider, model_used).
struct DailyRow {
  std::string date;
  std::string tenant_id;
  std::string user_id;
  std::string agent;
  std::string provider;
  std::string model;
  Usage usage;
  Cost cost;
  int64_t requests = 0;
};

struct DailyQuery {
  std::string tenant_id;  // empty: every tenant
  std::string user_id;    // empty: every user
  std::string from_date;  // inclusive, YYYY-MM-DD
  std::string to_date;    // inclusive
};

// A model policy document at one level, kept as JSON text (see the policy module).
struct PolicyRecord {
  Level level = Level::kGlobal;  // global | tenant | user
  std::string tenant_id;
  std::string user_id;
  std::string json;
  absl::Time updated_at;
};

class Store {
 public:
  virtual ~Store() = default;

  // --- Tenants. Create fails with AlreadyExists; Update/Delete/Get with NotFound.
  // DeleteTenant also deletes the tenant's keys, limits and policies (not its events).
  virtual absl::Status CreateTenant(const Tenant& tenant) = 0;
  virtual absl::Status UpdateTenant(const Tenant& tenant) = 0;
  virtual absl::Status DeleteTenant(std::string_view id) = 0;
  virtual absl::StatusOr<Tenant> GetTenant(std::string_view id) = 0;
  virtual absl::StatusOr<std::vector<Tenant>> ListTenants() = 0;

  // --- API keys (only the hash of the secret is stored).
  virtual absl::Status CreateKey(const ApiKey& key) = 0;
  virtual absl::Status DeleteKey(std::string_view id) = 0;
  virtual absl::StatusOr<ApiKey> GetKey(std::string_view id) = 0;
  virtual absl::StatusOr<ApiKey> FindKeyByHash(std::string_view secret_hash) = 0;
  // Empty tenant_id: every key.
  virtual absl::StatusOr<std::vector<ApiKey>> ListKeys(std::string_view tenant_id) = 0;
  virtual absl::StatusOr<int64_t> CountKeys() = 0;

  // --- Limits. Put inserts or replaces by id.
  virtual absl::Status PutLimit(const Limit& limit) = 0;
  virtual absl::Status DeleteLimit(std::string_view id) = 0;
  virtual absl::StatusOr<Limit> GetLimit(std::string_view id) = 0;
  virtual absl::StatusOr<std::vector<Limit>> ListLimits() = 0;

  // --- Price overrides (the shipped catalog is data, not stored).
  virtual absl::Status PutPrice(const Price& price) = 0;
  virtual absl::StatusOr<std::vector<Price>> ListPrices() = 0;

  // --- Model policies, one per (level, tenant_id, user_id). Empty json deletes.
  virtual absl::Status PutPolicy(const PolicyRecord& policy) = 0;
  virtual absl::StatusOr<std::vector<PolicyRecord>> ListPolicies() = 0;

  // --- Ledger.
  // Queues the entry for the next group commit: the event, its counter cells and its
  // daily aggregate are written in one transaction. `done` runs once, on a store
  // thread, after the commit (OkStatus) or its failure; only then is the entry durable.
  // An event whose (tenant_id, idempotency_key) is already recorded is not written and
  // `done` gets AlreadyExists. `done` must not block.
  virtual void Append(LedgerEntry entry, std::function<void(absl::Status)> done) = 0;
  // Append and wait for the commit.
  absl::Status AppendSync(LedgerEntry entry);

  virtual absl::StatusOr<std::optional<UsageEvent>> FindEventByIdempotencyKey(
      std::string_view tenant_id, std::string_view idempotency_key) = 0;
  virtual absl::StatusOr<EventPage> ListEvents(const EventFilter& filter) = 0;
  virtual absl::StatusOr<std::vector<DailyRow>> ListDaily(const DailyQuery& query) = 0;

  // Counter cells whose expires_at is after `now`, summed per cell.
  virtual absl::StatusOr<std::vector<CounterDelta>> LoadCounters(absl::Time now) = 0;
  // Deletes events with ts < `before` and counter cells expired by `now`. Returns the
  // number of events deleted. Daily aggregates are kept for ever.
  virtual absl::StatusOr<int64_t> Sweep(absl::Time before, absl::Time now) = 0;

  // OK when the store can answer.
  virtual absl::Status Ping() = 0;
};

struct SqliteOptions {
  std::string path;                           // database file; ":memory:" for tests
  absl::Duration max_batch_delay = absl::Milliseconds(2);  // group-commit window
  int max_batch = 512;                        // entries per transaction
};

// Opens (creating and migrating as needed) a SQLite store in WAL mode.
absl::StatusOr<std::unique_ptr<Store>> OpenSqliteStore(const SqliteOptions& options,
                                                       const Clock* clock);

// Applies pending schema migrations; returns the schema version reached.
absl::StatusOr<int> MigrateSqlite(const std::string& path);

}  // namespace tollgate
