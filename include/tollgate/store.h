#pragma once

// Durable state: configuration (tenants, keys, limits, price overrides, policies) and
// the usage ledger (events, counter cells, daily aggregates).
//
// Thread safety: every method is safe to call concurrently. Methods other than Append
// block on the database; do not call them from a latency-critical event loop when the
// answer can wait (Append never waits for a disk: at most it writes to the page cache).
//
// Errors common to every method: Unavailable when the database cannot be read or
// written (locked, I/O error, disk full), DataLoss when stored data cannot be decoded,
// InvalidArgument for a malformed request (empty id, bad cursor). Times are stored with
// nanosecond precision.

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
// (YYYY-MM-DD, in the tenant's time zone) its daily aggregate belongs to. An empty date
// means the UTC date of event.ts. event.event_id and event.tenant_id are required.
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
  int limit = 100;                 // 1..1000, else InvalidArgument
  // Opaque, from EventPage::next_cursor (URL-safe); empty = newest first page. A cursor
  // that does not decode is InvalidArgument. Paging is keyset on (ts, event_id), so
  // events appended while paging never shift or repeat rows.
  std::string cursor;
};

struct EventPage {
  std::vector<UsageEvent> events;  // newest first
  std::string next_cursor;         // empty when no more
};

// Daily aggregate row, per (date, tenant, user, agent, provider, model). `model` is the
// event's model_used (its model when model_used is empty). Kept for ever.
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
  std::string to_date;    // inclusive; empty: no bound (as from_date)
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
  // DeleteTenant also deletes the tenant's keys, limits and policies (not its events,
  // counters or daily aggregates). Lists are ordered by id (bytewise).
  virtual absl::Status CreateTenant(const Tenant& tenant) = 0;
  virtual absl::Status UpdateTenant(const Tenant& tenant) = 0;
  virtual absl::Status DeleteTenant(std::string_view id) = 0;
  virtual absl::StatusOr<Tenant> GetTenant(std::string_view id) = 0;
  virtual absl::StatusOr<std::vector<Tenant>> ListTenants() = 0;

  // --- API keys (only the hash of the secret is stored). CreateKey fails with
  // AlreadyExists when the id or the secret_hash is taken, FailedPrecondition when
  // tenant_id names no tenant (empty tenant_id: no tenant, for admin keys).
  // DeleteKey/GetKey/FindKeyByHash fail with NotFound.
  virtual absl::Status CreateKey(const ApiKey& key) = 0;
  virtual absl::Status DeleteKey(std::string_view id) = 0;
  virtual absl::StatusOr<ApiKey> GetKey(std::string_view id) = 0;
  virtual absl::StatusOr<ApiKey> FindKeyByHash(std::string_view secret_hash) = 0;
  // Empty tenant_id: every key.
  virtual absl::StatusOr<std::vector<ApiKey>> ListKeys(std::string_view tenant_id) = 0;
  virtual absl::StatusOr<int64_t> CountKeys() = 0;

  // --- Limits. Put inserts or replaces by id (every field, created_at included).
  // FailedPrecondition when scope.tenant_id names a tenant that does not exist ("" and
  // "*" name none). Delete/Get fail with NotFound.
  virtual absl::Status PutLimit(const Limit& limit) = 0;
  virtual absl::Status DeleteLimit(std::string_view id) = 0;
  virtual absl::StatusOr<Limit> GetLimit(std::string_view id) = 0;
  virtual absl::StatusOr<std::vector<Limit>> ListLimits() = 0;

  // --- Price overrides (the shipped catalog is data, not stored). Put inserts or
  // replaces by (provider, model); List returns them with is_override = true.
  virtual absl::Status PutPrice(const Price& price) = 0;
  virtual absl::StatusOr<std::vector<Price>> ListPrices() = 0;

  // --- Model policies, one per (level, tenant_id, user_id); level is global, tenant or
  // user (else InvalidArgument). Put replaces; empty json deletes (OK when absent).
  // FailedPrecondition when tenant_id names a tenant that does not exist.
  virtual absl::Status PutPolicy(const PolicyRecord& policy) = 0;
  virtual absl::StatusOr<std::vector<PolicyRecord>> ListPolicies() = 0;

  // --- Ledger.
  // Queues the entry for the next group commit: the event, its counter cells and its
  // daily aggregate are written in one transaction. `done` runs exactly once: after the
  // commit, on a store thread or (a store that needs no fsync for it) on the calling
  // thread before Append returns (OkStatus: the entry is durable, and every ledger read
  // that starts afterwards sees it), or after its failure
  // (nothing of the entry is written); or on the calling thread, before Append
  // returns, when the entry is refused at once: ResourceExhausted when the queue is
  // full, FailedPrecondition when the store is closing, InvalidArgument when event_id
  // or tenant_id is empty. An event whose (tenant_id, idempotency_key) is already
  // recorded (non-empty key; earlier in the same batch included), or whose event_id is,
  // is not written, counts nothing, and `done` gets AlreadyExists. `done` must not
  // block: it runs on the writer thread and delays every entry behind it.
  virtual void Append(LedgerEntry entry, std::function<void(absl::Status)> done) = 0;
  // Append and wait for the commit. Must not be called from inside a `done`.
  absl::Status AppendSync(LedgerEntry entry);

  struct Appending {
    LedgerEntry entry;
    std::function<void(absl::Status)> done;
  };
  // Append for each element, in order, as one group: the same answers, but the store
  // may write them together (one journal write, one hand-off to its writer thread).
  virtual void AppendAll(std::vector<Appending> entries);

  // nullopt when no event carries the key (an empty key matches nothing).
  virtual absl::StatusOr<std::optional<UsageEvent>> FindEventByIdempotencyKey(
      std::string_view tenant_id, std::string_view idempotency_key) = 0;
  virtual absl::StatusOr<EventPage> ListEvents(const EventFilter& filter) = 0;
  virtual absl::StatusOr<std::vector<DailyRow>> ListDaily(const DailyQuery& query) = 0;

  // Counter cells whose expires_at is after `now`, summed per cell (one element per
  // (limit_id, subject, window_start); expires_at is the latest given for the cell),
  // ordered by that key.
  virtual absl::StatusOr<std::vector<CounterDelta>> LoadCounters(absl::Time now) = 0;
  // Deletes events with ts < `before` and counter cells expired by `now`. Returns the
  // number of events deleted. Daily aggregates are kept for ever.
  virtual absl::StatusOr<int64_t> Sweep(absl::Time before, absl::Time now) = 0;

  // OK when the store can answer.
  virtual absl::Status Ping() = 0;
};

