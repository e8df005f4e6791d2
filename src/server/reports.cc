#include "server/reports.h"

#include <map>
#include <tuple>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/time/civil_time.h"
#include "core/money.h"
#include "server/codec.h"

namespace tollgate::server {
namespace {

namespace json = boost::json;

struct Sums {
  int64_t input = 0, output = 0, total = 0, requests = 0;
  Nanos input_cost = 0, output_cost = 0;
  void Add(const DailyRow& r) {
    input += r.usage.input_tokens;
    output += r.usage.output_tokens;
    total += r.usage.total_tokens;
    requests += r.requests;
    input_cost += r.cost.input;
    output_cost += r.cost.output;
  }
  json::object ToJson() const {
    return {{"prompt_tokens", input},
            {"completion_tokens", output},
            {"total_tokens", total},
            {"input_cost_usd", core::UsdToDouble(input_cost)},
            {"output_cost_usd", core::UsdToDouble(output_cost)},
            {"cost_usd", core::UsdToDouble(input_cost + output_cost)},
            {"requests", requests}};
  }
};

std::string Period(const std::string& date, Granularity g) {
  if (g == Granularity::kDay) return date;
  if (g == Granularity::kMonth) return date.substr(0, 7);
  absl::CivilDay day;
  if (!absl::ParseCivilTime(date, &day)) return date;
  // Back to Monday.
  int back = (static_cast<int>(absl::GetWeekday(day)) - static_cast<int>(absl::Weekday::monday) + 7) % 7;
  return absl::FormatCivilTime(day - back);
}

std::string GroupOf(const DailyRow& r, GroupBy by) {
  switch (by) {
    case GroupBy::kNone: return "";
    case GroupBy::kModel: return absl::StrCat(r.provider, ":", r.model);
    case GroupBy::kProvider: return r.provider;
    case GroupBy::kUser: return r.user_id;
    case GroupBy::kAgent: return r.agent;
  }
  return "";
}

std::string Csv(std::string_view s) {
  if (s.find_first_of(",\"\r\n") == std::string_view::npos) return std::string(s);
  std::string out = "\"";
  for (char c : s) {
    if (c == '"') out += '"';
    out += c;
  }
  out += '"';
  return out;
}

}  // namespace

absl::StatusOr<Granularity> ParseGranularity(std::string_view s) {
  if (s == "day") return Granularity::kDay;
  if (s == "week") return Granularity::kWeek;
  if (s == "month") return Granularity::kMonth;
  return absl::InvalidArgumentError("parameter 'granularity' must be day, week or month");
}

absl::StatusOr<GroupBy> ParseGroupBy(std::string_view s) {
  if (s.empty()) return GroupBy::kNone;
  if (s == "model") return GroupBy::kModel;
  if (s == "provider") return GroupBy::kProvider;
  if (s == "user") return GroupBy::kUser;
  if (s == "agent") return GroupBy::kAgent;
  return absl::InvalidArgumentError("parameter 'group_by' must be model, provider, user or agent");
}

json::object Summary(const std::vector<DailyRow>& rows, const std::vector<std::string>& dates) {
  Sums totals;
  std::map<std::string, Sums> daily, by_model, by_provider;
  for (const std::string& d : dates) daily[d];
  for (const DailyRow& r : rows) {
    totals.Add(r);
    daily[r.date].Add(r);
    by_model[absl::StrCat(r.provider, ":", r.model)].Add(r);
    by_provider[r.provider].Add(r);
  }
  json::array daily_json, model_json, provider_json;
  for (const auto& [date, s] : daily) {
    json::object o = s.ToJson();
    o["date"] = date;
    daily_json.push_back(std::move(o));
  }
  for (const auto& [key, s] : by_model) {
    json::object o = s.ToJson();
    size_t colon = key.find(':');
    o["provider"] = key.substr(0, colon);
    o["model"] = key.substr(colon + 1);
    model_json.push_back(std::move(o));
  }
  for (const auto& [provider, s] : by_provider) {
    json::object o = s.ToJson();
    o["provider"] = provider;
    provider_json.push_back(std::move(o));
  }
  json::object totals_json = totals.ToJson();
  return {{"totals", totals_json},
          {"daily", daily_json},
          {"by_model", model_json},
          {"by_provider", provider_json}};
}

json::object History(const std::vector<DailyRow>& rows, Granularity g, GroupBy by) {
  std::map<std::pair<std::string, std::string>, Sums> buckets;
  for (const DailyRow& r : rows) buckets[{Period(r.date, g), GroupOf(r, by)}].Add(r);
  json::array series;
  for (const auto& [key, s] : buckets) {
    series.push_back({{"period", key.first},
                      {"group", key.second},
                      {"input_tokens", s.input},
                      {"output_tokens", s.output},
                      {"total_tokens", s.total},
                      {"cost_usd", core::UsdToDouble(s.input_cost + s.output_cost)},
                      {"requests", s.requests}});
  }
  return {{"series", series}};
}

std::string EventCsvHeader() {
  return "event_id,ts,tenant_id,user_id,agent,key_id,request_id,idempotency_key,provider,"
         "model,model_used,endpoint,input_tokens,output_tokens,cached_input_tokens,"
         "cache_write_tokens,reasoning_tokens,total_tokens,input_cost_usd,output_cost_usd,"
         "latency_ms,status,decision,estimated\r\n";
}

std::string EventCsvRow(const UsageEvent& e) {
  std::vector<std::string> f = {
      Csv(e.event_id), absl::FormatTime("%Y-%m-%dT%H:%M:%E3SZ", e.ts, absl::UTCTimeZone()),
      Csv(e.tenant_id), Csv(e.user_id), Csv(e.agent), Csv(e.key_id), Csv(e.request_id),
      Csv(e.idempotency_key), Csv(e.provider), Csv(e.model), Csv(e.model_used), Csv(e.endpoint),
      absl::StrCat(e.usage.input_tokens), absl::StrCat(e.usage.output_tokens),
      absl::StrCat(e.usage.cached_input_tokens), absl::StrCat(e.usage.cache_write_tokens),
      absl::StrCat(e.usage.reasoning_tokens), absl::StrCat(e.usage.total_tokens),
      core::FormatUsd(e.cost.input), core::FormatUsd(e.cost.output), absl::StrCat(e.latency_ms),
      std::string(ToString(e.status)), std::string(ToString(e.decision)),
      e.estimated ? "true" : "false"};
  return absl::StrCat(absl::StrJoin(f, ","), "\r\n");
}

}  // namespace tollgate::server
