#include "engine/window.h"

#include <gtest/gtest.h>

#include <array>
#include <cstdint>

#include "absl/time/civil_time.h"
#include "absl/time/time.h"

namespace tollgate::engine {
namespace {

absl::TimeZone Zone(const char* name) {
  absl::TimeZone tz;
  EXPECT_TRUE(absl::LoadTimeZone(name, &tz)) << name;
  return tz;
}

// Local civil time {y, m, d, h, min, s} in `tz` (the earlier instant when repeated).
absl::Time At(std::array<int64_t, 6> c, const absl::TimeZone& tz) {
  return absl::FromCivil(absl::CivilSecond(c[0], c[1], c[2], c[3], c[4], c[5]), tz);
}

Window Cal(WindowUnit unit, int size = 1) { return Window{unit, size, WindowKind::kCalendar}; }

TEST(CalendarWindowTest, DayInUtcIsMidnightToMidnight) {
  absl::TimeZone utc = absl::UTCTimeZone();
  Span s = CalendarWindowAt(Cal(WindowUnit::kDay), At({2026, 5, 12, 15, 30, 0}, utc), utc);
  EXPECT_EQ(s.start, At({2026, 5, 12, 0, 0, 0}, utc));
  EXPECT_EQ(s.end, At({2026, 5, 13, 0, 0, 0}, utc));
}

TEST(CalendarWindowTest, DayAlignsInTenantZone) {
  absl::TimeZone tokyo = Zone("Asia/Tokyo");
  // 2026-05-12 20:00 UTC is 2026-05-13 05:00 in Tokyo.
  Span s = CalendarWindowAt(Cal(WindowUnit::kDay), At({2026, 5, 12, 20, 0, 0}, absl::UTCTimeZone()),
                            tokyo);
  EXPECT_EQ(s.start, At({2026, 5, 13, 0, 0, 0}, tokyo));
  EXPECT_EQ(s.end - s.start, absl::Hours(24));
}

TEST(CalendarWindowTest, SpringForwardDayInNewYorkLasts23Hours) {
  absl::TimeZone ny = Zone("America/New_York");
  Span s = CalendarWindowAt(Cal(WindowUnit::kDay), At({2026, 3, 8, 12, 0, 0}, ny), ny);
  EXPECT_EQ(s.start, At({2026, 3, 8, 0, 0, 0}, ny));
  EXPECT_EQ(s.end, At({2026, 3, 9, 0, 0, 0}, ny));
  EXPECT_EQ(s.end - s.start, absl::Hours(23));
}

TEST(CalendarWindowTest, FallBackDayInNewYorkLasts25Hours) {
  absl::TimeZone ny = Zone("America/New_York");
  Span s = CalendarWindowAt(Cal(WindowUnit::kDay), At({2026, 11, 1, 12, 0, 0}, ny), ny);
  EXPECT_EQ(s.start, At({2026, 11, 1, 0, 0, 0}, ny));
  EXPECT_EQ(s.end - s.start, absl::Hours(25));
}

TEST(CalendarWindowTest, BerlinDstDaysLast23And25Hours) {
  absl::TimeZone berlin = Zone("Europe/Berlin");
  Span spring =
      CalendarWindowAt(Cal(WindowUnit::kDay), At({2026, 3, 29, 12, 0, 0}, berlin), berlin);
  EXPECT_EQ(spring.end - spring.start, absl::Hours(23));
  Span autumn =
      CalendarWindowAt(Cal(WindowUnit::kDay), At({2026, 10, 25, 12, 0, 0}, berlin), berlin);
  EXPECT_EQ(autumn.end - autumn.start, absl::Hours(25));
}

TEST(CalendarWindowTest, HourAcrossSpringForwardEndsAtTransition) {
  absl::TimeZone ny = Zone("America/New_York");
  // 01:30 EST; the local clock jumps from 02:00 to 03:00.
  absl::Time now = At({2026, 3, 8, 1, 30, 0}, ny);
  Span s = CalendarWindowAt(Cal(WindowUnit::kHour), now, ny);
  EXPECT_EQ(s.start, At({2026, 3, 8, 1, 0, 0}, ny));
  EXPECT_EQ(s.end - s.start, absl::Hours(1));
  EXPECT_EQ(s.end, At({2026, 3, 8, 3, 0, 0}, ny));
}

TEST(CalendarWindowTest, RepeatedHourOnFallBackIsTwoWindowsWithoutOverlap) {
  absl::TimeZone ny = Zone("America/New_York");
  absl::TimeZone::TimeInfo info = ny.At(absl::CivilSecond(2026, 11, 1, 1, 30, 0));
  ASSERT_EQ(info.kind, absl::TimeZone::TimeInfo::REPEATED);
  Span first = CalendarWindowAt(Cal(WindowUnit::kHour), info.pre, ny);    // 01:30 EDT
  Span second = CalendarWindowAt(Cal(WindowUnit::kHour), info.post, ny);  // 01:30 EST
  EXPECT_EQ(first.end - first.start, absl::Hours(1));
  EXPECT_EQ(second.end - second.start, absl::Hours(1));
  EXPECT_EQ(first.end, second.start);
  EXPECT_EQ(second.end, At({2026, 11, 1, 2, 0, 0}, ny));
}

TEST(CalendarWindowTest, MonthAfterJanuary31IsFebruary) {
  absl::TimeZone utc = absl::UTCTimeZone();
  Span jan = CalendarWindowAt(Cal(WindowUnit::kMonth), At({2026, 1, 31, 23, 59, 59}, utc), utc);
  EXPECT_EQ(jan.start, At({2026, 1, 1, 0, 0, 0}, utc));
  EXPECT_EQ(jan.end, At({2026, 2, 1, 0, 0, 0}, utc));
  Span feb = CalendarWindowAt(Cal(WindowUnit::kMonth), jan.end, utc);
  EXPECT_EQ(feb.start, jan.end);
  EXPECT_EQ(feb.end, At({2026, 3, 1, 0, 0, 0}, utc));
}

TEST(CalendarWindowTest, LeapFebruary2028Has29Days) {
  absl::TimeZone utc = absl::UTCTimeZone();
  Span feb = CalendarWindowAt(Cal(WindowUnit::kMonth), At({2028, 2, 29, 12, 0, 0}, utc), utc);
  EXPECT_EQ(feb.start, At({2028, 2, 1, 0, 0, 0}, utc));
  EXPECT_EQ(feb.end - feb.start, absl::Hours(24 * 29));
  Span day = CalendarWindowAt(Cal(WindowUnit::kDay), At({2028, 2, 29, 12, 0, 0}, utc), utc);
  EXPECT_EQ(day.start, At({2028, 2, 29, 0, 0, 0}, utc));
}

TEST(CalendarWindowTest, YearEndRollsIntoJanuary) {
  absl::TimeZone utc = absl::UTCTimeZone();
  Span dec = CalendarWindowAt(Cal(WindowUnit::kMonth), At({2026, 12, 31, 23, 0, 0}, utc), utc);
  EXPECT_EQ(dec.end, At({2027, 1, 1, 0, 0, 0}, utc));
  Span year = CalendarWindowAt(Cal(WindowUnit::kMonth, 12), At({2026, 12, 31, 23, 0, 0}, utc), utc);
  EXPECT_EQ(year.start, At({2026, 1, 1, 0, 0, 0}, utc));
  EXPECT_EQ(year.end, At({2027, 1, 1, 0, 0, 0}, utc));
}

TEST(CalendarWindowTest, WeekStartsOnMonday) {
  absl::TimeZone utc = absl::UTCTimeZone();
  // 2026-11-22 is a Sunday; its week began Monday 2026-11-16.
  Span s = CalendarWindowAt(Cal(WindowUnit::kWeek), At({2026, 11, 22, 23, 0, 0}, utc), utc);
  EXPECT_EQ(absl::GetWeekday(absl::CivilDay(2026, 11, 16)), absl::Weekday::monday);
  EXPECT_EQ(s.start, At({2026, 11, 16, 0, 0, 0}, utc));
  EXPECT_EQ(s.end, At({2026, 11, 23, 0, 0, 0}, utc));
}

TEST(CalendarWindowTest, WeekAcrossYearEndStaysOneWeek) {
  absl::TimeZone utc = absl::UTCTimeZone();
  Span s = CalendarWindowAt(Cal(WindowUnit::kWeek), At({2027, 1, 1, 0, 0, 0}, utc), utc);
  EXPECT_EQ(s.start, At({2026, 12, 28, 0, 0, 0}, utc));
  EXPECT_EQ(s.end, At({2027, 1, 4, 0, 0, 0}, utc));
}

TEST(CalendarWindowTest, QuarterAlignsToJanuaryAprilJulyOctober) {
  absl::TimeZone utc = absl::UTCTimeZone();
  Span s = CalendarWindowAt(Cal(WindowUnit::kMonth, 3), At({2026, 5, 20, 0, 0, 0}, utc), utc);
  EXPECT_EQ(s.start, At({2026, 4, 1, 0, 0, 0}, utc));
  EXPECT_EQ(s.end, At({2026, 7, 1, 0, 0, 0}, utc));
}

TEST(CalendarWindowTest, MultiDayWindowsTileFromEpoch) {
  absl::TimeZone utc = absl::UTCTimeZone();
  // 2026-01-01 is day 20454 since 1970-01-01; 3-day windows start on multiples of 3.
  Span s = CalendarWindowAt(Cal(WindowUnit::kDay, 3), At({2026, 1, 1, 10, 0, 0}, utc), utc);
  EXPECT_EQ((absl::CivilDay(2026, 1, 1) - absl::CivilDay(1970, 1, 1)) % 3, 0);
  EXPECT_EQ(s.start, At({2026, 1, 1, 0, 0, 0}, utc));
  EXPECT_EQ(s.end, At({2026, 1, 4, 0, 0, 0}, utc));
  Span next = CalendarWindowAt(Cal(WindowUnit::kDay, 3), s.end, utc);
  EXPECT_EQ(next.start, s.end);
}

TEST(CalendarWindowTest, FifteenMinuteWindowsAlignToQuarterHours) {
  absl::TimeZone kolkata = Zone("Asia/Kolkata");  // UTC+5:30
  Span s = CalendarWindowAt(Cal(WindowUnit::kMinute, 15), At({2026, 6, 1, 10, 44, 59}, kolkata),
                            kolkata);
  EXPECT_EQ(s.start, At({2026, 6, 1, 10, 30, 0}, kolkata));
  EXPECT_EQ(s.end, At({2026, 6, 1, 10, 45, 0}, kolkata));
}

TEST(CalendarWindowTest, HourAlignsToLocalHourInHalfHourZone) {
  absl::TimeZone kolkata = Zone("Asia/Kolkata");
  Span s = CalendarWindowAt(Cal(WindowUnit::kHour), At({2026, 6, 1, 10, 10, 0}, kolkata), kolkata);
  EXPECT_EQ(s.start, At({2026, 6, 1, 10, 0, 0}, kolkata));
}

TEST(CalendarWindowTest, WindowEndBelongsToNextWindow) {
  absl::TimeZone utc = absl::UTCTimeZone();
  Span s = CalendarWindowAt(Cal(WindowUnit::kDay), At({2026, 5, 13, 0, 0, 0}, utc), utc);
  EXPECT_EQ(s.start, At({2026, 5, 13, 0, 0, 0}, utc));
}

TEST(RollingBucketTest, BucketIsOneTenthOfTheWindow) {
  EXPECT_EQ(RollingBucketSeconds(Window{WindowUnit::kMinute, 1, WindowKind::kRolling}), 6);
  EXPECT_EQ(RollingBucketSeconds(Window{WindowUnit::kHour, 1, WindowKind::kRolling}), 360);
  EXPECT_EQ(RollingBucketSeconds(Window{WindowUnit::kMinute, 5, WindowKind::kRolling}), 30);
}

TEST(FloorDivTest, RoundsTowardNegativeInfinity) {
  EXPECT_EQ(FloorDiv(7, 3), 2);
  EXPECT_EQ(FloorDiv(-7, 3), -3);
  EXPECT_EQ(FloorDiv(-6, 3), -2);
}

}  // namespace
}  // namespace tollgate::engine
