#pragma once

// Usage reports built from daily aggregates and events: the admin summary, the tenant
// history series, and the CSV form of events.

#include <string>
#include <vector>

#include <boost/json.hpp>

#include "absl/status/statusor.h"
#include "tollgate/store.h"
#include "tollgate/types.h"

namespace tollgate::server {

enum class Granularity { kDay, kWeek, kMonth };
enum class GroupBy { kNone, kModel, kProvider, kUser, kAgent };

absl::StatusOr<Granularity> ParseGranularity(std::string_view s);  // day | week | month
absl::StatusOr<GroupBy> ParseGroupBy(std::string_view s);          // "" | model | provider | user | agent

// {totals, daily: [{date, prompt_tokens, completion_tokens, total_tokens, input_cost_usd,
// output_cost_usd, requests}], by_model, by_provider} over `rows`; `dates` lists every
// day of the period (oldest first) so days without usage appear with zeros.
boost::json::object Summary(const std::vector<DailyRow>& rows, const std::vector<std::string>& dates);

// {series: [{period, group, input_tokens, output_tokens, total_tokens, cost_usd,
// requests}]} sorted by period then group. Weeks start on Monday (period = the Monday);
// months are named YYYY-MM.
boost::json::object History(const std::vector<DailyRow>& rows, Granularity g, GroupBy by);

// CSV header line and one row per event (RFC 4180 quoting), each ending in "\r\n".
std::string EventCsvHeader();
std::string EventCsvRow(const UsageEvent& e);

}  // namespace tollgate::server
