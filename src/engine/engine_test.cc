#include "tollgate/engine.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <algorithm>
#include <deque>
#include <random>
#include <string>
#include <utility>
#include <vector>

#include "absl/time/civil_time.h"
#include "absl/time/time.h"
#include "tollgate/clock.h"

namespace tollgate {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;

// Tuesday 2026-05-12 10:00:00 UTC.
const absl::Time kStart =
    absl::FromCivil(absl::CivilSecond(2026, 5, 12, 10, 0, 0), absl::UTCTimeZone());

const Window kDay{WindowUnit::kDay, 1, WindowKind::kCalendar};
const Window kWeek{WindowUnit::kWeek, 1, WindowKind::kCalendar};
const Window kRollingMinute{WindowUnit::kMinute, 1, WindowKind::kRolling};
const Window kRollingHour{WindowUnit::kHour, 1, WindowKind::kRolling};

Limit MakeLimit(std::string id, Level level, std::string tenant, std::string subject, int64_t value,
                Window window = kDay, Metric metric = Metric::kTokens) {
  Limit l;
  l.id = std::move(id);
  l.scope = Scope{level, std::move(tenant), std::move(subject)};
  l.metric = metric;
  l.window = window;
  l.limit = value;
  return l;
}

Limit UserLimit(std::string id, std::string user, int64_t value, Window window = kDay) {
  return MakeLimit(std::move(id), Level::kUser, "acme", std::move(user), value, window);
}

CallContext Ctx(std::string user = "alice", std::string tenant = "acme",
                std::string model = "gpt-4o", std::string provider = "openai") {
  CallContext c;
  c.tenant_id = std::move(tenant);
  c.user_id = std::move(user);
  c.provider = std::move(provider);
  c.model = std::move(model);
  return c;
}

Amount Tokens(int64_t input, int64_t output = 0) {
  Amount a;
  a.input_tokens = input;
  a.output_tokens = output;
  return a;
}

class EngineTest : public ::testing::Test {
 protected:
  EngineTest() : clock_(kStart), engine_(&clock_, EngineOptions{}) {}

  // The status of limit `id` for `ctx` (any model), or a failure.
  LimitStatus StatusOf(const std::string& id, CallContext ctx = Ctx()) {
    ctx.model.clear();
    for (LimitStatus& s : engine_.Status(ctx))
      if (s.limit.id == id) return s;
    ADD_FAILURE() << "no status for " << id;
    return {};
  }

  std::vector<std::string> MatchingIds(const CallContext& ctx) {
    std::vector<std::string> ids;
    for (const LimitStatus& s : engine_.Status(ctx)) ids.push_back(s.limit.id);
    std::sort(ids.begin(), ids.end());
    return ids;
  }

  void Spend(int64_t tokens, const CallContext& ctx = Ctx()) {
    engine_.Settle("", ctx, Tokens(tokens));
  }

