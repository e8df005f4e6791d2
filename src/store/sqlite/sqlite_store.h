#pragma once

// The SQLite backend of Store. See docs/storage.md for the schema and the durability
// argument.
//
// Connections: one write connection, used by the thread that writes the ledger to
// SQLite and by configuration writes, guarded by write_mu_; one read connection guarded
// by read_mu_ (WAL lets it read while the writer writes). For ":memory:" the write
// connection serves reads too.
//
// Ledger write path, journal mode (file databases, SqliteOptions::journal): Append
// queues; the journal thread takes everything queued, refuses duplicates (against the
// journaled-but-unapplied entries in memory, summaries of what is recorded, and SQLite),
// writes the rest to the journal in one write plus fdatasync, moves them to the unapplied
// segments (`segments_`) and acknowledges them (without fsync_each_commit, Append/AppendAll do this themselves
// for their entries, leaving to the journal thread only those that need a read of
// SQLite); the applier thread applies the oldest segment to SQLite in one transaction that
// also records the last applied sequence number, then drops the segment whole. Ledger reads wait for the applier to
// pass every entry journaled before they started (WaitApplied). Without the journal
// (":memory:", or journal = false) the writer thread commits each batch to SQLite and
// acknowledges after the commit.
//
// Thread safety: every public method is safe to call concurrently.

#include <sys/types.h>

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
#include "absl/container/flat_hash_map.h"
#include "absl/container/flat_hash_set.h"
#include "absl/synchronization/mutex.h"
#include "store/sqlite/journal.h"
#include "store/sqlite/key_filter.h"
#include "store/sqlite/sqlite_db.h"
#include "tollgate/store.h"

namespace tollgate::store {

class SqliteStore final : public Store {
 public:
  static absl::StatusOr<std::unique_ptr<SqliteStore>> Open(const SqliteOptions& options,
                                                           const Clock* clock);
  // Whether this process may run the applier in the background (SqliteOptions::
  // background_backlog): Linux, and the right to raise a thread out of SCHED_IDLE.
  static bool BackgroundApplySupported();
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
  void AppendAll(std::vector<Appending> entries) override;
  absl::StatusOr<std::optional<UsageEvent>> FindEventByIdempotencyKey(
      std::string_view tenant_id, std::string_view idempotency_key) override;
  absl::StatusOr<EventPage> ListEvents(const EventFilter& filter) override;
  absl::StatusOr<std::vector<DailyRow>> ListDaily(const DailyQuery& query) override;
  absl::StatusOr<std::vector<CounterDelta>> LoadCounters(absl::Time now) override;
  absl::StatusOr<int64_t> Sweep(absl::Time before, absl::Time now) override;
  absl::Status Ping() override;

  // Fault injection: while set, every commit on the write connection fails (SQLite
  // rolls it back), as a failed fsync would, and so does every journal write.
  void FailCommitsForTesting(bool fail) { fail_commits_.store(fail); }
  // While set, the applier applies nothing (journaled entries stay in the journal and in
  // memory), as if the process were killed between acknowledgement and apply. Ledger
  // reads then wait; tests use this with the destructor or a fork.
  void PauseApplierForTesting(bool pause);
  // Highest sequence number applied to SQLite (journal mode).
  uint64_t AppliedSeqForTesting();
  // Event ids the id filter holds now (at most options.id_filter_size).
  size_t FilteredIdsForTesting();
  // Keys the idempotency key filter holds now, and its rebuild (which Sweep runs once
  // the filter has doubled since it was built) run at once.
  size_t FilteredKeysForTesting();
  absl::Status RebuildKeyFilterForTesting();

 private:
  // Statements of the write path, prepared once.
  struct WriteStatements {
    Stmt begin, commit, savepoint, release, rollback_to;
    Stmt insert_id, insert_key, delete_id, insert_block, upsert_counter, upsert_daily;
  };

  // The events of one write transaction, per tenant, until WriteBlocks makes each
  // tenant's a row of event_blocks (docs/storage.md, "Events in blocks").
  struct BlockBatch {
    struct Block {
      int64_t block_id = 0;
      int64_t min_ts = 0;
      int64_t max_ts = 0;
      int64_t events = 0;
      std::string data;  // journal records with sequence numbers 1..events
    };
    absl::flat_hash_map<std::string, Block> by_tenant;
  };

