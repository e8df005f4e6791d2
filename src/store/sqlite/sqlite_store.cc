#include "store/sqlite/sqlite_store.h"

#include <pthread.h>
#include <sched.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <algorithm>
#include <tuple>
#include <utility>
#include <variant>

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "store/codec.h"
#include "store/sqlite/schema.h"

namespace tollgate {
namespace store {
namespace {

// The applier thread's nice value (0 is the process's own; 19 the lowest priority). At
// 10 it gets about a tenth of a core it shares with a busy request thread (though a
// request thread that wakes up on its core may still wait for the rest of its time
// slice, a few milliseconds on Linux 6.x's EEVDF scheduler: hence SCHED_IDLE while its
// backlog is small, see PlaceApplier).
constexpr int kApplierNice = 10;

// Moves thread `tid` into SCHED_IDLE or back to SCHED_OTHER (its nice value stays).
bool SetSchedIdle(pid_t tid, bool idle) {
  sched_param param{};
  return sched_setscheduler(tid, idle ? SCHED_IDLE : SCHED_OTHER, &param) == 0;
}

// Whether this process may move a thread at kApplierNice into SCHED_IDLE and out again
// (Linux lets any thread in, but out only with CAP_SYS_NICE or an RLIMIT_NICE that
// allows its nice value). Tried on a thread of its own.
bool MayLeaveSchedIdle() {
  bool ok = false;
  std::thread([&ok] {
    const auto tid = static_cast<pid_t>(syscall(SYS_gettid));
    ok = setpriority(PRIO_PROCESS, static_cast<id_t>(tid), kApplierNice) == 0 &&
         SetSchedIdle(tid, true) && SetSchedIdle(tid, false);
  }).join();
  return ok;
}

// The columns of the events table of schema version 2 (MoveLegacyEvents reads them).
constexpr std::string_view kEventColumns =
    "event_id, ts, tenant_id, user_id, agent, key_id, request_id, idempotency_key, provider, "
    "model, model_used, endpoint, input_tokens, output_tokens, cached_input_tokens, "
    "cache_write_tokens, reasoning_tokens, total_tokens, input_cost, output_cost, latency_ms, "
    "status, decision, estimated";

// An event's id and its idempotency key, each pointing at its block. DO NOTHING: no
// change means a duplicate, and the transaction goes on.
constexpr std::string_view kInsertId =
    "INSERT INTO event_ids (event_id, block_id) VALUES (?, ?) ON CONFLICT DO NOTHING";
constexpr std::string_view kInsertKey =
    "INSERT INTO event_keys (tenant_id, idempotency_key, block_id) VALUES (?, ?, ?) "
    "ON CONFLICT DO NOTHING";
constexpr std::string_view kInsertBlock =
    "INSERT INTO event_blocks (block_id, tenant_id, min_ts, max_ts, events, data) "
    "VALUES (?, ?, ?, ?, ?, ?)";

// The block holding the event recorded under a (tenant_id, idempotency_key).
constexpr std::string_view kBlockByKey =
    "SELECT b.data, b.events FROM event_keys k JOIN event_blocks b ON b.block_id = k.block_id "
    "WHERE k.tenant_id = ? AND k.idempotency_key = ?";

constexpr std::string_view kUpsertCounter =
    "INSERT INTO counters (limit_id, subject, window_start, amount, expires_at) "
    "VALUES (?, ?, ?, ?, ?) "
    "ON CONFLICT (limit_id, subject, window_start) DO UPDATE SET "
    "amount = amount + excluded.amount, expires_at = max(expires_at, excluded.expires_at)";

// One or several events' usage added to their daily row.
constexpr std::string_view kUpsertDaily =
    "INSERT INTO daily (date, tenant_id, user_id, agent, provider, model, input_tokens, "
    "output_tokens, cached_input_tokens, cache_write_tokens, reasoning_tokens, total_tokens, "
    "input_cost, output_cost, requests) "
    "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?) "
    "ON CONFLICT (date, tenant_id, user_id, agent, provider, model) DO UPDATE SET "
    "input_tokens = input_tokens + excluded.input_tokens, "
    "output_tokens = output_tokens + excluded.output_tokens, "
    "cached_input_tokens = cached_input_tokens + excluded.cached_input_tokens, "
    "cache_write_tokens = cache_write_tokens + excluded.cache_write_tokens, "
    "reasoning_tokens = reasoning_tokens + excluded.reasoning_tokens, "
    "total_tokens = total_tokens + excluded.total_tokens, "
    "input_cost = input_cost + excluded.input_cost, "
    "output_cost = output_cost + excluded.output_cost, "
    "requests = requests + excluded.requests";

constexpr std::string_view kTenantColumns = "id, name, timezone, mode, created_at";
constexpr std::string_view kKeyColumns =
    "id, role, tenant_ref, user_id, name, secret_hash, created_at";
constexpr std::string_view kLimitColumns =
    "id, scope_level, scope_tenant_id, scope_subject_id, metric, window_unit, window_size, "
    "window_kind, limit_value, models, action, mode, alert_thresholds, owner, created_at, "
    "updated_at";

// Binds a NULL for an empty tenant reference.
struct OptText {
  std::string_view v;
};

absl::Status Corrupt(std::string_view what) {
  return absl::DataLossError(absl::StrCat("stored ", ToAbsl(what), " does not decode"));
}

absl::StatusOr<Tenant> ReadTenant(const Stmt& s) {
  Tenant t;
  t.id = s.Text(0);
  t.name = s.Text(1);
  t.timezone = s.Text(2);
  std::optional<Mode> mode = ParseMode(s.Text(3));
  if (!mode) return Corrupt("tenant mode");
  t.mode = *mode;
  t.created_at = FromNanos(s.Int(4));
  return t;
}

absl::StatusOr<ApiKey> ReadKey(const Stmt& s) {
  ApiKey k;
  k.id = s.Text(0);
  std::optional<Role> role = ParseRole(s.Text(1));
  if (!role) return Corrupt("key role");
  k.role = *role;
  k.tenant_id = s.Text(2);  // NULL reads as ""
  k.user_id = s.Text(3);
  k.name = s.Text(4);
  k.secret_hash = s.Text(5);
  k.created_at = FromNanos(s.Int(6));
  return k;
}

absl::StatusOr<Limit> ReadLimit(const Stmt& s) {
  Limit l;
  l.id = s.Text(0);
  std::optional<Level> level = ParseLevel(s.Text(1));
  std::optional<Metric> metric = ParseMetric(s.Text(4));
  std::optional<WindowUnit> unit = ParseWindowUnit(s.Text(5));
  std::optional<WindowKind> kind = ParseWindowKind(s.Text(7));
  std::optional<Action> action = ParseAction(s.Text(10));
  std::optional<Mode> mode = ParseMode(s.Text(11));
  if (!level || !metric || !unit || !kind || !action || !mode) return Corrupt("limit");
  l.scope = Scope{*level, s.Text(2), s.Text(3)};
  l.metric = *metric;
  l.window = Window{*unit, static_cast<int32_t>(s.Int(6)), *kind};
  l.limit = s.Int(8);
  absl::StatusOr<std::vector<std::string>> models = StringsFromJson(s.Text(9));
  if (!models.ok()) return models.status();
  l.models = *std::move(models);
  l.action = *action;
  l.mode = *mode;
  absl::StatusOr<std::vector<double>> thresholds = DoublesFromJson(s.Text(12));
  if (!thresholds.ok()) return thresholds.status();
  l.alert_thresholds = *std::move(thresholds);
  l.owner = s.Text(13);
  l.created_at = FromNanos(s.Int(14));
  l.updated_at = FromNanos(s.Int(15));
  return l;
}

// The records of an event_blocks row that holds `events` of them; DataLoss unless the
// data decodes whole into exactly that many.
absl::StatusOr<std::vector<JournalRecord>> DecodeBlock(std::string_view data, int64_t events) {
  size_t valid = 0;
  std::vector<JournalRecord> records = DecodeJournal(data, 0, &valid);
  if (valid != data.size() || static_cast<int64_t>(records.size()) != events) {
    return Corrupt("event block");
  }
  return records;
}

// The record heads of an event_blocks row that holds `events` records; DataLoss unless
// they read whole and are that many.
absl::StatusOr<std::vector<JournalHead>> BlockHeads(std::string_view data, int64_t events) {
  size_t valid = 0;
  std::vector<JournalHead> heads = ReadJournalHeads(data, &valid);
  if (valid != data.size() || static_cast<int64_t>(heads.size()) != events) {
    return Corrupt("event block");
  }
  return heads;
}

// The event of one record of a block, checksum checked.
absl::StatusOr<UsageEvent> DecodeEvent(const JournalHead& head) {
  std::vector<JournalRecord> record = DecodeJournal(head.record, 0);
  if (record.size() != 1) return Corrupt("event block");
  return std::move(record[0].entry.event);
}

// The event of a block recorded under (tenant_id, idempotency_key); only its record is
// decoded. DataLoss when the block does not hold it.
absl::StatusOr<UsageEvent> EventWithKey(std::string_view data, int64_t events,
                                        std::string_view tenant_id,
                                        std::string_view idempotency_key) {
  absl::StatusOr<std::vector<JournalHead>> heads = BlockHeads(data, events);
  if (!heads.ok()) return heads.status();
  for (const JournalHead& h : *heads) {
    if (h.tenant_id == tenant_id && h.idempotency_key == idempotency_key) return DecodeEvent(h);
  }
  return Corrupt("event block (a key's event is missing)");
}

absl::StatusOr<UsageEvent> ReadEvent(const Stmt& s) {
  UsageEvent e;
  e.event_id = s.Text(0);
  e.ts = FromNanos(s.Int(1));
  e.tenant_id = s.Text(2);
  e.user_id = s.Text(3);
  e.agent = s.Text(4);
  e.key_id = s.Text(5);
  e.request_id = s.Text(6);
  e.idempotency_key = s.Text(7);
  e.provider = s.Text(8);
  e.model = s.Text(9);
  e.model_used = s.Text(10);
  e.endpoint = s.Text(11);
  e.usage.input_tokens = s.Int(12);
  e.usage.output_tokens = s.Int(13);
  e.usage.cached_input_tokens = s.Int(14);
  e.usage.cache_write_tokens = s.Int(15);
  e.usage.reasoning_tokens = s.Int(16);
  e.usage.total_tokens = s.Int(17);
  e.cost.input = s.Int(18);
  e.cost.output = s.Int(19);
  e.latency_ms = s.Int(20);
  std::optional<EventStatus> status = ParseEventStatus(s.Text(21));
  std::optional<DecisionKind> decision = ParseDecision(s.Text(22));
  if (!status || !decision) return Corrupt("event");
  e.status = *status;
  e.decision = *decision;
  e.estimated = s.Int(23) != 0;
  return e;
}

using Param = std::variant<int64_t, std::string>;

void BindParams(Stmt& stmt, const std::vector<Param>& params) {
  stmt.Reset();
  for (size_t i = 0; i < params.size(); ++i) {
    std::visit([&](const auto& v) { stmt.BindOne(static_cast<int>(i + 1), v); }, params[i]);
  }
}

// Collects every row of `stmt` through `read`.
template <typename T, typename ReadFn>
absl::StatusOr<std::vector<T>> Collect(Stmt& stmt, ReadFn read) {
  std::vector<T> out;
  for (;;) {
    absl::StatusOr<bool> row = stmt.Step();
    if (!row.ok()) return row.status();
    if (!*row) return out;
    absl::StatusOr<T> v = read(stmt);
    if (!v.ok()) return v.status();
    out.push_back(*std::move(v));
  }
}

// The single row of `stmt`, or NotFound naming `what`.
template <typename T, typename ReadFn>
absl::StatusOr<T> One(Stmt& stmt, ReadFn read, std::string_view what) {
  absl::StatusOr<bool> row = stmt.Step();
  if (!row.ok()) return row.status();
  if (!*row) return absl::NotFoundError(absl::StrCat(ToAbsl(what), " not found"));
  return read(stmt);
}

}  // namespace

SqliteStore::SqliteStore(const SqliteOptions& options, const Clock* clock)
    : options_(options), clock_(clock) {}

absl::StatusOr<std::unique_ptr<SqliteStore>> SqliteStore::Open(const SqliteOptions& options,
                                                               const Clock* clock) {
  if (options.path.empty()) return absl::InvalidArgumentError("sqlite path is empty");
  if (options.max_batch < 1 || options.max_queue < 1 || options.apply_batch < 1 ||
      options.id_filter_size < 1) {
    return absl::InvalidArgumentError(
        "max_batch, max_queue, apply_batch and id_filter_size must be >= 1");
  }
  if (options.background_backlog < 0)
    return absl::InvalidArgumentError("background_backlog must be >= 0");
  std::unique_ptr<SqliteStore> store(new SqliteStore(options, clock));
  if (absl::Status s = store->Init(); !s.ok()) return s;
  return store;
}

int SqliteStore::BusyMs() const {
  return static_cast<int>(
      std::clamp<int64_t>(absl::ToInt64Milliseconds(options_.busy_timeout), 0, INT32_MAX));
}

absl::StatusOr<Db> SqliteStore::OpenReadConnection() const {
  absl::StatusOr<Db> db = Db::Open(options_.path, BusyMs());
  if (!db.ok()) return db.status();
  if (absl::Status s = db->Exec("PRAGMA query_only = ON"); !s.ok()) return s;
  return db;
}

absl::Status SqliteStore::Init() {
  const bool in_memory = options_.path == ":memory:";
  if (!in_memory) {
    // Before anything reads the journal: one store per database file.
    absl::StatusOr<JournalLock> lock = JournalLock::Acquire(options_.path);
    if (!lock.ok()) return lock.status();
    journal_lock_ = *std::move(lock);
  }
  {
    absl::MutexLock lock(&write_mu_);
    absl::StatusOr<Db> db = Db::Open(options_.path, BusyMs());
    if (!db.ok()) return db.status();
    writer_ = *std::move(db);
    {
      // journal_mode answers with a row; WAL is persistent in the file.
      absl::StatusOr<Stmt> wal = Stmt::Prepare(writer_.get(), "PRAGMA journal_mode = WAL");
      if (!wal.ok()) return wal.status();
      absl::StatusOr<bool> row = wal->Step();
      if (!row.ok()) return row.status();
      if (!in_memory && (!*row || wal->Text(0) != "wal")) {
        return absl::UnavailableError("sqlite: cannot switch to WAL mode");
      }
    }
    // FULL: in WAL mode every commit syncs the WAL, so an acknowledged commit survives
    // power loss, not only a process crash. NORMAL: it survives a process crash.
    if (absl::Status s = writer_.Exec(options_.fsync_each_commit ? "PRAGMA synchronous = FULL"
                                                                 : "PRAGMA synchronous = NORMAL");
        !s.ok())
      return s;
    // The ledger's hot pages (index leaves, counters, daily rows) stay cached, and the
    // WAL is checkpointed every ~40 MB instead of every 4 MB: fewer rewrites of the
    // same pages into the database file.
    for (const char* pragma : {"PRAGMA cache_size = -65536", "PRAGMA wal_autocheckpoint = 10000",
                               "PRAGMA temp_store = MEMORY"}) {
      if (absl::Status s = writer_.Exec(pragma); !s.ok()) return s;
    }
    if (absl::StatusOr<int> v = Migrate(writer_); !v.ok()) return v.status();
    sqlite3_commit_hook(writer_.get(), &SqliteStore::CommitHook, this);

    auto prepare = [&](Stmt& stmt, std::string_view sql) {
      absl::StatusOr<Stmt> s = Stmt::Prepare(writer_.get(), sql, /*persistent=*/true);
      if (s.ok()) stmt = *std::move(s);
      return s.status();
    };
    for (auto [stmt, sql] : std::initializer_list<std::pair<Stmt*, std::string_view>>{
             {&ws_.begin, "BEGIN IMMEDIATE"},
             {&ws_.commit, "COMMIT"},
             {&ws_.savepoint, "SAVEPOINT entry"},
             {&ws_.release, "RELEASE entry"},
             {&ws_.rollback_to, "ROLLBACK TO entry"},
             {&ws_.insert_id, kInsertId},
             {&ws_.insert_key, kInsertKey},
             {&ws_.delete_id, "DELETE FROM event_ids WHERE event_id = ?"},
             {&ws_.insert_block, kInsertBlock},
             {&ws_.upsert_counter, kUpsertCounter},
             {&ws_.upsert_daily, kUpsertDaily},
             {&set_applied_, "UPDATE ledger_state SET applied_seq = ? WHERE id = 1"}}) {
      if (absl::Status s = prepare(*stmt, sql); !s.ok()) return s;
    }
    {
      absl::StatusOr<Stmt> max_block =
          Stmt::Prepare(writer_.get(), "SELECT coalesce(max(block_id), 0) FROM event_blocks");
      if (!max_block.ok()) return max_block.status();
      if (absl::StatusOr<bool> row = max_block->Step(); !row.ok()) return row.status();
      next_block_id_ = max_block->Int(0) + 1;
    }
    if (absl::Status s = MoveLegacyEvents(); !s.ok()) return s;
  }
  if (!in_memory) {
    if (absl::Status s = Recover(); !s.ok()) return s;
  }
  if (!in_memory) {
    absl::MutexLock lock(&read_mu_);
    absl::StatusOr<Db> db = OpenReadConnection();
    if (!db.ok()) return db.status();
    reader_ = *std::move(db);
    has_reader_ = true;
    for (auto [stmt, sql] : std::initializer_list<std::pair<Stmt*, std::string_view>>{
             {&find_key_,
              "SELECT 1 FROM event_keys WHERE tenant_id = ? AND idempotency_key = ?"},
             {&find_id_, "SELECT 1 FROM event_ids WHERE event_id = ?"},
             {&find_event_by_key_, kBlockByKey}}) {
      absl::StatusOr<Stmt> prepared = Stmt::Prepare(reader_.get(), sql, /*persistent=*/true);
      if (!prepared.ok()) return prepared.status();
      *stmt = *std::move(prepared);
    }
  }
  if (!in_memory && options_.journal) {
    absl::StatusOr<uint64_t> applied = ReadAppliedSeq();
    if (!applied.ok()) return applied.status();
    next_seq_ = *applied + 1;
    if (absl::Status s = LoadRecordedSummary(); !s.ok()) return s;
    {
      absl::MutexLock lock(&pending_mu_);
      applied_seq_ = journaled_seq_ = *applied;
    }
    absl::StatusOr<JournalFile> file = JournalFile::Create(
        JournalFilePath(options_.path, journal_generation_), options_.fsync_each_commit);
    if (!file.ok()) return file.status();
    journal_ = *std::move(file);
    journaled_ = true;
    background_apply_ = options_.background_backlog > 0 && MayLeaveSchedIdle();
    applier_thread_ = std::thread([this] {
      pthread_setname_np(pthread_self(), "ledger-applier");  // for top -H, perf
      ApplierLoop();
    });
    writer_thread_ = std::thread([this] {
      pthread_setname_np(pthread_self(), "ledger-journal");
      JournalLoop();
    });
  } else {
    writer_thread_ = std::thread([this] { WriterLoop(); });
  }
  return absl::OkStatus();
}

SqliteStore::~SqliteStore() {
  {
    absl::MutexLock lock(&queue_mu_);
    stopping_ = true;
  }
  // The journal thread journals and acknowledges everything queued, then the applier
  // applies everything journaled (unless paused or failing: then the journal keeps it
  // for the next open).
  if (writer_thread_.joinable()) writer_thread_.join();
  if (!journaled_) return;
  {
    absl::MutexLock lock(&pending_mu_);
    apply_stopping_ = true;
    PlaceApplier();  // the rest is applied at once, whatever else runs
  }
  if (applier_thread_.joinable()) applier_thread_.join();
  absl::MutexLock journal_lock(&journal_mu_);
  absl::MutexLock lock(&pending_mu_);
  if (!segments_.empty()) return;
  std::string current = journal_.path();
  journal_ = JournalFile();
  for (const SealedJournal& f : sealed_) unlink(f.path.c_str());
  unlink(current.c_str());
}

absl::StatusOr<uint64_t> SqliteStore::ReadAppliedSeq() {
  absl::MutexLock lock(&write_mu_);
  absl::StatusOr<Stmt> s =
      Stmt::Prepare(writer_.get(), "SELECT applied_seq FROM ledger_state WHERE id = 1");
  if (!s.ok()) return s.status();
  absl::StatusOr<bool> row = s->Step();
  if (!row.ok()) return row.status();
  if (!*row) return absl::DataLossError("ledger_state has no row");
  return static_cast<uint64_t>(s->Int(0));
}

absl::Status SqliteStore::Recover() {
  std::vector<std::pair<uint64_t, std::string>> files = ListJournalFiles(options_.path);
  if (files.empty()) return absl::OkStatus();
  absl::StatusOr<uint64_t> applied = ReadAppliedSeq();
  if (!applied.ok()) return applied.status();
  uint64_t after = *applied;
  for (const auto& [generation, path] : files) {
    absl::StatusOr<std::string> data = ReadWholeFile(path);
    if (!data.ok()) return data.status();
    // A torn tail (cut short or failing its checksum) was never acknowledged: dropped.
    std::vector<JournalRecord> records = DecodeJournal(*data, after);
    for (size_t i = 0; i < records.size(); i += options_.apply_batch) {
      size_t end = std::min(records.size(), i + static_cast<size_t>(options_.apply_batch));
      std::vector<Journaled> chunk;
      chunk.reserve(end - i);
      for (size_t j = i; j < end; ++j) {
        chunk.push_back(Journaled{records[j].seq, std::move(records[j].entry)});
      }
      std::vector<const Journaled*> ptrs;
      for (const Journaled& j : chunk) ptrs.push_back(&j);
      if (absl::Status s = ApplyJournaled(ptrs); !s.ok()) return s;
      after = chunk.back().seq;
    }
    journal_generation_ = generation + 1;
  }
  // Applied (and, with synchronous=FULL, synced): the files are no longer needed.
  for (const auto& file : files) {
    if (unlink(file.second.c_str()) != 0) {
      return absl::UnavailableError(absl::StrCat("cannot remove ledger journal ", file.second));
    }
  }
  if (options_.fsync_each_commit) return SyncParentDir(options_.path);
  return absl::OkStatus();
}

void SqliteStore::PauseApplierForTesting(bool pause) {
  absl::MutexLock lock(&pending_mu_);
  apply_paused_ = pause;
}

uint64_t SqliteStore::AppliedSeqForTesting() {
  absl::MutexLock lock(&pending_mu_);
  return applied_seq_;
}

size_t SqliteStore::FilteredKeysForTesting() {
  absl::MutexLock lock(&pending_mu_);
  return recorded_keys_.size();
}

absl::Status SqliteStore::RebuildKeyFilterForTesting() {
  return RebuildKeyFilter(/*only_if_stale=*/false);
}

size_t SqliteStore::FilteredIdsForTesting() {
  absl::MutexLock lock(&pending_mu_);
  return journaled_ids_.size();
}

int SqliteStore::CommitHook(void* self) {
  return static_cast<SqliteStore*>(self)->fail_commits_.load() ? 1 : 0;
}

template <typename F>
auto SqliteStore::Read(F&& f) {
  if (has_reader_) {
    absl::MutexLock lock(&read_mu_);
    return f(reader_.get());
  }
  absl::MutexLock lock(&write_mu_);
  return f(writer_.get());
}

template <typename... Args>
absl::StatusOr<int> SqliteStore::Write(std::string_view sql, const Args&... args) {
  return WithWriter([&]() ABSL_NO_THREAD_SAFETY_ANALYSIS -> absl::StatusOr<int> {
    absl::StatusOr<Stmt> stmt = Stmt::Prepare(writer_.get(), sql);
    if (!stmt.ok()) return stmt.status();
    stmt->Bind(args...);
    if (absl::Status s = stmt->Run(); !s.ok()) return s;
    return sqlite3_changes(writer_.get());
  });
}

template <typename F>
auto SqliteStore::WithWriter(F&& f) {
  bool raised = false;
  if (journaled_) {
    absl::MutexLock lock(&pending_mu_);
    raised = applier_in_background_;
    if (raised) PlaceApplier(/*raise=*/true);
  }
  auto result = [&] {
    absl::MutexLock lock(&write_mu_);
    return f();
  }();
  if (raised) {
    absl::MutexLock lock(&pending_mu_);
    PlaceApplier();
  }
  return result;
}

namespace {

absl::Status ChangedOrNotFound(const absl::StatusOr<int>& changes, std::string_view what) {
  if (!changes.ok()) return changes.status();
  if (*changes == 0) return absl::NotFoundError(absl::StrCat(ToAbsl(what), " not found"));
  return absl::OkStatus();
}

}  // namespace

// --- Tenants.

absl::Status SqliteStore::CreateTenant(const Tenant& t) {
  if (t.id.empty()) return absl::InvalidArgumentError("tenant id is empty");
  absl::StatusOr<int> n =
      Write("INSERT INTO tenants (id, name, timezone, mode, created_at) VALUES (?, ?, ?, ?, ?)",
            t.id, t.name, t.timezone, ToString(t.mode), ToNanos(t.created_at));
  return n.status();
}

absl::Status SqliteStore::UpdateTenant(const Tenant& t) {
  return ChangedOrNotFound(
      Write("UPDATE tenants SET name = ?, timezone = ?, mode = ?, created_at = ? WHERE id = ?",
            t.name, t.timezone, ToString(t.mode), ToNanos(t.created_at), t.id),
      "tenant");
}

absl::Status SqliteStore::DeleteTenant(std::string_view id) {
  // Keys, limits and policies go with it through ON DELETE CASCADE.
  return ChangedOrNotFound(Write("DELETE FROM tenants WHERE id = ?", id), "tenant");
}

absl::StatusOr<Tenant> SqliteStore::GetTenant(std::string_view id) {
  return Read([&](sqlite3* db) -> absl::StatusOr<Tenant> {
    absl::StatusOr<Stmt> s = Stmt::Prepare(
        db, absl::StrCat("SELECT ", ToAbsl(kTenantColumns), " FROM tenants WHERE id = ?"));
    if (!s.ok()) return s.status();
    s->Bind(id);
    return One<Tenant>(*s, ReadTenant, "tenant");
  });
}

absl::StatusOr<std::vector<Tenant>> SqliteStore::ListTenants() {
  return Read([&](sqlite3* db) -> absl::StatusOr<std::vector<Tenant>> {
    absl::StatusOr<Stmt> s = Stmt::Prepare(
        db, absl::StrCat("SELECT ", ToAbsl(kTenantColumns), " FROM tenants ORDER BY id"));
    if (!s.ok()) return s.status();
    return Collect<Tenant>(*s, ReadTenant);
  });
}

// --- Keys.

absl::Status SqliteStore::CreateKey(const ApiKey& k) {
  if (k.id.empty()) return absl::InvalidArgumentError("key id is empty");
  std::string_view ref = TenantRef(k.tenant_id);
  absl::StatusOr<int> n =
      ref.empty()
          ? Write(
                "INSERT INTO api_keys (id, role, tenant_ref, user_id, name, secret_hash, "
                "created_at) VALUES (?, ?, NULL, ?, ?, ?, ?)",
                k.id, ToString(k.role), k.user_id, k.name, k.secret_hash, ToNanos(k.created_at))
          : Write(
                "INSERT INTO api_keys (id, role, tenant_ref, user_id, name, secret_hash, "
                "created_at) VALUES (?, ?, ?, ?, ?, ?, ?)",
                k.id, ToString(k.role), ref, k.user_id, k.name, k.secret_hash,
                ToNanos(k.created_at));
  return n.status();
}

absl::Status SqliteStore::DeleteKey(std::string_view id) {
  return ChangedOrNotFound(Write("DELETE FROM api_keys WHERE id = ?", id), "key");
}

absl::StatusOr<ApiKey> SqliteStore::GetKey(std::string_view id) {
  return Read([&](sqlite3* db) -> absl::StatusOr<ApiKey> {
    absl::StatusOr<Stmt> s = Stmt::Prepare(
        db, absl::StrCat("SELECT ", ToAbsl(kKeyColumns), " FROM api_keys WHERE id = ?"));
    if (!s.ok()) return s.status();
    s->Bind(id);
    return One<ApiKey>(*s, ReadKey, "key");
  });
}

absl::StatusOr<ApiKey> SqliteStore::FindKeyByHash(std::string_view secret_hash) {
  return Read([&](sqlite3* db) -> absl::StatusOr<ApiKey> {
    absl::StatusOr<Stmt> s = Stmt::Prepare(
        db, absl::StrCat("SELECT ", ToAbsl(kKeyColumns), " FROM api_keys WHERE secret_hash = ?"));
    if (!s.ok()) return s.status();
    s->Bind(secret_hash);
    return One<ApiKey>(*s, ReadKey, "key");
  });
}

absl::StatusOr<std::vector<ApiKey>> SqliteStore::ListKeys(std::string_view tenant_id) {
  return Read([&](sqlite3* db) -> absl::StatusOr<std::vector<ApiKey>> {
    absl::StatusOr<Stmt> s = Stmt::Prepare(
        db, absl::StrCat("SELECT ", ToAbsl(kKeyColumns),
                         " FROM api_keys WHERE ? = '' OR tenant_ref = ? ORDER BY id"));
    if (!s.ok()) return s.status();
    s->Bind(tenant_id, tenant_id);
    return Collect<ApiKey>(*s, ReadKey);
  });
}

absl::StatusOr<int64_t> SqliteStore::CountKeys() {
  return Read([&](sqlite3* db) -> absl::StatusOr<int64_t> {
    absl::StatusOr<Stmt> s = Stmt::Prepare(db, "SELECT count(*) FROM api_keys");
    if (!s.ok()) return s.status();
    return One<int64_t>(
        *s, [](const Stmt& st) -> absl::StatusOr<int64_t> { return st.Int(0); }, "count");
  });
}

// --- Limits.

absl::Status SqliteStore::PutLimit(const Limit& l) {
  if (l.id.empty()) return absl::InvalidArgumentError("limit id is empty");
  std::string_view ref = TenantRef(l.scope.tenant_id);
  std::string sql = absl::StrCat(
      "INSERT INTO limits (tenant_ref, ", ToAbsl(kLimitColumns), ") VALUES (",
      ref.empty() ? "NULL" : "?",
      ", ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?) "
      "ON CONFLICT (id) DO UPDATE SET tenant_ref = excluded.tenant_ref, "
      "scope_level = excluded.scope_level, scope_tenant_id = excluded.scope_tenant_id, "
      "scope_subject_id = excluded.scope_subject_id, metric = excluded.metric, "
      "window_unit = excluded.window_unit, window_size = excluded.window_size, "
      "window_kind = excluded.window_kind, limit_value = excluded.limit_value, "
      "models = excluded.models, action = excluded.action, mode = excluded.mode, "
      "alert_thresholds = excluded.alert_thresholds, owner = excluded.owner, "
      "created_at = excluded.created_at, updated_at = excluded.updated_at");
  auto put = [&](auto&&... tenant) {
    return Write(sql, tenant..., l.id, ToString(l.scope.level), l.scope.tenant_id,
                 l.scope.subject_id, ToString(l.metric), ToString(l.window.unit),
                 static_cast<int64_t>(l.window.size), ToString(l.window.kind), l.limit,
                 StringsToJson(l.models), ToString(l.action), ToString(l.mode),
                 DoublesToJson(l.alert_thresholds), l.owner, ToNanos(l.created_at),
                 ToNanos(l.updated_at))
        .status();
  };
  return ref.empty() ? put() : put(ref);
}

absl::Status SqliteStore::DeleteLimit(std::string_view id) {
  return ChangedOrNotFound(Write("DELETE FROM limits WHERE id = ?", id), "limit");
}

absl::StatusOr<Limit> SqliteStore::GetLimit(std::string_view id) {
  return Read([&](sqlite3* db) -> absl::StatusOr<Limit> {
    absl::StatusOr<Stmt> s = Stmt::Prepare(
        db, absl::StrCat("SELECT ", ToAbsl(kLimitColumns), " FROM limits WHERE id = ?"));
    if (!s.ok()) return s.status();
    s->Bind(id);
    return One<Limit>(*s, ReadLimit, "limit");
  });
}

absl::StatusOr<std::vector<Limit>> SqliteStore::ListLimits() {
  return Read([&](sqlite3* db) -> absl::StatusOr<std::vector<Limit>> {
    absl::StatusOr<Stmt> s = Stmt::Prepare(
        db, absl::StrCat("SELECT ", ToAbsl(kLimitColumns), " FROM limits ORDER BY id"));
    if (!s.ok()) return s.status();
    return Collect<Limit>(*s, ReadLimit);
  });
}

// --- Prices.

absl::Status SqliteStore::PutPrice(const Price& p) {
  if (p.provider.empty() || p.model.empty()) {
    return absl::InvalidArgumentError("price provider and model are required");
  }
  return Write(
             "INSERT INTO prices (provider, model, input_per_mtok, output_per_mtok, "
             "cached_input_per_mtok, cache_write_per_mtok, tier) VALUES (?, ?, ?, ?, ?, ?, ?) "
             "ON CONFLICT (provider, model) DO UPDATE SET "
             "input_per_mtok = excluded.input_per_mtok, "
             "output_per_mtok = excluded.output_per_mtok, "
             "cached_input_per_mtok = excluded.cached_input_per_mtok, "
             "cache_write_per_mtok = excluded.cache_write_per_mtok, tier = excluded.tier",
             p.provider, p.model, p.input_per_mtok, p.output_per_mtok, p.cached_input_per_mtok,
             p.cache_write_per_mtok, p.tier)
      .status();
}

absl::StatusOr<std::vector<Price>> SqliteStore::ListPrices() {
  return Read([&](sqlite3* db) -> absl::StatusOr<std::vector<Price>> {
    absl::StatusOr<Stmt> s = Stmt::Prepare(
        db,
        "SELECT provider, model, input_per_mtok, output_per_mtok, cached_input_per_mtok, "
        "cache_write_per_mtok, tier FROM prices ORDER BY provider, model");
    if (!s.ok()) return s.status();
    return Collect<Price>(*s, [](const Stmt& st) -> absl::StatusOr<Price> {
      Price p;
      p.provider = st.Text(0);
      p.model = st.Text(1);
      p.input_per_mtok = st.Int(2);
      p.output_per_mtok = st.Int(3);
      p.cached_input_per_mtok = st.Int(4);
      p.cache_write_per_mtok = st.Int(5);
      p.tier = st.Text(6);
      p.is_override = true;
      return p;
    });
  });
}

// --- Policies.

absl::Status SqliteStore::PutPolicy(const PolicyRecord& p) {
  if (p.level != Level::kGlobal && p.level != Level::kTenant && p.level != Level::kUser) {
    return absl::InvalidArgumentError("policy level must be global, tenant or user");
  }
  if (p.json.empty()) {
    return Write("DELETE FROM policies WHERE level = ? AND tenant_id = ? AND user_id = ?",
                 ToString(p.level), p.tenant_id, p.user_id)
        .status();
  }
  std::string_view ref = TenantRef(p.tenant_id);
  std::string sql = absl::StrCat(
      "INSERT INTO policies (level, tenant_id, user_id, json, updated_at, tenant_ref) "
      "VALUES (?, ?, ?, ?, ?, ",
      ref.empty() ? "NULL" : "?",
      ") ON CONFLICT (level, tenant_id, user_id) DO UPDATE SET json = excluded.json, "
      "updated_at = excluded.updated_at, tenant_ref = excluded.tenant_ref");
  auto put = [&](auto&&... tenant) {
    return Write(sql, ToString(p.level), p.tenant_id, p.user_id, p.json, ToNanos(p.updated_at),
                 tenant...)
        .status();
  };
  return ref.empty() ? put() : put(ref);
}

absl::StatusOr<std::vector<PolicyRecord>> SqliteStore::ListPolicies() {
  return Read([&](sqlite3* db) -> absl::StatusOr<std::vector<PolicyRecord>> {
    absl::StatusOr<Stmt> s =
        Stmt::Prepare(db,
                      "SELECT level, tenant_id, user_id, json, updated_at FROM policies "
                      "ORDER BY level, tenant_id, user_id");
    if (!s.ok()) return s.status();
    return Collect<PolicyRecord>(*s, [](const Stmt& st) -> absl::StatusOr<PolicyRecord> {
      std::optional<Level> level = ParseLevel(st.Text(0));
      if (!level) return Corrupt("policy level");
      return PolicyRecord{*level, st.Text(1), st.Text(2), st.Text(3), FromNanos(st.Int(4))};
    });
  });
}

// --- Ledger: group commit.

void SqliteStore::Append(LedgerEntry entry, std::function<void(absl::Status)> done) {
  std::vector<Appending> one;
  one.push_back(Appending{std::move(entry), std::move(done)});
  AppendAll(std::move(one));
}

void SqliteStore::AppendAll(std::vector<Appending> entries) {
  // Refusals are answered after queue_mu_ is released. Without fsync the rest is
  // journaled here, on the caller's thread: one write(2) into the page cache costs less
  // than waking the journal thread and being woken back.
  const bool inline_journal = journaled_ && !options_.fsync_each_commit;
  std::vector<std::pair<size_t, absl::Status>> refused;
  std::vector<Appending> accepted;
  {
    absl::MutexLock lock(&queue_mu_);
    for (size_t i = 0; i < entries.size(); ++i) {
      absl::Status s = ValidateEntry(entries[i].entry);
      if (s.ok() && stopping_) {
        s = absl::FailedPreconditionError("store is closing");
      } else if (s.ok() &&
                 queue_.size() + accepted.size() + unapplied_count_.load(std::memory_order_relaxed) >=
                     static_cast<size_t>(options_.max_queue)) {
        s = absl::ResourceExhaustedError("ledger write queue is full");
      }
      if (!s.ok()) {
        refused.emplace_back(i, std::move(s));
      } else if (inline_journal) {
        accepted.push_back(std::move(entries[i]));
      } else {
        queue_.push_back(std::move(entries[i]));
      }
    }
  }
  for (auto& [i, s] : refused) entries[i].done(std::move(s));
  if (!accepted.empty()) JournalBatch(accepted, /*may_read=*/false);
}

bool SqliteStore::TakeBatch(std::vector<Appending>& batch) {
  absl::MutexLock lock(&queue_mu_);
  queue_mu_.Await(absl::Condition(this, &SqliteStore::HasWork));
  if (queue_.empty()) return false;  // stopping, and everything is taken
  if (options_.max_batch_delay > absl::ZeroDuration()) {
    // Batching is about wall time (fsync cost), so this is the real clock.
    queue_mu_.AwaitWithTimeout(absl::Condition(this, &SqliteStore::BatchFullOrStopping),
                               options_.max_batch_delay);
  }
  size_t n = std::min(queue_.size(), static_cast<size_t>(options_.max_batch));
  for (size_t i = 0; i < n; ++i) {
    batch.push_back(std::move(queue_.front()));
    queue_.pop_front();
  }
  return true;
}

void SqliteStore::WriterLoop() {
  std::vector<Appending> batch;
  batch.reserve(options_.max_batch);
  while (TakeBatch(batch)) {
    WriteBatch(batch);
    batch.clear();
  }
}

void SqliteStore::WriteBatch(std::vector<Appending>& batch) {
  std::vector<absl::Status> results(batch.size());
  {
    absl::MutexLock lock(&write_mu_);
    BlockBatch blocks;
    absl::Status batch_error = ws_.begin.Run();
    for (size_t i = 0; batch_error.ok() && i < batch.size(); ++i) {
      if (absl::Status s = ws_.savepoint.Run(); !s.ok()) {
        batch_error = s;
        break;
      }
      absl::Status s = ApplyEntry(batch[i].entry, blocks);
      if (!s.ok() && sqlite3_get_autocommit(writer_.get())) {
        // SQLite rolled the whole transaction back (I/O error, disk full): the batch
        // is lost, every entry fails.
        batch_error = s;
        break;
      }
      if (!s.ok()) {
        // Only this entry: undo its partial writes, keep the rest of the batch.
        if (absl::Status r = ws_.rollback_to.Run(); !r.ok()) batch_error = r;
      }
      if (absl::Status r = ws_.release.Run(); !r.ok() && batch_error.ok()) batch_error = r;
      results[i] = std::move(s);
    }
    if (batch_error.ok()) batch_error = WriteBlocks(blocks);
    if (batch_error.ok()) batch_error = ws_.commit.Run();
    if (!batch_error.ok()) {
      writer_.RollbackIfOpen();
      for (absl::Status& r : results) r = batch_error;
    }
  }
  for (size_t i = 0; i < batch.size(); ++i) batch[i].done(std::move(results[i]));
}

absl::Status SqliteStore::ApplyEntry(const LedgerEntry& entry, BlockBatch& batch) {
  const UsageEvent& e = entry.event;
  for (const CounterDelta& c : entry.counters) {
    ws_.upsert_counter.BindBorrowed(c.limit_id, c.subject, c.window_start, c.amount,
                                    ToNanos(c.expires_at));
    if (absl::Status s = ws_.upsert_counter.Run(); !s.ok()) return s;
  }
  if (absl::Status s = UpsertDaily(DailyDate(entry), e.tenant_id, e.user_id, e.agent,
                                   e.provider, DailyModel(e), e.usage, e.cost, 1);
      !s.ok()) {
    return s;
  }
  // Last: once the event is in its block, nothing of the entry can fail any more. A
  // duplicate's counters and daily row are undone with its savepoint.
  return AddEvent(batch, entry);
}

absl::Status SqliteStore::AddEvent(BlockBatch& batch, const LedgerEntry& entry) {
  BlockBatch::Block& block = BlockFor(batch, entry.event.tenant_id);
  if (absl::Status s = InsertEventIndex(entry.event, block.block_id); !s.ok()) return s;
  AppendToBlock(block, entry);
  return absl::OkStatus();
}

SqliteStore::BlockBatch::Block& SqliteStore::BlockFor(BlockBatch& batch,
                                                      std::string_view tenant_id) {
  auto it = batch.by_tenant.find(ToAbsl(tenant_id));
  if (it == batch.by_tenant.end()) {
    it = batch.by_tenant.emplace(std::string(tenant_id), BlockBatch::Block{}).first;
    // An id a failed transaction took is not given again: ids only need to be new.
    it->second.block_id = next_block_id_++;
  }
  return it->second;
}

absl::Status SqliteStore::InsertEventIndex(const UsageEvent& e, int64_t block_id) {
  const auto duplicate = [] { return absl::AlreadyExistsError("idempotency key already recorded"); };
  ws_.insert_id.BindBorrowed(e.event_id, block_id);
  if (absl::Status s = ws_.insert_id.Run(); !s.ok()) return s;
  if (sqlite3_changes(writer_.get()) == 0) return duplicate();
  if (e.idempotency_key.empty()) return absl::OkStatus();
  ws_.insert_key.BindBorrowed(e.tenant_id, e.idempotency_key, block_id);
  if (absl::Status s = ws_.insert_key.Run(); !s.ok()) return s;
  if (sqlite3_changes(writer_.get()) == 0) {
    ws_.delete_id.BindBorrowed(e.event_id);
    if (absl::Status s = ws_.delete_id.Run(); !s.ok()) return s;
    return duplicate();
  }
  return absl::OkStatus();
}

void SqliteStore::AppendToBlock(BlockBatch::Block& block, const LedgerEntry& entry) {
  const int64_t ts = ToNanos(entry.event.ts);
  block.min_ts = block.events == 0 ? ts : std::min(block.min_ts, ts);
  block.max_ts = block.events == 0 ? ts : std::max(block.max_ts, ts);
  ++block.events;
  EncodeJournalRecord(static_cast<uint64_t>(block.events), entry, &block.data);
}

absl::Status SqliteStore::WriteBlocks(const BlockBatch& batch) {
  for (const auto& [tenant_id, block] : batch.by_tenant) {
    if (block.events == 0) continue;  // every event of it was a duplicate
    ws_.insert_block.BindBorrowed(block.block_id, tenant_id, block.min_ts, block.max_ts,
                                  block.events, Blob{block.data});
    if (absl::Status s = ws_.insert_block.Run(); !s.ok()) return s;
  }
  return absl::OkStatus();
}

absl::Status SqliteStore::MoveLegacyEvents() {
  {
    absl::StatusOr<Stmt> exists = Stmt::Prepare(
        writer_.get(), "SELECT 1 FROM sqlite_schema WHERE type = 'table' AND name = 'events'");
    if (!exists.ok()) return exists.status();
    absl::StatusOr<bool> row = exists->Step();
    if (!row.ok()) return row.status();
    if (!*row) return absl::OkStatus();
  }
  // In chunks of one transaction each, a tenant's events in time order, so that its
  // blocks cover short spans; the rows moved are deleted in the same transaction, and
  // the table goes with the transaction that finds it empty.
  absl::StatusOr<Stmt> select = Stmt::Prepare(
      writer_.get(), absl::StrCat("SELECT ", ToAbsl(kEventColumns),
                                  " FROM events ORDER BY tenant_id, ts LIMIT 10000"));
  if (!select.ok()) return select.status();
  absl::StatusOr<Stmt> remove = Stmt::Prepare(writer_.get(), "DELETE FROM events WHERE event_id = ?");
  if (!remove.ok()) return remove.status();
  auto move_chunk = [&]() ABSL_NO_THREAD_SAFETY_ANALYSIS -> absl::StatusOr<size_t> {
    std::vector<LedgerEntry> entries;
    for (;;) {
      absl::StatusOr<bool> row = select->Step();
      if (!row.ok()) return row.status();
      if (!*row) break;
      absl::StatusOr<UsageEvent> e = ReadEvent(*select);
      if (!e.ok()) return e.status();
      entries.push_back(LedgerEntry{*std::move(e), {}, {}});
    }
    select->Reset();
    BlockBatch blocks;
    for (const LedgerEntry& entry : entries) {
      if (absl::Status s = AddEvent(blocks, entry); !s.ok()) return s;
      if (absl::Status s = remove->Bind(entry.event.event_id).Run(); !s.ok()) return s;
    }
    if (absl::Status s = WriteBlocks(blocks); !s.ok()) return s;
    if (entries.empty()) {
      if (absl::Status s = writer_.Exec("DROP TABLE events"); !s.ok()) return s;
    }
    return entries.size();
  };
  for (;;) {
    if (absl::Status s = ws_.begin.Run(); !s.ok()) return s;
    absl::StatusOr<size_t> moved = move_chunk();
    absl::Status s = moved.ok() ? ws_.commit.Run() : moved.status();
    if (!s.ok()) {
      select->Reset();
      writer_.RollbackIfOpen();
      return absl::Status(s.code(), absl::StrCat("moving events into blocks: ", s.message()));
    }
    if (*moved == 0) return absl::OkStatus();
  }
}

absl::Status SqliteStore::UpsertDaily(std::string_view date, std::string_view tenant_id,
                                      std::string_view user_id, std::string_view agent,
                                      std::string_view provider, std::string_view model,
                                      const Usage& usage, const Cost& cost, int64_t requests) {
  ws_.upsert_daily.BindBorrowed(date, tenant_id, user_id, agent, provider, model,
                                usage.input_tokens, usage.output_tokens, usage.cached_input_tokens,
                                usage.cache_write_tokens, usage.reasoning_tokens,
                                usage.total_tokens, cost.input, cost.output, requests);
  return ws_.upsert_daily.Run();
}

// --- Ledger: journal and applier.

std::string SqliteStore::PendingKey(std::string_view tenant_id,
                                    std::string_view idempotency_key) {
  std::string key;
  key.reserve(tenant_id.size() + 1 + idempotency_key.size());
  key.append(tenant_id);
  key.push_back('\0');  // ids never contain NUL (validated charset)
  key.append(idempotency_key);
  return key;
}

void SqliteStore::JournalLoop() {
  std::vector<Appending> batch;
  batch.reserve(options_.max_batch);
  while (TakeBatch(batch)) {
    JournalBatch(batch, /*may_read=*/true);
    batch.clear();
  }
}

absl::StatusOr<SqliteStore::Recorded> SqliteStore::IsRecorded(const UsageEvent& e,
                                                              std::string_view key,
                                                              bool may_read, bool* in_txn) {
  if (!key.empty() && FindPendingKey(key) != nullptr) return Recorded::kYes;
  if (IsPendingId(e.event_id)) return Recorded::kYes;
  const bool ask_key = !key.empty() && recorded_keys_.MayContain(key);
  // Above the floor, an id is recorded only if journaled_ids_ has it.
  const bool ask_id = e.event_id <= id_floor_ || journaled_ids_.MayContain(e.event_id);
  if (!ask_key && !ask_id) return Recorded::kNo;
  if (!may_read) return Recorded::kUnknown;
  if (!*in_txn) {
    read_mu_.Lock();
    if (absl::Status s = reader_.Exec("BEGIN"); !s.ok()) {
      read_mu_.Unlock();
      return s;
    }
    *in_txn = true;
  }
  auto found = [](Stmt& bound) {  // whether the bound lookup finds a row
    absl::StatusOr<bool> row = bound.Step();
    bound.Reset();
    return row;
  };
  absl::StatusOr<bool> row = false;
  if (ask_key) row = found(find_key_.Bind(e.tenant_id, e.idempotency_key));
  if (row.ok() && !*row && ask_id) row = found(find_id_.Bind(e.event_id));
  if (!row.ok()) return row.status();
  return *row ? Recorded::kYes : Recorded::kNo;
}

absl::StatusOr<KeyFilter> SqliteStore::LoadKeyFilter(sqlite3* db) {
  absl::StatusOr<Stmt> count = Stmt::Prepare(db, "SELECT count(*) FROM event_keys");
  if (!count.ok()) return count.status();
  if (absl::StatusOr<bool> row = count->Step(); !row.ok()) return row.status();
  // Room for as many new keys again before the filter first grows.
  KeyFilter filter(2 * static_cast<size_t>(count->Int(0)));
  absl::StatusOr<Stmt> keys =
      Stmt::Prepare(db, "SELECT tenant_id, idempotency_key FROM event_keys");
  if (!keys.ok()) return keys.status();
  for (;;) {
    absl::StatusOr<bool> row = keys->Step();
    if (!row.ok()) return row.status();
    if (!*row) break;
    filter.Add(PendingKey(keys->Text(0), keys->Text(1)));
  }
  return filter;
}

absl::Status SqliteStore::RebuildKeyFilter(bool only_if_stale) {
  {
    absl::MutexLock lock(&pending_mu_);
    // Rebuilt once the filter holds twice the keys it was built with: each rebuild is
    // paid for by as many new keys.
    if (!journaled_ || keys_during_rebuild_ ||
        (only_if_stale &&
         recorded_keys_.size() < 2 * std::max(keys_at_build_, KeyFilter::kMinCapacity))) {
      return absl::OkStatus();
    }
    // Every key recorded from now on, and every key not yet applied (the scan may not
    // see it), goes into the new filter too.
    keys_during_rebuild_.emplace();
    for (const Segment& segment : segments_) {
      for (const auto& [key, event] : segment.keys) keys_during_rebuild_->push_back(key);
    }
  }
  // On a connection of its own: the scan must not hold up ledger reads.
  absl::StatusOr<Db> db = OpenReadConnection();
  absl::StatusOr<KeyFilter> fresh = db.ok() ? LoadKeyFilter(db->get()) : db.status();
  absl::MutexLock lock(&pending_mu_);
  std::vector<std::string> added = *std::move(keys_during_rebuild_);
  keys_during_rebuild_.reset();
  if (!fresh.ok()) return fresh.status();
  for (const std::string& key : added) fresh->Add(key);
  recorded_keys_ = *std::move(fresh);
  keys_at_build_ = recorded_keys_.size();
  return absl::OkStatus();
}

absl::Status SqliteStore::LoadRecordedSummary() {
  absl::MutexLock pending_lock(&pending_mu_);
  absl::MutexLock read_lock(&read_mu_);
  absl::StatusOr<KeyFilter> keys = LoadKeyFilter(reader_.get());
  if (!keys.ok()) return keys.status();
  recorded_keys_ = *std::move(keys);
  keys_at_build_ = recorded_keys_.size();
  absl::StatusOr<Stmt> max_id = Stmt::Prepare(reader_.get(), "SELECT max(event_id) FROM event_ids");
  if (!max_id.ok()) return max_id.status();
  absl::StatusOr<bool> row = max_id->Step();
  if (!row.ok()) return row.status();
  id_floor_ = *row ? std::string(max_id->Text(0)) : std::string();
  journaled_ids_ = KeyFilter(static_cast<size_t>(options_.id_filter_size));
  return absl::OkStatus();
}

void SqliteStore::NoteJournaledId(const std::string& event_id) {
  if (journaled_ids_.size() >= static_cast<size_t>(options_.id_filter_size)) {
    id_floor_ = std::max(id_floor_, max_journaled_id_);
    journaled_ids_ = KeyFilter(static_cast<size_t>(options_.id_filter_size));
  }
  journaled_ids_.Add(event_id);
  if (event_id > max_journaled_id_) max_journaled_id_ = event_id;
}

void SqliteStore::JournalBatch(std::vector<Appending>& batch, bool may_read) {
  std::vector<std::optional<absl::Status>> results(batch.size());
  {
    absl::MutexLock journal_lock(&journal_mu_);
    JournalLocked(batch, may_read, results);
  }
  std::vector<Appending> deferred;
  for (size_t i = 0; i < batch.size(); ++i) {
    if (results[i]) {
      batch[i].done(*std::move(results[i]));
    } else {
      deferred.push_back(std::move(batch[i]));
    }
  }
  if (deferred.empty()) return;
  // Only SQLite can tell these from duplicates: the journal thread reads it.
  {
    absl::MutexLock lock(&queue_mu_);
    if (!stopping_) {
      for (Appending& p : deferred) queue_.push_back(std::move(p));
      return;
    }
  }
  for (Appending& p : deferred) p.done(absl::FailedPreconditionError("store is closing"));
}

void SqliteStore::JournalLocked(std::vector<Appending>& batch, bool may_read,
                                std::vector<std::optional<absl::Status>>& results) {
  std::vector<size_t> accepted;
  accepted.reserve(batch.size());
  // PendingKey of each accepted entry ("" without an idempotency key); reserved, so
  // that batch_keys can view its strings.
  std::vector<std::string> keys;
  keys.reserve(batch.size());
  std::string records;
  const uint64_t first_seq = next_seq_;
  if (fail_commits_.load()) {
    for (auto& r : results) r = absl::UnavailableError("ledger journal write failed");
  } else {
    // Duplicates are refused before anything is written. Holding pending_mu_ keeps the
    // applier from dropping an entry from memory between the memory and the SQLite
    // check (it drops entries only after their commit, so a read transaction opened
    // meanwhile sees every entry missing from memory).
    absl::MutexLock pending_lock(&pending_mu_);
    bool in_txn = false;
    absl::flat_hash_set<std::string_view> batch_keys;
    absl::flat_hash_set<std::string_view> batch_ids;
    for (size_t i = 0; i < batch.size(); ++i) {
      const UsageEvent& e = batch[i].entry.event;
      std::string key = e.idempotency_key.empty() ? std::string()
                                                  : PendingKey(e.tenant_id, e.idempotency_key);
      if ((!key.empty() && batch_keys.contains(key)) ||
          batch_ids.contains(std::string_view(e.event_id))) {
        results[i] = absl::AlreadyExistsError("idempotency key already recorded");
        continue;
      }
      absl::StatusOr<Recorded> recorded = IsRecorded(e, key, may_read, &in_txn);
      if (!recorded.ok()) {
        results[i] = recorded.status();
        continue;
      }
      if (*recorded == Recorded::kUnknown) continue;  // deferred: results[i] stays empty
      if (*recorded == Recorded::kYes) {
        results[i] = absl::AlreadyExistsError("idempotency key already recorded");
        continue;
      }
      keys.push_back(std::move(key));
      if (i + 1 < batch.size()) {  // entries after this one are checked against it
        if (!keys.back().empty()) batch_keys.insert(keys.back());
        batch_ids.insert(std::string_view(e.event_id));
      }
      EncodeJournalRecord(next_seq_++, batch[i].entry, &records);
      accepted.push_back(i);
    }
    if (in_txn) {  // ends the read transaction
      reader_.RollbackIfOpen();
      read_mu_.Unlock();
    }
  }

  if (!accepted.empty()) {
    absl::Status written = journal_.Append(records, options_.fsync_each_commit);
    for (size_t i : accepted) results[i] = written;
    if (!written.ok()) {
      next_seq_ = first_seq;  // the failed records were cut off the file
    } else {
      bool rotate = static_cast<int64_t>(journal_.size()) >= options_.journal_rotate_bytes;
      std::string sealed_path = journal_.path();
      if (rotate) {
        absl::StatusOr<JournalFile> next = JournalFile::Create(
            JournalFilePath(options_.path, journal_generation_ + 1), options_.fsync_each_commit);
        // On failure keep appending to the current file and try again next batch.
        rotate = next.ok();
        if (rotate) {
          ++journal_generation_;
          journal_ = *std::move(next);
        }
      }
      absl::MutexLock lock(&pending_mu_);
      const size_t segment_size = static_cast<size_t>(options_.apply_batch);
      for (size_t k = 0; k < accepted.size(); ++k) {
        if (segments_.empty() || segments_.back().entries.size() >= segment_size ||
            (front_taken_ && segments_.size() == 1)) {
          segments_.emplace_back();
        }
        Segment& segment = segments_.back();
        segment.entries.emplace_back(first_seq + k, std::move(batch[accepted[k]].entry));
        const UsageEvent& e = segment.entries.back().entry.event;
        segment.ids.insert(std::string_view(e.event_id));
        NoteJournaledId(e.event_id);
        if (!keys[k].empty()) {
          recorded_keys_.Add(keys[k]);
          if (keys_during_rebuild_) keys_during_rebuild_->push_back(keys[k]);
          segment.keys.emplace(std::move(keys[k]), &e);
        }
      }
      journaled_seq_ = next_seq_ - 1;
      unapplied_count_.fetch_add(accepted.size(), std::memory_order_relaxed);
      if (applier_in_background_) PlaceApplier();
      if (rotate) sealed_.push_back(SealedJournal{journaled_seq_, std::move(sealed_path)});
    }
  }
}

bool SqliteStore::BackgroundApplySupported() { return MayLeaveSchedIdle(); }

void SqliteStore::PlaceApplier(bool raise) {
  if (!background_apply_ || applier_tid_ == 0) return;
  const bool background = !raise &&
                          unapplied_count_.load(std::memory_order_relaxed) <
                              static_cast<size_t>(options_.background_backlog) &&
                          barrier_waiters_ == 0 && !apply_stopping_;
  if (background != applier_in_background_ && SetSchedIdle(applier_tid_, background)) {
    applier_in_background_ = background;
  }
}

const UsageEvent* SqliteStore::FindPendingKey(std::string_view key) const {
  for (const Segment& segment : segments_) {
    auto it = segment.keys.find(absl::string_view(key.data(), key.size()));
    if (it != segment.keys.end()) return it->second;
  }
  return nullptr;
}

bool SqliteStore::IsPendingId(std::string_view event_id) const {
  for (const Segment& segment : segments_) {
    if (segment.ids.contains(event_id)) return true;
  }
  return false;
}

bool SqliteStore::ApplierHasWork() const {
  return (!segments_.empty() && !apply_paused_) || apply_stopping_;
}

bool SqliteStore::ApplyBatchReady() const {
  // A full segment: the oldest, as segments fill one at a time.
  return (!segments_.empty() &&
          segments_.front().entries.size() >= static_cast<size_t>(options_.apply_batch)) ||
         barrier_waiters_ > 0 || apply_stopping_ || apply_paused_;
}

void SqliteStore::ApplierLoop() {
  // Nobody waits for the applier in the normal course (only ledger reads, which cut its
  // wait short): it runs at a lower priority, so that its batches of thousands of rows
  // do not take a core from the threads that answer requests for whole time slices, and
  // in the background while its backlog is small (PlaceApplier). Linux applies a nice
  // value and a policy to the calling thread alone; failure changes nothing.
  const auto tid = static_cast<pid_t>(syscall(SYS_gettid));
  setpriority(PRIO_PROCESS, static_cast<id_t>(tid), kApplierNice);
  {
    absl::MutexLock lock(&pending_mu_);
    applier_tid_ = tid;
    PlaceApplier();
  }
  absl::Duration backoff = absl::Milliseconds(1);
  std::vector<const Journaled*> work;
  for (;;) {
    work.clear();
    const Segment* taken = nullptr;
    {
      absl::MutexLock lock(&pending_mu_);
      pending_mu_.Await(absl::Condition(this, &SqliteStore::ApplierHasWork));
      if (apply_stopping_ && (segments_.empty() || apply_paused_)) return;
      if (!ApplyBatchReady()) {
        pending_mu_.AwaitWithTimeout(absl::Condition(this, &SqliteStore::ApplyBatchReady),
                                     options_.apply_delay);
      }
      if (apply_paused_) continue;
      front_taken_ = true;  // closed: new entries go to a segment of their own
      taken = &segments_.front();
    }
    // Nothing changes the taken segment until it is dropped below (others only read it
    // and add segments behind it, which moves none), so it is read without the lock.
    for (const Journaled& j : taken->entries) work.push_back(&j);
    absl::Status applied = ApplyJournaled(work);
    std::vector<std::string> done_files;
    // The applied segment, moved out under pending_mu_ and freed after it: freeing a
    // batch of events' strings takes a millisecond, which Append (it needs pending_mu_
    // for every report) would wait for.
    Segment dropped;
    {
      absl::MutexLock lock(&pending_mu_);
      front_taken_ = false;
      if (applied.ok()) {
        applied_seq_ = work.back()->seq;
        unapplied_count_.fetch_sub(work.size(), std::memory_order_relaxed);
        dropped = std::move(segments_.front());
        segments_.pop_front();
      }
      PlaceApplier();
      if (applied.ok()) {
        last_apply_error_ = absl::OkStatus();
        while (!sealed_.empty() && sealed_.front().last_seq <= applied_seq_) {
          done_files.push_back(std::move(sealed_.front().path));
          sealed_.erase(sealed_.begin());
        }
      } else {
        ++apply_failures_;
        last_apply_error_ = applied;
        if (apply_stopping_) return;  // the journal keeps the rest for the next open
      }
    }
    work.clear();  // points into `dropped`
    dropped = Segment();
    // Every record in these files is applied (and synced with synchronous=FULL).
    for (const std::string& path : done_files) unlink(path.c_str());
    if (applied.ok()) {
      backoff = absl::Milliseconds(1);
    } else {
      absl::SleepFor(backoff);
      backoff = std::min(backoff * 2, absl::Milliseconds(500));
    }
  }
}

absl::Status SqliteStore::ApplyJournaled(const std::vector<const Journaled*>& entries) {
  if (entries.empty()) return absl::OkStatus();
  // The counter and daily rows of the whole batch are summed in memory first: one upsert
  // per row touched instead of one per event and row (many events of a batch share a
  // tenant's counters and a user's daily row). Sums commute, so the rows end up as
  // applying the entries one by one would leave them.
  struct CounterSum {
    int64_t amount = 0;
    absl::Time expires_at = absl::InfinitePast();
  };
  struct DailySum {
    Usage usage;
    Cost cost;
    int64_t requests = 0;
  };
  using CounterKey = std::tuple<std::string_view, std::string_view, int64_t>;
  // date, tenant, user, agent, provider, model
  using DailyKey = std::tuple<std::string, std::string_view, std::string_view, std::string_view,
                              std::string_view, std::string_view>;
  absl::flat_hash_map<CounterKey, CounterSum> counters;
  absl::flat_hash_map<DailyKey, DailySum> daily;
  absl::MutexLock lock(&write_mu_);
  BlockBatch blocks;
  absl::Status s = ws_.begin.Run();
  for (size_t i = 0; s.ok() && i < entries.size(); ++i) {
    const LedgerEntry& entry = entries[i]->entry;
    s = AddEvent(blocks, entry);
    // Already present (a replay of an applied entry): skipped with its counters, and
    // nothing of it is written.
    if (absl::IsAlreadyExists(s)) {
      s = absl::OkStatus();
      continue;
    }
    if (!s.ok()) break;
    for (const CounterDelta& c : entry.counters) {
      CounterSum& sum = counters[CounterKey(c.limit_id, c.subject, c.window_start)];
      sum.amount += c.amount;
      sum.expires_at = std::max(sum.expires_at, c.expires_at);
    }
    const UsageEvent& e = entry.event;
    DailySum& d = daily[DailyKey(DailyDate(entry), e.tenant_id, e.user_id, e.agent, e.provider,
                                 DailyModel(e))];
    d.usage += e.usage;
    d.cost += e.cost;
    ++d.requests;
  }
  for (auto it = counters.begin(); s.ok() && it != counters.end(); ++it) {
    const auto& [limit_id, subject, window_start] = it->first;
    ws_.upsert_counter.BindBorrowed(limit_id, subject, window_start, it->second.amount,
                                    ToNanos(it->second.expires_at));
    s = ws_.upsert_counter.Run();
  }
  for (auto it = daily.begin(); s.ok() && it != daily.end(); ++it) {
    const auto& [date, tenant_id, user_id, agent, provider, model] = it->first;
    const DailySum& d = it->second;
    s = UpsertDaily(date, tenant_id, user_id, agent, provider, model, d.usage, d.cost,
                    d.requests);
  }
  if (s.ok()) s = WriteBlocks(blocks);
  if (s.ok()) {
    set_applied_.Bind(static_cast<int64_t>(entries.back()->seq));
    s = set_applied_.Run();
  }
  if (s.ok()) s = ws_.commit.Run();
  if (!s.ok()) writer_.RollbackIfOpen();
  return s;
}

absl::Status SqliteStore::WaitApplied() {
  if (!journaled_) return absl::OkStatus();
  absl::MutexLock lock(&pending_mu_);
  const uint64_t target = journaled_seq_;
  if (applied_seq_ >= target) return absl::OkStatus();
  const uint64_t failures = apply_failures_;
  ++barrier_waiters_;
  PlaceApplier();
  auto reached = [&]() ABSL_NO_THREAD_SAFETY_ANALYSIS {  // runs under pending_mu_
    return applied_seq_ >= target || apply_failures_ != failures || apply_paused_ ||
           apply_stopping_;
  };
  pending_mu_.Await(absl::Condition(&reached));
  --barrier_waiters_;
  PlaceApplier();
  if (applied_seq_ >= target) return absl::OkStatus();
  return absl::UnavailableError(absl::StrCat(
      "ledger entries are not applied yet: ",
      last_apply_error_.ok() ? "applier paused or stopping" : last_apply_error_.message()));
}

// --- Ledger: reads and retention.

absl::StatusOr<std::optional<UsageEvent>> SqliteStore::FindEventByIdempotencyKey(
    std::string_view tenant_id, std::string_view idempotency_key) {
  if (idempotency_key.empty()) return std::optional<UsageEvent>();
  if (journaled_) {
    // Journaled but not applied yet: answered from memory. The applier removes an entry
    // from memory only after its commit, under pending_mu_, so a miss here means that
    // the SQLite read below sees it.
    absl::MutexLock lock(&pending_mu_);
    const UsageEvent* pending = FindPendingKey(PendingKey(tenant_id, idempotency_key));
    if (pending != nullptr) return std::optional<UsageEvent>(*pending);
    return FindEventInSqlite(tenant_id, idempotency_key);
  }
  return FindEventInSqlite(tenant_id, idempotency_key);
}

absl::StatusOr<std::optional<UsageEvent>> SqliteStore::FindEventInSqlite(
    std::string_view tenant_id, std::string_view idempotency_key) {
  return Read([&](sqlite3* db) ABSL_NO_THREAD_SAFETY_ANALYSIS  // Read holds read_mu_
              -> absl::StatusOr<std::optional<UsageEvent>> {
    // A duplicate report asks this: the reader keeps the statement prepared (preparing
    // it costs more than the lookup). An in-memory store reads on its writer.
    Stmt prepared;
    if (db != reader_.get()) {
      absl::StatusOr<Stmt> p = Stmt::Prepare(db, kBlockByKey);
      if (!p.ok()) return p.status();
      prepared = *std::move(p);
    }
    Stmt& s = db == reader_.get() ? find_event_by_key_ : prepared;
    s.Bind(tenant_id, idempotency_key);
    absl::StatusOr<bool> row = s.Step();
    absl::StatusOr<std::optional<UsageEvent>> found = std::optional<UsageEvent>();
    if (!row.ok()) {
      found = row.status();
    } else if (*row) {
      absl::StatusOr<UsageEvent> e =
          EventWithKey(s.BlobView(0), s.Int(1), tenant_id, idempotency_key);
      if (e.ok()) {
        found = std::optional<UsageEvent>(*std::move(e));
      } else {
        found = e.status();
      }
    }
    s.Reset();  // ends the statement's read of the database
    return found;
  });
}

absl::StatusOr<EventPage> SqliteStore::ListEvents(const EventFilter& f) {
  if (absl::Status s = ValidateFilter(f); !s.ok()) return s;
  if (absl::Status s = WaitApplied(); !s.ok()) return s;
  std::optional<CursorKey> cursor;
  if (!f.cursor.empty()) {
    absl::StatusOr<CursorKey> key = DecodeCursor(f.cursor);
    if (!key.ok()) return key.status();
    cursor = *std::move(key);
  }
  // The blocks that may hold a match, newest last event first.
  std::string sql = "SELECT data, events, max_ts FROM event_blocks WHERE 1";
  std::vector<Param> params;
  auto where = [&](std::string_view clause, auto value) {
    absl::StrAppend(&sql, " AND ", ToAbsl(clause));
    params.emplace_back(value);
  };
  if (!f.tenant_id.empty()) where("tenant_id = ?", f.tenant_id);
  if (f.from) where("max_ts >= ?", ToNanos(*f.from));
  if (f.to) where("min_ts < ?", ToNanos(*f.to));
  if (cursor) where("min_ts <= ?", cursor->ts_nanos);
  absl::StrAppend(&sql, " ORDER BY max_ts DESC");

  // Filters on the record's head, without decoding the rest of it.
  auto matches = [&](const JournalHead& h) {
    return (f.tenant_id.empty() || h.tenant_id == f.tenant_id) &&
           (f.user_id.empty() || h.user_id == f.user_id) &&
           (f.agent.empty() || h.agent == f.agent) &&
           (f.model.empty() || h.model == f.model || h.model_used == f.model) &&
           (!f.from || h.ts_nanos >= ToNanos(*f.from)) && (!f.to || h.ts_nanos < ToNanos(*f.to)) &&
           (!cursor || h.ts_nanos < cursor->ts_nanos ||
            (h.ts_nanos == cursor->ts_nanos && h.event_id < cursor->event_id));
  };
  // Newest first: (ts, event_id) descending. `kept` is a heap whose top is the oldest
  // of the limit + 1 newest matches so far (one more: is there a next page?).
  auto newer = [](const UsageEvent& a, const UsageEvent& b) {
    return std::tie(a.ts, a.event_id) > std::tie(b.ts, b.event_id);
  };
  auto head_newer = [](const JournalHead& h, const UsageEvent& e) {
    const int64_t ts = ToNanos(e.ts);
    return h.ts_nanos > ts || (h.ts_nanos == ts && h.event_id > e.event_id);
  };
  const size_t want = static_cast<size_t>(f.limit) + 1;
  return Read([&](sqlite3* db) -> absl::StatusOr<EventPage> {
    absl::StatusOr<Stmt> s = Stmt::Prepare(db, sql);
    if (!s.ok()) return s.status();
    BindParams(*s, params);
    std::vector<UsageEvent> kept;
    for (;;) {
      absl::StatusOr<bool> row = s->Step();
      if (!row.ok()) return row.status();
      if (!*row) break;
      // Every event of this block and of the blocks after it is at or before max_ts.
      if (kept.size() == want && s->Int(2) < ToNanos(kept.front().ts)) break;
      absl::StatusOr<std::vector<JournalHead>> heads = BlockHeads(s->BlobView(0), s->Int(1));
      if (!heads.ok()) return heads.status();
      for (const JournalHead& h : *heads) {
        if (!matches(h) || (kept.size() == want && !head_newer(h, kept.front()))) continue;
        absl::StatusOr<UsageEvent> e = DecodeEvent(h);
        if (!e.ok()) return e.status();
        kept.push_back(*std::move(e));
        std::push_heap(kept.begin(), kept.end(), newer);
        if (kept.size() > want) {
          std::pop_heap(kept.begin(), kept.end(), newer);
          kept.pop_back();
        }
      }
    }
    std::sort(kept.begin(), kept.end(), newer);
    EventPage page;
    page.events = std::move(kept);
    if (page.events.size() > static_cast<size_t>(f.limit)) {
      page.events.resize(f.limit);
      const UsageEvent& last = page.events.back();
      page.next_cursor = EncodeCursor(ToNanos(last.ts), last.event_id);
    }
    return page;
  });
}

absl::StatusOr<std::vector<DailyRow>> SqliteStore::ListDaily(const DailyQuery& q) {
  if (absl::Status s = WaitApplied(); !s.ok()) return s;
  std::string sql =
      "SELECT date, tenant_id, user_id, agent, provider, model, input_tokens, output_tokens, "
      "cached_input_tokens, cache_write_tokens, reasoning_tokens, total_tokens, input_cost, "
      "output_cost, requests FROM daily WHERE 1";
  std::vector<Param> params;
  if (!q.tenant_id.empty()) {
    sql += " AND tenant_id = ?";
    params.emplace_back(q.tenant_id);
  }
  if (!q.user_id.empty()) {
    sql += " AND user_id = ?";
    params.emplace_back(q.user_id);
  }
  if (!q.from_date.empty()) {
    sql += " AND date >= ?";
    params.emplace_back(q.from_date);
  }
  if (!q.to_date.empty()) {
    sql += " AND date <= ?";
    params.emplace_back(q.to_date);
  }
  sql += " ORDER BY date, tenant_id, user_id, agent, provider, model";
  return Read([&](sqlite3* db) -> absl::StatusOr<std::vector<DailyRow>> {
    absl::StatusOr<Stmt> s = Stmt::Prepare(db, sql);
    if (!s.ok()) return s.status();
    BindParams(*s, params);
    return Collect<DailyRow>(*s, [](const Stmt& st) -> absl::StatusOr<DailyRow> {
      DailyRow r;
      r.date = st.Text(0);
      r.tenant_id = st.Text(1);
      r.user_id = st.Text(2);
      r.agent = st.Text(3);
      r.provider = st.Text(4);
      r.model = st.Text(5);
      r.usage.input_tokens = st.Int(6);
      r.usage.output_tokens = st.Int(7);
      r.usage.cached_input_tokens = st.Int(8);
      r.usage.cache_write_tokens = st.Int(9);
      r.usage.reasoning_tokens = st.Int(10);
      r.usage.total_tokens = st.Int(11);
      r.cost.input = st.Int(12);
      r.cost.output = st.Int(13);
      r.requests = st.Int(14);
      return r;
    });
  });
}

absl::StatusOr<std::vector<CounterDelta>> SqliteStore::LoadCounters(absl::Time now) {
  if (absl::Status s = WaitApplied(); !s.ok()) return s;
  return Read([&](sqlite3* db) -> absl::StatusOr<std::vector<CounterDelta>> {
    absl::StatusOr<Stmt> s =
        Stmt::Prepare(db,
                      "SELECT limit_id, subject, window_start, amount, expires_at FROM counters "
                      "WHERE expires_at > ? ORDER BY limit_id, subject, window_start");
    if (!s.ok()) return s.status();
    s->Bind(ToNanos(now));
    return Collect<CounterDelta>(*s, [](const Stmt& st) -> absl::StatusOr<CounterDelta> {
      return CounterDelta{st.Text(0), st.Text(1), st.Int(2), st.Int(3), FromNanos(st.Int(4))};
    });
  });
}

absl::StatusOr<int64_t> SqliteStore::Sweep(absl::Time before, absl::Time now) {
  if (absl::Status s = WaitApplied(); !s.ok()) return s;
  // A few blocks per transaction, releasing the write connection between them so that
  // group commits are not held up behind a large delete.
  constexpr int kChunk = 64;
  int64_t deleted = 0;
  for (;;) {
    absl::StatusOr<std::pair<int, int64_t>> step =
        WithWriter([&]() ABSL_NO_THREAD_SAFETY_ANALYSIS -> absl::StatusOr<std::pair<int, int64_t>> {
          if (absl::Status s = ws_.begin.Run(); !s.ok()) return s;
          absl::StatusOr<std::pair<int, int64_t>> r = SweepBlocks(ToNanos(before), kChunk);
          absl::Status s = r.ok() ? ws_.commit.Run() : r.status();
          if (!s.ok()) {
            writer_.RollbackIfOpen();
            return s;
          }
          return r;
        });
    if (!step.ok()) return step.status();
    deleted += step->second;
    if (step->first < kChunk) break;
  }
  absl::StatusOr<int> n = Write("DELETE FROM counters WHERE expires_at <= ?", ToNanos(now));
  if (!n.ok()) return n.status();
  // The keys of the events deleted leave the idempotency filter at its next rebuild.
  if (deleted > 0) {
    if (absl::Status s = RebuildKeyFilter(/*only_if_stale=*/true); !s.ok()) {
      return absl::Status(s.code(), absl::StrCat(deleted, " events swept, but rebuilding the "
                                                 "idempotency key filter failed: ",
                                                 s.message()));
    }
  }
  return deleted;
}

absl::StatusOr<std::pair<int, int64_t>> SqliteStore::SweepBlocks(int64_t before_nanos,
                                                                  int max_blocks) {
  struct Found {
    int64_t block_id;
    std::vector<JournalRecord> records;
  };
  std::vector<Found> found;
  {
    absl::StatusOr<Stmt> select = Stmt::Prepare(
        writer_.get(),
        "SELECT block_id, data, events FROM event_blocks WHERE min_ts < ? ORDER BY min_ts "
        "LIMIT ?");
    if (!select.ok()) return select.status();
    select->Bind(before_nanos, max_blocks);
    for (;;) {
      absl::StatusOr<bool> row = select->Step();
      if (!row.ok()) return row.status();
      if (!*row) break;
      absl::StatusOr<std::vector<JournalRecord>> records =
          DecodeBlock(select->BlobView(1), select->Int(2));
      if (!records.ok()) return records.status();
      found.push_back(Found{select->Int(0), *std::move(records)});
    }
  }
  absl::StatusOr<Stmt> delete_id =
      Stmt::Prepare(writer_.get(), "DELETE FROM event_ids WHERE event_id = ?");
  absl::StatusOr<Stmt> delete_key = Stmt::Prepare(
      writer_.get(), "DELETE FROM event_keys WHERE tenant_id = ? AND idempotency_key = ?");
  absl::StatusOr<Stmt> delete_block =
      Stmt::Prepare(writer_.get(), "DELETE FROM event_blocks WHERE block_id = ?");
  absl::StatusOr<Stmt> rewrite_block = Stmt::Prepare(
      writer_.get(),
      "UPDATE event_blocks SET min_ts = ?, max_ts = ?, events = ?, data = ? WHERE block_id = ?");
  for (auto* st : {&delete_id, &delete_key, &delete_block, &rewrite_block}) {
    if (!st->ok()) return st->status();
  }
  int64_t deleted = 0;
  for (Found& block : found) {
    BlockBatch::Block kept;
    for (JournalRecord& r : block.records) {
      const UsageEvent& e = r.entry.event;
      if (ToNanos(e.ts) >= before_nanos) {
        AppendToBlock(kept, r.entry);
        continue;
      }
      if (absl::Status s = delete_id->Bind(e.event_id).Run(); !s.ok()) return s;
      if (!e.idempotency_key.empty()) {
        if (absl::Status s = delete_key->Bind(e.tenant_id, e.idempotency_key).Run(); !s.ok()) {
          return s;
        }
      }
      ++deleted;
    }
    absl::Status s = kept.events == 0
                         ? delete_block->Bind(block.block_id).Run()
                         : rewrite_block->Bind(kept.min_ts, kept.max_ts, kept.events,
                                               Blob{kept.data}, block.block_id)
                               .Run();
    if (!s.ok()) return s;
  }
  return std::make_pair(static_cast<int>(found.size()), deleted);
}

absl::Status SqliteStore::Ping() {
  return Read([&](sqlite3* db) -> absl::Status {
    // Reads the schema from the file, so a vanished or unreadable file shows.
    absl::StatusOr<Stmt> s = Stmt::Prepare(db, "SELECT count(*) FROM sqlite_schema");
    if (!s.ok()) return s.status();
    return s->Run();
  });
}

}  // namespace store

absl::StatusOr<std::unique_ptr<Store>> OpenSqliteStore(const SqliteOptions& options,
                                                       const Clock* clock) {
  absl::StatusOr<std::unique_ptr<store::SqliteStore>> s = store::SqliteStore::Open(options, clock);
  if (!s.ok()) return s.status();
  return std::unique_ptr<Store>(*std::move(s));
}

absl::StatusOr<int> MigrateSqlite(const std::string& path) {
  absl::StatusOr<store::Db> db = store::Db::Open(path, 5000);
  if (!db.ok()) return db.status();
  return store::Migrate(*db);
}

}  // namespace tollgate
