// Append throughput of the SQLite store: with the ledger journal (acknowledged after the
// journal write) against without (acknowledged after the SQLite group commit), with and
// without an fsync per commit, on a real file.
//
//   cmake --build <dir> --target store_benchmark && <dir>/src/store/store_benchmark
//
// The database lives in $TOLLGATE_BENCH_DIR (default: the system temp directory); put
// it on the disk you want to measure, not on tmpfs, where fsync costs nothing.

#include <benchmark/benchmark.h>
#include <unistd.h>

#include <atomic>
#include <cstdlib>
#include <filesystem>
#include <string>
#include <thread>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/synchronization/blocking_counter.h"
#include "tollgate/store.h"

namespace tollgate {
namespace {

std::string BenchDir() {
  const char* dir = std::getenv("TOLLGATE_BENCH_DIR");
  std::string base = dir != nullptr ? dir : std::filesystem::temp_directory_path().string();
  return absl::StrCat(base, "/tollgate_store_bench_", getpid());
}

// journal: 1 = ledger journal, 0 = acknowledge after the SQLite commit. sync: 1 = fsync
// per commit (storage.sync = full), 0 = normal.
SqliteOptions OptionsFor(int journal, int sync, const std::string& dir) {
  SqliteOptions options;
  options.path = dir + "/bench.db";
  options.journal = journal != 0;
  options.fsync_each_commit = sync != 0;
  return options;
}

LedgerEntry Entry(int64_t n) {
  LedgerEntry entry;
  UsageEvent& e = entry.event;
  e.event_id = absl::StrCat("evt_", n);
  e.ts = absl::FromUnixSeconds(1'700'000'000) + absl::Milliseconds(n);
  e.tenant_id = "acme";
  e.user_id = absl::StrCat("user", n % 100);
  e.agent = "rag";
  e.idempotency_key = absl::StrCat("idem-", n);
  e.provider = "openai";
  e.model = e.model_used = "gpt-4o";
  e.usage = Usage{1000, 200, 0, 0, 0, 1200};
  e.cost = Cost{2500, 2000};
  entry.date = "2024-03-01";
  entry.counters.push_back(CounterDelta{"lim_day", e.user_id, 1'700'000'000, 1200,
                                        absl::FromUnixSeconds(1'800'000'000)});
  entry.counters.push_back(CounterDelta{"lim_min", e.user_id, 1'700'000'000, 1200,
                                        absl::FromUnixSeconds(1'800'000'000)});
  return entry;
}

// `clients` threads, each calling AppendSync (the report path: answer after commit).
// The clock stops once every acknowledged entry is also applied to SQLite (a ledger read
// waits for that), so the journal's deferred work is counted.
void BM_AppendSync(benchmark::State& state) {
  const int journal = static_cast<int>(state.range(0));
  const int sync = static_cast<int>(state.range(1));
  const int clients = static_cast<int>(state.range(2));
  const int per_client = 20000 / clients;
  std::string dir = BenchDir();
  std::filesystem::create_directories(dir);
  {
    absl::StatusOr<std::unique_ptr<Store>> store =
        OpenSqliteStore(OptionsFor(journal, sync, dir), SystemClock::Get());
    if (!store.ok()) {
      state.SkipWithError(std::string(store.status().message()).c_str());
      return;
    }
    std::atomic<int64_t> next{0};
    std::atomic<int64_t> failed{0};
    for (auto _ : state) {
      std::vector<std::thread> threads;
      for (int c = 0; c < clients; ++c) {
        threads.emplace_back([&] {
          for (int i = 0; i < per_client; ++i) {
            if (!(*store)->AppendSync(Entry(next.fetch_add(1))).ok()) failed.fetch_add(1);
          }
        });
      }
      for (std::thread& t : threads) t.join();
      if (!(*store)->ListDaily({}).ok()) failed.fetch_add(1);
    }
    if (failed.load() != 0) state.SkipWithError("appends failed");
    state.SetItemsProcessed(state.iterations() * clients * per_client);
  }
  std::filesystem::remove_all(dir);
}

// One thread issuing Append without waiting (a pipelined producer), then waiting for
// every acknowledgement.
void BM_AppendPipelined(benchmark::State& state) {
  const int journal = static_cast<int>(state.range(0));
  const int sync = static_cast<int>(state.range(1));
  constexpr int kBurst = 20000;
  std::string dir = BenchDir();
  std::filesystem::create_directories(dir);
  {
    absl::StatusOr<std::unique_ptr<Store>> store =
        OpenSqliteStore(OptionsFor(journal, sync, dir), SystemClock::Get());
    if (!store.ok()) {
      state.SkipWithError(std::string(store.status().message()).c_str());
      return;
    }
    int64_t next = 0;
    std::atomic<int64_t> failed{0};
    for (auto _ : state) {
      absl::BlockingCounter pending(kBurst);
      for (int i = 0; i < kBurst; ++i) {
        (*store)->Append(Entry(next++), [&](absl::Status s) {
          if (!s.ok()) failed.fetch_add(1);
          pending.DecrementCount();
        });
      }
      pending.Wait();
      if (!(*store)->ListDaily({}).ok()) failed.fetch_add(1);
    }
    if (failed.load() != 0) state.SkipWithError("appends failed");
    state.SetItemsProcessed(state.iterations() * kBurst);
  }
  std::filesystem::remove_all(dir);
}

BENCHMARK(BM_AppendSync)
    ->ArgNames({"journal", "sync", "clients"})
    ->ArgsProduct({{0, 1}, {1, 0}, {8, 64}})
    ->UseRealTime()
    ->Unit(benchmark::kMillisecond)
    ->Iterations(2);
BENCHMARK(BM_AppendPipelined)
    ->ArgNames({"journal", "sync"})
    ->ArgsProduct({{0, 1}, {1, 0}})
    ->UseRealTime()
    ->Unit(benchmark::kMillisecond)
    ->Iterations(2);

}  // namespace
}  // namespace tollgate

BENCHMARK_MAIN();
