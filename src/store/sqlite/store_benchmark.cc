// Append throughput of the SQLite store: group commit against one transaction per
// entry, on a real file with synchronous=FULL (every commit is an fsync).
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

enum Mode { kSingle = 0, kGroup = 1, kGroupDelay = 2 };

std::string BenchDir() {
  const char* dir = std::getenv("TOLLGATE_BENCH_DIR");
  std::string base = dir != nullptr ? dir : std::filesystem::temp_directory_path().string();
  return absl::StrCat(base, "/tollgate_store_bench_", getpid());
}

SqliteOptions OptionsFor(int mode, const std::string& dir) {
  SqliteOptions options;
  options.path = dir + "/bench.db";
  switch (mode) {
    case kSingle:  // one transaction (one fsync) per entry
      options.max_batch = 1;
      options.max_batch_delay = absl::ZeroDuration();
      break;
    case kGroup:  // whatever queued while the previous commit ran
      options.max_batch_delay = absl::ZeroDuration();
      break;
    case kGroupDelay:  // the default: also wait up to 2 ms for company
      options.max_batch_delay = absl::Milliseconds(2);
      break;
  }
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
void BM_AppendSync(benchmark::State& state) {
  const int mode = static_cast<int>(state.range(0));
  const int clients = static_cast<int>(state.range(1));
  constexpr int kPerClient = 25;
  std::string dir = BenchDir();
  std::filesystem::create_directories(dir);
  {
    absl::StatusOr<std::unique_ptr<Store>> store =
        OpenSqliteStore(OptionsFor(mode, dir), SystemClock::Get());
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
          for (int i = 0; i < kPerClient; ++i) {
            if (!(*store)->AppendSync(Entry(next.fetch_add(1))).ok()) failed.fetch_add(1);
          }
        });
      }
      for (std::thread& t : threads) t.join();
    }
    if (failed.load() != 0) state.SkipWithError("appends failed");
    state.SetItemsProcessed(state.iterations() * clients * kPerClient);
  }
  std::filesystem::remove_all(dir);
}

// One thread issuing Append without waiting (a pipelined producer), then waiting for
// every acknowledgement.
void BM_AppendPipelined(benchmark::State& state) {
  const int mode = static_cast<int>(state.range(0));
  constexpr int kBurst = 2000;
  std::string dir = BenchDir();
  std::filesystem::create_directories(dir);
  {
    absl::StatusOr<std::unique_ptr<Store>> store =
        OpenSqliteStore(OptionsFor(mode, dir), SystemClock::Get());
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
    }
    if (failed.load() != 0) state.SkipWithError("appends failed");
    state.SetItemsProcessed(state.iterations() * kBurst);
  }
  std::filesystem::remove_all(dir);
}

BENCHMARK(BM_AppendSync)
    ->ArgNames({"mode", "clients"})
    ->ArgsProduct({{kSingle, kGroup, kGroupDelay}, {1, 8, 64}})
    ->UseRealTime()
    ->Unit(benchmark::kMillisecond)
    ->Iterations(4);
BENCHMARK(BM_AppendPipelined)
    ->ArgNames({"mode"})
    ->Arg(kSingle)
    ->Arg(kGroup)
    ->Arg(kGroupDelay)
    ->UseRealTime()
    ->Unit(benchmark::kMillisecond)
    ->Iterations(2);

}  // namespace
}  // namespace tollgate

BENCHMARK_MAIN();
