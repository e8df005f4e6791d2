#include "engine/policy.h"

#include <set>

#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace tollgate::engine {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;

using List = std::vector<std::string>;

std::string TierOf(std::string_view provider, std::string_view model) {
  if (model == "gpt-4o" || model == "claude-3-opus") return "premium";
  if (model == "gpt-4o-mini") return "standard";
  if (model == "claude-3-haiku") return "economy";
  return "";
}

// A would-refuse callback that refuses the named models.
WouldRefuseFn Refusing(std::set<std::string> models) {
  return [models](const Candidate& c) -> std::optional<std::string> {
    std::string pm = std::string(c.provider) + ":" + std::string(c.model);
    if (models.count(pm)) return "daily budget of " + pm + " used up";
    return std::nullopt;
  };
}

struct Case {
  const char* name;
  std::optional<Policy> global, tenant, user;
  ResolveRequest request;
  std::set<std::string> refused;  // models whose downgrade limits refuse
  PolicyDecision decision;
  std::string used;                       // provider:model, when not denied
  std::string code;                       // when denied
  std::vector<std::string> changes = {};  // "from>to"
};

void PrintTo(const Case& c, std::ostream* os) { *os << c.name; }

Policy P(std::function<void(Policy&)> f) {
  Policy p;
  f(p);
  return p;
}

ResolveRequest Req(std::string provider, std::string model, int64_t input = 100) {
  ResolveRequest r;
  r.provider = std::move(provider);
  r.model = std::move(model);
  r.input_tokens = input;
  return r;
}

const List kChain = {"openai:gpt-4o", "openai:gpt-4o-mini", "anthropic:claude-3-haiku"};

class ResolveTable : public ::testing::TestWithParam<Case> {};

TEST_P(ResolveTable, Resolves) {
  const Case& c = GetParam();
  EffectivePolicy e = Merge(c.global ? &*c.global : nullptr, c.tenant ? &*c.tenant : nullptr,
                            c.user ? &*c.user : nullptr);
  Resolution r = Resolve(e, c.request, Refusing(c.refused), TierOf);
  EXPECT_EQ(r.decision, c.decision) << r.reason;
  if (c.decision == PolicyDecision::kDeny) {
    EXPECT_EQ(r.code, c.code) << r.reason;
  } else {
    EXPECT_EQ(r.provider + ":" + r.model, c.used) << r.reason;
  }
  std::vector<std::string> changes;
  for (const ModelChange& ch : r.changes) changes.push_back(ch.from + ">" + ch.to);
  EXPECT_EQ(changes, c.changes);
}