  // A journaled entry waiting to be applied.
  struct Journaled {
    uint64_t seq = 0;
    LedgerEntry entry;
  };
  // Journaled entries in journal order, at most options_.apply_batch of them, with the
  // PendingKey and event id of each. Entries never move (std::deque, pushed at the back;
  // moving the segment keeps them in place), so the indexes point into them. The applier
  // applies the oldest segment in one transaction and then drops it whole: its hold of
  // pending_mu_ does not grow with the batch (a request thread waiting for the applier,
  // which runs in the background and may lose its core while it holds the lock, waited
  // for milliseconds when it dropped entries one by one).
  struct Segment {
    std::deque<Journaled> entries;
    absl::flat_hash_map<std::string, const UsageEvent*> keys;
    absl::flat_hash_set<std::string_view> ids;
  };
  // A journal file whose records all have seq <= last_seq; deleted once applied.
  struct SealedJournal {
    uint64_t last_seq = 0;
    std::string path;
  };

  SqliteStore(const SqliteOptions& options, const Clock* clock);
  absl::Status Init();
  // Applies the records of every journal file left by an earlier run that are newer than
  // the applied sequence number, then deletes those files. Runs before any thread.
  absl::Status Recover();
  absl::StatusOr<uint64_t> ReadAppliedSeq();

  void JournalLoop();
  // Waits for queued entries and moves up to max_batch of them (after max_batch_delay,
  // unless the batch is full) into `batch`. False once stopping with nothing queued.
  bool TakeBatch(std::vector<Appending>& batch) ABSL_LOCKS_EXCLUDED(queue_mu_);
  // Journals `batch` (duplicates refused, the rest written in one write) and runs each
  // `done` after journal_mu_ is released. Called by the journal thread (`may_read`), and
  // by Append itself when the journal is not fsynced: then an entry that only a read of
  // SQLite can tell from a duplicate is queued for the journal thread instead, so that
  // a request thread never waits for SQLite.
  void JournalBatch(std::vector<Appending>& batch, bool may_read) ABSL_LOCKS_EXCLUDED(journal_mu_);
  // JournalBatch's work: results[i] is the answer for batch[i], empty for an entry
  // deferred to the journal thread.
  void JournalLocked(std::vector<Appending>& batch, bool may_read,
                     std::vector<std::optional<absl::Status>>& results)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(journal_mu_);
  void ApplierLoop();
  // Applies `entries` (seq ascending) in one transaction that also records the last seq.
  // An entry whose event is already present (same event_id, or same idempotency key) is
  // skipped with its counters.
  absl::Status ApplyJournaled(const std::vector<const Journaled*>& entries);
  // The barrier of ledger reads: waits until every entry journaled before the call is
  // applied. Unavailable when an apply fails meanwhile. OK at once without a journal.
  absl::Status WaitApplied();
  enum class Recorded { kNo, kYes, kUnknown };
  // Whether e's (tenant_id, idempotency_key), whose PendingKey is `key` ("" without a
  // key), or its event_id is recorded, in memory or in SQLite. SQLite is asked only when
  // the summaries (recorded_keys_, journaled_ids_, id_floor_) cannot rule the
  // entry out, and only with `may_read` (else kUnknown); the first read locks read_mu_
  // and opens a read transaction on reader_ (*in_txn), which the caller ends and unlocks.
  absl::StatusOr<Recorded> IsRecorded(const UsageEvent& e, std::string_view key, bool may_read,
                                      bool* in_txn) ABSL_EXCLUSIVE_LOCKS_REQUIRED(pending_mu_);
  // options_.busy_timeout for sqlite3_busy_timeout.
  int BusyMs() const;
  // A new query-only connection to the database file.
  absl::StatusOr<Db> OpenReadConnection() const;
  // Fills recorded_keys_ and id_floor_ from SQLite. Runs before any thread.
  absl::Status LoadRecordedSummary();
  // A filter of every PendingKey in the events table, read through `db`.
  static absl::StatusOr<KeyFilter> LoadKeyFilter(sqlite3* db);
  // Builds recorded_keys_ again from SQLite (forgetting the keys of swept events) plus
  // the keys journaled meanwhile or not yet applied; with `only_if_stale`, only once
  // the filter holds twice the keys it was last built with. Journal mode only; the
  // scan runs on a connection of its own, without pending_mu_.
  absl::Status RebuildKeyFilter(bool only_if_stale);
  // Adds a journaled event id to the id summary.
  void NoteJournaledId(const std::string& event_id) ABSL_EXCLUSIVE_LOCKS_REQUIRED(pending_mu_);
  absl::StatusOr<std::optional<UsageEvent>> FindEventInSqlite(std::string_view tenant_id,
                                                             std::string_view idempotency_key);
  static std::string PendingKey(std::string_view tenant_id, std::string_view idempotency_key);
  // The unapplied entry with this PendingKey, or with this event id; nullptr/false if none.
  const UsageEvent* FindPendingKey(std::string_view key) const
      ABSL_SHARED_LOCKS_REQUIRED(pending_mu_);
  bool IsPendingId(std::string_view event_id) const ABSL_SHARED_LOCKS_REQUIRED(pending_mu_);

