#include "server/reports.h"

#include "gtest/gtest.h"

namespace tollgate::server {
namespace {

DailyRow Row(std::string date, std::string user, std::string model, int64_t in, int64_t out) {
  DailyRow r;
  r.date = std::move(date);
  r.tenant_id = "acme";
  r.user_id = std::move(user);
  r.provider = "openai";
  r.model = std::move(model);
  r.usage.input_tokens = in;
  r.usage.output_tokens = out;
  r.usage.total_tokens = in + out;
  r.cost.input = in * 10;
  r.cost.output = out * 20;
  r.requests = 1;
  return r;
}

TEST(ReportsTest, WeeksStartOnMondayAndMonthsAreCalendarMonths) {
  // 2026-11-22 is a Sunday; 2026-11-23 a Monday.
  std::vector<DailyRow> rows = {Row("2026-11-22", "a", "m", 1, 1), Row("2026-11-23", "a", "m", 2, 2),
                                Row("2026-11-29", "a", "m", 4, 4), Row("2026-12-01", "a", "m", 8, 8)};
  boost::json::object weeks = History(rows, Granularity::kWeek, GroupBy::kNone);
  const auto& s = weeks.at("series").as_array();
  ASSERT_EQ(s.size(), 3u);
  EXPECT_EQ(s[0].at("period").as_string(), "2026-11-16");
  EXPECT_EQ(s[0].at("total_tokens").as_int64(), 2);
  EXPECT_EQ(s[1].at("period").as_string(), "2026-11-23");
  EXPECT_EQ(s[1].at("total_tokens").as_int64(), 12);
  EXPECT_EQ(s[2].at("period").as_string(), "2026-11-30");
  boost::json::object months = History(rows, Granularity::kMonth, GroupBy::kNone);
  ASSERT_EQ(months.at("series").as_array().size(), 2u);
  EXPECT_EQ(months.at("series").as_array()[1].at("period").as_string(), "2026-12");
}

TEST(ReportsTest, GroupsByUserAndModel) {
  std::vector<DailyRow> rows = {Row("2026-11-22", "a", "m1", 1, 1), Row("2026-11-22", "b", "m1", 2, 2),
                                Row("2026-11-22", "b", "m2", 3, 3)};
  auto by_user = History(rows, Granularity::kDay, GroupBy::kUser).at("series").as_array();
  ASSERT_EQ(by_user.size(), 2u);
  EXPECT_EQ(by_user[1].at("group").as_string(), "b");
  EXPECT_EQ(by_user[1].at("requests").as_int64(), 2);
  auto by_model = History(rows, Granularity::kDay, GroupBy::kModel).at("series").as_array();
  EXPECT_EQ(by_model[0].at("group").as_string(), "openai:m1");
}

TEST(ReportsTest, SummaryListsEveryDayAndSplitsCost) {
  std::vector<DailyRow> rows = {Row("2026-11-21", "a", "m", 100, 50)};
  boost::json::object s = Summary(rows, {"2026-11-20", "2026-11-21", "2026-11-22"});
  const auto& daily = s.at("daily").as_array();
  ASSERT_EQ(daily.size(), 3u);
  EXPECT_EQ(daily[0].at("total_tokens").as_int64(), 0);
  EXPECT_EQ(daily[1].at("prompt_tokens").as_int64(), 100);
  EXPECT_DOUBLE_EQ(daily[1].at("input_cost_usd").as_double(), 1000e-9);
  EXPECT_DOUBLE_EQ(daily[1].at("output_cost_usd").as_double(), 1000e-9);
  EXPECT_EQ(s.at("totals").at("requests").as_int64(), 1);
}

TEST(ReportsTest, CsvQuotesFieldsThatNeedIt) {
  UsageEvent e;
  e.event_id = "evt_1";
  e.user_id = "a,b";
  e.endpoint = "say \"hi\"";
  std::string row = EventCsvRow(e);
  EXPECT_NE(row.find("\"a,b\""), std::string::npos);
  EXPECT_NE(row.find("\"say \"\"hi\"\"\""), std::string::npos);
  EXPECT_EQ(row.substr(row.size() - 2), "\r\n");
}

}  // namespace
}  // namespace tollgate::server