INSTANTIATE_TEST_SUITE_P(
    Policies, ResolveTable,
    ::testing::Values(
        Case{"NoPolicyAllowsAnything",
             {},
             {},
             {},
             Req("openai", "gpt-4o"),
             {},
             PolicyDecision::kAllow,
             "openai:gpt-4o"},
        Case{"AllowlistGlobMatches",
             P([](Policy& p) { p.allowlist = List{"openai:gpt-4o*"}; }),
             {},
             {},
             Req("openai", "gpt-4o-2024-08-06"),
             {},
             PolicyDecision::kAllow,
             "openai:gpt-4o-2024-08-06"},
        Case{"AllowlistsIntersect: tenant cannot widen global",
             P([](Policy& p) { p.allowlist = List{"openai:*"}; }),
             P([](Policy& p) {
               p.allowlist = List{"openai:*", "anthropic:*"};
             }),
             {},
             Req("anthropic", "claude-3-haiku"),
             {},
             PolicyDecision::kDeny,
             "",
             "model_not_allowed"},
        Case{"AllowlistsIntersect: user narrows tenant",
             P([](Policy& p) { p.allowlist = List{"openai:*"}; }),
             {},
             P([](Policy& p) {
               p.allowlist = List{"openai:gpt-4o-mini"};
               p.model = "openai:gpt-4o-mini";
             }),
             Req("openai", "gpt-4o"),
             {},
             PolicyDecision::kDowngrade,
             "openai:gpt-4o-mini",
             "",
             {"openai:gpt-4o>openai:gpt-4o-mini"}},
        Case{"BlocklistsUnite: global block survives a user allowlist",
             P([](Policy& p) { p.blocklist = List{"openai:gpt-3.5*"}; }),
             P([](Policy& p) { p.blocklist = List{"anthropic:claude-3-opus"}; }),
             P([](Policy& p) { p.allowlist = List{"*"}; }),
             Req("openai", "gpt-3.5-turbo"),
             {},
             PolicyDecision::kDeny,
             "",
             "model_not_allowed"},
        Case{"BlocklistsUnite: tenant block applies",
             {},
             P([](Policy& p) { p.blocklist = List{"anthropic:claude-3-opus"}; }),
             P([](Policy& p) { p.blocklist = List{"openai:gpt-3.5*"}; }),
             Req("anthropic", "claude-3-opus"),
             {},
             PolicyDecision::kDeny,
             "",
             "model_not_allowed"},
        Case{"BlockedModelReplacedByDefaultModel",
             P([](Policy& p) {
               p.blocklist = List{"openai:gpt-4o"};
               p.model = "openai:gpt-4o-mini";
             }),
             {},
             {},
             Req("openai", "gpt-4o"),
             {},
             PolicyDecision::kDowngrade,
             "openai:gpt-4o-mini",
             "",
             {"openai:gpt-4o>openai:gpt-4o-mini"}},
        Case{"BlockedModelReplacedByNextAllowedInChain",
             P([](Policy& p) {
               p.blocklist = List{"openai:gpt-4o", "openai:gpt-4o-mini"};
               p.downgrade = kChain;
             }),
             {},
             {},
             Req("openai", "gpt-4o"),
             {},
             PolicyDecision::kDowngrade,
             "anthropic:claude-3-haiku",
             "",
             {"openai:gpt-4o>anthropic:claude-3-haiku"}},
        Case{"ForbiddenDefaultModelFallsBackToChain",
             P([](Policy& p) {
               p.blocklist = List{"openai:gpt-4o*"};
               p.model = "openai:gpt-4o-mini";
               p.downgrade = kChain;
             }),
             {},
             {},
             Req("openai", "gpt-4o"),
             {},
             PolicyDecision::kDowngrade,
             "anthropic:claude-3-haiku",
             "",
             {"openai:gpt-4o>anthropic:claude-3-haiku"}},
        Case{"TierCapForbidsPremium",
             P([](Policy& p) {
               p.tier = "standard";
               p.downgrade = kChain;
             }),
             {},
             {},
             Req("openai", "gpt-4o"),
             {},
             PolicyDecision::kDowngrade,
             "openai:gpt-4o-mini",
             "",
             {"openai:gpt-4o>openai:gpt-4o-mini"}},
        Case{"UserTierOverridesTenantTier",
             {},
             P([](Policy& p) { p.tier = "economy"; }),
             P([](Policy& p) { p.tier = "premium"; }),
             Req("openai", "gpt-4o"),
             {},
             PolicyDecision::kAllow,
             "openai:gpt-4o"},
        Case{"DowngradeWhileLimitRefuses",
             P([](Policy& p) { p.downgrade = kChain; }),
             {},
             {},
             Req("openai", "gpt-4o"),
             {"openai:gpt-4o", "openai:gpt-4o-mini"},
             PolicyDecision::kDowngrade,
             "anthropic:claude-3-haiku",
             "",
             {"openai:gpt-4o>openai:gpt-4o-mini", "openai:gpt-4o-mini>anthropic:claude-3-haiku"}},
        Case{"DowngradeSkipsForbiddenChainEntries",
             P(
                 [](Policy& p) {
                   p.downgrade = kChain;
                   p.blocklist = List{"openai:gpt-4o-mini"};
                 }),
             {},
             {},
             Req("openai", "gpt-4o"),
             {"openai:gpt-4o"},
             PolicyDecision::kDowngrade,
             "anthropic:claude-3-haiku",
             "",
             {"openai:gpt-4o>anthropic:claude-3-haiku"}},
        Case{"ChainExhaustedDenies",
             P([](Policy& p) { p.downgrade = kChain; }),
             {},
             {},
             Req("openai", "gpt-4o"),
             {"openai:gpt-4o", "openai:gpt-4o-mini", "anthropic:claude-3-haiku"},
             PolicyDecision::kDeny,
             "",
             "downgrade_chain_exhausted",
             {"openai:gpt-4o>openai:gpt-4o-mini", "openai:gpt-4o-mini>anthropic:claude-3-haiku"}},
        Case{"ModelOutsideChainCannotDowngrade",
             P([](Policy& p) { p.downgrade = kChain; }),
             {},
             {},
             Req("openai", "o1"),
             {"openai:o1"},
             PolicyDecision::kDeny,
             "",
             "downgrade_chain_exhausted"},
        Case{"UserChainReplacesGlobalChain",
             P([](Policy& p) { p.downgrade = kChain; }),
             {},
             P([](Policy& p) {
               p.downgrade = List{"openai:gpt-4o", "openai:gpt-4o-mini"};
             }),
             Req("openai", "gpt-4o"),
             {"openai:gpt-4o", "openai:gpt-4o-mini"},
             PolicyDecision::kDeny,
             "",
             "downgrade_chain_exhausted",
             {"openai:gpt-4o>openai:gpt-4o-mini"}},
        Case{"ContextTooLarge",
             P([](Policy& p) { p.limits.max_context = 1000; }),
             {},
             {},
             Req("openai", "gpt-4o", 1001),
             {},
             PolicyDecision::kDeny,
             "",
             "context_too_large"},
        Case{"ContextAtTheLimitPasses",
             P([](Policy& p) { p.limits.max_context = 1000; }),
             {},
             {},
             Req("openai", "gpt-4o", 1000),
             {},
             PolicyDecision::kAllow,
             "openai:gpt-4o"},
        Case{"UserMaxContextOverridesGlobal",
             P([](Policy& p) { p.limits.max_context = 1000; }),
             {},
             P([](Policy& p) { p.limits.max_context = 5000; }),
             Req("openai", "gpt-4o", 4000),
             {},
             PolicyDecision::kAllow,
             "openai:gpt-4o"}),
    [](const ::testing::TestParamInfo<Case>& info) {
      std::string n;
      for (char ch : std::string(info.param.name))
        if (std::isalnum(static_cast<unsigned char>(ch))) n.push_back(ch);
      return n;
    });

