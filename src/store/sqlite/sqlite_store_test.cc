// Promises only the SQLite backend makes: durability across close, kill -9 and reopen;
// migrations; behaviour under a lock held by another process.

#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <array>
#include <atomic>
#include <cstdio>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/synchronization/blocking_counter.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
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

TEST_F(SqliteStoreTest, ALockHeldElsewhereFailsTheBatchUntilReleased) {
  SqliteOptions options;
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
[[noreturn]] void CrashChild(const std::string& path, int out_fd) {
  SqliteOptions options;
  options.path = path;
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

TEST_F(SqliteStoreTest, AcknowledgedAppendsSurviveKill9) {
  int fds[2];
  ASSERT_EQ(pipe(fds), 0);
  pid_t pid = fork();
  ASSERT_GE(pid, 0);
  if (pid == 0) {
    close(fds[0]);
    CrashChild(Path(), fds[1]);
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

}  // namespace
}  // namespace tollgate::store::testing
