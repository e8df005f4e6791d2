#include "server/codec.h"

#include <boost/json.hpp>

#include "gtest/gtest.h"

namespace tollgate::server {
namespace {

namespace json = boost::json;

TEST(CodecTest, Rfc3339IsUtcWithSeconds) {
  EXPECT_EQ(Rfc3339(absl::FromUnixSeconds(0)), "1970-01-01T00:00:00Z");
  EXPECT_EQ(Rfc3339(absl::FromUnixSeconds(1'709'251'199)), "2024-02-29T23:59:59Z");
  EXPECT_EQ(Rfc3339(absl::FromUnixMillis(1'700'000'000'999)), "2023-11-14T22:13:20Z");
}

TEST(CodecTest, Rfc3339AgreesWithAbseilAcrossTheCalendar) {
  // Century and leap-day edges, times before 1970, and the ends of the 4-digit years.
  for (const char* text : {"0000-01-01T00:00:00Z", "0000-02-29T12:00:00Z", "1600-02-29T00:00:00Z",
                           "1899-12-31T23:59:59Z", "1900-03-01T00:00:00Z", "1969-12-31T23:59:59Z",
                           "2000-02-29T00:00:00Z", "2100-02-28T23:59:59Z", "2100-03-01T00:00:00Z",
                           "9999-12-31T23:59:59Z"}) {
    absl::Time t;
    std::string err;
    ASSERT_TRUE(absl::ParseTime(absl::RFC3339_full, text, &t, &err)) << err;
    EXPECT_EQ(Rfc3339(t), text);
  }
  EXPECT_EQ(Rfc3339(absl::FromUnixMillis(-500)), "1969-12-31T23:59:59Z");  // rounds down
  // A day's worth of seconds apart, from year 0 to 9999, and every second of one day.
  const absl::TimeZone utc = absl::UTCTimeZone();
  for (int64_t s = -62'167'219'200; s < 253'402'300'800; s += 86'400 * 37 + 3'607) {
    const absl::Time t = absl::FromUnixSeconds(s);
    ASSERT_EQ(Rfc3339(t), absl::FormatTime("%E4Y-%m-%dT%H:%M:%SZ", t, utc)) << s;
  }
  for (int64_t s = 951'782'400; s < 951'782'400 + 86'400; ++s) {  // 2000-02-29
    const absl::Time t = absl::FromUnixSeconds(s);
    ASSERT_EQ(Rfc3339(t), absl::FormatTime("%E4Y-%m-%dT%H:%M:%SZ", t, utc)) << s;
  }
  // Outside the 4-digit years: as absl::FormatTime writes them.
  for (absl::Time t : {absl::FromUnixSeconds(-62'167'219'201), absl::FromUnixSeconds(253'402'300'800),
                       absl::InfiniteFuture(), absl::InfinitePast()}) {
    EXPECT_EQ(Rfc3339(t), absl::FormatTime("%Y-%m-%dT%H:%M:%SZ", t, utc));
  }
}

TEST(CodecTest, LimitStatusSpeaksLikeTheLimitItCounts) {
  for (Level level : {Level::kGlobal, Level::kTenant, Level::kUser}) {
    LimitStatus s;
    s.limit.id = "lim_1";
    s.limit.scope = Scope{level, level == Level::kGlobal ? "" : "acme",
                          level == Level::kUser ? "*" : ""};
    s.limit.metric = Metric::kCostUsd;
    s.limit.window = Window{WindowUnit::kDay, 1, WindowKind::kCalendar};
    s.limit.limit = 2'500'000'000;  // $2.50 in nanodollars
    s.subject = "alice";
    s.used = 1'000'000'000;
    s.remaining = 1'500'000'000;
    std::string text;
    JsonWriter w(&text);
    WriteJson(w, std::vector<LimitStatus>{s});
    json::array a = json::parse(text).as_array();
    ASSERT_EQ(a.size(), 1u);
    const json::object& o = a[0].as_object();
    EXPECT_EQ(json::value(o.at("scope")), json::value(ToJson(s.limit.scope)));
    EXPECT_EQ(json::value(o.at("window")), json::value(ToJson(s.limit.window)));
    EXPECT_EQ(o.at("limit"), LimitAmountToJson(Metric::kCostUsd, s.limit.limit));
    EXPECT_EQ(o.at("used").to_number<double>(), 1.0);  // written "1"
    EXPECT_EQ(o.at("subject").as_string(), "alice");
  }
}

TEST(CodecTest, ALimitChangedUnderTheSameIdIsWrittenAsItIsNow) {
  LimitStatus s;
  s.limit.id = "lim_same";
  s.limit.scope = Scope{Level::kUser, "acme", "*"};
  s.limit.window = Window{WindowUnit::kDay, 1, WindowKind::kCalendar};
  s.limit.limit = 100;
  s.subject = "acme/alice";
  auto written = [](const LimitStatus& s) {
    std::string text;
    JsonWriter w(&text);
    WriteJson(w, std::vector<LimitStatus>{s});
    return json::parse(text).as_array()[0].as_object();
  };
  EXPECT_EQ(written(s).at("limit").as_int64(), 100);
  EXPECT_EQ(written(s), written(s));  // the second from the thread's table
  s.limit.limit = 200;
  EXPECT_EQ(written(s).at("limit").as_int64(), 200);
  s.limit.scope.tenant_id = "bravo";
  EXPECT_EQ(written(s).at("scope").at("tenant_id").as_string(), "bravo");
  s.limit.window.size = 7;
  EXPECT_EQ(written(s).at("window").at("size").as_int64(), 7);
  s.limit.metric = Metric::kCostUsd;
  s.limit.limit = 2'500'000'000;
  json::object o = written(s);
  EXPECT_EQ(o.at("metric").as_string(), "cost_usd");
  EXPECT_EQ(o.at("limit").to_number<double>(), 2.5);
  s.subject = "bravo/bob";
  EXPECT_EQ(written(s).at("subject").as_string(), "bravo/bob");
}

TEST(CodecTest, LimitDefaultsFollowTheWindowUnit) {
  absl::StatusOr<Limit> minute = LimitFromJson(json::parse(
      R"({"scope":{"level":"tenant"},"metric":"requests","window":{"unit":"minute"},"limit":60})"));
  ASSERT_TRUE(minute.ok()) << minute.status();
  EXPECT_EQ(minute->window.kind, WindowKind::kRolling);
  EXPECT_EQ(minute->window.size, 1);
  EXPECT_EQ(minute->action, Action::kDeny);
  EXPECT_EQ(minute->mode, Mode::kInherit);
  absl::StatusOr<Limit> month = LimitFromJson(json::parse(
      R"({"scope":{"level":"user","tenant_id":"acme","subject_id":"*"},"metric":"tokens",
          "window":{"unit":"month","size":3},"limit":5,"models":["openai:gpt-4o*"]})"));
  ASSERT_TRUE(month.ok()) << month.status();
  EXPECT_EQ(month->window.kind, WindowKind::kCalendar);
  EXPECT_EQ(month->window.size, 3);
  EXPECT_EQ(month->models, std::vector<std::string>{"openai:gpt-4o*"});
}

TEST(CodecTest, CostLimitsSpeakUsdAndStoreNanos) {
  absl::StatusOr<Limit> l = LimitFromJson(json::parse(
      R"({"scope":{"level":"tenant"},"metric":"cost_usd","window":{"unit":"day"},"limit":12.5})"));
  ASSERT_TRUE(l.ok()) << l.status();
  EXPECT_EQ(l->limit, 12'500'000'000);
  EXPECT_EQ(ToJson(*l).at("limit").as_double(), 12.5);
}

TEST(CodecTest, LimitErrorsNameTheField) {
  struct Case {
    const char* body;
    const char* field;
  } cases[] = {
      {R"({"metric":"tokens","window":{"unit":"day"},"limit":1})", "'scope'"},
      {R"({"scope":{"level":"x"},"metric":"tokens","window":{"unit":"day"},"limit":1})", "'scope.level'"},
      {R"({"scope":{"level":"tenant"},"metric":"tokens","window":{"unit":"day","size":0},"limit":1})", "'window.size'"},
      {R"({"scope":{"level":"tenant"},"metric":"tokens","window":{"unit":"day"},"limit":-1})", "'limit'"},
      {R"({"scope":{"level":"tenant"},"metric":"tokens","window":{"unit":"day"},"limit":9223372036854775808})", "'limit'"},
      {R"({"scope":{"level":"tenant"},"metric":"cost_usd","window":{"unit":"day"},"limit":-0.5})", "'limit'"},
      {R"({"scope":{"level":"tenant"},"metric":"tokens","window":{"unit":"day"},"limit":1,"models":[1]})", "'models'"},
  };
  for (const Case& c : cases) {
    absl::StatusOr<Limit> l = LimitFromJson(json::parse(c.body));
    ASSERT_FALSE(l.ok()) << c.body;
    EXPECT_NE(std::string(l.status().message()).find(c.field), std::string::npos)
        << c.body << " -> " << l.status();
  }
}

}  // namespace
}  // namespace tollgate::server