TEST(PolicyMerge, MoreSpecificScalarReplacesLessSpecific) {
  Policy g = P([](Policy& p) {
    p.temperature = 0.2;
    p.max_tokens = 100;
    p.model = "openai:gpt-4o";
  });
  Policy t = P([](Policy& p) { p.temperature = 0.5; });
  Policy u = P([](Policy& p) { p.max_tokens = 300; });
  EffectivePolicy e = Merge(&g, &t, &u);
  EXPECT_EQ(e.temperature->value, 0.5);
  EXPECT_EQ(e.temperature->level, Level::kTenant);
  EXPECT_EQ(e.max_tokens->value, 300);
  EXPECT_EQ(e.max_tokens->level, Level::kUser);
  EXPECT_EQ(e.model->value, "openai:gpt-4o");
  EXPECT_EQ(e.model->level, Level::kGlobal);
}

TEST(PolicyMerge, NoDocumentsIsEmpty) {
  EXPECT_TRUE(Merge(nullptr, nullptr, nullptr).empty);
  Policy empty;
  EXPECT_FALSE(Merge(nullptr, &empty, nullptr).empty);
}

TEST(PolicyResolve, ClampsMaxTokensAndFillsTemperature) {
  Policy g = P([](Policy& p) {
    p.max_tokens = 2048;
    p.temperature = 0.7;
  });
  EffectivePolicy e = Merge(&g, nullptr, nullptr);
  ResolveRequest req = Req("openai", "gpt-4o");
  req.max_tokens = 4096;
  Resolution r = Resolve(e, req, nullptr, nullptr);
  EXPECT_EQ(r.max_tokens, 2048);
  EXPECT_TRUE(r.max_tokens_clamped);
  EXPECT_EQ(r.temperature, 0.7);
  EXPECT_TRUE(r.temperature_defaulted);
  EXPECT_EQ(r.decision, PolicyDecision::kAllow);
}

TEST(PolicyResolve, KeepsSmallerMaxTokensAndGivenTemperature) {
  Policy g = P([](Policy& p) {
    p.max_tokens = 2048;
    p.temperature = 0.7;
  });
  EffectivePolicy e = Merge(&g, nullptr, nullptr);
  ResolveRequest req = Req("openai", "gpt-4o");
  req.max_tokens = 100;
  req.temperature = 0.0;
  Resolution r = Resolve(e, req, nullptr, nullptr);
  EXPECT_EQ(r.max_tokens, 100);
  EXPECT_FALSE(r.max_tokens_clamped);
  EXPECT_EQ(r.temperature, 0.0);
  EXPECT_FALSE(r.temperature_defaulted);
}

TEST(PolicyResolve, MissingMaxTokensGetsThePolicyCap) {
  Policy g = P([](Policy& p) { p.max_tokens = 512; });
  EffectivePolicy e = Merge(&g, nullptr, nullptr);
  Resolution r = Resolve(e, Req("openai", "gpt-4o"), nullptr, nullptr);
  EXPECT_EQ(r.max_tokens, 512);
  EXPECT_FALSE(r.max_tokens_clamped);
}

