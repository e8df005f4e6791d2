// Engine micro-benchmarks: memory per counter and Check + Settle throughput.
//
//   cmake --build <dir> --target engine_benchmark && <dir>/src/engine/engine_benchmark
//
// Memory is measured with a counting global allocator: the bytes the process holds
// after creating N counters, minus the bytes before, divided by N. The counters
// reported ("bytes_per_counter") include the hash-table slots, the table's spare
// capacity and the subject strings, i.e. everything the engine keeps per counter.

#include <benchmark/benchmark.h>

#include <atomic>
#include <cstdlib>
#include <new>
#include <string>

#include "absl/strings/str_cat.h"
#include "absl/time/civil_time.h"
#include "absl/time/time.h"
#include "tollgate/clock.h"
#include "tollgate/engine.h"

namespace {

std::atomic<int64_t> g_live_bytes{0};

// Every allocation carries its size in a 16-byte header, so frees can be counted.
void* CountedAlloc(std::size_t n) {
  void* p = std::malloc(n + 16);
  if (p == nullptr) throw std::bad_alloc();
  *static_cast<std::size_t*>(p) = n;
  g_live_bytes.fetch_add(static_cast<int64_t>(n), std::memory_order_relaxed);
  return static_cast<char*>(p) + 16;
}

void CountedFree(void* p) {
  if (p == nullptr) return;
  char* base = static_cast<char*>(p) - 16;
  g_live_bytes.fetch_sub(static_cast<int64_t>(*reinterpret_cast<std::size_t*>(base)),
                         std::memory_order_relaxed);
  std::free(base);
}

}  // namespace

void* operator new(std::size_t n) { return CountedAlloc(n); }
void* operator new[](std::size_t n) { return CountedAlloc(n); }
void operator delete(void* p) noexcept { CountedFree(p); }
void operator delete[](void* p) noexcept { CountedFree(p); }
void operator delete(void* p, std::size_t) noexcept { CountedFree(p); }
void operator delete[](void* p, std::size_t) noexcept { CountedFree(p); }

namespace tollgate {
namespace {

const absl::Time kNow =
    absl::FromCivil(absl::CivilSecond(2026, 5, 12, 10, 0, 0), absl::UTCTimeZone());

Limit UserDefault(std::string id, Window window) {
  Limit l;
  l.id = std::move(id);
  l.scope = Scope{Level::kUser, "acme", "*"};
  l.metric = Metric::kTokens;
  l.window = window;
  l.limit = int64_t{1} << 50;
  return l;
}

CallContext User(int i) {
  CallContext c;
  c.tenant_id = "acme";
  c.user_id = absl::StrCat("user-", i);  // "acme/user-123456": 16 characters
  c.provider = "openai";
  c.model = "gpt-4o";
  return c;
}

Amount Tokens(int64_t n) {
  Amount a;
  a.input_tokens = n;
  return a;
}

// Bytes held per counter after charging `state.range(0)` users on one limit.
void BM_BytesPerCounter(benchmark::State& state, Window window) {
  const int n = static_cast<int>(state.range(0));
  for (auto _ : state) {
    state.PauseTiming();
    SimulatedClock clock(kNow);
    auto engine = std::make_unique<Engine>(&clock, EngineOptions{});
    engine->PutLimit(UserDefault("lim", window));
    std::vector<CallContext> users;
    users.reserve(n);
    for (int i = 0; i < n; ++i) users.push_back(User(i));
    engine->Settle("", users[0], Tokens(1));
    const int64_t before = g_live_bytes.load();
    state.ResumeTiming();
    for (int i = 1; i < n; ++i) engine->Settle("", users[i], Tokens(1));
    state.PauseTiming();
    const int64_t after = g_live_bytes.load();
    state.counters["counters"] = static_cast<double>(engine->ActiveCounters());
    state.counters["bytes_per_counter"] = static_cast<double>(after - before) / (n - 1);
    engine.reset();
    state.ResumeTiming();
  }
}
BENCHMARK_CAPTURE(BM_BytesPerCounter, calendar_day,
                  Window{WindowUnit::kDay, 1, WindowKind::kCalendar})
    ->Arg(1'000)
    ->Arg(100'000)
    ->Arg(150'000)
    ->Iterations(1)
    ->Unit(benchmark::kMillisecond);
BENCHMARK_CAPTURE(BM_BytesPerCounter, rolling_minute,
                  Window{WindowUnit::kMinute, 1, WindowKind::kRolling})
    ->Arg(1'000)
    ->Arg(100'000)
    ->Arg(150'000)
    ->Iterations(1)
    ->Unit(benchmark::kMillisecond);

// One Check and one Settle against a user day limit, a user rolling-minute limit and a
// tenant day limit (three limits per call), over 10,000 users; one thread.
void BM_CheckSettle(benchmark::State& state) {
  SimulatedClock clock(kNow);
  Engine engine(&clock, EngineOptions{});
  engine.PutLimit(UserDefault("day", Window{WindowUnit::kDay, 1, WindowKind::kCalendar}));
  engine.PutLimit(UserDefault("tpm", Window{WindowUnit::kMinute, 1, WindowKind::kRolling}));
  Limit tenant = UserDefault("tenant", Window{WindowUnit::kDay, 1, WindowKind::kCalendar});
  tenant.scope = Scope{Level::kTenant, "acme", "acme"};
  engine.PutLimit(tenant);
  for (int i = 0; i < 50; ++i) {  // other tenants' limits, which a check must not scan
    Limit other = tenant;
    other.id = absl::StrCat("other", i);
    other.scope = Scope{Level::kTenant, absl::StrCat("t", i), absl::StrCat("t", i)};
    engine.PutLimit(other);
  }
  std::vector<CallContext> users;
  for (int i = 0; i < 10'000; ++i) users.push_back(User(i));
  size_t i = 0;
  for (auto _ : state) {
    const CallContext& ctx = users[i++ % users.size()];
    CheckResult r = engine.Check(ctx, Tokens(100));
    benchmark::DoNotOptimize(r);
    benchmark::DoNotOptimize(engine.Settle(r.reservation_id, ctx, Tokens(90)));
    clock.Advance(absl::Microseconds(50));
  }
  state.SetItemsProcessed(state.iterations());
}
BENCHMARK(BM_CheckSettle);

}  // namespace
}  // namespace tollgate

BENCHMARK_MAIN();
