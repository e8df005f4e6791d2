#include "server/codec.h"

#include "absl/container/flat_hash_map.h"
#include "absl/strings/str_cat.h"
#include "absl/time/civil_time.h"
#include "core/money.h"
#include "server/common/json_util.h"

namespace tollgate::server {

namespace json = boost::json;

void AppendRfc3339(absl::Time t, std::string& out) {
  // By hand: absl::FormatTime is general and costs a few microseconds per call, and
  // every check answer carries two times per limit. The date from the day number is
  // the proleptic Gregorian calendar's usual arithmetic on 400-year eras.
  constexpr int64_t kYear0 = -62'167'219'200;      // 0000-01-01T00:00:00Z
  constexpr int64_t kYear10000 = 253'402'300'800;  // 10000-01-01T00:00:00Z
  const int64_t secs = absl::ToUnixSeconds(t);     // rounds toward -infinity
  if (t == absl::InfiniteFuture() || t == absl::InfinitePast() || secs < kYear0 ||
      secs >= kYear10000) {
    out += absl::FormatTime("%Y-%m-%dT%H:%M:%SZ", t, absl::UTCTimeZone());
    return;
  }
  int64_t days = secs / 86400;
  int64_t rem = secs % 86400;
  if (rem < 0) {
    rem += 86400;
    --days;
  }
  const int64_t z = days + 719468;  // days since 0000-03-01
  const int64_t era = (z >= 0 ? z : z - 146096) / 146097;
  const int64_t doe = z - era * 146097;                                    // [0, 146096]
  const int64_t yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;  // [0, 399]
  const int64_t doy = doe - (365 * yoe + yoe / 4 - yoe / 100);             // [0, 365]
  const int64_t mp = (5 * doy + 2) / 153;                                  // March = 0
  const int64_t day = doy - (153 * mp + 2) / 5 + 1;
  const int64_t month = mp < 10 ? mp + 3 : mp - 9;
  const int64_t year = yoe + era * 400 + (month <= 2 ? 1 : 0);
  char buf[20] = {'0', '0', '0', '0', '-', '0', '0', '-', '0', '0',
                  'T', '0', '0', ':', '0', '0', ':', '0', '0', 'Z'};
  auto put = [&buf](size_t pos, int64_t v, int digits) {
    for (int i = digits - 1; i >= 0; --i, v /= 10) buf[pos + i] = static_cast<char>('0' + v % 10);
  };
  put(0, year, 4);
  put(5, month, 2);
  put(8, day, 2);
  put(11, rem / 3600, 2);
  put(14, rem / 60 % 60, 2);
  put(17, rem % 60, 2);
  out.append(buf, sizeof buf);
}

std::string Rfc3339(absl::Time t) {
  std::string out;
  AppendRfc3339(t, out);
  return out;
}

json::object ToJson(const Scope& s, json::storage_ptr sp) {
  json::object o(sp);
  o["level"] = ToString(s.level);
  if (s.level != Level::kGlobal) o["tenant_id"] = s.tenant_id;
  if (s.level != Level::kGlobal && s.level != Level::kTenant) o["subject_id"] = s.subject_id;
  return o;
}

json::object ToJson(const Window& w, json::storage_ptr sp) {
  json::object o(sp);
  o["unit"] = ToString(w.unit);
  o["size"] = w.size;
  o["kind"] = ToString(w.kind);
  return o;
}

json::value LimitAmountToJson(Metric m, int64_t amount, json::storage_ptr sp) {
  if (m == Metric::kCostUsd) return json::value(core::UsdToDouble(amount), sp);
  return json::value(amount, sp);
}

json::object ToJson(const Limit& l) {
  json::object o;
  o["id"] = l.id;
  o["scope"] = ToJson(l.scope);
  o["metric"] = ToString(l.metric);
  o["window"] = ToJson(l.window);
  o["limit"] = LimitAmountToJson(l.metric, l.limit);
  json::array models;
  for (const auto& m : l.models) models.push_back(json::string(m));
  o["models"] = std::move(models);
  o["action"] = ToString(l.action);
  o["mode"] = ToString(l.mode);
  json::array thresholds;
  for (double t : l.alert_thresholds) thresholds.push_back(t);
  o["alert_thresholds"] = std::move(thresholds);
  if (!l.owner.empty()) o["owner"] = l.owner;
  o["created_at"] = Rfc3339(l.created_at);
  o["updated_at"] = Rfc3339(l.updated_at);
  return o;
}

namespace {

// The fixed part of a limit's entry,
// `{"id":…,"scope":{…},"metric":…,"window":{…},"limit":…,`, with the fields it was
// written from. Every check and report answer carries its limits, and this part is
// most of their text: each thread keeps it per limit id and writes it anew only when
// one of these fields differs.
struct FixedPart {
  Scope scope;
  Metric metric;
  Window window;
  int64_t limit;
  std::string text;
};
constexpr size_t kMaxFixedParts = 4096;  // beyond, a thread's table starts over

void AppendAmount(Metric metric, int64_t v, std::string& out) {
  if (metric == Metric::kCostUsd) {
    AppendJsonNumber(core::UsdToDouble(v), out);
  } else {
    AppendJsonNumber(v, out);
  }
}

void AppendName(std::string_view v, std::string& out) {  // an enum value's name: plain letters
  out += '"';
  out += v;
  out += '"';
}

// The same fields, in the same order, as ToJson(Scope) and ToJson(Window) write in a
// limit (codec_test checks that they agree).
void AppendFixedPart(const Limit& l, std::string& out) {
  out += "{\"id\":";
  AppendJsonString(l.id, out);
  out += ",\"scope\":{\"level\":";
  AppendName(ToString(l.scope.level), out);
  if (l.scope.level != Level::kGlobal) {
    out += ",\"tenant_id\":";
    AppendJsonString(l.scope.tenant_id, out);
  }
  if (l.scope.level != Level::kGlobal && l.scope.level != Level::kTenant) {
    out += ",\"subject_id\":";
    AppendJsonString(l.scope.subject_id, out);
  }
  out += "},\"metric\":";
  AppendName(ToString(l.metric), out);
  out += ",\"window\":{\"unit\":";
  AppendName(ToString(l.window.unit), out);
  out += ",\"size\":";
  AppendJsonNumber(static_cast<int64_t>(l.window.size), out);
  out += ",\"kind\":";
  AppendName(ToString(l.window.kind), out);
  out += "},\"limit\":";
  AppendAmount(l.metric, l.limit, out);
  out += ',';
}

const std::string& FixedPartOf(const Limit& l) {
  thread_local absl::flat_hash_map<std::string, FixedPart> parts;
  auto it = parts.find(l.id);
  if (it != parts.end() && it->second.scope == l.scope && it->second.metric == l.metric &&
      it->second.window == l.window && it->second.limit == l.limit) {
    return it->second.text;
  }
  if (it == parts.end()) {
    if (parts.size() >= kMaxFixedParts) parts.clear();
    it = parts.try_emplace(l.id).first;
  }
  FixedPart& part = it->second;
  part = FixedPart{l.scope, l.metric, l.window, l.limit, {}};
  AppendFixedPart(l, part.text);
  return part.text;
}

}  // namespace

// Appended in pieces rather than token by token; names of enum values go in as they
// are (they need no escaping), ids and subjects are escaped as any string.
void WriteJson(JsonWriter& w, const LimitStatus& s) {
  const Limit& l = s.limit;
  std::string& out = w.RawValue();
  out += FixedPartOf(l);
  out += "\"subject\":";
  AppendJsonString(s.subject, out);
  out += ",\"used\":";
  AppendAmount(l.metric, s.used, out);
  out += ",\"reserved\":";
  AppendAmount(l.metric, s.reserved, out);
  out += ",\"remaining\":";
  AppendAmount(l.metric, s.remaining, out);
  out += ",\"window_start\":\"";
  AppendRfc3339(s.window_start, out);
  out += "\",\"resets_at\":\"";
  AppendRfc3339(s.resets_at, out);
  out += "\",\"action\":";
  AppendName(ToString(l.action), out);
  out += ",\"mode\":";
  AppendName(ToString(s.mode), out);
  out += '}';
}

void WriteJson(JsonWriter& w, const std::vector<LimitStatus>& limits) {
  w.BeginArray();
  for (const LimitStatus& s : limits) WriteJson(w, s);
  w.EndArray();
}

json::object ToJson(const Tenant& t) {
  return {{"id", t.id},
          {"name", t.name},
          {"timezone", t.timezone},
          {"mode", ToString(t.mode)},
          {"created_at", Rfc3339(t.created_at)}};
}

json::object ToJson(const ApiKey& k) {
  json::object o{{"id", k.id}, {"role", ToString(k.role)}, {"name", k.name}};
  o["tenant_id"] = k.tenant_id.empty() ? json::value(nullptr) : json::value(k.tenant_id);
  o["user_id"] = k.user_id.empty() ? json::value(nullptr) : json::value(k.user_id);
  o["created_at"] = Rfc3339(k.created_at);
  return o;
}

json::object ToJson(const Usage& u) {
  return {{"input_tokens", u.input_tokens},
          {"output_tokens", u.output_tokens},
          {"cached_input_tokens", u.cached_input_tokens},
          {"cache_write_tokens", u.cache_write_tokens},
          {"reasoning_tokens", u.reasoning_tokens},
          {"total_tokens", u.total_tokens}};
}

json::object ToJson(const UsageEvent& e) {
  json::object o;
  o["event_id"] = e.event_id;
  o["ts"] = absl::FormatTime("%Y-%m-%dT%H:%M:%E3SZ", e.ts, absl::UTCTimeZone());
  o["tenant_id"] = e.tenant_id;
  o["user_id"] = e.user_id;
  o["agent"] = e.agent;
  o["key_id"] = e.key_id;
  o["request_id"] = e.request_id;
  o["idempotency_key"] = e.idempotency_key;
  o["provider"] = e.provider;
  o["model"] = e.model;
  o["model_used"] = e.model_used;
  o["endpoint"] = e.endpoint;
  for (auto& [k, v] : ToJson(e.usage)) o[k] = v;
  o["input_cost_usd"] = core::UsdToDouble(e.cost.input);
  o["output_cost_usd"] = core::UsdToDouble(e.cost.output);
  o["cost_usd"] = core::UsdToDouble(e.cost.Total());
  o["latency_ms"] = e.latency_ms;
  o["status"] = ToString(e.status);
  o["decision"] = ToString(e.decision);
  o["estimated"] = e.estimated;
  return o;
}

json::object ToJson(const Price& p) {
  json::object o;
  o["provider"] = p.provider;
  o["model"] = p.model;
  o["input_per_mtok"] = core::FormatUsd(p.input_per_mtok);
  o["output_per_mtok"] = core::FormatUsd(p.output_per_mtok);
  o["cached_input_per_mtok"] = core::FormatUsd(p.cached_input_per_mtok);
  o["cache_write_per_mtok"] = core::FormatUsd(p.cache_write_per_mtok);
  o["tier"] = p.tier;
  o["source"] = p.is_override ? "override" : "catalog";
  return o;
}

namespace {

template <typename E>
absl::StatusOr<E> ParseEnum(const JsonReader& f, std::string_view key,
                            std::optional<E> (*parse)(std::string_view), std::optional<E> dflt,
                            std::string_view allowed) {
  absl::StatusOr<std::optional<std::string>> s = f.NonEmptyString(key, 64);
  if (!s.ok()) return s.status();
  if (!s->has_value()) {
    if (dflt) return *dflt;
    return absl::InvalidArgumentError(absl::StrCat("field '", f.FieldName(key), "' is required"));
  }
  if (std::optional<E> e = parse(**s)) return *e;
  return absl::InvalidArgumentError(
      absl::StrCat("field '", f.FieldName(key), "' must be one of ", std::string(allowed)));
}

}  // namespace

absl::StatusOr<Limit> LimitFromJson(const json::value& body) {
  if (!body.is_object()) return absl::InvalidArgumentError("a limit must be a JSON object");
  JsonReader f(body.as_object());
  Limit l;
  absl::StatusOr<std::optional<std::string>> id = f.NonEmptyString("id", 128);
  if (!id.ok()) return id.status();
  if (id->has_value()) l.id = **id;

  absl::StatusOr<JsonReader> sf = f.RequiredObject("scope");
  if (!sf.ok()) return sf.status();
  absl::StatusOr<Level> level =
      ParseEnum<Level>(*sf, "level", ParseLevel, std::nullopt, "global, tenant, user, agent, key");
  if (!level.ok()) return level.status();
  l.scope.level = *level;
  for (auto [key, out] : {std::pair{"tenant_id", &l.scope.tenant_id},
                          std::pair{"subject_id", &l.scope.subject_id}}) {
    absl::StatusOr<std::optional<std::string>> v = sf->NonEmptyString(key, 128);
    if (!v.ok()) return v.status();
    if (v->has_value()) *out = **v;
  }

  absl::StatusOr<Metric> metric = ParseEnum<Metric>(
      f, "metric", ParseMetric, std::nullopt,
      "tokens, input_tokens, output_tokens, cost_usd, requests");
  if (!metric.ok()) return metric.status();
  l.metric = *metric;

  absl::StatusOr<JsonReader> wf = f.RequiredObject("window");
  if (!wf.ok()) return wf.status();
  absl::StatusOr<WindowUnit> unit = ParseEnum<WindowUnit>(
      *wf, "unit", ParseWindowUnit, std::nullopt, "minute, hour, day, week, month");
  if (!unit.ok()) return unit.status();
  l.window.unit = *unit;
  absl::StatusOr<std::optional<int64_t>> size = wf->NonNegativeInt("size");
  if (!size.ok()) return size.status();
  if (size->has_value() && (**size < 1 || **size > 1000))
    return absl::InvalidArgumentError("field 'window.size' must be between 1 and 1000");
  l.window.size = static_cast<int32_t>(size->value_or(1));
  WindowKind default_kind = (l.window.unit == WindowUnit::kMinute || l.window.unit == WindowUnit::kHour)
                                ? WindowKind::kRolling
                                : WindowKind::kCalendar;
  absl::StatusOr<WindowKind> kind =
      ParseEnum<WindowKind>(*wf, "kind", ParseWindowKind, default_kind, "calendar, rolling");
  if (!kind.ok()) return kind.status();
  l.window.kind = *kind;

  if (!f.Has("limit")) return absl::InvalidArgumentError("field 'limit' is required");
  if (l.metric == Metric::kCostUsd) {
    absl::StatusOr<std::optional<double>> usd = f.Double("limit");
    if (!usd.ok()) return usd.status();
    absl::StatusOr<Nanos> nanos = core::UsdFromDouble(**usd);
    if (!nanos.ok())
      return absl::InvalidArgumentError(
          absl::StrCat("field 'limit' must be a non-negative USD amount: ", nanos.status().message()));
    l.limit = *nanos;
  } else {
    absl::StatusOr<std::optional<int64_t>> n = f.NonNegativeInt("limit");
    if (!n.ok()) return n.status();
    l.limit = **n;
  }

  absl::StatusOr<std::optional<std::vector<std::string>>> models = f.StringArray("models", 64);
  if (!models.ok()) return models.status();
  if (models->has_value()) l.models = std::move(**models);

  absl::StatusOr<Action> action = ParseEnum<Action>(f, "action", ParseAction, Action::kDeny, "deny, downgrade");
  if (!action.ok()) return action.status();
  l.action = *action;
  absl::StatusOr<Mode> mode =
      ParseEnum<Mode>(f, "mode", ParseMode, Mode::kInherit, "inherit, off, shadow, enforce");
  if (!mode.ok()) return mode.status();
  l.mode = *mode;

  if (const json::value* t = body.as_object().if_contains("alert_thresholds"); t && !t->is_null()) {
    if (!t->is_array() || t->as_array().size() > 16)
      return absl::InvalidArgumentError("field 'alert_thresholds' must be an array of at most 16 numbers");
    for (const json::value& x : t->as_array()) {
      if (!x.is_number())
        return absl::InvalidArgumentError("field 'alert_thresholds' must be an array of numbers");
      l.alert_thresholds.push_back(x.to_number<double>());
    }
  }
  return l;
}

}  // namespace tollgate::server