TEST(PolicyResolve, WouldRefuseSeesTheClampedAmount) {
  Policy g = P([](Policy& p) { p.max_tokens = 512; });
  EffectivePolicy e = Merge(&g, nullptr, nullptr);
  ResolveRequest req = Req("openai", "gpt-4o", 70);
  req.max_tokens = 10000;
  std::optional<int64_t> seen;
  Resolve(
      e, req,
      [&](const Candidate& c) -> std::optional<std::string> {
        seen = c.max_tokens;
        EXPECT_EQ(c.input_tokens, 70);
        return std::nullopt;
      },
      nullptr);
  EXPECT_EQ(seen, 512);
}

TEST(PolicyResolve, TraceSaysWhichLevelSetEachField) {
  Policy g = P([](Policy& p) {
    p.model = "openai:gpt-4o";
    p.temperature = 0.2;
    p.allowlist = List{"openai:*"};
    p.downgrade = kChain;
  });
  Policy t = P([](Policy& p) {
    p.temperature = 0.5;
    p.limits.daily_tokens = 1000;
    p.blocklist = List{"openai:gpt-3.5*"};
  });
  Policy u = P([](Policy& p) { p.allowlist = List{"openai:gpt-4o*"}; });
  EffectivePolicy e = Merge(&g, &t, &u);
  Resolution r = Resolve(e, Req("openai", "gpt-4o"), Refusing({"openai:gpt-4o"}), TierOf,
                         {.with_trace = true});
  std::vector<std::string> lines;
  for (const TraceEntry& te : r.trace)
    lines.push_back(te.field + "@" + std::string(ToString(te.level)));
  EXPECT_THAT(lines, ElementsAre("model@global", "temperature@tenant", "limits.daily_tokens@tenant",
                                 "allowlist@global", "allowlist@user", "blocklist@tenant",
                                 "downgrade@global"));
  EXPECT_EQ(std::get<double>(r.trace[1].value), 0.5);
  EXPECT_EQ(std::get<int64_t>(r.trace[2].value), 1000);
  ASSERT_EQ(r.changes.size(), 1u);
  EXPECT_EQ(r.changes[0].from, "openai:gpt-4o");
  EXPECT_EQ(r.changes[0].to, "openai:gpt-4o-mini");
  EXPECT_THAT(r.changes[0].why, HasSubstr("daily budget"));
  EXPECT_EQ(r.decision, PolicyDecision::kDowngrade);
  EXPECT_EQ(r.requested, "openai:gpt-4o");
}

TEST(PolicyResolve, DenialReasonSaysWhy) {
  Policy g = P([](Policy& p) { p.blocklist = List{"openai:gpt-3.5*"}; });
  EffectivePolicy e = Merge(&g, nullptr, nullptr);
  Resolution r = Resolve(e, Req("openai", "gpt-3.5-turbo"), nullptr, nullptr);
  EXPECT_EQ(r.decision, PolicyDecision::kDeny);
  EXPECT_THAT(r.reason, HasSubstr("blocked by the global blocklist ('openai:gpt-3.5*')"));
}

class FakeClock : public Clock {
 public:
  absl::Time Now() const override { return now; }
  absl::Time now = absl::FromUnixSeconds(1'800'000'000);
};

TEST(PolicyCache, ServesFromCacheUntilTtl) {
  FakeClock clock;
  PolicyCache cache(&clock, absl::Seconds(5));
  int builds = 0;
  auto build = [&] {
    ++builds;
    return std::make_shared<const EffectivePolicy>();
  };
  cache.Get("acme", "alice", build);
  cache.Get("acme", "alice", build);
  EXPECT_EQ(builds, 1);
  cache.Get("acme", "bob", build);
  EXPECT_EQ(builds, 2);
  clock.now += absl::Seconds(5);
  cache.Get("acme", "alice", build);
  EXPECT_EQ(builds, 3);
}

TEST(PolicyCache, InvalidateIsSeenByTheNextGet) {
  FakeClock clock;
  PolicyCache cache(&clock, absl::Seconds(5));
  int builds = 0;
  auto build = [&] {
    ++builds;
    return std::make_shared<const EffectivePolicy>();
  };
  cache.Get("acme", "alice", build);
  cache.Invalidate();
  EXPECT_EQ(cache.size(), 0u);
  cache.Get("acme", "alice", build);
  EXPECT_EQ(builds, 2);
}

TEST(PolicyCache, EntryBuiltAcrossAnInvalidateIsNotStored) {
  FakeClock clock;
  PolicyCache cache(&clock, absl::Seconds(5));
  cache.Get("acme", "alice", [&] {
    cache.Invalidate();
    return std::make_shared<const EffectivePolicy>();
  });
  EXPECT_EQ(cache.size(), 0u);
}

}  // namespace
}  // namespace tollgate::engine
