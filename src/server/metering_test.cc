#include "server/metering.h"

#include <future>

#include "gtest/gtest.h"
#include "store/memory/memory_store.h"

namespace tollgate::server {
namespace {

class MeteringTest : public ::testing::Test {
 protected:
  MeteringTest()
      : store_(&clock_), engine_(&clock_, EngineOptions{}), metering_(&clock_, &store_, &engine_, &prices_, {}) {
    EXPECT_TRUE(metering_.CreateTenant(Tenant{.id = "acme"}).ok());
    EXPECT_TRUE(metering_.CreateTenant(Tenant{.id = "bravo"}).ok());
    Limit l;
    l.scope = {Level::kUser, "acme", "*"};
    l.metric = Metric::kTokens;
    l.limit = 1000;
    EXPECT_TRUE(metering_.PutLimit(l).ok());
  }

  absl::StatusOr<ReportAnswer> ReportSync(ReportRequest r) {
    std::promise<absl::StatusOr<ReportAnswer>> p;
    metering_.Report(std::move(r), [&](absl::StatusOr<ReportAnswer> a) { p.set_value(std::move(a)); });
    return p.get_future().get();
  }

  static ReportRequest Call(std::string key, int64_t tokens) {
    ReportRequest r;
    r.ctx = {.tenant_id = "acme", .user_id = "alice", .provider = "openai", .model = "gpt-4o"};
    r.idempotency_key = std::move(key);
    r.usage.input_tokens = tokens;
    r.usage.total_tokens = tokens;
    return r;
  }

  int64_t Used() {
    std::vector<LimitStatus> s = metering_.Status({.tenant_id = "acme", .user_id = "alice"});
    return s.empty() ? -1 : s[0].used;
  }

