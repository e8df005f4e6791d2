// The journal record format: round trip, and a torn or corrupt tail at every offset.

#include "store/sqlite/journal.h"

#include <string>

#include "absl/strings/str_cat.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "store/store_test_util.h"

namespace tollgate::store::testing {
namespace {

const absl::Time kT0 = absl::FromUnixSeconds(1'700'000'000);

TEST(JournalTest, RecordsRoundTripEveryField) {
  LedgerEntry entry = MakeEntry("acme", "idem", 42, kT0 + absl::Nanoseconds(7));
  entry.event.status = EventStatus::kCancelled;
  entry.event.decision = DecisionKind::kShadowDeny;
  entry.event.estimated = true;
  entry.event.usage = Usage{1, 2, 3, 4, 5, 6};
  entry.event.cost = Cost{-7, 8};
  entry.counters.push_back(CounterDelta{"lim_min", "", -3, -1, kT0});
  std::string data;
  EncodeJournalRecord(5, entry, &data);
  size_t valid = 0;
  std::vector<JournalRecord> records = DecodeJournal(data, 0, &valid);
  ASSERT_EQ(records.size(), 1u);
  EXPECT_EQ(valid, data.size());
  EXPECT_EQ(records[0].seq, 5u);
  const LedgerEntry& got = records[0].entry;
  EXPECT_EQ(got.date, entry.date);
  EXPECT_EQ(got.event.event_id, entry.event.event_id);
  EXPECT_EQ(got.event.ts, entry.event.ts);
  EXPECT_EQ(got.event.endpoint, entry.event.endpoint);
  EXPECT_EQ(got.event.idempotency_key, "idem");
  EXPECT_EQ(got.event.usage, entry.event.usage);
  EXPECT_EQ(got.event.cost.input, -7);
  EXPECT_EQ(got.event.status, EventStatus::kCancelled);
  EXPECT_EQ(got.event.decision, DecisionKind::kShadowDeny);
  EXPECT_TRUE(got.event.estimated);
  ASSERT_EQ(got.counters.size(), 2u);
  EXPECT_EQ(got.counters[1].window_start, -3);
  EXPECT_EQ(got.counters[1].amount, -1);
  EXPECT_EQ(got.counters[1].expires_at, kT0);
}

TEST(JournalTest, HeadsViewTheFilteredFieldsAndEachRecordDecodesAlone) {
  std::string data;
  std::vector<LedgerEntry> entries;
  for (int i = 1; i <= 3; ++i) {
    entries.push_back(MakeEntry(absl::StrCat("t", i), "", i, kT0 + absl::Seconds(i),
                                absl::StrCat("user", i)));
    EncodeJournalRecord(i, entries.back(), &data);
  }
  size_t valid = 0;
  std::vector<JournalHead> heads = ReadJournalHeads(data, &valid);
  EXPECT_EQ(valid, data.size());
  ASSERT_EQ(heads.size(), 3u);
  for (size_t i = 0; i < heads.size(); ++i) {
    const UsageEvent& e = entries[i].event;
    EXPECT_EQ(heads[i].event_id, e.event_id);
    EXPECT_EQ(heads[i].tenant_id, e.tenant_id);
    EXPECT_EQ(heads[i].user_id, e.user_id);
    EXPECT_EQ(heads[i].agent, e.agent);
    EXPECT_EQ(heads[i].model, e.model);
    EXPECT_EQ(heads[i].model_used, e.model_used);
    EXPECT_EQ(heads[i].ts_nanos, absl::ToUnixNanos(e.ts));
    std::vector<JournalRecord> alone = DecodeJournal(heads[i].record, 0);
    ASSERT_EQ(alone.size(), 1u);
    EXPECT_EQ(alone[0].entry.event.event_id, e.event_id);
  }
  // Cut short inside the last record: two heads, and the bytes they cover.
  heads = ReadJournalHeads(std::string_view(data).substr(0, data.size() - 5), &valid);
  EXPECT_EQ(heads.size(), 2u);
  EXPECT_EQ(valid, heads[0].record.size() + heads[1].record.size());
}

TEST(JournalTest, ATornTailAtAnyOffsetKeepsExactlyTheWholeRecords) {
  std::string data;
  std::vector<size_t> ends;
  for (int i = 1; i <= 3; ++i) {
    EncodeJournalRecord(i, MakeEntry("acme", absl::StrCat("k", i), i, kT0), &data);
    ends.push_back(data.size());
  }
  for (size_t cut = 0; cut <= data.size(); ++cut) {
    size_t whole = 0;
    while (whole < ends.size() && ends[whole] <= cut) ++whole;
    size_t valid = 0;
    std::vector<JournalRecord> records = DecodeJournal(data.substr(0, cut), 0, &valid);
    ASSERT_EQ(records.size(), whole) << "cut at " << cut;
    EXPECT_EQ(valid, whole == 0 ? 0 : ends[whole - 1]);
  }
}

TEST(JournalTest, AFlippedBitEndsTheJournalAtThatRecord) {
  std::string data;
  std::vector<size_t> ends;
  for (int i = 1; i <= 3; ++i) {
    EncodeJournalRecord(i, MakeEntry("acme", absl::StrCat("k", i), i, kT0), &data);
    ends.push_back(data.size());
  }
  for (size_t pos = 0; pos < data.size(); ++pos) {
    std::string bad = data;
    bad[pos] ^= 0x01;
    size_t record = 0;
    while (ends[record] <= pos) ++record;
    EXPECT_EQ(DecodeJournal(bad, 0).size(), record) << "flip at " << pos;
  }
}

TEST(JournalTest, RecordsUpToTheAppliedSequenceAreSkippedAndOldTailsIgnored) {
  std::string data;
  for (uint64_t seq : {4, 5, 6, 2, 7}) {  // 2: a stale record, where the journal ends
    EncodeJournalRecord(seq, MakeEntry("acme", absl::StrCat("k", seq), 1, kT0), &data);
  }
  std::vector<JournalRecord> records = DecodeJournal(data, 4);
  ASSERT_EQ(records.size(), 2u);
  EXPECT_EQ(records[0].seq, 5u);
  EXPECT_EQ(records[1].seq, 6u);
}

}  // namespace
}  // namespace tollgate::store::testing