struct SqliteOptions {
  std::string path;  // database file; ":memory:" for tests (one connection, not durable)
  // Group-commit window: once an entry is queued, the writer waits at most this long
  // for more (up to max_batch) before committing. Zero: commit what is queued at once;
  // entries arriving during a commit (an fsync) still share the next one, which
  // measured faster at every concurrency (docs/storage.md), hence the default.
  absl::Duration max_batch_delay = absl::ZeroDuration();
  int max_batch = 512;     // entries per transaction (journal: per journal write), >= 1
  // Entries queued, plus (journal) acknowledged but not yet applied to SQLite, beyond
  // which Append answers ResourceExhausted.
  int max_queue = 65536;
  absl::Duration busy_timeout = absl::Seconds(5);  // wait for a lock held elsewhere
  // true: synchronous=FULL, every commit is fsynced: a committed entry survives kill -9
  // and power loss. false: synchronous=NORMAL: it survives kill -9 (the process can die
  // at any point), but a power cut may lose the last commits before a checkpoint.
  bool fsync_each_commit = true;
  // Ledger journal (file databases only; docs/storage.md): Append is acknowledged once
  // the entry is written to an append-only journal file beside the database (and
  // fdatasynced with fsync_each_commit), and a second thread applies journaled entries
  // to SQLite in large transactions; reads of the ledger wait until every entry
  // acknowledged before they started is applied. false: Append is acknowledged after
  // its SQLite commit. Leftover journal files are replayed on open either way.
  bool journal = true;
  int apply_batch = 8192;  // entries per apply transaction, >= 1
  // How long the applier lets a partial batch wait for more entries (a read that needs
  // them cuts the wait short).
  absl::Duration apply_delay = absl::Milliseconds(20);
  // The applier runs in the background (Linux SCHED_IDLE: a request thread that wakes
  // on its core takes the core at once) while fewer entries than this await it and no
  // read waits for it; otherwise, and always when the process may not raise a thread
  // out of SCHED_IDLE again (it needs CAP_SYS_NICE or an RLIMIT_NICE of 10 or more), at
  // nice 10. 0: never in the background. >= 0.
  int background_backlog = 4096;
  // Journal size after which the writer starts a new file; a file is deleted once
  // every entry in it is applied.
  int64_t journal_rotate_bytes = int64_t{32} << 20;
  // Event ids journaled since the last start that the store remembers in memory (2
  // bytes each) to refuse a repeated id without a database read; beyond, it starts over
  // and only ids older than the newest journaled are looked up. >= 1.
  int64_t id_filter_size = int64_t{1} << 20;
};

// Opens (creating and migrating as needed) a SQLite store in WAL mode, replays any
// journaled entries not yet applied, and starts its threads. An acknowledged entry
// survives kill -9, and power loss too with fsync_each_commit. FailedPrecondition when
// the file's schema is newer than this build knows, or when another store has the same
// file open.
absl::StatusOr<std::unique_ptr<Store>> OpenSqliteStore(const SqliteOptions& options,
                                                       const Clock* clock);

// Applies pending schema migrations; returns the schema version reached. Each migration
// runs in its own transaction; safe to run concurrently with other processes.
absl::StatusOr<int> MigrateSqlite(const std::string& path);

// An in-memory store with the same contract as the SQLite one (nothing is durable;
// Append completes on the calling thread). For tests and the embedded library.
std::unique_ptr<Store> NewMemoryStore(const Clock* clock);

}  // namespace tollgate
