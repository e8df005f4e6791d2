#pragma once

// Window arithmetic for limits: calendar windows aligned in a time zone, and the
// bucket grid of rolling windows. Pure functions; safe to call from any thread.
//
// Calendar alignment. A window of `size` N units is aligned to a fixed origin in the
// tenant's local civil time, so consecutive windows tile the calendar:
//   minute, hour: N minutes / hours counted from 1970-01-01 00:00 local time;
//   day:          N days counted from 1970-01-01 (local date);
//   week:         N weeks counted from Monday 1970-01-05 (weeks start on Monday);
//   month:        N months counted from January of year 0, so size 3 gives quarters
//                 (Jan, Apr, Jul, Oct) and size 12 calendar years.
// The start and end are the instants at which the local clock shows the window's first
// and next-window's first civil time, so a day that contains a DST change lasts 23 or
// 25 hours. When a boundary falls in a skipped local time (spring forward) it is the
// instant of the transition; when it falls in a repeated local time (fall back), the
// first occurrence starts one window and the second occurrence starts the next, so
// windows never overlap and never leave a gap.
//
// Rolling windows. A rolling window of length L (Window::Length(); a month counts 30
// days) is counted in kRollingBuckets buckets of L / kRollingBuckets each, aligned to
// the Unix epoch. At time t the window sums the bucket that holds t and the
// kRollingBuckets buckets before it, i.e. it covers [bucket_start(t) - L, t]: a span of
// between L and L + L / kRollingBuckets. The estimate therefore never under-counts the
// exact sliding window [t - L, t]; it over-counts by at most the usage of the one
// bucket at the far edge, and usage stops counting between L and L + L/kRollingBuckets
// (at most 10% of L) after it happened.

#include <cstdint>

#include "absl/time/civil_time.h"
#include "absl/time/time.h"
#include "tollgate/types.h"

namespace tollgate::engine {

// [start, end) in absolute time.
struct Span {
  absl::Time start;
  absl::Time end;
};

// The calendar window of `window` (unit and size; kind is ignored) that contains `now`,
// aligned in time zone `tz`. REQUIRES: window.size >= 1.
Span CalendarWindowAt(const Window& window, absl::Time now, const absl::TimeZone& tz);

// Rolling windows are counted in this many buckets (plus the current partial one).
inline constexpr int kRollingBuckets = 10;

// Length of one bucket of a rolling window, in seconds (Length() / kRollingBuckets;
// every unit is a whole multiple of 60 s, so this is exact).
int64_t RollingBucketSeconds(const Window& window);

// Floor division for possibly negative numerators. REQUIRES: d > 0.
inline int64_t FloorDiv(int64_t n, int64_t d) {
  int64_t q = n / d;
  return (n % d != 0 && n < 0) ? q - 1 : q;
}

}  // namespace tollgate::engine
