// Promises only the SQLite backend makes: durability across close, kill -9 and reopen;
// migrations; behaviour under a lock held by another process.

#include <sched.h>
#include <signal.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

#include <array>
#include <atomic>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <set>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_split.h"
#include "absl/synchronization/blocking_counter.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "store/sqlite/journal.h"
#include "store/sqlite/schema.h"
#include "store/sqlite/sqlite_db.h"
#include "store/store_test_util.h"
#include "tollgate/store.h"

namespace tollgate::store::testing {
namespace {

using ::testing::SizeIs;

const absl::Time kT0 = absl::FromUnixSeconds(1'700'000'000);

class SqliteStoreTest : public ::testing::Test {
 protected:
  std::string Path() const { return dir_.path() + "/tollgate.db"; }

  std::unique_ptr<Store> Open(SqliteOptions options = {}) {
    options.path = Path();
    absl::StatusOr<std::unique_ptr<Store>> store = OpenSqliteStore(options, &clock_);
    EXPECT_TRUE(store.ok()) << store.status();
    return store.ok() ? *std::move(store) : nullptr;
  }

  // Another connection to the same file, as another process would hold.
  Db Raw() {
    absl::StatusOr<Db> db = Db::Open(Path(), 0);
    EXPECT_TRUE(db.ok()) << db.status();
    return db.ok() ? *std::move(db) : Db();
  }

  int64_t QueryInt(Db& db, const char* sql) {
    absl::StatusOr<Stmt> stmt = Stmt::Prepare(db.get(), sql);
    EXPECT_TRUE(stmt.ok()) << stmt.status();
    absl::StatusOr<bool> row = stmt->Step();
    EXPECT_TRUE(row.ok() && *row);
    return stmt->Int(0);
  }

  TempDir dir_;
  SimulatedClock clock_{kT0};
};

TEST_F(SqliteStoreTest, OptionsOutOfRangeAreRefusedBeforeTheFileIsTouched) {
  const std::vector<std::pair<std::string, void (*)(SqliteOptions&)>> bad = {
      {"max_batch", [](SqliteOptions& o) { o.max_batch = 0; }},
      {"max_queue", [](SqliteOptions& o) { o.max_queue = -1; }},
      {"apply_batch", [](SqliteOptions& o) { o.apply_batch = 0; }},
      {"id_filter_size", [](SqliteOptions& o) { o.id_filter_size = 0; }},
      {"background_backlog", [](SqliteOptions& o) { o.background_backlog = -1; }},
  };
  for (const auto& [name, spoil] : bad) {
    SqliteOptions options;
    options.path = Path();
    spoil(options);
    absl::StatusOr<std::unique_ptr<Store>> store = OpenSqliteStore(options, &clock_);
    EXPECT_EQ(store.status().code(), absl::StatusCode::kInvalidArgument) << name;
    EXPECT_THAT(std::string(store.status().message()), ::testing::HasSubstr(name));
  }
  EXPECT_FALSE(std::filesystem::exists(Path()));
}

TEST_F(SqliteStoreTest, ReopeningTheFileFindsEverything) {
  {
    std::unique_ptr<Store> store = Open();
    ASSERT_TRUE(store->CreateTenant({"acme", "Acme", "UTC", Mode::kEnforce, kT0}).ok());
    ASSERT_TRUE(store->CreateKey({"key_1", Role::kAgent, "acme", "", "n", "hash", kT0}).ok());
    Limit limit;
    limit.id = "lim_1";
    limit.scope = {Level::kTenant, "acme", "acme"};
    limit.models = {"openai:*"};
    ASSERT_TRUE(store->PutLimit(limit).ok());
    ASSERT_TRUE(store->PutPrice({"openai", "gpt-4o", 1, 2, 3, 4, "premium", true}).ok());
    ASSERT_TRUE(store->PutPolicy({Level::kTenant, "acme", "", "{}", kT0}).ok());
    for (int i = 0; i < 20; ++i) {
      ASSERT_TRUE(store->AppendSync(MakeEntry("acme", absl::StrCat("k", i), 3, kT0)).ok());
    }
  }
  std::unique_ptr<Store> store = Open();
  ASSERT_NE(store, nullptr);
  EXPECT_EQ(store->GetTenant("acme")->mode, Mode::kEnforce);
  EXPECT_EQ(store->FindKeyByHash("hash")->id, "key_1");
  EXPECT_EQ(store->GetLimit("lim_1")->models, std::vector<std::string>{"openai:*"});
  EXPECT_THAT(*store->ListPrices(), SizeIs(1));
  EXPECT_THAT(*store->ListPolicies(), SizeIs(1));
  EventFilter all;
  all.limit = 1000;
  EXPECT_THAT(store->ListEvents(all)->events, SizeIs(20));
  ASSERT_THAT(*store->LoadCounters(kT0), SizeIs(1));
  EXPECT_EQ(store->LoadCounters(kT0)->front().amount, 60);
  ASSERT_THAT(*store->ListDaily({}), SizeIs(1));
  EXPECT_EQ(store->ListDaily({})->front().requests, 20);
  // Idempotency survives the restart too.
  EXPECT_EQ(store->AppendSync(MakeEntry("acme", "k0", 3, kT0)).code(),
            absl::StatusCode::kAlreadyExists);
}

TEST_F(SqliteStoreTest, ClosingTheStoreCommitsEverythingQueued) {
  constexpr int kEntries = 300;
  std::atomic<int> ok{0};
  {
    SqliteOptions options;
    options.max_batch = 16;  // several transactions still pending at close
    std::unique_ptr<Store> store = Open(options);
    for (int i = 0; i < kEntries; ++i) {
      store->Append(MakeEntry("acme", absl::StrCat("k", i), 1, kT0), [&](absl::Status s) {
        if (s.ok()) ok.fetch_add(1);
      });
    }
  }
  EXPECT_EQ(ok.load(), kEntries);
  std::unique_ptr<Store> store = Open();
  EventFilter all;
  all.limit = 1000;
  EXPECT_THAT(store->ListEvents(all)->events, SizeIs(kEntries));
}

TEST_F(SqliteStoreTest, OpeningMigratesToTheLatestVersionInWalMode) {
  absl::StatusOr<int> version = MigrateSqlite(Path());
  ASSERT_TRUE(version.ok()) << version.status();
  EXPECT_EQ(*version, LatestSchemaVersion());
  EXPECT_EQ(*MigrateSqlite(Path()), LatestSchemaVersion());  // nothing left to do
  std::unique_ptr<Store> store = Open();
  ASSERT_NE(store, nullptr);
  Db raw = Raw();
  EXPECT_EQ(QueryInt(raw, "PRAGMA user_version"), LatestSchemaVersion());
  absl::StatusOr<Stmt> mode = Stmt::Prepare(raw.get(), "PRAGMA journal_mode");
  ASSERT_TRUE(mode.ok());
  ASSERT_TRUE(*mode->Step());
  EXPECT_EQ(mode->Text(0), "wal");
}

// Schema 3 keeps events in blocks; a file of schema 2 still has them as rows of
// `events`, which opening moves into blocks (ids, keys and all) and then drops.
TEST_F(SqliteStoreTest, OpeningMovesTheEventRowsOfSchemaTwoIntoBlocks) {
  ASSERT_TRUE(MigrateSqlite(Path()).ok());
  {
    Db raw = Raw();
    for (int i = 0; i < 25; ++i) {
      const std::string sql = absl::StrFormat(
          "INSERT INTO events VALUES ('evt_old%02d', %d, '%s', 'alice', '', 'key_1', 'req', "
          "'%s', 'openai', 'gpt-4o', 'gpt-4o', '/v1/chat/completions', 10, 5, 0, 0, 0, 15, "
          "100, 50, 7, 'ok', 'allow', 0)",
          i, absl::ToUnixNanos(kT0) + i * 1000, i % 2 == 0 ? "acme" : "beta",
          i % 5 == 0 ? absl::StrCat("key", i) : "");
      ASSERT_TRUE(raw.Exec(sql.c_str()).ok()) << sql;
    }
  }
  std::unique_ptr<Store> store = Open();
  ASSERT_NE(store, nullptr);
  EventFilter all;
  all.limit = 1000;
  absl::StatusOr<EventPage> page = store->ListEvents(all);
  ASSERT_TRUE(page.ok()) << page.status();
  ASSERT_THAT(page->events, SizeIs(25));
  EXPECT_EQ(page->events.front().event_id, "evt_old24");  // newest first
  EXPECT_EQ(page->events.front().usage.total_tokens, 15);
  EXPECT_EQ(page->events.front().cost.output, 50);
  all.tenant_id = "beta";
  EXPECT_THAT(store->ListEvents(all)->events, SizeIs(12));
  absl::StatusOr<std::optional<UsageEvent>> found = store->FindEventByIdempotencyKey("acme", "key10");
  ASSERT_TRUE(found.ok() && found->has_value());
  EXPECT_EQ((*found)->event_id, "evt_old10");
  // A report retried under a moved key is still a duplicate.
  LedgerEntry again = MakeEntry("acme", "key10", 1, kT0);
  EXPECT_EQ(store->AppendSync(std::move(again)).code(), absl::StatusCode::kAlreadyExists);
  Db raw = Raw();
  EXPECT_EQ(QueryInt(raw, "SELECT count(*) FROM sqlite_schema WHERE name = 'events'"), 0);
  EXPECT_EQ(QueryInt(raw, "SELECT count(*) FROM event_ids"), 25);
  EXPECT_EQ(QueryInt(raw, "SELECT count(*) FROM event_keys"), 5);
}

TEST_F(SqliteStoreTest, ANewerSchemaIsRefused) {
  ASSERT_TRUE(MigrateSqlite(Path()).ok());
  {
    Db raw = Raw();
    ASSERT_TRUE(raw.Exec("PRAGMA user_version = 999").ok());
  }
  SqliteOptions options;
  options.path = Path();
  EXPECT_EQ(OpenSqliteStore(options, &clock_).status().code(),
            absl::StatusCode::kFailedPrecondition);
}

TEST_F(SqliteStoreTest, WithoutJournalALockHeldElsewhereFailsTheBatchUntilReleased) {
  SqliteOptions options;
  options.journal = false;
  options.busy_timeout = absl::Milliseconds(50);
  std::unique_ptr<Store> store = Open(options);
  Db other = Raw();
  ASSERT_TRUE(other.Exec("BEGIN IMMEDIATE").ok());
  EXPECT_EQ(store->AppendSync(MakeEntry("acme", "k", 1, kT0)).code(),
            absl::StatusCode::kUnavailable);
  // Reads go on while another connection writes (WAL).
  EXPECT_TRUE(store->Ping().ok());
  EXPECT_TRUE(store->ListTenants().ok());
  ASSERT_TRUE(other.Exec("ROLLBACK").ok());
  EXPECT_TRUE(store->AppendSync(MakeEntry("acme", "k", 1, kT0)).ok());
}

TEST_F(SqliteStoreTest, ALockHeldElsewhereDelaysApplyButNotAcknowledgement) {
  SqliteOptions options;
  options.busy_timeout = absl::Milliseconds(50);
  std::unique_ptr<Store> store = Open(options);
  Db other = Raw();
  ASSERT_TRUE(other.Exec("BEGIN IMMEDIATE").ok());
  // Journaled and acknowledged; SQLite cannot take it yet.
  EXPECT_TRUE(store->AppendSync(MakeEntry("acme", "k", 1, kT0)).ok());
  EXPECT_EQ(store->AppendSync(MakeEntry("acme", "k", 1, kT0)).code(),
            absl::StatusCode::kAlreadyExists);
  EXPECT_TRUE(store->Ping().ok());
  EXPECT_TRUE(store->ListTenants().ok());
  EXPECT_TRUE(store->FindEventByIdempotencyKey("acme", "k")->has_value());
  // A ledger read cannot see the entry in SQLite, so it reports the store unavailable
  // rather than answer without it.
  EventFilter all;
  EXPECT_EQ(store->ListEvents(all).status().code(), absl::StatusCode::kUnavailable);
  ASSERT_TRUE(other.Exec("ROLLBACK").ok());
  absl::StatusOr<EventPage> page = store->ListEvents(all);
  ASSERT_TRUE(page.ok()) << page.status();
  EXPECT_THAT(page->events, SizeIs(1));
}

TEST_F(SqliteStoreTest, AFullQueueAnswersResourceExhaustedAtOnce) {
  SqliteOptions options;
  options.max_batch = 1;
  options.max_queue = 2;
  options.max_batch_delay = absl::ZeroDuration();
  options.busy_timeout = absl::Seconds(60);  // the writer waits for the lock below
  std::unique_ptr<Store> store = Open(options);
  Db other = Raw();
  ASSERT_TRUE(other.Exec("BEGIN IMMEDIATE").ok());

  // At most one entry is with the stuck writer and two in the queue, so of five at
  // least two are refused, on this thread, before Append returns.
  constexpr int kEntries = 5;
  std::vector<absl::Status> results(kEntries, absl::UnknownError("pending"));
  absl::BlockingCounter pending(kEntries);
  std::array<std::atomic<bool>, kEntries> returned{};
  std::atomic<int> refused_inline{0};
  for (int i = 0; i < kEntries; ++i) {
    store->Append(MakeEntry("acme", absl::StrCat("k", i), 1, kT0), [&, i](absl::Status s) {
      if (!returned[i].load() && s.code() == absl::StatusCode::kResourceExhausted) {
        refused_inline.fetch_add(1);
      }
      results[i] = std::move(s);
      pending.DecrementCount();
    });
    returned[i].store(true);
  }
  EXPECT_GE(refused_inline.load(), 2);
  ASSERT_TRUE(other.Exec("ROLLBACK").ok());
  pending.Wait();
  int committed = 0;
  for (const absl::Status& s : results) {
    if (s.ok()) {
      ++committed;
    } else {
      EXPECT_EQ(s.code(), absl::StatusCode::kResourceExhausted) << s;
    }
  }
  EXPECT_EQ(committed, kEntries - refused_inline.load());
}

TEST_F(SqliteStoreTest, InMemoryDatabaseServesReadsAndWrites) {
  SqliteOptions options;
  options.path = ":memory:";
  absl::StatusOr<std::unique_ptr<Store>> store = OpenSqliteStore(options, &clock_);
  ASSERT_TRUE(store.ok()) << store.status();
  ASSERT_TRUE((*store)->AppendSync(MakeEntry("acme", "k", 1, kT0)).ok());
  EXPECT_TRUE((*store)->FindEventByIdempotencyKey("acme", "k")->has_value());
}

// The child appends from several threads and writes each key to the pipe only after
// AppendSync acknowledged it; the parent kills it with SIGKILL mid-stream.
[[noreturn]] void CrashChild(const std::string& path, int out_fd, bool fsync) {
  SqliteOptions options;
  options.path = path;
  options.fsync_each_commit = fsync;
  SimulatedClock clock(kT0);
  absl::StatusOr<std::unique_ptr<Store>> store = OpenSqliteStore(options, &clock);
  if (!store.ok()) _exit(2);
  std::vector<std::thread> threads;
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([&, t] {
      for (int i = 0; i < 1'000'000; ++i) {
        int64_t amount = 1 + (i * 7 + t) % 13;
        std::string key = absl::StrCat("t", t, "-", i);
        if (!(*store)->AppendSync(MakeEntry("acme", key, amount, kT0)).ok()) _exit(3);
        std::string line = absl::StrCat(key, " ", amount, "\n");
        // One write of less than PIPE_BUF bytes: lines never interleave.
        if (write(out_fd, line.data(), line.size()) != static_cast<ssize_t>(line.size())) {
          _exit(4);
        }
      }
    });
  }
  for (std::thread& t : threads) t.join();
  _exit(0);
}

class SqliteCrashTest : public SqliteStoreTest, public ::testing::WithParamInterface<bool> {};

INSTANTIATE_TEST_SUITE_P(SyncModes, SqliteCrashTest, ::testing::Values(true, false),
                         [](const ::testing::TestParamInfo<bool>& info) {
                           return info.param ? "Full" : "Normal";
                         });

TEST_P(SqliteCrashTest, AcknowledgedAppendsSurviveKill9) {
  int fds[2];
  ASSERT_EQ(pipe(fds), 0);
  pid_t pid = fork();
  ASSERT_GE(pid, 0);
  if (pid == 0) {
    close(fds[0]);
    CrashChild(Path(), fds[1], GetParam());
  }
  close(fds[1]);
  FILE* in = fdopen(fds[0], "r");
  ASSERT_NE(in, nullptr);

  constexpr int kKillAfter = 400;
  std::set<std::string> acked;
  char buf[128];
  bool killed = false;
  while (fgets(buf, sizeof(buf), in) != nullptr) {
    std::vector<std::string> parts = absl::StrSplit(absl::StripTrailingAsciiWhitespace(buf), ' ');
    ASSERT_EQ(parts.size(), 2u) << buf;
    acked.insert(parts[0]);
    if (!killed && acked.size() >= kKillAfter) {
      ASSERT_EQ(kill(pid, SIGKILL), 0);
      killed = true;
    }
  }
  fclose(in);
  int wstatus = 0;
  ASSERT_EQ(waitpid(pid, &wstatus, 0), pid);
  ASSERT_TRUE(WIFSIGNALED(wstatus) && WTERMSIG(wstatus) == SIGKILL)
      << "child exited early, status " << wstatus;
  ASSERT_GE(acked.size(), static_cast<size_t>(kKillAfter));

  std::unique_ptr<Store> store = Open();
  ASSERT_NE(store, nullptr);
  for (const std::string& key : acked) {
    absl::StatusOr<std::optional<UsageEvent>> e = store->FindEventByIdempotencyKey("acme", key);
    ASSERT_TRUE(e.ok()) << e.status();
    EXPECT_TRUE(e->has_value()) << "acknowledged but lost: " << key;
  }
  // Everything committed (acknowledged or not yet) is whole: the counter cell and the
  // daily row equal the sums over the events.
  int64_t events = 0;
  int64_t tokens = 0;
  EventFilter filter;
  filter.limit = 1000;
  for (;;) {
    absl::StatusOr<EventPage> page = store->ListEvents(filter);
    ASSERT_TRUE(page.ok()) << page.status();
    for (const UsageEvent& e : page->events) {
      ++events;
      tokens += e.usage.total_tokens;
    }
    if (page->next_cursor.empty()) break;
    filter.cursor = page->next_cursor;
  }
  EXPECT_GE(events, static_cast<int64_t>(acked.size()));
  absl::StatusOr<std::vector<CounterDelta>> cells = store->LoadCounters(kT0);
  ASSERT_TRUE(cells.ok());
  ASSERT_THAT(*cells, SizeIs(1));
  EXPECT_EQ((*cells)[0].amount, tokens);
  absl::StatusOr<std::vector<DailyRow>> daily = store->ListDaily({});
  ASSERT_TRUE(daily.ok());
  ASSERT_THAT(*daily, SizeIs(1));
  EXPECT_EQ((*daily)[0].requests, events);
  EXPECT_EQ((*daily)[0].usage.total_tokens, tokens);
}

SqliteStore* AsSqlite(Store* store) { return static_cast<SqliteStore*>(store); }

std::vector<std::string> JournalFiles(const std::string& db_path) {
  std::vector<std::string> paths;
  for (auto& [generation, path] : ListJournalFiles(db_path)) paths.push_back(path);
  return paths;
}

// Appends `n` entries keyed k<first>.. with the applier paused, then closes the store:
// the entries are acknowledged and only in the journal, as after a kill between
// acknowledgement and apply.
void AppendJournalOnly(std::unique_ptr<Store> store, int first, int n) {
  AsSqlite(store.get())->PauseApplierForTesting(true);
  const uint64_t applied = AsSqlite(store.get())->AppliedSeqForTesting();
  for (int i = first; i < first + n; ++i) {
    ASSERT_TRUE(store->AppendSync(MakeEntry("acme", absl::StrCat("k", i), i + 1, kT0)).ok());
  }
  EXPECT_EQ(AsSqlite(store.get())->AppliedSeqForTesting(), applied);
}

TEST_F(SqliteStoreTest, AcknowledgedButUnappliedEntriesAreReplayedOnOpen) {
  AppendJournalOnly(Open(), 0, 20);
  ASSERT_FALSE(JournalFiles(Path()).empty());
  {
    Db raw = Raw();
    EXPECT_EQ(QueryInt(raw, "SELECT count(*) FROM event_ids"), 0);
  }
  std::unique_ptr<Store> store = Open();
  ASSERT_NE(store, nullptr);
  EXPECT_TRUE(JournalFiles(Path()).size() <= 1);  // the replayed files are gone
  {
    Db raw = Raw();
    EXPECT_EQ(QueryInt(raw, "SELECT count(*) FROM event_ids"), 20);  // applied at open
  }
  EventFilter all;
  all.limit = 1000;
  EXPECT_THAT(store->ListEvents(all)->events, SizeIs(20));
  EXPECT_EQ(store->LoadCounters(kT0)->front().amount, 210);  // 1 + 2 + ... + 20
  EXPECT_EQ(store->ListDaily({})->front().requests, 20);
  // Replayed keys are recorded keys.
  EXPECT_EQ(store->AppendSync(MakeEntry("acme", "k3", 1, kT0)).code(),
            absl::StatusCode::kAlreadyExists);
}

TEST_F(SqliteStoreTest, ReplayingTwiceCountsOnce) {
  AppendJournalOnly(Open(), 0, 5);
  std::vector<std::string> files = JournalFiles(Path());
  ASSERT_THAT(files, SizeIs(1));
  absl::StatusOr<std::string> journal = ReadWholeFile(files[0]);
  ASSERT_TRUE(journal.ok());
  Open().reset();  // replays and removes the journal
  // The same records again, as if the file had survived its removal: the applied
  // sequence number (and the events already present) make the replay a no-op.
  {
    std::ofstream out(files[0], std::ios::binary);
    out << *journal;
  }
  std::unique_ptr<Store> store = Open();
  EventFilter all;
  EXPECT_THAT(store->ListEvents(all)->events, SizeIs(5));
  EXPECT_EQ(store->LoadCounters(kT0)->front().amount, 15);
}

TEST_F(SqliteStoreTest, ATornOrCorruptJournalTailIsDropped) {
  AppendJournalOnly(Open(), 0, 3);
  std::vector<std::string> files = JournalFiles(Path());
  ASSERT_THAT(files, SizeIs(1));
  {
    // A record cut short by the crash, then garbage.
    std::string torn;
    EncodeJournalRecord(99, MakeEntry("acme", "torn", 1000, kT0), &torn);
    std::ofstream out(files[0], std::ios::binary | std::ios::app);
    out << torn.substr(0, torn.size() / 2);
  }
  {
    std::unique_ptr<Store> store = Open();
    ASSERT_NE(store, nullptr);
    EventFilter all;
    EXPECT_THAT(store->ListEvents(all)->events, SizeIs(3));
    EXPECT_FALSE(store->FindEventByIdempotencyKey("acme", "torn")->has_value());
    EXPECT_EQ(store->LoadCounters(kT0)->front().amount, 6);
  }
  // A record whose checksum fails ends the journal there.
  AppendJournalOnly(Open(), 10, 3);
  files = JournalFiles(Path());
  ASSERT_THAT(files, SizeIs(1));
  absl::StatusOr<std::string> journal = ReadWholeFile(files[0]);
  ASSERT_TRUE(journal.ok());
  std::string data = *journal;
  data[data.size() - 5] ^= 0x40;  // inside the last record's payload
  {
    std::ofstream out(files[0], std::ios::binary | std::ios::trunc);
    out << data;
  }
  std::unique_ptr<Store> store = Open();
  ASSERT_NE(store, nullptr);
  EventFilter all;
  EXPECT_THAT(store->ListEvents(all)->events, SizeIs(5));
  EXPECT_TRUE(store->FindEventByIdempotencyKey("acme", "k11")->has_value());
  EXPECT_FALSE(store->FindEventByIdempotencyKey("acme", "k12")->has_value());
}

TEST_F(SqliteStoreTest, DuplicatesAreRefusedAcrossTheJournalAndSqlite) {
  std::unique_ptr<Store> store = Open();
  SqliteStore* sqlite = AsSqlite(store.get());
  LedgerEntry first = MakeEntry("acme", "dup", 10, kT0);
  const std::string first_id = first.event.event_id;
  ASSERT_TRUE(store->AppendSync(std::move(first)).ok());
  ASSERT_TRUE(store->ListEvents({}).ok());  // applied: now only in SQLite
  sqlite->PauseApplierForTesting(true);
  ASSERT_TRUE(store->AppendSync(MakeEntry("acme", "journal-only", 1, kT0)).ok());
  // Against SQLite, against the journal, and the same event id under another key.
  EXPECT_EQ(store->AppendSync(MakeEntry("acme", "dup", 99, kT0)).code(),
            absl::StatusCode::kAlreadyExists);
  EXPECT_EQ(store->AppendSync(MakeEntry("acme", "journal-only", 99, kT0)).code(),
            absl::StatusCode::kAlreadyExists);
  LedgerEntry same_id = MakeEntry("acme", "fresh", 99, kT0);
  same_id.event.event_id = first_id;
  EXPECT_EQ(store->AppendSync(std::move(same_id)).code(), absl::StatusCode::kAlreadyExists);
  // The first event is found wherever it is.
  absl::StatusOr<std::optional<UsageEvent>> found =
      store->FindEventByIdempotencyKey("acme", "journal-only");
  ASSERT_TRUE(found.ok() && found->has_value());
  EXPECT_EQ((*found)->usage.total_tokens, 1);
  EXPECT_EQ((*store->FindEventByIdempotencyKey("acme", "dup"))->event_id, first_id);
  sqlite->PauseApplierForTesting(false);
  EventFilter all;
  EXPECT_THAT(store->ListEvents(all)->events, SizeIs(2));
  EXPECT_EQ(store->LoadCounters(kT0)->front().amount, 11);
  EXPECT_EQ(store->AppendSync(MakeEntry("acme", "journal-only", 99, kT0)).code(),
            absl::StatusCode::kAlreadyExists);
}

TEST_F(SqliteStoreTest, UnappliedEntriesSpanningSegmentsAreFoundAndAppliedInOrder) {
  // Segments of 3 entries: 10 unapplied entries fill 4. Each one is found and refused
  // as a duplicate wherever it waits; once applied, the segments leave one by one and
  // every entry is in SQLite exactly once.
  SqliteOptions options;
  options.apply_batch = 3;
  std::unique_ptr<Store> store = Open(options);
  SqliteStore* sqlite = AsSqlite(store.get());
  sqlite->PauseApplierForTesting(true);
  for (int i = 0; i < 10; ++i) {
    ASSERT_TRUE(store->AppendSync(MakeEntry("acme", absl::StrCat("k", i), i + 1, kT0)).ok());
  }
  EXPECT_EQ(sqlite->AppliedSeqForTesting(), 0u);
  for (int i : {0, 2, 3, 5, 9}) {  // first, last of a segment, first of the next, …
    EXPECT_EQ(store->AppendSync(MakeEntry("acme", absl::StrCat("k", i), 100, kT0)).code(),
              absl::StatusCode::kAlreadyExists)
        << i;
    absl::StatusOr<std::optional<UsageEvent>> found =
        store->FindEventByIdempotencyKey("acme", absl::StrCat("k", i));
    ASSERT_TRUE(found.ok() && found->has_value()) << i;
    EXPECT_EQ((*found)->usage.total_tokens, i + 1);
  }
  sqlite->PauseApplierForTesting(false);
  EventFilter all;
  all.limit = 100;
  EXPECT_THAT(store->ListEvents(all)->events, SizeIs(10));
  EXPECT_EQ(sqlite->AppliedSeqForTesting(), 10u);
  EXPECT_EQ(store->LoadCounters(kT0)->front().amount, 55);  // 1 + 2 + … + 10
  EXPECT_EQ(store->AppendSync(MakeEntry("acme", "k9", 100, kT0)).code(),
            absl::StatusCode::kAlreadyExists);
  // New entries after the segments left start a segment of their own.
  ASSERT_TRUE(store->AppendSync(MakeEntry("acme", "k10", 11, kT0)).ok());
  EXPECT_THAT(store->ListEvents(all)->events, SizeIs(11));
  EXPECT_EQ(store->LoadCounters(kT0)->front().amount, 66);
}

// With and without fsync: without it, Append journals on the calling thread and leaves
// the entries that need a database read to the journal thread.
class SqliteStoreSyncTest : public SqliteStoreTest, public ::testing::WithParamInterface<bool> {
 protected:
  std::unique_ptr<Store> OpenWithSync() {
    SqliteOptions options;
    options.fsync_each_commit = GetParam();
    return Open(options);
  }
};
INSTANTIATE_TEST_SUITE_P(Fsync, SqliteStoreSyncTest, ::testing::Bool());

TEST_P(SqliteStoreSyncTest, DuplicatesAreRefusedAfterReopen) {
  std::string old_id;
  {
    std::unique_ptr<Store> store = OpenWithSync();
    for (int i = 0; i < 50; ++i) {
      LedgerEntry e = MakeEntry("acme", absl::StrCat("k", i), 1, kT0);
      if (i == 10) old_id = e.event.event_id;
      ASSERT_TRUE(store->AppendSync(std::move(e)).ok());
    }
  }
  // The reopened store knows the keys and ids only from SQLite.
  std::unique_ptr<Store> store = OpenWithSync();
  for (int i = 0; i < 50; ++i) {
    EXPECT_EQ(store->AppendSync(MakeEntry("acme", absl::StrCat("k", i), 99, kT0)).code(),
              absl::StatusCode::kAlreadyExists)
        << i;
  }
  LedgerEntry same_id = MakeEntry("acme", "fresh", 99, kT0);
  same_id.event.event_id = old_id;  // below the newest id recorded
  EXPECT_EQ(store->AppendSync(std::move(same_id)).code(), absl::StatusCode::kAlreadyExists);
  EXPECT_TRUE(store->AppendSync(MakeEntry("other", "k1", 1, kT0)).ok());  // key of another tenant
  EXPECT_TRUE(store->AppendSync(MakeEntry("acme", "k50", 1, kT0)).ok());
  EXPECT_EQ(store->LoadCounters(kT0)->front().amount, 52);
}

TEST_P(SqliteStoreSyncTest, RepeatedEventIdsAreRefusedWhileTheIdFilterStartsOver) {
  SqliteOptions options;
  options.fsync_each_commit = GetParam();
  options.id_filter_size = 4;
  std::unique_ptr<Store> store = Open(options);
  // Without idempotency keys (as the gateway records), ids growing as time-ordered ids do.
  auto entry = [](std::string id) {
    LedgerEntry e = MakeEntry("acme", "", 1, kT0);
    e.event.event_id = std::move(id);
    return e;
  };
  auto id = [](int i) { return absl::StrFormat("evt_%06d", i); };
  for (int i = 0; i < 20; ++i) ASSERT_TRUE(store->AppendSync(entry(id(i))).ok()) << i;
  EXPECT_LE(AsSqlite(store.get())->FilteredIdsForTesting(), 4u);
  // Ids from every generation of the filter, applied or still in memory.
  for (int i : {0, 3, 4, 11, 18, 19}) {
    EXPECT_EQ(store->AppendSync(entry(id(i))).code(), absl::StatusCode::kAlreadyExists) << i;
  }
  ASSERT_TRUE(store->ListEvents({}).ok());  // everything applied
  for (int i : {1, 19}) {
    EXPECT_EQ(store->AppendSync(entry(id(i))).code(), absl::StatusCode::kAlreadyExists) << i;
  }
  // New ids: above every one recorded, and between two (looked up, then accepted).
  EXPECT_TRUE(store->AppendSync(entry(id(20))).ok());
  EXPECT_TRUE(store->AppendSync(entry(id(5) + "a")).ok());
  EXPECT_EQ(store->LoadCounters(kT0)->front().amount, 22);
}

TEST_P(SqliteStoreSyncTest, RebuildingTheKeyFilterForgetsSweptKeysOnly) {
  std::unique_ptr<Store> store = OpenWithSync();
  SqliteStore* sqlite = AsSqlite(store.get());
  const absl::Time later = kT0 + absl::Hours(48);
  for (int i = 0; i < 10; ++i) {
    ASSERT_TRUE(store->AppendSync(MakeEntry("acme", absl::StrCat("old", i), 1, kT0)).ok());
  }
  for (int i = 0; i < 5; ++i) {
    ASSERT_TRUE(store->AppendSync(MakeEntry("acme", absl::StrCat("kept", i), 1, later)).ok());
  }
  absl::StatusOr<int64_t> swept = store->Sweep(kT0 + absl::Hours(24), kT0);
  ASSERT_TRUE(swept.ok()) << swept.status();
  ASSERT_EQ(*swept, 10);
  // Journaled but not applied while the filter is rebuilt: the scan cannot see them.
  sqlite->PauseApplierForTesting(true);
  for (int i = 0; i < 3; ++i) {
    ASSERT_TRUE(store->AppendSync(MakeEntry("acme", absl::StrCat("new", i), 1, later)).ok());
  }
  ASSERT_EQ(sqlite->FilteredKeysForTesting(), 18u);
  ASSERT_TRUE(sqlite->RebuildKeyFilterForTesting().ok());
  EXPECT_EQ(sqlite->FilteredKeysForTesting(), 8u);
  for (std::string key : {"kept0", "kept4", "new0", "new2"}) {
    EXPECT_EQ(store->AppendSync(MakeEntry("acme", key, 99, later)).code(),
              absl::StatusCode::kAlreadyExists)
        << key;
  }
  // Once applied they are known only to SQLite and the filter.
  sqlite->PauseApplierForTesting(false);
  ASSERT_TRUE(store->ListEvents({}).ok());
  for (std::string key : {"kept1", "new0", "new1", "new2"}) {
    EXPECT_EQ(store->AppendSync(MakeEntry("acme", key, 99, later)).code(),
              absl::StatusCode::kAlreadyExists)
        << key;
  }
  EXPECT_EQ(store->LoadCounters(kT0)->front().amount, 18);
  // A swept event's key counts again, as documented.
  EXPECT_TRUE(store->AppendSync(MakeEntry("acme", "old3", 1, later)).ok());
}

TEST_F(SqliteStoreTest, LedgerReadsSeeEveryAcknowledgedEntryAtOnce) {
  SqliteOptions options;
  options.apply_delay = absl::Seconds(30);  // the barrier, not the timer, applies them
  options.apply_batch = 100000;
  std::unique_ptr<Store> store = Open(options);
  absl::Time start = absl::Now();
  for (int i = 0; i < 5; ++i) {
    ASSERT_TRUE(store->AppendSync(MakeEntry("acme", absl::StrCat("k", i), 1, kT0)).ok());
    EventFilter all;
    EXPECT_THAT(store->ListEvents(all)->events, SizeIs(i + 1));
    EXPECT_EQ(store->LoadCounters(kT0)->front().amount, i + 1);
    EXPECT_EQ(store->ListDaily({})->front().requests, i + 1);
  }
  EXPECT_LT(absl::Now() - start, absl::Seconds(10));
}

// The thread id of this process's "ledger-applier" thread, once it runs (0 before).
pid_t ApplierTid() {
  for (int tries = 0; tries < 500; ++tries) {
    for (const auto& task : std::filesystem::directory_iterator("/proc/self/task")) {
      std::ifstream comm(task.path() / "comm");
      std::string name;
      int tid = 0;
      if (std::getline(comm, name) && name == "ledger-applier" &&
          absl::SimpleAtoi(task.path().filename().string(), &tid)) {
        return tid;
      }
    }
    absl::SleepFor(absl::Milliseconds(10));
  }
  return 0;
}

TEST_F(SqliteStoreTest, TheApplierRunsInTheBackgroundWhileItsBacklogIsSmall) {
  SqliteOptions options;
  options.apply_delay = absl::Seconds(30);  // only a read or a full batch starts one
  options.apply_batch = 100000;
  options.background_backlog = 8;
  std::unique_ptr<Store> store = Open(options);
  const pid_t tid = ApplierTid();
  ASSERT_NE(tid, 0);
  // Where the process may not raise a thread out of SCHED_IDLE, it never goes there.
  const int background =
      SqliteStore::BackgroundApplySupported() ? SCHED_IDLE : SCHED_OTHER;
  auto policy_becomes = [tid](int policy) {
    for (int i = 0; i < 500 && sched_getscheduler(tid) != policy; ++i) {
      absl::SleepFor(absl::Milliseconds(10));
    }
    return sched_getscheduler(tid);
  };
  EXPECT_EQ(policy_becomes(background), background);
  EXPECT_EQ(getpriority(PRIO_PROCESS, static_cast<id_t>(tid)), 10);
  for (int i = 0; i < 7; ++i) {
    ASSERT_TRUE(store->AppendSync(MakeEntry("acme", absl::StrCat("k", i), 1, kT0)).ok());
  }
  EXPECT_EQ(sched_getscheduler(tid), background);
  // The eighth waiting entry raises it before its append is acknowledged.
  ASSERT_TRUE(store->AppendSync(MakeEntry("acme", "k7", 1, kT0)).ok());
  EXPECT_EQ(sched_getscheduler(tid), SCHED_OTHER);
  EXPECT_EQ(getpriority(PRIO_PROCESS, static_cast<id_t>(tid)), 10);
  // A read has the backlog applied; then the applier goes back.
  EXPECT_THAT(store->ListEvents({})->events, SizeIs(8));
  EXPECT_EQ(policy_becomes(background), background);
  // A write on the database raises it while it waits for the connection, which the
  // applier may hold for a batch, and leaves it where it was.
  Tenant beta;
  beta.id = "beta";
  ASSERT_TRUE(store->CreateTenant(beta).ok());
  EXPECT_EQ(sched_getscheduler(tid), background);
}

TEST_F(SqliteStoreTest, ClosingAppliesEverythingAndRemovesTheJournal) {
  constexpr int kEntries = 500;
  std::atomic<int> ok{0};
  {
    SqliteOptions options;
    options.apply_delay = absl::Seconds(30);
    options.apply_batch = 100000;
    options.journal_rotate_bytes = 8192;  // several files
    std::unique_ptr<Store> store = Open(options);
    for (int i = 0; i < kEntries; ++i) {
      store->Append(MakeEntry("acme", absl::StrCat("k", i), 1, kT0), [&](absl::Status s) {
        if (s.ok()) ok.fetch_add(1);
      });
    }
  }
  EXPECT_EQ(ok.load(), kEntries);
  EXPECT_THAT(JournalFiles(Path()), ::testing::IsEmpty());
  Db raw = Raw();
  EXPECT_EQ(QueryInt(raw, "SELECT count(*) FROM event_ids"), kEntries);
  EXPECT_EQ(QueryInt(raw, "SELECT amount FROM counters"), kEntries);
  EXPECT_EQ(QueryInt(raw, "SELECT applied_seq FROM ledger_state"), kEntries);
}

TEST_F(SqliteStoreTest, AppliedJournalFilesAreDeletedAsTheyRotate) {
  SqliteOptions options;
  options.journal_rotate_bytes = 4096;
  std::unique_ptr<Store> store = Open(options);
  for (int i = 0; i < 200; ++i) {
    ASSERT_TRUE(store->AppendSync(MakeEntry("acme", absl::StrCat("k", i), 1, kT0)).ok());
  }
  ASSERT_TRUE(store->ListEvents({}).ok());  // everything applied
  // The applier removes applied files right after its commit; at most the current file
  // stays.
  for (int i = 0; i < 100 && JournalFiles(Path()).size() > 1; ++i) {
    absl::SleepFor(absl::Milliseconds(10));
  }
  EXPECT_THAT(JournalFiles(Path()), SizeIs(1));
  AsSqlite(store.get())->PauseApplierForTesting(true);
  for (int i = 200; i < 300; ++i) {
    ASSERT_TRUE(store->AppendSync(MakeEntry("acme", absl::StrCat("k", i), 1, kT0)).ok());
  }
  EXPECT_GE(JournalFiles(Path()).size(), 2u);
  store.reset();
  store = Open(options);
  EventFilter all;
  all.limit = 1000;
  EXPECT_THAT(store->ListEvents(all)->events, SizeIs(300));
  EXPECT_EQ(store->LoadCounters(kT0)->front().amount, 300);
}

TEST_F(SqliteStoreTest, ASecondStoreOnTheSameFileIsRefused) {
  std::unique_ptr<Store> store = Open();
  SqliteOptions options;
  options.path = Path();
  EXPECT_EQ(OpenSqliteStore(options, &clock_).status().code(),
            absl::StatusCode::kFailedPrecondition);
}

// The child acknowledges entries with the applier paused, so that every one of them is
// in the journal only, reports them, and waits to be killed.
[[noreturn]] void UnappliedChild(const std::string& path, int out_fd) {
  SqliteOptions options;
  options.path = path;
  SimulatedClock clock(kT0);
  absl::StatusOr<std::unique_ptr<Store>> store = OpenSqliteStore(options, &clock);
  if (!store.ok()) _exit(2);
  AsSqlite(store->get())->PauseApplierForTesting(true);
  for (int i = 0; i < 100; ++i) {
    if (!(*store)->AppendSync(MakeEntry("acme", absl::StrCat("k", i), 2, kT0)).ok()) _exit(3);
  }
  if (write(out_fd, "acked\n", 6) != 6) _exit(4);
  for (;;) pause();
}

TEST_F(SqliteStoreTest, EntriesKilledBetweenAcknowledgementAndApplyAreReplayed) {
  int fds[2];
  ASSERT_EQ(pipe(fds), 0);
  pid_t pid = fork();
  ASSERT_GE(pid, 0);
  if (pid == 0) {
    close(fds[0]);
    UnappliedChild(Path(), fds[1]);
  }
  close(fds[1]);
  char buf[8] = {};
  ASSERT_EQ(read(fds[0], buf, 6), 6);
  ASSERT_EQ(kill(pid, SIGKILL), 0);
  int wstatus = 0;
  ASSERT_EQ(waitpid(pid, &wstatus, 0), pid);
  close(fds[0]);
  std::unique_ptr<Store> store = Open();
  ASSERT_NE(store, nullptr);
  EventFilter all;
  all.limit = 1000;
  EXPECT_THAT(store->ListEvents(all)->events, SizeIs(100));
  EXPECT_EQ(store->LoadCounters(kT0)->front().amount, 200);
  EXPECT_EQ(store->ListDaily({})->front().requests, 100);
}

}  // namespace
}  // namespace tollgate::store::testing
