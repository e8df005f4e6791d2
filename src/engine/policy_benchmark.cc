// Model-policy resolution per request with a warm cache: the cache lookup for
// (tenant, user), then Resolve() with three levels of policy (allow/block globs, a tier
// cap, a downgrade chain). BM_ResolveWithEngine also asks the limit engine whether the
// candidate's downgrade limits would refuse (Engine::Evaluate, as the server does).
//
//   cmake --build <dir> --target policy_benchmark && <dir>/src/engine/policy_benchmark

#include <benchmark/benchmark.h>

#include <memory>
#include <string>

#include "engine/policy.h"
#include "tollgate/clock.h"
#include "tollgate/engine.h"

namespace {

using tollgate::Level;
using tollgate::engine::Candidate;
using tollgate::engine::EffectivePolicy;
using tollgate::engine::Policy;
using tollgate::engine::PolicyCache;
using tollgate::engine::ResolveRequest;

struct Fixture {
  Policy global, tenant, user;
  Fixture() {
    global.allowlist = std::vector<std::string>{"openai:gpt-4o*", "anthropic:claude-*"};
    global.blocklist = std::vector<std::string>{"openai:gpt-3.5-turbo"};
    global.downgrade = std::vector<std::string>{"openai:gpt-4o", "openai:gpt-4o-mini",
                                                "anthropic:claude-3-haiku-20240307"};
    global.model = "openai:gpt-4o";
    global.temperature = 0.7;
    tenant.max_tokens = 2048;
    tenant.tier = "premium";
    tenant.blocklist = std::vector<std::string>{"anthropic:claude-3-opus*"};
    user.allowlist = std::vector<std::string>{"openai:*", "anthropic:claude-3-haiku*"};
    user.limits.max_context = 128000;
  }
  std::shared_ptr<const EffectivePolicy> Build() const {
    return std::make_shared<const EffectivePolicy>(
        tollgate::engine::Merge(&global, &tenant, &user));
  }
};

std::string Tier(std::string_view, std::string_view model) {
  return model == "gpt-4o" ? "premium" : "standard";
}

void BM_ResolveWarmCache(benchmark::State& state) {
  tollgate::SystemClock clock;
  PolicyCache cache(&clock, absl::Seconds(5));
  Fixture f;
  auto build = [&f] { return f.Build(); };
  ResolveRequest req;
  req.provider = "openai";
  req.model = "gpt-4o";
  req.input_tokens = 1200;
  req.max_tokens = 4096;
  tollgate::engine::WouldRefuseFn none = [](const Candidate&) -> std::optional<std::string> {
    return std::nullopt;
  };
  tollgate::engine::TierFn tier = Tier;
  cache.Get("acme", "alice", build);
  for (auto _ : state) {
    std::shared_ptr<const EffectivePolicy> p = cache.Get("acme", "alice", build);
    benchmark::DoNotOptimize(tollgate::engine::Resolve(*p, req, none, tier));
  }
}
BENCHMARK(BM_ResolveWarmCache);

void BM_ResolveWithEngine(benchmark::State& state) {
  tollgate::SystemClock clock;
  tollgate::Engine engine(&clock, {});
  tollgate::Limit daily;
  daily.id = "lim_daily";
  daily.scope = {Level::kUser, "acme", "*"};
  daily.window = {tollgate::WindowUnit::kDay, 1, tollgate::WindowKind::kCalendar};
  daily.limit = int64_t{1} << 40;
  daily.models = {"openai:gpt-4o", "openai:gpt-4o-mini"};
  daily.action = tollgate::Action::kDowngrade;
  engine.PutLimit(daily);
  PolicyCache cache(&clock, absl::Seconds(5));
  Fixture f;
  auto build = [&f] { return f.Build(); };
  ResolveRequest req;
  req.provider = "openai";
  req.model = "gpt-4o";
  req.input_tokens = 1200;
  req.max_tokens = 4096;
  tollgate::engine::WouldRefuseFn refuse =
      [&engine](const Candidate& c) -> std::optional<std::string> {
    tollgate::CallContext ctx{
        "acme", "alice", "", "", std::string(c.provider), std::string(c.model)};
    tollgate::Amount a;
    a.input_tokens = c.input_tokens;
    a.output_tokens = c.max_tokens.value_or(1024);
    tollgate::CheckResult r = engine.Evaluate(ctx, a);
    for (const tollgate::LimitStatus& s : r.limits)
      if (s.limit.action == tollgate::Action::kDowngrade && a.Of(s.limit.metric) > s.remaining)
        return "refused";
    return std::nullopt;
  };
  tollgate::engine::TierFn tier = Tier;
  for (auto _ : state) {
    std::shared_ptr<const EffectivePolicy> p = cache.Get("acme", "alice", build);
    benchmark::DoNotOptimize(tollgate::engine::Resolve(*p, req, refuse, tier));
  }
}
BENCHMARK(BM_ResolveWithEngine);

}  // namespace

BENCHMARK_MAIN();