  // Runs the applier in the background (SCHED_IDLE) or at kApplierNice: in the
  // background only while fewer than options_.background_backlog entries await it, no
  // read waits for it and the store is not stopping; `raise` brings it forward anyway
  // (for a writer that may wait for the batch it applies). Called wherever one of those
  // changes: the applier after each batch, journal writes, the read barrier, Write.
  void PlaceApplier(bool raise = false) ABSL_EXCLUSIVE_LOCKS_REQUIRED(pending_mu_);
  bool ApplierHasWork() const ABSL_SHARED_LOCKS_REQUIRED(pending_mu_);
  bool ApplyBatchReady() const ABSL_SHARED_LOCKS_REQUIRED(pending_mu_);

  void WriterLoop();
  void WriteBatch(std::vector<Appending>& batch);
  // Writes one entry inside the open transaction, its event into `batch`. AlreadyExists
  // for a duplicate (its other writes are then the caller's to roll back).
  absl::Status ApplyEntry(const LedgerEntry& entry, BlockBatch& batch)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(write_mu_);
  // Records the entry's event id and idempotency key and adds its record to its
  // tenant's block in `batch`. AlreadyExists, with nothing written, for a duplicate.
  absl::Status AddEvent(BlockBatch& batch, const LedgerEntry& entry)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(write_mu_);
  // The block of `tenant_id` in `batch`, with a new block id if it had none. The
  // reference holds until the next call (the map may grow then).
  BlockBatch::Block& BlockFor(BlockBatch& batch, std::string_view tenant_id)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(write_mu_);
  // Records e's id and idempotency key as in `block_id`. AlreadyExists, with nothing
  // written, when either is recorded.
  absl::Status InsertEventIndex(const UsageEvent& e, int64_t block_id)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(write_mu_);
  static void AppendToBlock(BlockBatch::Block& block, const LedgerEntry& entry);
  // One event_blocks row per non-empty block of `batch`.
  absl::Status WriteBlocks(const BlockBatch& batch) ABSL_EXCLUSIVE_LOCKS_REQUIRED(write_mu_);
  // Moves the rows of the events table of schema version 2, if any, into blocks, then
  // drops that table. Runs in Init, before any thread.
  absl::Status MoveLegacyEvents() ABSL_EXCLUSIVE_LOCKS_REQUIRED(write_mu_);
  // Adds `requests` events' usage and cost to the daily row of the key given.
  absl::Status UpsertDaily(std::string_view date, std::string_view tenant_id,
                           std::string_view user_id, std::string_view agent,
                           std::string_view provider, std::string_view model, const Usage& usage,
                           const Cost& cost, int64_t requests)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(write_mu_);
  bool HasWork() const ABSL_SHARED_LOCKS_REQUIRED(queue_mu_) {
    return !queue_.empty() || stopping_;
  }
  bool BatchFullOrStopping() const ABSL_SHARED_LOCKS_REQUIRED(queue_mu_) {
    return queue_.size() >= static_cast<size_t>(options_.max_batch) || stopping_;
  }

  // Runs `f(sqlite3*)` on the read connection under its mutex.
  template <typename F>
  auto Read(F&& f);
  // Runs one parameterised statement on the write connection; returns changes(). Raises
  // the applier out of the background while it waits for the connection.
  template <typename... Args>
  absl::StatusOr<int> Write(std::string_view sql, const Args&... args)
      ABSL_LOCKS_EXCLUDED(pending_mu_);
  // Runs `f()` holding write_mu_, with the applier out of the background meanwhile (it
  // may hold write_mu_ for a batch).
  template <typename F>
  auto WithWriter(F&& f) ABSL_LOCKS_EXCLUDED(pending_mu_);
  // One step of Sweep, in one transaction: up to `max_blocks` blocks holding events
  // older than `before_nanos` lose them (and their ids and keys); a block left empty
  // goes. Returns {blocks seen, events deleted}.
  absl::StatusOr<std::pair<int, int64_t>> SweepBlocks(int64_t before_nanos, int max_blocks)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(write_mu_);

  static int CommitHook(void* self);

  const SqliteOptions options_;
  const Clock* const clock_;
  std::atomic<bool> fail_commits_{false};