  SimulatedClock clock_;
  Engine engine_;
};

// --- Quotas, reasons, retry-after ----------------------------------------------------

TEST_F(EngineTest, CallWithinLimitIsAllowedAndReserved) {
  engine_.PutLimit(UserLimit("day", "alice", 10'000));
  CheckResult r = engine_.Check(Ctx(), Tokens(1'000, 24));
  EXPECT_TRUE(r.allowed);
  EXPECT_EQ(r.decision, DecisionKind::kAllow);
  EXPECT_FALSE(r.reservation_id.empty());
  EXPECT_EQ(r.expires_at, kStart + absl::Minutes(10));
  ASSERT_EQ(r.limits.size(), 1u);
  EXPECT_EQ(r.limits[0].reserved, 1'024);
  EXPECT_EQ(r.limits[0].remaining, 10'000 - 1'024);
  EXPECT_EQ(r.limits[0].subject, "acme/alice");
  EXPECT_FALSE(r.blocking.has_value());
}

TEST_F(EngineTest, QuotaDenialExplainsItselfAndRetriesAtReset) {
  engine_.PutLimit(UserLimit("day", "alice", 10'000));
  Spend(9'500);
  CheckResult r = engine_.Check(Ctx(), Tokens(1'000, 24));
  EXPECT_FALSE(r.allowed);
  EXPECT_EQ(r.decision, DecisionKind::kDeny);
  EXPECT_TRUE(r.reservation_id.empty());
  EXPECT_EQ(r.reason, "user alice: 9,500 of 10,000 tokens used today; this call needs 1,024");
  ASSERT_TRUE(r.blocking.has_value());
  EXPECT_EQ(r.blocking->limit.id, "day");
  EXPECT_EQ(r.blocking->resets_at,
            absl::FromCivil(absl::CivilDay(2026, 5, 13), absl::UTCTimeZone()));
  EXPECT_EQ(r.retry_after, absl::Hours(14));
}

TEST_F(EngineTest, CallThatExactlyFillsTheLimitIsAllowed) {
  engine_.PutLimit(UserLimit("day", "alice", 10'000));
  Spend(9'000);
  EXPECT_TRUE(engine_.Check(Ctx(), Tokens(1'000)).allowed);
  EXPECT_FALSE(engine_.Check(Ctx(), Tokens(1)).allowed);
}

TEST_F(EngineTest, RequestLargerThanTheLimitCanNeverFit) {
  engine_.PutLimit(UserLimit("day", "alice", 10'000));
  CheckResult r = engine_.Check(Ctx(), Tokens(20'000));
  EXPECT_FALSE(r.allowed);
  EXPECT_EQ(r.reason,
            "user alice: this call needs 20,000 tokens but the limit is 10,000 tokens per day; "
            "it can never fit");
  EXPECT_FALSE(r.retry_after.has_value());
}

TEST_F(EngineTest, CostLimitReasonSpeaksDollars) {
  Limit l = UserLimit("usd", "alice", 10'000'000'000);  // $10
  l.metric = Metric::kCostUsd;
  engine_.PutLimit(l);
  Amount spent;
  spent.cost = 9'500'000'000;
  engine_.Settle("", Ctx(), spent);
  Amount next;
  next.cost = 600'000'000;
  CheckResult r = engine_.Check(Ctx(), next);
  EXPECT_FALSE(r.allowed);
  EXPECT_EQ(r.reason, "user alice: $9.50 of $10.00 spent today; this call needs $0.60");
}

TEST_F(EngineTest, RequestsLimitCountsCalls) {
  engine_.PutLimit(MakeLimit("rpd", Level::kUser, "acme", "alice", 2, kDay, Metric::kRequests));
  for (int i = 0; i < 2; ++i) {
    CheckResult r = engine_.Check(Ctx(), Tokens(10));
    ASSERT_TRUE(r.allowed);
    engine_.Settle(r.reservation_id, Ctx(), Tokens(10));
  }
  CheckResult r = engine_.Check(Ctx(), Tokens(10));
  EXPECT_FALSE(r.allowed);
  EXPECT_THAT(r.reason, HasSubstr("2 of 2 requests used today"));
}

TEST_F(EngineTest, InputAndOutputMetricsCountTheirSideOnly) {
  engine_.PutLimit(MakeLimit("in", Level::kUser, "acme", "alice", 100, kDay, Metric::kInputTokens));
  engine_.PutLimit(
      MakeLimit("out", Level::kUser, "acme", "alice", 100, kDay, Metric::kOutputTokens));
  engine_.Settle("", Ctx(), Tokens(30, 70));
  EXPECT_EQ(StatusOf("in").used, 30);
  EXPECT_EQ(StatusOf("out").used, 70);
}

TEST_F(EngineTest, QuotaResetsWhenTheDayEnds) {
  engine_.PutLimit(UserLimit("day", "alice", 10'000));
  Spend(10'000);
  EXPECT_FALSE(engine_.Check(Ctx(), Tokens(1)).allowed);
  clock_.Set(absl::FromCivil(absl::CivilDay(2026, 5, 13), absl::UTCTimeZone()));
  EXPECT_TRUE(engine_.Check(Ctx(), Tokens(1)).allowed);
  EXPECT_EQ(StatusOf("day").used, 0);
}

TEST_F(EngineTest, DayWindowFollowsTheTenantTimeZone) {
  Tenant t;
  t.id = "acme";
  t.timezone = "America/New_York";
  engine_.PutTenant(t);
  engine_.PutLimit(UserLimit("day", "alice", 10'000));
  absl::TimeZone ny;
  ASSERT_TRUE(absl::LoadTimeZone("America/New_York", &ny));
  LimitStatus s = StatusOf("day");
  EXPECT_EQ(s.window_start, absl::FromCivil(absl::CivilDay(2026, 5, 12), ny));
  EXPECT_EQ(s.resets_at, absl::FromCivil(absl::CivilDay(2026, 5, 13), ny));
}

TEST_F(EngineTest, GlobalLimitIsSharedByEveryTenantAndAlignsInUtc) {
  engine_.PutLimit(MakeLimit("g", Level::kGlobal, "", "", 1'000));
  Tenant t;
  t.id = "acme";
  t.timezone = "Asia/Tokyo";
  engine_.PutTenant(t);
  Spend(600, Ctx("alice", "acme"));
  EXPECT_FALSE(engine_.Check(Ctx("bob", "globex"), Tokens(500)).allowed);
  EXPECT_EQ(StatusOf("g", Ctx("bob", "globex")).window_start,
            absl::FromCivil(absl::CivilDay(2026, 5, 12), absl::UTCTimeZone()));
}

// --- Reservations ------------------------------------------------------------------

TEST_F(EngineTest, ReservationCountsAgainstTheLimitUntilSettled) {
  engine_.PutLimit(UserLimit("day", "alice", 10'000));
  CheckResult first = engine_.Check(Ctx(), Tokens(6'000));
  ASSERT_TRUE(first.allowed);
  CheckResult second = engine_.Check(Ctx(), Tokens(6'000));
  EXPECT_FALSE(second.allowed);
  EXPECT_THAT(second.reason, HasSubstr("(6,000 tokens reserved by calls in flight)"));
}

TEST_F(EngineTest, SettleChargesActualUsageAndFreesTheReservation) {
  engine_.PutLimit(UserLimit("day", "alice", 10'000));
  CheckResult r = engine_.Check(Ctx(), Tokens(6'000));
  engine_.Settle(r.reservation_id, Ctx(), Tokens(1'000, 200));
  LimitStatus s = StatusOf("day");
  EXPECT_EQ(s.used, 1'200);
  EXPECT_EQ(s.reserved, 0);
  EXPECT_EQ(s.remaining, 8'800);
  EXPECT_FALSE(engine_.Release("acme", r.reservation_id));
}

TEST_F(EngineTest, SettleReportsTheLimitsAsStatusWouldRightAfter) {
  engine_.PutLimit(UserLimit("day", "alice", 10'000));
  engine_.PutLimit(UserLimit("other", "bob", 10'000));
  CheckResult r = engine_.Check(Ctx(), Tokens(6'000));
  std::vector<LimitStatus> limits;
  engine_.Settle(r.reservation_id, Ctx(), Tokens(1'000, 200), &limits);
  std::vector<LimitStatus> status = engine_.Status(Ctx());
  ASSERT_EQ(limits.size(), 1u);
  ASSERT_EQ(status.size(), 1u);
  EXPECT_EQ(limits[0].limit.id, status[0].limit.id);
  EXPECT_EQ(limits[0].used, 1'200);
  EXPECT_EQ(limits[0].reserved, 0);
  EXPECT_EQ(limits[0].remaining, status[0].remaining);
  EXPECT_EQ(limits[0].resets_at, status[0].resets_at);
}

TEST_F(EngineTest, ReleaseFreesTheReservationOnce) {
  engine_.PutLimit(UserLimit("day", "alice", 10'000));
  CheckResult r = engine_.Check(Ctx(), Tokens(6'000));
  EXPECT_TRUE(engine_.Release("acme", r.reservation_id));
  EXPECT_EQ(StatusOf("day").reserved, 0);
  EXPECT_EQ(StatusOf("day").used, 0);
  EXPECT_FALSE(engine_.Release("acme", r.reservation_id));
}

TEST_F(EngineTest, OnlyTheTenantThatHoldsAReservationFindsSettlesOrReleasesIt) {
  engine_.PutLimit(UserLimit("day", "alice", 10'000));
  CheckResult r = engine_.Check(Ctx(), Tokens(6'000));
  EXPECT_FALSE(engine_.Find("bravo", r.reservation_id).has_value());
  EXPECT_FALSE(engine_.Release("bravo", r.reservation_id));
  engine_.Settle(r.reservation_id, Ctx("alice", "bravo"), Tokens(0));
  EXPECT_EQ(StatusOf("day").reserved, 6'000);  // another tenant's settle frees nothing
  std::optional<Engine::Held> held = engine_.Find("acme", r.reservation_id);
  ASSERT_TRUE(held.has_value());
  EXPECT_EQ(held->model_used, "");  // nothing substituted
  EXPECT_TRUE(engine_.Release("acme", r.reservation_id));
  EXPECT_FALSE(engine_.Find("acme", r.reservation_id).has_value());
}

TEST_F(EngineTest, AReservationRemembersTheModelItsCheckSubstituted) {
  CallContext ctx = Ctx();
  ctx.provider = "openai";
  ctx.model = "gpt-4o-mini";
  CheckResult r = engine_.Check(ctx, Tokens(10), /*substituted=*/true);
  std::optional<Engine::Held> held = engine_.Find("acme", r.reservation_id);
  ASSERT_TRUE(held.has_value());
  EXPECT_EQ(held->provider_used, "openai");
  EXPECT_EQ(held->model_used, "gpt-4o-mini");
}

TEST_F(EngineTest, ReservationIsReleasedWhenLeaseExpires) {
  engine_.PutLimit(UserLimit("day", "alice", 10'000));
  CheckResult r = engine_.Check(Ctx(), Tokens(6'000));
  clock_.Advance(absl::Minutes(10));
  EXPECT_EQ(StatusOf("day").reserved, 0);
  EXPECT_TRUE(engine_.Check(Ctx(), Tokens(6'000)).allowed);
  EXPECT_FALSE(engine_.Release("acme", r.reservation_id));
}

TEST_F(EngineTest, SettledReleasedAndExpiredReservationsLeaveNothingBehind) {
  engine_.PutLimit(UserLimit("day", "alice", 1'000'000'000));
  for (int i = 0; i < 1000; ++i) {
    CheckResult r = engine_.Check(Ctx(), Tokens(10));
    if (i % 2 == 0) {
      engine_.Settle(r.reservation_id, Ctx(), Tokens(5));
    } else {
      EXPECT_TRUE(engine_.Release("acme", r.reservation_id));
    }
  }
  EXPECT_EQ(engine_.HeldReservations(), 0u);
  for (int i = 0; i < 10; ++i) engine_.Check(Ctx(), Tokens(10));
  EXPECT_EQ(engine_.HeldReservations(), 10u);
  clock_.Advance(absl::Minutes(10));
  engine_.Status(Ctx());  // any call expires what is due
  EXPECT_EQ(engine_.HeldReservations(), 0u);
}

TEST_F(EngineTest, ReservationIsHeldUntilTheLeaseEnds) {
  engine_.PutLimit(UserLimit("day", "alice", 10'000));
  engine_.Check(Ctx(), Tokens(6'000));
  clock_.Advance(absl::Minutes(10) - absl::Seconds(1));
  EXPECT_EQ(StatusOf("day").reserved, 6'000);
  EXPECT_FALSE(engine_.Check(Ctx(), Tokens(6'000)).allowed);
}

TEST_F(EngineTest, LeaseLengthComesFromOptions) {
  EngineOptions options;
  options.lease = absl::Seconds(30);
  Engine engine(&clock_, options);
  engine.PutLimit(UserLimit("day", "alice", 10'000));
  CheckResult r = engine.Check(Ctx(), Tokens(6'000));
  EXPECT_EQ(r.expires_at, kStart + absl::Seconds(30));
  clock_.Advance(absl::Seconds(30));
  EXPECT_TRUE(engine.Check(Ctx(), Tokens(6'000)).allowed);
}

TEST_F(EngineTest, RefusalByOneLimitReservesOnNone) {
  engine_.PutLimit(MakeLimit("tenant", Level::kTenant, "acme", "acme", 100'000));
  engine_.PutLimit(UserLimit("user", "alice", 1'000));
  CheckResult r = engine_.Check(Ctx(), Tokens(5'000));
  EXPECT_FALSE(r.allowed);
  EXPECT_EQ(r.blocking->limit.id, "user");
  EXPECT_EQ(StatusOf("tenant").reserved, 0);
  EXPECT_EQ(StatusOf("user").reserved, 0);
}

TEST_F(EngineTest, AllowedCallReservesOnEveryMatchingLimit) {
  engine_.PutLimit(MakeLimit("tenant", Level::kTenant, "acme", "acme", 100'000));
  engine_.PutLimit(UserLimit("user", "alice", 10'000));
  ASSERT_TRUE(engine_.Check(Ctx(), Tokens(5'000)).allowed);
  EXPECT_EQ(StatusOf("tenant").reserved, 5'000);
  EXPECT_EQ(StatusOf("user").reserved, 5'000);
}

TEST_F(EngineTest, EvaluateReservesNothing) {
  engine_.PutLimit(UserLimit("day", "alice", 10'000));
  CheckResult r = engine_.Evaluate(Ctx(), Tokens(6'000));
  EXPECT_TRUE(r.allowed);
  EXPECT_TRUE(r.reservation_id.empty());
  EXPECT_EQ(StatusOf("day").reserved, 0);
}

TEST_F(EngineTest, ReservationCarriesIntoTheNextWindow) {
  engine_.PutLimit(UserLimit("day", "alice", 10'000));
  clock_.Set(absl::FromCivil(absl::CivilSecond(2026, 5, 12, 23, 59, 0), absl::UTCTimeZone()));
  CheckResult r = engine_.Check(Ctx(), Tokens(6'000));
  clock_.Advance(absl::Minutes(2));
  EXPECT_EQ(StatusOf("day").reserved, 6'000);
  EXPECT_FALSE(engine_.Check(Ctx(), Tokens(6'000)).allowed);
  engine_.Settle(r.reservation_id, Ctx(), Tokens(6'000));
  EXPECT_EQ(StatusOf("day").used, 6'000);
}

// --- Defaults, overrides, models -----------------------------------------------------

TEST_F(EngineTest, DefaultAppliesToEachUserSeparately) {
  engine_.PutLimit(UserLimit("default", "*", 1'000));
  Spend(1'000, Ctx("alice"));
  EXPECT_FALSE(engine_.Check(Ctx("alice"), Tokens(1)).allowed);
  EXPECT_TRUE(engine_.Check(Ctx("bob"), Tokens(1'000)).allowed);
}

TEST_F(EngineTest, SameUserIdInTwoTenantsHasTwoCounters) {
  engine_.PutLimit(MakeLimit("every", Level::kUser, "*", "*", 1'000));
  Spend(1'000, Ctx("alice", "acme"));
  EXPECT_FALSE(engine_.Check(Ctx("alice", "acme"), Tokens(1)).allowed);
  EXPECT_TRUE(engine_.Check(Ctx("alice", "globex"), Tokens(1)).allowed);
}

TEST_F(EngineTest, SubjectLimitReplacesTheDefaultForThatSubject) {
  engine_.PutLimit(UserLimit("default", "*", 1'000));
  engine_.PutLimit(UserLimit("alice", "alice", 5'000));
  EXPECT_THAT(MatchingIds(Ctx("alice")), ElementsAre("alice"));
  EXPECT_THAT(MatchingIds(Ctx("bob")), ElementsAre("default"));
  EXPECT_TRUE(engine_.Check(Ctx("alice"), Tokens(3'000)).allowed);
  EXPECT_FALSE(engine_.Check(Ctx("bob"), Tokens(3'000)).allowed);
}

TEST_F(EngineTest, SubjectLimitWithAnotherWindowAddsToTheDefault) {
  engine_.PutLimit(UserLimit("default", "*", 1'000));
  engine_.PutLimit(UserLimit("alice-week", "alice", 5'000, kWeek));
  EXPECT_THAT(MatchingIds(Ctx("alice")), ElementsAre("alice-week", "default"));
}

TEST_F(EngineTest, SubjectLimitWithOtherModelsAddsToTheDefault) {
  engine_.PutLimit(UserLimit("default", "*", 1'000));
  Limit l = UserLimit("alice-4o", "alice", 5'000);
  l.models = {"openai:gpt-4o*"};
  engine_.PutLimit(l);
  EXPECT_THAT(MatchingIds(Ctx("alice")), ElementsAre("alice-4o", "default"));
}

TEST_F(EngineTest, SubjectLimitWithSameModelsReplacesTheDefault) {
  Limit d = UserLimit("default", "*", 1'000);
  d.models = {"openai:gpt-4o*", "anthropic:*"};
  engine_.PutLimit(d);
  Limit l = UserLimit("alice", "alice", 5'000);
  l.models = {"anthropic:*", "openai:gpt-4o*"};
  engine_.PutLimit(l);
  EXPECT_THAT(MatchingIds(Ctx("alice")), ElementsAre("alice"));
}

TEST_F(EngineTest, TenantLimitReplacesTheEveryTenantDefault) {
  engine_.PutLimit(MakeLimit("every", Level::kTenant, "*", "*", 1'000));
  engine_.PutLimit(MakeLimit("acme", Level::kTenant, "acme", "acme", 50'000));
  EXPECT_THAT(MatchingIds(Ctx("alice", "acme")), ElementsAre("acme"));
  EXPECT_THAT(MatchingIds(Ctx("alice", "globex")), ElementsAre("every"));
}

TEST_F(EngineTest, UserLimitDoesNotApplyToACallWithoutUser) {
  engine_.PutLimit(UserLimit("default", "*", 1'000));
  EXPECT_TRUE(MatchingIds(Ctx("")).empty());
}

TEST_F(EngineTest, AgentAndKeyLimitsMatchTheirSubjects) {
  engine_.PutLimit(MakeLimit("rag", Level::kAgent, "acme", "rag", 1'000));
  engine_.PutLimit(MakeLimit("keys", Level::kKey, "acme", "*", 1'000));
  CallContext c = Ctx();
  EXPECT_TRUE(MatchingIds(c).empty());
  c.agent = "rag";
  c.key_id = "key_1";
  EXPECT_THAT(MatchingIds(c), ElementsAre("keys", "rag"));
  c.agent = "chat";
  EXPECT_THAT(MatchingIds(c), ElementsAre("keys"));
}

TEST_F(EngineTest, OtherTenantsLimitsDoNotApply) {
  engine_.PutLimit(MakeLimit("globex", Level::kTenant, "globex", "globex", 1'000));
  EXPECT_TRUE(MatchingIds(Ctx("alice", "acme")).empty());
}

TEST_F(EngineTest, ModelGlobsRestrictWhichCallsALimitChecks) {
  Limit l = UserLimit("4o", "alice", 1'000);
  l.models = {"openai:gpt-4o*"};
  engine_.PutLimit(l);
  EXPECT_FALSE(engine_.Check(Ctx("alice", "acme", "gpt-4o-mini"), Tokens(2'000)).allowed);
  EXPECT_TRUE(engine_.Check(Ctx("alice", "acme", "gpt-4.1"), Tokens(2'000)).allowed);
  EXPECT_TRUE(
      engine_.Check(Ctx("alice", "acme", "claude-3-haiku", "anthropic"), Tokens(2'000)).allowed);
}

TEST_F(EngineTest, ModelGlobsRestrictWhichCallsALimitCounts) {
  Limit l = UserLimit("4o", "alice", 1'000);
  l.models = {"openai:gpt-4o*"};
  engine_.PutLimit(l);
  Spend(500, Ctx("alice", "acme", "gpt-4.1"));
  EXPECT_EQ(StatusOf("4o").used, 0);
  Spend(500, Ctx("alice", "acme", "gpt-4o"));
  EXPECT_EQ(StatusOf("4o").used, 500);
}

TEST_F(EngineTest, RemovedLimitNoLongerApplies) {
  engine_.PutLimit(UserLimit("day", "alice", 10));
  engine_.RemoveLimit("day");
  EXPECT_TRUE(engine_.Check(Ctx(), Tokens(1'000)).allowed);
}

TEST_F(EngineTest, ChangingTheValueKeepsTheCount) {
  engine_.PutLimit(UserLimit("day", "alice", 10'000));
  Spend(4'000);
  engine_.PutLimit(UserLimit("day", "alice", 5'000));
  EXPECT_EQ(StatusOf("day").used, 4'000);
  EXPECT_FALSE(engine_.Check(Ctx(), Tokens(2'000)).allowed);
}

TEST_F(EngineTest, ChangingTheWindowStartsTheCountAfresh) {
  engine_.PutLimit(UserLimit("lim", "alice", 10'000));
  Spend(4'000);
  engine_.PutLimit(UserLimit("lim", "alice", 10'000, kWeek));
  EXPECT_EQ(StatusOf("lim").used, 0);
}

// --- Modes ---------------------------------------------------------------------------

TEST_F(EngineTest, ModeDefaultsToEngineOptions) {
  EngineOptions options;
  options.default_mode = Mode::kShadow;
  Engine engine(&clock_, options);
  engine.PutLimit(UserLimit("day", "alice", 10));
  EXPECT_EQ(engine.Status(Ctx())[0].mode, Mode::kShadow);
  engine.SetDefaultMode(Mode::kEnforce);
  EXPECT_EQ(engine.Status(Ctx())[0].mode, Mode::kEnforce);
}

TEST_F(EngineTest, TenantModeOverridesTheDefault) {
  Tenant t;
  t.id = "acme";
  t.mode = Mode::kShadow;
  engine_.PutTenant(t);
  engine_.PutLimit(UserLimit("day", "alice", 10));
  EXPECT_EQ(StatusOf("day").mode, Mode::kShadow);
}

TEST_F(EngineTest, LimitModeOverridesTheTenant) {
  Tenant t;
  t.id = "acme";
  t.mode = Mode::kShadow;
  engine_.PutTenant(t);
  Limit l = UserLimit("day", "alice", 10);
  l.mode = Mode::kEnforce;
  engine_.PutLimit(l);
  EXPECT_EQ(StatusOf("day").mode, Mode::kEnforce);
  EXPECT_FALSE(engine_.Check(Ctx(), Tokens(100)).allowed);
}

TEST_F(EngineTest, ShadowRefusalAllowsAndStillReserves) {
  Limit l = UserLimit("day", "alice", 1'000);
  l.mode = Mode::kShadow;
  engine_.PutLimit(l);
  CheckResult r = engine_.Check(Ctx(), Tokens(1'500));
  EXPECT_TRUE(r.allowed);
  EXPECT_EQ(r.decision, DecisionKind::kShadowDeny);
  EXPECT_FALSE(r.reservation_id.empty());
  ASSERT_TRUE(r.blocking.has_value());
  EXPECT_EQ(r.blocking->mode, Mode::kShadow);
  EXPECT_THAT(r.reason, HasSubstr("can never fit"));
  EXPECT_EQ(StatusOf("day").reserved, 1'500);
}

TEST_F(EngineTest, EnforcedRefusalWinsOverShadowRefusal) {
  Limit shadow = UserLimit("shadow", "alice", 1'000, kWeek);
  shadow.mode = Mode::kShadow;
  engine_.PutLimit(shadow);
  engine_.PutLimit(UserLimit("enforce", "alice", 1'000));
  CheckResult r = engine_.Check(Ctx(), Tokens(1'500));
  EXPECT_FALSE(r.allowed);
  EXPECT_EQ(r.decision, DecisionKind::kDeny);
  EXPECT_EQ(r.blocking->limit.id, "enforce");
}

TEST_F(EngineTest, OffLimitIsCountedButNeverChecked) {
  Limit l = UserLimit("day", "alice", 1'000);
  l.mode = Mode::kOff;
  engine_.PutLimit(l);
  CheckResult r = engine_.Check(Ctx(), Tokens(5'000));
  EXPECT_TRUE(r.allowed);
  EXPECT_EQ(r.decision, DecisionKind::kAllow);
  EXPECT_TRUE(r.limits.empty());
  engine_.Settle(r.reservation_id, Ctx(), Tokens(5'000));
  LimitStatus s = StatusOf("day");
  EXPECT_EQ(s.mode, Mode::kOff);
  EXPECT_EQ(s.used, 5'000);
  EXPECT_EQ(s.reserved, 0);
}

// --- Rolling windows ---------------------------------------------------------------

TEST_F(EngineTest, RollingUsageFallsOffAfterTheWindowAndOneBucket) {
  // kStart is a multiple of 6 s, so usage lands at the start of a bucket.
  engine_.PutLimit(UserLimit("tpm", "alice", 100, kRollingMinute));
  Spend(100);
  clock_.Advance(absl::Seconds(65));
  EXPECT_FALSE(engine_.Check(Ctx(), Tokens(1)).allowed) << "counted for up to L + L/10";
  clock_.Advance(absl::Seconds(1));
  EXPECT_TRUE(engine_.Check(Ctx(), Tokens(1)).allowed);
  EXPECT_EQ(StatusOf("tpm").used, 0);
}

TEST_F(EngineTest, RollingRetryAfterIsWhenEnoughUsageHasExpired) {
  engine_.PutLimit(UserLimit("tpm", "alice", 100, kRollingMinute));
  Spend(60);
  clock_.Advance(absl::Seconds(30));
  Spend(40);
  clock_.Advance(absl::Seconds(10));
  // 50 more needs the first 60 gone: they leave at kStart + 66 s, 26 s from now.
  CheckResult r = engine_.Check(Ctx(), Tokens(50));
  EXPECT_FALSE(r.allowed);
  EXPECT_EQ(r.retry_after, absl::Seconds(26));
  EXPECT_EQ(r.blocking->resets_at, kStart + absl::Seconds(66));
  EXPECT_THAT(r.reason, HasSubstr("100 of 100 tokens used in the last minute"));
  clock_.Advance(*r.retry_after);
  EXPECT_TRUE(engine_.Check(Ctx(), Tokens(50)).allowed);
}

TEST_F(EngineTest, RollingEstimateIsWithinTheDocumentedBound) {
  // Estimate >= the exact sliding-window sum, and exceeds it by at most the usage of
  // the one bucket at the far edge (at most L/10 older than L).
  engine_.PutLimit(UserLimit("tph", "alice", int64_t{1} << 40, kRollingHour));
  std::mt19937 rng(7);
  std::deque<std::pair<absl::Time, int64_t>> events;
  const absl::Duration length = absl::Hours(1);
  const absl::Duration bucket = absl::Minutes(6);
  for (int i = 0; i < 2'000; ++i) {
    clock_.Advance(absl::Seconds(std::uniform_int_distribution<int>(0, 20)(rng)));
    const int64_t amount = std::uniform_int_distribution<int>(1, 1'000)(rng);
    Spend(amount);
    events.emplace_back(clock_.Now(), amount);
    const absl::Time now = clock_.Now();
    const absl::Time bucket_start = absl::FromUnixSeconds(absl::ToUnixSeconds(now) / 360 * 360);
    int64_t exact = 0, edge = 0;
    for (const auto& [t, a] : events) {
      if (t > now - length)
        exact += a;
      else if (t >= bucket_start - length)
        edge += a;
    }
    const int64_t estimate = StatusOf("tph").used;
    ASSERT_GE(estimate, exact) << "at event " << i;
    ASSERT_LE(estimate - exact, edge) << "at event " << i;
    while (!events.empty() && events.front().first < now - length - bucket) events.pop_front();
  }
}

// --- Ledger cells ------------------------------------------------------------------

TEST_F(EngineTest, SettleReturnsTheCellsItChanged) {
  engine_.PutLimit(UserLimit("day", "alice", 10'000));
  engine_.PutLimit(UserLimit("tpm", "alice", 10'000, kRollingMinute));
  clock_.Advance(absl::Seconds(7));
  std::vector<CounterDelta> cells = engine_.Settle("", Ctx(), Tokens(300, 20));
  std::sort(cells.begin(), cells.end(),
            [](const CounterDelta& a, const CounterDelta& b) { return a.limit_id < b.limit_id; });
  ASSERT_EQ(cells.size(), 2u);
  EXPECT_EQ(cells[0].limit_id, "day");
  EXPECT_EQ(cells[0].subject, "acme/alice");
  EXPECT_EQ(cells[0].amount, 320);
  EXPECT_EQ(cells[0].window_start,
            absl::ToUnixSeconds(absl::FromCivil(absl::CivilDay(2026, 5, 12), absl::UTCTimeZone())));
  EXPECT_EQ(cells[0].expires_at, absl::FromCivil(absl::CivilDay(2026, 5, 13), absl::UTCTimeZone()));
  EXPECT_EQ(cells[1].limit_id, "tpm");
  EXPECT_EQ(cells[1].window_start, absl::ToUnixSeconds(kStart) + 6);  // its 6 s bucket
  EXPECT_EQ(cells[1].expires_at, kStart + absl::Seconds(6 + 66));
}

TEST_F(EngineTest, RestoredCellsCountAgain) {
  engine_.PutLimit(UserLimit("day", "alice", 10'000));
  engine_.PutLimit(UserLimit("tpm", "alice", 10'000, kRollingMinute));
  std::vector<CounterDelta> cells = engine_.Settle("", Ctx(), Tokens(700));
  Engine restarted(&clock_, EngineOptions{});
  restarted.PutLimit(UserLimit("day", "alice", 10'000));
  restarted.PutLimit(UserLimit("tpm", "alice", 10'000, kRollingMinute));
  restarted.Restore(cells);
  restarted.Restore(cells);
  for (const LimitStatus& s : restarted.Status(Ctx())) EXPECT_EQ(s.used, 1'400) << s.limit.id;
}

TEST_F(EngineTest, RestoredCellsOfAnUnknownLimitWaitForIt) {
  engine_.PutLimit(UserLimit("day", "alice", 10'000));
  std::vector<CounterDelta> cells = engine_.Settle("", Ctx(), Tokens(700));
  Engine restarted(&clock_, EngineOptions{});
  restarted.Restore(cells);
  restarted.PutLimit(UserLimit("day", "alice", 10'000));
  EXPECT_EQ(restarted.Status(Ctx())[0].used, 700);
}

TEST_F(EngineTest, ExpiredCellsAreNotRestored) {
  engine_.PutLimit(UserLimit("day", "alice", 10'000));
  std::vector<CounterDelta> cells = engine_.Settle("", Ctx(), Tokens(700));
  clock_.Advance(absl::Hours(24));
  Engine restarted(&clock_, EngineOptions{});
  restarted.PutLimit(UserLimit("day", "alice", 10'000));
  restarted.Restore(cells);
  EXPECT_EQ(restarted.Status(Ctx())[0].used, 0);
}

TEST_F(EngineTest, NegativeCellTakesAChargeBack) {
  engine_.PutLimit(UserLimit("day", "alice", 10'000));
  std::vector<CounterDelta> cells = engine_.Settle("", Ctx(), Tokens(700));
  for (CounterDelta& c : cells) c.amount = -c.amount;
  engine_.Restore(cells);
  engine_.Restore(cells);
  EXPECT_EQ(StatusOf("day").used, 0);
}

TEST_F(EngineTest, FinishedWindowsStopBeingActiveCounters) {
  engine_.PutLimit(UserLimit("day", "*", 10'000));
  engine_.PutLimit(UserLimit("tpm", "*", 10'000, kRollingMinute));
  for (const char* user : {"a", "b", "c"}) Spend(10, Ctx(user));
  EXPECT_EQ(engine_.ActiveCounters(), 6u);
  clock_.Advance(absl::Minutes(2));
  Spend(10, Ctx("a"));
  EXPECT_EQ(engine_.ActiveCounters(), 4u);  // rolling b and c are empty now
  clock_.Advance(absl::Hours(24));
  Spend(0, Ctx("a"));
  EXPECT_EQ(engine_.ActiveCounters(), 0u);
}

}  // namespace
}  // namespace tollgate
