#include <gtest/gtest.h>

#include <atomic>
#include <barrier>
#include <thread>
#include <vector>

#include "absl/time/civil_time.h"
#include "absl/time/time.h"
#include "tollgate/clock.h"
#include "tollgate/engine.h"

namespace tollgate {
namespace {

constexpr int kThreads = 64;
constexpr int64_t kLimit = 10'000;

Limit DailyTokens() {
  Limit l;
  l.id = "daily";
  l.scope = Scope{Level::kUser, "acme", "alice"};
  l.metric = Metric::kTokens;
  l.window = Window{WindowUnit::kDay, 1, WindowKind::kCalendar};
  l.limit = kLimit;
  return l;
}

CallContext Alice() {
  CallContext c;
  c.tenant_id = "acme";
  c.user_id = "alice";
  c.provider = "openai";
  c.model = "gpt-4o";
  return c;
}

Amount Tokens(int64_t input, int64_t output) {
  Amount a;
  a.input_tokens = input;
  a.output_tokens = output;
  return a;
}

// Watches the counter while the workers run: used and used + reserved never pass the
// limit at any moment.
class Watcher {
 public:
  explicit Watcher(Engine* engine)
      : thread_([this, engine] {
          while (!stop_.load()) {
            for (const LimitStatus& s : engine->Status(Alice())) {
              if (s.used > kLimit) over_used_.store(true);
              if (s.used + s.reserved > kLimit) over_reserved_.store(true);
            }
          }
        }) {}
  void Stop() {
    stop_.store(true);
    thread_.join();
  }
  bool over_used() const { return over_used_.load(); }
  bool over_reserved() const { return over_reserved_.load(); }

 private:
  std::atomic<bool> stop_{false};
  std::atomic<bool> over_used_{false};
  std::atomic<bool> over_reserved_{false};
  std::thread thread_;
};

// Runs `rounds` rounds on kThreads threads. In each round every thread checks a call
// that reserves 100 tokens, all threads wait until every check is done (so up to 64
// reservations are in flight at once), then the admitted calls settle `actual(t, i)`.
struct Outcome {
  int admitted = 0;
  int64_t charged = 0;
  bool over_used = false;
  bool over_reserved = false;
  LimitStatus final_status;
};

template <typename Actual>
Outcome RunRounds(int rounds, Actual actual) {
  SimulatedClock clock(
      absl::FromCivil(absl::CivilSecond(2026, 5, 12, 10, 0, 0), absl::UTCTimeZone()));
  Engine engine(&clock, EngineOptions{});
  engine.PutLimit(DailyTokens());
  std::atomic<int> admitted{0};
  std::atomic<int64_t> charged{0};
  std::barrier sync(kThreads);
  Watcher watcher(&engine);
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] {
      for (int i = 0; i < rounds; ++i) {
        CheckResult r = engine.Check(Alice(), Tokens(60, 40));
        sync.arrive_and_wait();
        if (r.allowed) {
          admitted.fetch_add(1);
          const int64_t output = actual(t, i);
          charged.fetch_add(60 + output);
          engine.Settle(r.reservation_id, Alice(), Tokens(60, output));
        }
        sync.arrive_and_wait();
      }
    });
  }
  for (std::thread& t : threads) t.join();
  watcher.Stop();
  Outcome out;
  out.admitted = admitted.load();
  out.charged = charged.load();
  out.over_used = watcher.over_used();
  out.over_reserved = watcher.over_reserved();
  out.final_status = engine.Status(Alice())[0];
  return out;
}

TEST(EngineConcurrencyTest, ConcurrentCallsAdmitExactlyWhatFitsAndNeverOvershoot) {
  // 64 threads x 10 rounds of 100 tokens: 64,000 asked of 10,000.
  Outcome out = RunRounds(10, [](int, int) { return int64_t{40}; });
  EXPECT_FALSE(out.over_used);
  EXPECT_FALSE(out.over_reserved);
  EXPECT_EQ(out.admitted, 100);
  EXPECT_EQ(out.final_status.used, kLimit);
  EXPECT_EQ(out.final_status.reserved, 0);
}

TEST(EngineConcurrencyTest, CallsReportingLessThanReservedFillTheLimitWithoutOvershoot) {
  // Each call reserves 100 and reports 61..100: more calls fit, the limit still holds.
  Outcome out = RunRounds(20, [](int t, int i) { return int64_t{1} + (t * 7 + i * 13) % 40; });
  EXPECT_FALSE(out.over_used);
  EXPECT_FALSE(out.over_reserved);
  EXPECT_EQ(out.final_status.used, out.charged);
  EXPECT_LE(out.final_status.used, kLimit);
  EXPECT_GT(out.final_status.used, kLimit - 100) << "a call of 100 would still have fit";
  EXPECT_GT(out.admitted, 100);
}

}  // namespace
}  // namespace tollgate