  SimulatedClock clock_;
  store::MemoryStore store_;
  Engine engine_;
  providers::PriceCatalog prices_;
  Metering metering_;
};

TEST_F(MeteringTest, DuplicateReportCountsOnceAndReturnsTheFirstEvent) {
  absl::StatusOr<ReportAnswer> first = ReportSync(Call("k1", 100));
  ASSERT_TRUE(first.ok()) << first.status();
  absl::StatusOr<ReportAnswer> again = ReportSync(Call("k1", 100));
  ASSERT_TRUE(again.ok()) << again.status();
  EXPECT_TRUE(again->duplicate);
  EXPECT_EQ(again->event_id, first->event_id);
  EXPECT_EQ(again->cost.Total(), first->cost.Total());
  EXPECT_EQ(Used(), 100);
}

TEST_F(MeteringTest, AKeyAuthenticatesUntilItIsDeletedEvenWhenItsHashIsRemembered) {
  ApiKey key;
  key.role = Role::kAgent;
  key.tenant_id = "acme";
  absl::StatusOr<NewKey> made = metering_.CreateKey(key);
  ASSERT_TRUE(made.ok()) << made.status();
  for (int i = 0; i < 3; ++i) {  // the later calls reuse the remembered hash
    std::shared_ptr<const ApiKey> found = metering_.Authenticate(made->secret);
    ASSERT_NE(found, nullptr);
    EXPECT_EQ(found->id, made->key.id);
  }
  // A secret that differs only in its last character is another key.
  std::string other = made->secret;
  other.back() = other.back() == 'a' ? 'b' : 'a';
  EXPECT_EQ(metering_.Authenticate(other), nullptr);
  EXPECT_NE(metering_.Authenticate(made->secret), nullptr);
  ASSERT_TRUE(metering_.DeleteKey(made->key.id).ok());
  EXPECT_EQ(metering_.Authenticate(made->secret), nullptr);
}

TEST_F(MeteringTest, TheAnswerCarriesTheLimitsAsTheChargeLeftThem) {
  ReportRequest r = Call("k1", 100);
  r.with_limits = true;
  absl::StatusOr<ReportAnswer> first = ReportSync(r);
  ASSERT_TRUE(first.ok()) << first.status();
  ASSERT_EQ(first->limits.size(), 1u);
  EXPECT_EQ(first->limits[0].used, 100);
  EXPECT_EQ(first->limits[0].remaining, 900);
  // A duplicate's charge is taken back before its limits are read.
  absl::StatusOr<ReportAnswer> again = ReportSync(r);
  ASSERT_TRUE(again.ok()) << again.status();
  EXPECT_TRUE(again->duplicate);
  ASSERT_EQ(again->limits.size(), 1u);
  EXPECT_EQ(again->limits[0].used, 100);
  // Without with_limits nothing is read.
  absl::StatusOr<ReportAnswer> plain = ReportSync(Call("k2", 50));
  ASSERT_TRUE(plain.ok()) << plain.status();
  EXPECT_TRUE(plain->limits.empty());
}

TEST_F(MeteringTest, LocalDateIsTheTenantsCalendarDayAsAbslWritesIt) {
  ASSERT_TRUE(metering_.CreateTenant(Tenant{.id = "tokyo", .timezone = "Asia/Tokyo"}).ok());
  absl::TimeZone tokyo;
  ASSERT_TRUE(absl::LoadTimeZone("Asia/Tokyo", &tokyo));
  for (absl::CivilSecond local : {absl::CivilSecond(2026, 12, 31, 23, 59, 59),
                                  absl::CivilSecond(2027, 1, 1, 0, 0, 0),
                                  absl::CivilSecond(2028, 2, 29, 12, 0, 0),
                                  absl::CivilSecond(1, 3, 4, 5, 6, 7),
                                  absl::CivilSecond(9999, 12, 31, 23, 0, 0),
                                  absl::CivilSecond(10000, 1, 1, 0, 0, 0),
                                  absl::CivilSecond(-1, 6, 1, 0, 0, 0)}) {
    absl::Time t = absl::FromCivil(local, tokyo);
    EXPECT_EQ(metering_.LocalDate("tokyo", t), absl::FormatCivilTime(absl::CivilDay(local)));
    EXPECT_EQ(metering_.LocalDate("acme", t),  // UTC
              absl::FormatCivilTime(absl::ToCivilDay(t, absl::UTCTimeZone())));
  }
  EXPECT_EQ(metering_.LocalDate("tokyo", absl::FromCivil(absl::CivilSecond(2026, 11, 23, 8, 59, 59),
                                                         absl::UTCTimeZone())),
            "2026-11-23");
  EXPECT_EQ(metering_.LocalDate("tokyo", absl::FromCivil(absl::CivilSecond(2026, 11, 23, 15, 0, 0),
                                                         absl::UTCTimeZone())),
            "2026-11-24");
}

TEST_F(MeteringTest, FailedCommitTakesTheChargeBack) {
  store_.FailCommitsForTesting(true);
  absl::StatusOr<ReportAnswer> a = ReportSync(Call("k1", 300));
  EXPECT_FALSE(a.ok());
  EXPECT_EQ(Used(), 0);
  store_.FailCommitsForTesting(false);
  ASSERT_TRUE(ReportSync(Call("k1", 300)).ok());
  EXPECT_EQ(Used(), 300);
}

TEST_F(MeteringTest, ReservationsBelongToTheirTenant) {
  CheckRequest c;
  c.ctx = {.tenant_id = "acme", .user_id = "alice", .provider = "openai", .model = "gpt-4o"};
  c.input_tokens = 100;
  c.max_output_tokens = 100;
  CheckAnswer a = metering_.Check(c);
  ASSERT_TRUE(a.result.allowed);
  EXPECT_TRUE(absl::IsNotFound(metering_.Release("bravo", a.result.reservation_id)));
  EXPECT_TRUE(metering_.Release("acme", a.result.reservation_id).ok());
  EXPECT_TRUE(absl::IsNotFound(metering_.Release("acme", a.result.reservation_id)));
}

TEST_F(MeteringTest, ReportSettlesTheReservationToRealUsage) {
  CheckRequest c;
  c.ctx = {.tenant_id = "acme", .user_id = "alice", .provider = "openai", .model = "gpt-4o"};
  c.input_tokens = 400;
  c.max_output_tokens = 400;
  CheckAnswer a = metering_.Check(c);
  ASSERT_TRUE(a.result.allowed);
  EXPECT_FALSE(metering_.Check(c).result.allowed);  // 800 reserved + 800 > 1000
  ReportRequest r = Call("k", 450);
  r.reservation_id = a.result.reservation_id;
  ASSERT_TRUE(ReportSync(r).ok());
  std::vector<LimitStatus> s = metering_.Status({.tenant_id = "acme", .user_id = "alice"});
  EXPECT_EQ(s[0].used, 450);
  EXPECT_EQ(s[0].reserved, 0);
}

TEST_F(MeteringTest, SeveralAnswersReserveTheMaxOutputEach) {
  CheckRequest c;
  c.ctx = {.tenant_id = "acme", .user_id = "alice", .provider = "openai", .model = "gpt-4o"};
  c.input_tokens = 100;
  c.max_output_tokens = 300;
  c.choices = 3;
  CheckAnswer a = metering_.Check(c);
  ASSERT_TRUE(a.result.allowed);
  EXPECT_EQ(a.result.limits[0].reserved, 1000);  // 100 + 3 x 300
  c.choices = 4;  // 100 + 4 x 300 > 1000 even alone
  EXPECT_FALSE(metering_.Check(c).result.allowed);
  c.choices = int64_t{1} << 62;  // saturates instead of overflowing
  EXPECT_FALSE(metering_.Check(c).result.allowed);
}

TEST_F(MeteringTest, LimitsOfUnknownTenantsAreRefused) {
  Limit l;
  l.scope = {Level::kTenant, "nobody", ""};
  l.limit = 5;
  EXPECT_TRUE(absl::IsNotFound(metering_.PutLimit(l).status()));
}

}  // namespace
}  // namespace tollgate::server
