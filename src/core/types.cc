#include "tollgate/types.h"

#include <array>
#include <utility>

namespace tollgate {
namespace {

template <typename E, size_t N>
using Names = std::array<std::pair<E, std::string_view>, N>;

constexpr Names<Level, 5> kLevels{{{Level::kGlobal, "global"},
                                   {Level::kTenant, "tenant"},
                                   {Level::kUser, "user"},
                                   {Level::kAgent, "agent"},
                                   {Level::kKey, "key"}}};
constexpr Names<Metric, 5> kMetrics{{{Metric::kTokens, "tokens"},
                                     {Metric::kInputTokens, "input_tokens"},
                                     {Metric::kOutputTokens, "output_tokens"},
                                     {Metric::kCostUsd, "cost_usd"},
                                     {Metric::kRequests, "requests"}}};
constexpr Names<WindowUnit, 5> kUnits{{{WindowUnit::kMinute, "minute"},
                                       {WindowUnit::kHour, "hour"},
                                       {WindowUnit::kDay, "day"},
                                       {WindowUnit::kWeek, "week"},
                                       {WindowUnit::kMonth, "month"}}};
constexpr Names<WindowKind, 2> kKinds{
    {{WindowKind::kCalendar, "calendar"}, {WindowKind::kRolling, "rolling"}}};
constexpr Names<Action, 2> kActions{{{Action::kDeny, "deny"}, {Action::kDowngrade, "downgrade"}}};
constexpr Names<Mode, 4> kModes{{{Mode::kInherit, "inherit"},
                                 {Mode::kOff, "off"},
                                 {Mode::kShadow, "shadow"},
                                 {Mode::kEnforce, "enforce"}}};
constexpr Names<Role, 4> kRoles{{{Role::kAdmin, "admin"},
                                 {Role::kTenantAdmin, "tenant_admin"},
                                 {Role::kAgent, "agent"},
                                 {Role::kClient, "client"}}};
constexpr Names<EventStatus, 4> kStatuses{{{EventStatus::kOk, "ok"},
                                           {EventStatus::kError, "error"},
                                           {EventStatus::kCancelled, "cancelled"},
                                           {EventStatus::kDenied, "denied"}}};
constexpr Names<DecisionKind, 4> kDecisions{{{DecisionKind::kAllow, "allow"},
                                             {DecisionKind::kDowngrade, "downgrade"},
                                             {DecisionKind::kDeny, "deny"},
                                             {DecisionKind::kShadowDeny, "shadow_deny"}}};

template <typename E, size_t N>
std::string_view NameOf(const Names<E, N>& names, E v) {
  for (const auto& [e, n] : names)
    if (e == v) return n;
  return "?";
}

template <typename E, size_t N>
std::optional<E> Parse(const Names<E, N>& names, std::string_view s) {
  for (const auto& [e, n] : names)
    if (n == s) return e;
  return std::nullopt;
}

}  // namespace

std::string_view ToString(Level v) { return NameOf(kLevels, v); }
std::string_view ToString(Metric v) { return NameOf(kMetrics, v); }
std::string_view ToString(WindowUnit v) { return NameOf(kUnits, v); }
std::string_view ToString(WindowKind v) { return NameOf(kKinds, v); }
std::string_view ToString(Action v) { return NameOf(kActions, v); }
std::string_view ToString(Mode v) { return NameOf(kModes, v); }
std::string_view ToString(Role v) { return NameOf(kRoles, v); }
std::string_view ToString(EventStatus v) { return NameOf(kStatuses, v); }
std::string_view ToString(DecisionKind v) { return NameOf(kDecisions, v); }

std::optional<Level> ParseLevel(std::string_view s) { return Parse(kLevels, s); }
std::optional<Metric> ParseMetric(std::string_view s) { return Parse(kMetrics, s); }
std::optional<WindowUnit> ParseWindowUnit(std::string_view s) { return Parse(kUnits, s); }
std::optional<WindowKind> ParseWindowKind(std::string_view s) { return Parse(kKinds, s); }
std::optional<Action> ParseAction(std::string_view s) { return Parse(kActions, s); }
std::optional<Mode> ParseMode(std::string_view s) { return Parse(kModes, s); }
std::optional<Role> ParseRole(std::string_view s) { return Parse(kRoles, s); }
std::optional<EventStatus> ParseEventStatus(std::string_view s) { return Parse(kStatuses, s); }

absl::Duration Window::Length() const {
  absl::Duration unit_len;
  switch (unit) {
    case WindowUnit::kMinute: unit_len = absl::Minutes(1); break;
    case WindowUnit::kHour: unit_len = absl::Hours(1); break;
    case WindowUnit::kDay: unit_len = absl::Hours(24); break;
    case WindowUnit::kWeek: unit_len = absl::Hours(24 * 7); break;
    case WindowUnit::kMonth: unit_len = absl::Hours(24 * 30); break;
  }
  return unit_len * size;
}

}  // namespace tollgate