  absl::Mutex write_mu_ ABSL_ACQUIRED_BEFORE(queue_mu_);
  Db writer_ ABSL_GUARDED_BY(write_mu_);
  WriteStatements ws_ ABSL_GUARDED_BY(write_mu_);
  int64_t next_block_id_ ABSL_GUARDED_BY(write_mu_) = 1;

  absl::Mutex read_mu_;
  Db reader_ ABSL_GUARDED_BY(read_mu_);  // empty for ":memory:"
  bool has_reader_ = false;              // set once in Init

  absl::Mutex queue_mu_;
  std::deque<Appending> queue_ ABSL_GUARDED_BY(queue_mu_);
  bool stopping_ ABSL_GUARDED_BY(queue_mu_) = false;

  std::thread writer_thread_;  // the journal thread in journal mode

  // --- Journal mode. journaled_ is set once in Init.
  bool journaled_ = false;
  JournalLock journal_lock_;
  // The journal file and its numbering, written by JournalBatch.
  absl::Mutex journal_mu_ ABSL_ACQUIRED_BEFORE(pending_mu_);
  JournalFile journal_ ABSL_GUARDED_BY(journal_mu_);
  uint64_t journal_generation_ ABSL_GUARDED_BY(journal_mu_) = 0;
  uint64_t next_seq_ ABSL_GUARDED_BY(journal_mu_) = 1;
  Stmt find_key_ ABSL_GUARDED_BY(read_mu_);
  Stmt find_id_ ABSL_GUARDED_BY(read_mu_);
  Stmt find_event_by_key_ ABSL_GUARDED_BY(read_mu_);
  Stmt set_applied_ ABSL_GUARDED_BY(write_mu_);

  absl::Mutex pending_mu_ ABSL_ACQUIRED_BEFORE(read_mu_);
  // Every journaled entry not yet applied, oldest segment first. While front_taken_ the
  // applier reads the front segment without the lock, and nothing is added to it.
  std::deque<Segment> segments_ ABSL_GUARDED_BY(pending_mu_);
  bool front_taken_ ABSL_GUARDED_BY(pending_mu_) = false;
  // Summaries of everything recorded (in SQLite or journaled): a filter of every
  // PendingKey (built from SQLite at open and again after sweeps once it has doubled,
  // so that swept keys leave it); a filter of the event ids journaled since it was started, and a floor
  // that every other recorded id is at or below. A key its filter rules out, or an id
  // above the floor that its filter rules out, is new without a database read. The id
  // filter holds options_.id_filter_size ids at most: then the floor rises to the
  // greatest id journaled and the filter starts over (event ids grow with time, so the
  // ids of new events stay above the floor), which bounds its memory.
  KeyFilter recorded_keys_ ABSL_GUARDED_BY(pending_mu_);
  size_t keys_at_build_ ABSL_GUARDED_BY(pending_mu_) = 0;  // recorded_keys_ when built
  // While RebuildKeyFilter scans: the keys journaled since it started, and those it
  // found unapplied.
  std::optional<std::vector<std::string>> keys_during_rebuild_ ABSL_GUARDED_BY(pending_mu_);
  KeyFilter journaled_ids_ ABSL_GUARDED_BY(pending_mu_);
  std::string id_floor_ ABSL_GUARDED_BY(pending_mu_);
  std::string max_journaled_id_ ABSL_GUARDED_BY(pending_mu_);
  std::vector<SealedJournal> sealed_ ABSL_GUARDED_BY(pending_mu_);
  uint64_t journaled_seq_ ABSL_GUARDED_BY(pending_mu_) = 0;
  uint64_t applied_seq_ ABSL_GUARDED_BY(pending_mu_) = 0;
  uint64_t apply_failures_ ABSL_GUARDED_BY(pending_mu_) = 0;
  absl::Status last_apply_error_ ABSL_GUARDED_BY(pending_mu_);
  int barrier_waiters_ ABSL_GUARDED_BY(pending_mu_) = 0;
  bool apply_paused_ ABSL_GUARDED_BY(pending_mu_) = false;
  bool apply_stopping_ ABSL_GUARDED_BY(pending_mu_) = false;
  // Entries in segments_, readable without pending_mu_ (Append's back-pressure); changed
  // under it.
  std::atomic<size_t> unapplied_count_{0};
  std::thread applier_thread_;
  // Set once in Init: whether the applier may run in the background (see PlaceApplier).
  bool background_apply_ = false;
  pid_t applier_tid_ ABSL_GUARDED_BY(pending_mu_) = 0;  // 0 until the applier runs
  bool applier_in_background_ ABSL_GUARDED_BY(pending_mu_) = false;
};

}  // namespace tollgate::store
