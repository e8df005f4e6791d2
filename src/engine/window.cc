#include "engine/window.h"

namespace tollgate::engine {
namespace {

// The first instant >= `after` at which the local clock in `tz` shows `cs`.
absl::Time FirstAtOrAfter(absl::CivilSecond cs, const absl::TimeZone& tz, absl::Time after) {
  absl::TimeZone::TimeInfo info = tz.At(cs);
  switch (info.kind) {
    case absl::TimeZone::TimeInfo::UNIQUE:
      return info.pre;
    case absl::TimeZone::TimeInfo::SKIPPED:
      return info.trans;
    case absl::TimeZone::TimeInfo::REPEATED:
      return info.pre >= after ? info.pre : info.post;
  }
  return info.pre;
}

}  // namespace

Span CalendarWindowAt(const Window& window, absl::Time now, const absl::TimeZone& tz) {
  const int64_t size = window.size < 1 ? 1 : window.size;
  const absl::CivilSecond local = tz.At(now).cs;
  absl::CivilSecond start_cs;
  absl::CivilSecond end_cs;
  switch (window.unit) {
    case WindowUnit::kMinute: {
      const absl::CivilMinute origin(1970, 1, 1, 0, 0);
      absl::CivilMinute s = origin + FloorDiv(absl::CivilMinute(local) - origin, size) * size;
      start_cs = absl::CivilSecond(s);
      end_cs = absl::CivilSecond(s + size);
      break;
    }
    case WindowUnit::kHour: {
      const absl::CivilHour origin(1970, 1, 1, 0);
      absl::CivilHour s = origin + FloorDiv(absl::CivilHour(local) - origin, size) * size;
      start_cs = absl::CivilSecond(s);
      end_cs = absl::CivilSecond(s + size);
      break;
    }
    case WindowUnit::kDay: {
      const absl::CivilDay origin(1970, 1, 1);
      absl::CivilDay s = origin + FloorDiv(absl::CivilDay(local) - origin, size) * size;
      start_cs = absl::CivilSecond(s);
      end_cs = absl::CivilSecond(s + size);
      break;
    }
    case WindowUnit::kWeek: {
      const absl::CivilDay origin(1970, 1, 5);  // a Monday
      const int64_t days = 7 * size;
      absl::CivilDay s = origin + FloorDiv(absl::CivilDay(local) - origin, days) * days;
      start_cs = absl::CivilSecond(s);
      end_cs = absl::CivilSecond(s + days);
      break;
    }
    case WindowUnit::kMonth: {
      const absl::CivilMonth m(local);
      const int64_t index = static_cast<int64_t>(m.year()) * 12 + (m.month() - 1);
      const int64_t aligned = FloorDiv(index, size) * size;
      absl::CivilMonth s(FloorDiv(aligned, 12), aligned - FloorDiv(aligned, 12) * 12 + 1);
      start_cs = absl::CivilSecond(s);
      end_cs = absl::CivilSecond(s + size);
      break;
    }
  }

  Span span;
  absl::TimeZone::TimeInfo start_info = tz.At(start_cs);
  switch (start_info.kind) {
    case absl::TimeZone::TimeInfo::UNIQUE:
      span.start = start_info.pre;
      break;
    case absl::TimeZone::TimeInfo::SKIPPED:
      span.start = start_info.trans;
      break;
    case absl::TimeZone::TimeInfo::REPEATED:
      span.start = start_info.post <= now ? start_info.post : start_info.pre;
      break;
  }
  span.end = FirstAtOrAfter(end_cs, tz, span.start + absl::Nanoseconds(1));
  // The first occurrence of a repeated start time ends where the second one begins.
  if (start_info.kind == absl::TimeZone::TimeInfo::REPEATED && span.start == start_info.pre &&
      start_info.post < span.end) {
    span.end = start_info.post;
  }
  return span;
}

int64_t RollingBucketSeconds(const Window& window) {
  return absl::ToInt64Seconds(window.Length()) / kRollingBuckets;
}

}  // namespace tollgate::engine
