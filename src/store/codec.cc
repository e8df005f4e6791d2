#include "store/codec.h"

#include <boost/json.hpp>

#include "absl/strings/escaping.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"

namespace tollgate::store {

absl::Status ValidateEntry(const LedgerEntry& entry) {
  if (entry.event.event_id.empty()) return absl::InvalidArgumentError("event_id is empty");
  if (entry.event.tenant_id.empty()) return absl::InvalidArgumentError("tenant_id is empty");
  for (const CounterDelta& c : entry.counters) {
    if (c.limit_id.empty()) return absl::InvalidArgumentError("counter limit_id is empty");
  }
  return absl::OkStatus();
}

absl::Status ValidateFilter(const EventFilter& filter) {
  if (filter.limit < 1 || filter.limit > 1000) {
    return absl::InvalidArgumentError("limit must be between 1 and 1000");
  }
  return absl::OkStatus();
}

std::string DailyDate(const LedgerEntry& entry) {
  if (!entry.date.empty()) return entry.date;
  return absl::FormatTime("%Y-%m-%d", entry.event.ts, absl::UTCTimeZone());
}

const std::string& DailyModel(const UsageEvent& event) {
  return event.model_used.empty() ? event.model : event.model_used;
}

std::string EncodeCursor(int64_t ts_nanos, std::string_view event_id) {
  return absl::WebSafeBase64Escape(absl::StrCat(ts_nanos, ":", ToAbsl(event_id)));
}

absl::StatusOr<CursorKey> DecodeCursor(std::string_view cursor) {
  std::string raw;
  if (!absl::WebSafeBase64Unescape(ToAbsl(cursor), &raw)) {
    return absl::InvalidArgumentError("malformed cursor");
  }
  size_t colon = raw.find(':');
  CursorKey key;
  if (colon == std::string::npos ||
      !absl::SimpleAtoi(absl::string_view(raw.data(), colon), &key.ts_nanos)) {
    return absl::InvalidArgumentError("malformed cursor");
  }
  key.event_id = raw.substr(colon + 1);
  return key;
}

std::optional<DecisionKind> ParseDecision(std::string_view s) {
  for (DecisionKind d : {DecisionKind::kAllow, DecisionKind::kDowngrade, DecisionKind::kDeny,
                         DecisionKind::kShadowDeny}) {
    if (ToString(d) == s) return d;
  }
  return std::nullopt;
}

std::string_view TenantRef(std::string_view tenant_id) {
  return tenant_id == "*" ? std::string_view() : tenant_id;
}

std::string StringsToJson(const std::vector<std::string>& v) {
  boost::json::array a;
  for (const std::string& s : v) a.emplace_back(boost::json::string_view(s.data(), s.size()));
  return boost::json::serialize(a);
}

namespace {

absl::StatusOr<boost::json::array> ParseArray(std::string_view json) {
  boost::system::error_code ec;
  boost::json::value v = boost::json::parse(boost::json::string_view(json.data(), json.size()), ec);
  if (ec || !v.is_array()) return absl::DataLossError("stored JSON list does not parse");
  return std::move(v.as_array());
}

}  // namespace

absl::StatusOr<std::vector<std::string>> StringsFromJson(std::string_view json) {
  absl::StatusOr<boost::json::array> a = ParseArray(json);
  if (!a.ok()) return a.status();
  std::vector<std::string> out;
  for (const boost::json::value& e : *a) {
    if (!e.is_string()) return absl::DataLossError("stored JSON list holds a non-string");
    out.emplace_back(e.get_string().data(), e.get_string().size());
  }
  return out;
}

std::string DoublesToJson(const std::vector<double>& v) {
  boost::json::array a;
  for (double d : v) a.emplace_back(d);
  return boost::json::serialize(a);
}

absl::StatusOr<std::vector<double>> DoublesFromJson(std::string_view json) {
  absl::StatusOr<boost::json::array> a = ParseArray(json);
  if (!a.ok()) return a.status();
  std::vector<double> out;
  for (const boost::json::value& e : *a) {
    boost::system::error_code ec;
    double d = e.to_number<double>(ec);
    if (ec) return absl::DataLossError("stored JSON list holds a non-number");
    out.push_back(d);
  }
  return out;
}

}  // namespace tollgate::store
