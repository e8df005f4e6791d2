// One suite, every backend: each test states a promise of the Store contract.

#include "tollgate/store.h"

#include <algorithm>
#include <random>
#include <set>
#include <thread>
#include <vector>

#include "absl/synchronization/blocking_counter.h"
#include "absl/synchronization/mutex.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "store/store_test_util.h"

namespace tollgate::store::testing {
namespace {

using ::testing::ElementsAre;
using ::testing::IsEmpty;
using ::testing::SizeIs;

const absl::Time kT0 = absl::FromUnixSeconds(1'700'000'000);

template <typename Backend>
class StoreTest : public ::testing::Test {
 protected:
  void SetUp() override {
    store_ = Backend::Open(dir_.path(), &clock_);
    ASSERT_NE(store_, nullptr);
  }

  void CreateTenant(const std::string& id) {
    Tenant t;
    t.id = id;
    t.name = "Tenant " + id;
    ASSERT_TRUE(store_->CreateTenant(t).ok());
  }

  // Appends every entry without waiting in between, then waits for every `done`.
  std::vector<absl::Status> AppendAll(std::vector<LedgerEntry> entries) {
    std::vector<absl::Status> results(entries.size());
    absl::BlockingCounter pending(static_cast<int>(entries.size()));
    for (size_t i = 0; i < entries.size(); ++i) {
      store_->Append(std::move(entries[i]), [&, i](absl::Status s) {
        results[i] = std::move(s);
        pending.DecrementCount();
      });
    }
    pending.Wait();
    return results;
  }

  std::vector<UsageEvent> AllEvents(EventFilter filter = {}) {
    std::vector<UsageEvent> out;
    filter.limit = 1000;
    for (;;) {
      absl::StatusOr<EventPage> page = store_->ListEvents(filter);
      EXPECT_TRUE(page.ok()) << page.status();
      if (!page.ok()) return out;
      out.insert(out.end(), page->events.begin(), page->events.end());
      if (page->next_cursor.empty()) return out;
      filter.cursor = page->next_cursor;
    }
  }

  int64_t CounterAmount(absl::Time now, const std::string& limit_id = "lim_day") {
    absl::StatusOr<std::vector<CounterDelta>> cells = store_->LoadCounters(now);
    EXPECT_TRUE(cells.ok()) << cells.status();
    int64_t sum = 0;
    for (const CounterDelta& c : *cells) {
      if (c.limit_id == limit_id) sum += c.amount;
    }
    return sum;
  }

  TempDir dir_;
  SimulatedClock clock_{kT0};
  std::unique_ptr<Store> store_;
};

using Backends = ::testing::Types<MemoryBackend, SqliteBackend, SqliteNoSyncBackend>;
class BackendNames {
 public:
  template <typename T>
  static std::string GetName(int) {
    if (std::is_same_v<T, MemoryBackend>) return "Memory";
    return std::is_same_v<T, SqliteBackend> ? "Sqlite" : "SqliteNoSync";
  }
};
TYPED_TEST_SUITE(StoreTest, Backends, BackendNames);

// --- Configuration.

TYPED_TEST(StoreTest, TenantCrudReportsNotFoundAndAlreadyExists) {
  Store& s = *this->store_;
  Tenant t{"acme", "Acme", "Europe/Paris", Mode::kShadow, kT0};
  ASSERT_TRUE(s.CreateTenant(t).ok());
  EXPECT_EQ(s.CreateTenant(t).code(), absl::StatusCode::kAlreadyExists);

  absl::StatusOr<Tenant> got = s.GetTenant("acme");
  ASSERT_TRUE(got.ok()) << got.status();
  EXPECT_EQ(got->name, "Acme");
  EXPECT_EQ(got->timezone, "Europe/Paris");
  EXPECT_EQ(got->mode, Mode::kShadow);
  EXPECT_EQ(got->created_at, kT0);

  t.name = "Acme Corp";
  t.mode = Mode::kEnforce;
  ASSERT_TRUE(s.UpdateTenant(t).ok());
  EXPECT_EQ(s.GetTenant("acme")->name, "Acme Corp");
  EXPECT_EQ(s.GetTenant("acme")->mode, Mode::kEnforce);

  Tenant ghost{"ghost", "", "UTC", Mode::kInherit, kT0};
  EXPECT_EQ(s.UpdateTenant(ghost).code(), absl::StatusCode::kNotFound);
  EXPECT_EQ(s.GetTenant("ghost").status().code(), absl::StatusCode::kNotFound);
  EXPECT_EQ(s.DeleteTenant("ghost").code(), absl::StatusCode::kNotFound);

  ASSERT_TRUE(s.CreateTenant(Tenant{"beta", "Beta", "UTC", Mode::kInherit, kT0}).ok());
  absl::StatusOr<std::vector<Tenant>> all = s.ListTenants();
  ASSERT_TRUE(all.ok());
  ASSERT_THAT(*all, SizeIs(2));
  EXPECT_EQ((*all)[0].id, "acme");
  EXPECT_EQ((*all)[1].id, "beta");

  ASSERT_TRUE(s.DeleteTenant("acme").ok());
  EXPECT_EQ(s.GetTenant("acme").status().code(), absl::StatusCode::kNotFound);
  EXPECT_EQ(s.CreateTenant(Tenant{}).code(), absl::StatusCode::kInvalidArgument);
}

TYPED_TEST(StoreTest, KeysAreFoundByIdAndHashAndMustBeUnique) {
  Store& s = *this->store_;
  this->CreateTenant("acme");
  ApiKey admin{"key_admin", Role::kAdmin, "", "", "bootstrap", "hash_admin", kT0};
  ApiKey client{"key_c", Role::kClient, "acme", "alice", "alice's", "hash_c", kT0};
  ASSERT_TRUE(s.CreateKey(admin).ok());
  ASSERT_TRUE(s.CreateKey(client).ok());

  ApiKey same_id = client;
  same_id.secret_hash = "other";
  EXPECT_EQ(s.CreateKey(same_id).code(), absl::StatusCode::kAlreadyExists);
  ApiKey same_hash = client;
  same_hash.id = "key_other";
  EXPECT_EQ(s.CreateKey(same_hash).code(), absl::StatusCode::kAlreadyExists);
  ApiKey orphan{"key_o", Role::kAgent, "nobody", "", "", "hash_o", kT0};
  EXPECT_EQ(s.CreateKey(orphan).code(), absl::StatusCode::kFailedPrecondition);

  absl::StatusOr<ApiKey> by_hash = s.FindKeyByHash("hash_c");
  ASSERT_TRUE(by_hash.ok()) << by_hash.status();
  EXPECT_EQ(by_hash->id, "key_c");
  EXPECT_EQ(by_hash->role, Role::kClient);
  EXPECT_EQ(by_hash->tenant_id, "acme");
  EXPECT_EQ(by_hash->user_id, "alice");
  EXPECT_EQ(by_hash->name, "alice's");
  EXPECT_EQ(s.GetKey("key_admin")->tenant_id, "");
  EXPECT_EQ(s.FindKeyByHash("nope").status().code(), absl::StatusCode::kNotFound);

  EXPECT_THAT(*s.ListKeys(""), SizeIs(2));
  ASSERT_THAT(*s.ListKeys("acme"), SizeIs(1));
  EXPECT_EQ(s.ListKeys("acme")->front().id, "key_c");
  EXPECT_EQ(*s.CountKeys(), 2);

  ASSERT_TRUE(s.DeleteKey("key_c").ok());
  EXPECT_EQ(s.DeleteKey("key_c").code(), absl::StatusCode::kNotFound);
  EXPECT_EQ(s.GetKey("key_c").status().code(), absl::StatusCode::kNotFound);
  EXPECT_EQ(*s.CountKeys(), 1);
}

Limit MakeLimit(std::string id, Level level, std::string tenant, std::string subject) {
  Limit l;
  l.id = std::move(id);
  l.scope = Scope{level, std::move(tenant), std::move(subject)};
  l.metric = Metric::kCostUsd;
  l.window = Window{WindowUnit::kHour, 3, WindowKind::kRolling};
  l.limit = 5'000'000'000;
  l.models = {"openai:gpt-4o*", "anthropic:claude-*"};
  l.action = Action::kDowngrade;
  l.mode = Mode::kShadow;
  l.alert_thresholds = {0.8, 1.0};
  l.owner = "policy:user:acme/alice";
  l.created_at = kT0;
  l.updated_at = kT0 + absl::Seconds(1);
  return l;
}

TYPED_TEST(StoreTest, LimitsRoundTripEveryFieldAndPutReplaces) {
  Store& s = *this->store_;
  this->CreateTenant("acme");
  Limit l = MakeLimit("lim_1", Level::kUser, "acme", "alice");
  ASSERT_TRUE(s.PutLimit(l).ok());
  absl::StatusOr<Limit> got = s.GetLimit("lim_1");
  ASSERT_TRUE(got.ok()) << got.status();
  EXPECT_EQ(got->scope, l.scope);
  EXPECT_EQ(got->metric, l.metric);
  EXPECT_EQ(got->window, l.window);
  EXPECT_EQ(got->limit, l.limit);
  EXPECT_EQ(got->models, l.models);
  EXPECT_EQ(got->action, l.action);
  EXPECT_EQ(got->mode, l.mode);
  EXPECT_EQ(got->alert_thresholds, l.alert_thresholds);
  EXPECT_EQ(got->owner, l.owner);
  EXPECT_EQ(got->created_at, l.created_at);
  EXPECT_EQ(got->updated_at, l.updated_at);

  l.limit = 7;
  l.models.clear();
  ASSERT_TRUE(s.PutLimit(l).ok());
  EXPECT_EQ(s.GetLimit("lim_1")->limit, 7);
  EXPECT_THAT(s.GetLimit("lim_1")->models, IsEmpty());

  // Global limits and "*" defaults name no tenant; a missing tenant is refused.
  ASSERT_TRUE(s.PutLimit(MakeLimit("lim_g", Level::kGlobal, "", "")).ok());
  ASSERT_TRUE(s.PutLimit(MakeLimit("lim_star", Level::kTenant, "*", "*")).ok());
  EXPECT_EQ(s.PutLimit(MakeLimit("lim_x", Level::kUser, "nobody", "bob")).code(),
            absl::StatusCode::kFailedPrecondition);

  absl::StatusOr<std::vector<Limit>> all = s.ListLimits();
  ASSERT_TRUE(all.ok());
  ASSERT_THAT(*all, SizeIs(3));
  EXPECT_EQ((*all)[0].id, "lim_1");
  EXPECT_EQ((*all)[1].id, "lim_g");
  EXPECT_EQ((*all)[2].id, "lim_star");

  ASSERT_TRUE(s.DeleteLimit("lim_1").ok());
  EXPECT_EQ(s.DeleteLimit("lim_1").code(), absl::StatusCode::kNotFound);
  EXPECT_EQ(s.GetLimit("lim_1").status().code(), absl::StatusCode::kNotFound);
}

TYPED_TEST(StoreTest, PriceOverridesAreUpsertedByModel) {
  Store& s = *this->store_;
  Price p{"openai", "gpt-4o", 2'500'000'000, 10'000'000'000, 1'250'000'000, 0, "premium", false};
  ASSERT_TRUE(s.PutPrice(p).ok());
  p.input_per_mtok = 1;
  ASSERT_TRUE(s.PutPrice(p).ok());
  ASSERT_TRUE(s.PutPrice(Price{"anthropic", "claude", 3, 4, 5, 6, "", false}).ok());
  absl::StatusOr<std::vector<Price>> all = s.ListPrices();
  ASSERT_TRUE(all.ok());
  ASSERT_THAT(*all, SizeIs(2));
  EXPECT_EQ((*all)[0].provider, "anthropic");
  EXPECT_EQ((*all)[0].cache_write_per_mtok, 6);
  EXPECT_EQ((*all)[1].input_per_mtok, 1);
  EXPECT_EQ((*all)[1].output_per_mtok, 10'000'000'000);
  EXPECT_EQ((*all)[1].tier, "premium");
  EXPECT_TRUE((*all)[1].is_override);
}

TYPED_TEST(StoreTest, PoliciesArePutReplacedAndDeletedByEmptyJson) {
  Store& s = *this->store_;
  this->CreateTenant("acme");
  ASSERT_TRUE(s.PutPolicy({Level::kGlobal, "", "", R"({"tier":"standard"})", kT0}).ok());
  ASSERT_TRUE(s.PutPolicy({Level::kTenant, "acme", "", R"({"a":1})", kT0}).ok());
  ASSERT_TRUE(s.PutPolicy({Level::kUser, "acme", "alice", R"({"b":1})", kT0}).ok());
  ASSERT_TRUE(s.PutPolicy({Level::kUser, "acme", "alice", R"({"b":2})", kT0}).ok());
  EXPECT_EQ(s.PutPolicy({Level::kUser, "nobody", "x", "{}", kT0}).code(),
            absl::StatusCode::kFailedPrecondition);
  EXPECT_EQ(s.PutPolicy({Level::kAgent, "acme", "x", "{}", kT0}).code(),
            absl::StatusCode::kInvalidArgument);

  absl::StatusOr<std::vector<PolicyRecord>> all = s.ListPolicies();
  ASSERT_TRUE(all.ok());
  ASSERT_THAT(*all, SizeIs(3));
  EXPECT_EQ((*all)[0].level, Level::kGlobal);
  EXPECT_EQ((*all)[1].level, Level::kTenant);
  EXPECT_EQ((*all)[2].json, R"({"b":2})");
  EXPECT_EQ((*all)[2].updated_at, kT0);

  ASSERT_TRUE(s.PutPolicy({Level::kUser, "acme", "alice", "", kT0}).ok());
  ASSERT_TRUE(s.PutPolicy({Level::kUser, "acme", "alice", "", kT0}).ok());
  EXPECT_THAT(*s.ListPolicies(), SizeIs(2));
}

TYPED_TEST(StoreTest, DeletingATenantCascadesToConfigButKeepsTheLedger) {
  Store& s = *this->store_;
  this->CreateTenant("acme");
  this->CreateTenant("beta");
  ASSERT_TRUE(s.CreateKey({"key_a", Role::kAgent, "acme", "", "", "h_a", kT0}).ok());
  ASSERT_TRUE(s.CreateKey({"key_b", Role::kAgent, "beta", "", "", "h_b", kT0}).ok());
  ASSERT_TRUE(s.PutLimit(MakeLimit("lim_a", Level::kUser, "acme", "*")).ok());
  ASSERT_TRUE(s.PutLimit(MakeLimit("lim_b", Level::kTenant, "beta", "beta")).ok());
  ASSERT_TRUE(s.PutPolicy({Level::kTenant, "acme", "", "{}", kT0}).ok());
  ASSERT_TRUE(s.PutPolicy({Level::kUser, "acme", "alice", "{}", kT0}).ok());
  ASSERT_TRUE(s.PutPolicy({Level::kTenant, "beta", "", "{}", kT0}).ok());
  ASSERT_TRUE(s.AppendSync(MakeEntry("acme", "k1", 10, kT0)).ok());

  ASSERT_TRUE(s.DeleteTenant("acme").ok());
  EXPECT_THAT(*s.ListKeys(""), SizeIs(1));
  EXPECT_EQ(s.GetKey("key_a").status().code(), absl::StatusCode::kNotFound);
  ASSERT_THAT(*s.ListLimits(), SizeIs(1));
  EXPECT_EQ(s.ListLimits()->front().id, "lim_b");
  ASSERT_THAT(*s.ListPolicies(), SizeIs(1));
  EXPECT_EQ(s.ListPolicies()->front().tenant_id, "beta");

  EXPECT_THAT(this->AllEvents(), SizeIs(1));
  EXPECT_THAT(*s.ListDaily({}), SizeIs(1));
  EXPECT_EQ(this->CounterAmount(kT0), 10);
}

// --- Ledger.

TYPED_TEST(StoreTest, AppendedEventRoundTripsEveryField) {
  Store& s = *this->store_;
  LedgerEntry entry = MakeEntry("acme", "idem-1", 42, kT0 + absl::Milliseconds(123));
  UsageEvent& e = entry.event;
  e.usage = Usage{100, 50, 20, 10, 5, 150};
  e.cost = Cost{1234, 5678};
  e.status = EventStatus::kCancelled;
  e.decision = DecisionKind::kShadowDeny;
  e.estimated = true;
  UsageEvent want = e;
  ASSERT_TRUE(s.AppendSync(std::move(entry)).ok());

  absl::StatusOr<std::optional<UsageEvent>> got = s.FindEventByIdempotencyKey("acme", "idem-1");
  ASSERT_TRUE(got.ok()) << got.status();
  ASSERT_TRUE(got->has_value());
  const UsageEvent& g = **got;
  EXPECT_EQ(g.event_id, want.event_id);
  EXPECT_EQ(g.ts, want.ts);
  EXPECT_EQ(g.tenant_id, want.tenant_id);
  EXPECT_EQ(g.user_id, want.user_id);
  EXPECT_EQ(g.agent, want.agent);
  EXPECT_EQ(g.key_id, want.key_id);
  EXPECT_EQ(g.request_id, want.request_id);
  EXPECT_EQ(g.idempotency_key, want.idempotency_key);
  EXPECT_EQ(g.provider, want.provider);
  EXPECT_EQ(g.model, want.model);
  EXPECT_EQ(g.model_used, want.model_used);
  EXPECT_EQ(g.endpoint, want.endpoint);
  EXPECT_EQ(g.usage, want.usage);
  EXPECT_EQ(g.cost.input, want.cost.input);
  EXPECT_EQ(g.cost.output, want.cost.output);
  EXPECT_EQ(g.latency_ms, want.latency_ms);
  EXPECT_EQ(g.status, want.status);
  EXPECT_EQ(g.decision, want.decision);
  EXPECT_EQ(g.estimated, want.estimated);

  EXPECT_FALSE(s.FindEventByIdempotencyKey("acme", "other")->has_value());
  EXPECT_FALSE(s.FindEventByIdempotencyKey("beta", "idem-1")->has_value());
  EXPECT_FALSE(s.FindEventByIdempotencyKey("acme", "")->has_value());
}

TYPED_TEST(StoreTest, DuplicateIdempotencyKeyIsAlreadyExistsAndCountsNothing) {
  Store& s = *this->store_;
  ASSERT_TRUE(s.AppendSync(MakeEntry("acme", "idem", 10, kT0)).ok());
  EXPECT_EQ(s.AppendSync(MakeEntry("acme", "idem", 99, kT0)).code(),
            absl::StatusCode::kAlreadyExists);
  // The same key in another tenant, and entries without a key, are distinct events.
  EXPECT_TRUE(s.AppendSync(MakeEntry("beta", "idem", 1, kT0)).ok());
  EXPECT_TRUE(s.AppendSync(MakeEntry("acme", "", 1, kT0)).ok());
  EXPECT_TRUE(s.AppendSync(MakeEntry("acme", "", 1, kT0)).ok());

  EXPECT_THAT(this->AllEvents(), SizeIs(4));
  EXPECT_EQ(this->CounterAmount(kT0), 13);
  absl::StatusOr<std::vector<DailyRow>> daily = s.ListDaily({"acme", "", "", ""});
  ASSERT_TRUE(daily.ok());
  ASSERT_THAT(*daily, SizeIs(1));
  EXPECT_EQ((*daily)[0].requests, 3);
  EXPECT_EQ((*daily)[0].usage.total_tokens, 12);
}

TYPED_TEST(StoreTest, DuplicatesInOneBatchCommitOnceAndTheRestOfTheBatchCommits) {
  // A long batch window so the entries below share one transaction in SQLite.
  this->store_.reset();  // one store per database file
  this->store_ = TypeParam::Open(this->dir_.path(), &this->clock_, absl::Milliseconds(200));
  ASSERT_NE(this->store_, nullptr);
  std::vector<LedgerEntry> entries;
  entries.push_back(MakeEntry("acme", "dup", 10, kT0));
  entries.push_back(MakeEntry("acme", "dup", 20, kT0));
  entries.push_back(MakeEntry("acme", "other", 5, kT0));
  entries.push_back(MakeEntry("acme", "dup", 30, kT0));
  std::vector<absl::Status> results = this->AppendAll(std::move(entries));
  EXPECT_TRUE(results[0].ok()) << results[0];
  EXPECT_EQ(results[1].code(), absl::StatusCode::kAlreadyExists);
  EXPECT_TRUE(results[2].ok()) << results[2];
  EXPECT_EQ(results[3].code(), absl::StatusCode::kAlreadyExists);

  EXPECT_THAT(this->AllEvents(), SizeIs(2));
  EXPECT_EQ(this->CounterAmount(kT0), 15);
  EXPECT_EQ((*this->store_->ListDaily({}))[0].requests, 2);
}

TYPED_TEST(StoreTest, AppendAllAnswersEveryEntryAsAppendWould) {
  ASSERT_TRUE(this->store_->AppendSync(MakeEntry("acme", "old", 1, kT0)).ok());
  std::vector<Store::Appending> group;
  std::vector<absl::Status> results(5);
  absl::BlockingCounter pending(5);
  auto add = [&](LedgerEntry e) {
    const size_t i = group.size();
    group.push_back({std::move(e), [&, i](absl::Status s) {
                       results[i] = std::move(s);
                       pending.DecrementCount();
                     }});
  };
  add(MakeEntry("acme", "a", 10, kT0));
  add(MakeEntry("", "no-tenant", 10, kT0));  // invalid: refused alone
  add(MakeEntry("acme", "a", 20, kT0));      // duplicate inside the group
  add(MakeEntry("acme", "old", 30, kT0));    // duplicate of a recorded entry
  add(MakeEntry("acme", "b", 5, kT0));
  this->store_->AppendAll(std::move(group));
  pending.Wait();
  EXPECT_TRUE(results[0].ok()) << results[0];
  EXPECT_EQ(results[1].code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(results[2].code(), absl::StatusCode::kAlreadyExists);
  EXPECT_EQ(results[3].code(), absl::StatusCode::kAlreadyExists);
  EXPECT_TRUE(results[4].ok()) << results[4];
  EXPECT_THAT(this->AllEvents(), SizeIs(3));
  EXPECT_EQ(this->CounterAmount(kT0), 16);
}

TYPED_TEST(StoreTest, InvalidEntryIsRefusedAtOnce) {
  LedgerEntry no_tenant = MakeEntry("", "k", 1, kT0);
  EXPECT_EQ(this->store_->AppendSync(std::move(no_tenant)).code(),
            absl::StatusCode::kInvalidArgument);
  LedgerEntry no_id = MakeEntry("acme", "k", 1, kT0);
  no_id.event.event_id.clear();
  EXPECT_EQ(this->store_->AppendSync(std::move(no_id)).code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(this->AllEvents(), IsEmpty());
}

TYPED_TEST(StoreTest, CounterCellsAreSummedAndExpire) {
  Store& s = *this->store_;
  LedgerEntry a = MakeEntry("acme", "a", 10, kT0);
  a.counters.push_back(CounterDelta{"lim_min", "alice", 1'700'000'000, 1, kT0 + absl::Minutes(1)});
  LedgerEntry b = MakeEntry("acme", "b", 15, kT0);
  b.counters.push_back(CounterDelta{"lim_min", "alice", 1'700'000'000, 1, kT0 + absl::Minutes(2)});
  b.counters.push_back(CounterDelta{"lim_min", "bob", 1'700'000'000, 1, kT0 + absl::Minutes(2)});
  ASSERT_TRUE(s.AppendSync(std::move(a)).ok());
  ASSERT_TRUE(s.AppendSync(std::move(b)).ok());

  absl::StatusOr<std::vector<CounterDelta>> cells = s.LoadCounters(kT0);
  ASSERT_TRUE(cells.ok()) << cells.status();
  ASSERT_THAT(*cells, SizeIs(3));
  EXPECT_EQ((*cells)[0].limit_id, "lim_day");
  EXPECT_EQ((*cells)[0].amount, 25);
  EXPECT_EQ((*cells)[1].limit_id, "lim_min");
  EXPECT_EQ((*cells)[1].subject, "alice");
  EXPECT_EQ((*cells)[1].amount, 2);
  EXPECT_EQ((*cells)[1].expires_at, kT0 + absl::Minutes(2));  // the latest expiry wins
  EXPECT_EQ((*cells)[2].subject, "bob");

  // Expired cells are not loaded; the day cell outlives the minute cells.
  cells = s.LoadCounters(kT0 + absl::Minutes(2));
  ASSERT_TRUE(cells.ok());
  ASSERT_THAT(*cells, SizeIs(1));
  EXPECT_EQ((*cells)[0].limit_id, "lim_day");
  EXPECT_THAT(*s.LoadCounters(kT0 + absl::Hours(24)), IsEmpty());
}

TYPED_TEST(StoreTest, DailyAggregatesAreIncrementedPerKey) {
  Store& s = *this->store_;
  absl::Time day1 = absl::FromCivil(absl::CivilDay(2024, 3, 1), absl::UTCTimeZone());
  absl::Time day2 = day1 + absl::Hours(24);
  LedgerEntry e1 = MakeEntry("acme", "1", 10, day1);
  e1.event.usage = Usage{7, 3, 1, 2, 1, 10};
  e1.event.cost = Cost{100, 200};
  LedgerEntry e2 = MakeEntry("acme", "2", 5, day1 + absl::Hours(1));
  e2.event.usage = Usage{4, 1, 0, 0, 0, 5};
  e2.event.cost = Cost{10, 20};
  LedgerEntry other_user = MakeEntry("acme", "3", 1, day1, "bob");
  LedgerEntry next_day = MakeEntry("acme", "4", 1, day2);
  LedgerEntry other_tenant = MakeEntry("beta", "5", 1, day1);
  // An entry with no date falls on the UTC date of its event.
  LedgerEntry no_date = MakeEntry("acme", "6", 1, day2 + absl::Hours(3));
  no_date.date.clear();
  no_date.event.model_used.clear();
  for (LedgerEntry* e : {&e1, &e2, &other_user, &next_day, &other_tenant, &no_date}) {
    ASSERT_TRUE(s.AppendSync(std::move(*e)).ok());
  }

  absl::StatusOr<std::vector<DailyRow>> rows = s.ListDaily({"acme", "alice", "", ""});
  ASSERT_TRUE(rows.ok()) << rows.status();
  ASSERT_THAT(*rows, SizeIs(3));
  const DailyRow& r = (*rows)[0];
  EXPECT_EQ(r.date, "2024-03-01");
  EXPECT_EQ(r.tenant_id, "acme");
  EXPECT_EQ(r.user_id, "alice");
  EXPECT_EQ(r.agent, "rag");
  EXPECT_EQ(r.provider, "openai");
  EXPECT_EQ(r.model, "gpt-4o-mini");
  EXPECT_EQ(r.usage, (Usage{11, 4, 1, 2, 1, 15}));
  EXPECT_EQ(r.cost.input, 110);
  EXPECT_EQ(r.cost.output, 220);
  EXPECT_EQ(r.requests, 2);
  EXPECT_EQ((*rows)[1].date, "2024-03-02");
  EXPECT_EQ((*rows)[1].model, "gpt-4o");  // model_used empty: the requested model
  EXPECT_EQ((*rows)[2].model, "gpt-4o-mini");

  EXPECT_THAT(*s.ListDaily({"acme", "", "", ""}), SizeIs(4));
  EXPECT_THAT(*s.ListDaily({"", "", "", ""}), SizeIs(5));
  EXPECT_THAT(*s.ListDaily({"acme", "", "2024-03-02", "2024-03-02"}), SizeIs(2));
  EXPECT_THAT(*s.ListDaily({"", "", "", "2024-03-01"}), SizeIs(3));
}

TYPED_TEST(StoreTest, ListEventsPagesNewestFirstAcrossManyEvents) {
  Store& s = *this->store_;
  std::vector<LedgerEntry> entries;
  for (int i = 0; i < 250; ++i) {
    // Several events share each timestamp: the cursor must break ties by event_id.
    entries.push_back(MakeEntry("acme", absl::StrCat("k", i), 1, kT0 + absl::Seconds(i / 3),
                                i % 2 == 0 ? "alice" : "bob"));
  }
  for (const absl::Status& r : this->AppendAll(std::move(entries))) ASSERT_TRUE(r.ok()) << r;

  EventFilter filter;
  filter.tenant_id = "acme";
  filter.limit = 37;
  std::vector<UsageEvent> seen;
  int pages = 0;
  for (;;) {
    absl::StatusOr<EventPage> page = s.ListEvents(filter);
    ASSERT_TRUE(page.ok()) << page.status();
    ++pages;
    EXPECT_LE(page->events.size(), 37u);
    seen.insert(seen.end(), page->events.begin(), page->events.end());
    if (page->next_cursor.empty()) break;
    filter.cursor = page->next_cursor;
  }
  EXPECT_EQ(pages, 7);  // 6 full pages and 28
  ASSERT_THAT(seen, SizeIs(250));
  std::set<std::string> ids;
  for (size_t i = 0; i < seen.size(); ++i) {
    ids.insert(seen[i].event_id);
    if (i > 0) {
      EXPECT_TRUE(seen[i - 1].ts > seen[i].ts ||
                  (seen[i - 1].ts == seen[i].ts && seen[i - 1].event_id > seen[i].event_id))
          << i;
    }
  }
  EXPECT_THAT(ids, SizeIs(250));

  EventFilter bob;
  bob.user_id = "bob";
  EXPECT_THAT(this->AllEvents(bob), SizeIs(125));
  EventFilter window;
  window.from = kT0 + absl::Seconds(10);  // i in [30, 60)
  window.to = kT0 + absl::Seconds(20);
  EXPECT_THAT(this->AllEvents(window), SizeIs(30));
  EventFilter model;
  model.model = "gpt-4o";  // the requested model
  EXPECT_THAT(this->AllEvents(model), SizeIs(250));
  model.model = "gpt-4o-mini";  // the model used
  EXPECT_THAT(this->AllEvents(model), SizeIs(250));
  model.model = "claude";
  EXPECT_THAT(this->AllEvents(model), IsEmpty());
  EventFilter agent;
  agent.agent = "other";
  EXPECT_THAT(this->AllEvents(agent), IsEmpty());
  EventFilter tenant;
  tenant.tenant_id = "beta";
  EXPECT_THAT(this->AllEvents(tenant), IsEmpty());
}

// Events of three tenants at random times, appended in random order, so that what the
// store writes together (an SQLite block) spans overlapping times: every listing and
// every sweep must still match the events themselves, page by page.
TYPED_TEST(StoreTest, ListingAndSweepMatchTheEventsWhateverOrderTheyArrivedIn) {
  Store& s = *this->store_;
  std::mt19937 rng(7);
  const std::vector<std::string> tenants = {"acme", "beta", "corp"};
  const std::vector<std::string> users = {"alice", "bob", "carol", "dan"};
  std::vector<LedgerEntry> entries;
  for (int i = 0; i < 600; ++i) {
    LedgerEntry e = MakeEntry(tenants[rng() % 3], absl::StrCat("k", i), 1,
                              kT0 + absl::Seconds(rng() % 200), users[rng() % 4]);
    if (rng() % 5 == 0) e.event.model_used = "gpt-4o";
    entries.push_back(std::move(e));
  }
  std::vector<UsageEvent> all;
  for (const LedgerEntry& e : entries) all.push_back(e.event);
  for (int chunk = 0; chunk < 6; ++chunk) {  // several batches, each of 100
    std::vector<LedgerEntry> part(entries.begin() + chunk * 100, entries.begin() + (chunk + 1) * 100);
    for (const absl::Status& r : this->AppendAll(std::move(part))) ASSERT_TRUE(r.ok()) << r;
  }
  auto newer = [](const UsageEvent& a, const UsageEvent& b) {
    return std::tie(a.ts, a.event_id) > std::tie(b.ts, b.event_id);
  };
  auto ids = [](const std::vector<UsageEvent>& v) {
    std::vector<std::string> out;
    for (const UsageEvent& e : v) out.push_back(e.event_id);
    return out;
  };
  auto expect = [&](const EventFilter& f, const std::vector<UsageEvent>& events) {
    std::vector<UsageEvent> want;
    for (const UsageEvent& e : events) {
      if ((f.tenant_id.empty() || e.tenant_id == f.tenant_id) &&
          (f.user_id.empty() || e.user_id == f.user_id) &&
          (f.model.empty() || e.model == f.model || e.model_used == f.model) &&
          (!f.from || e.ts >= *f.from) && (!f.to || e.ts < *f.to)) {
        want.push_back(e);
      }
    }
    std::sort(want.begin(), want.end(), newer);
    for (int limit : {3, 50, 1000}) {
      EventFilter paged = f;
      paged.limit = limit;
      std::vector<UsageEvent> got;
      for (;;) {
        absl::StatusOr<EventPage> page = s.ListEvents(paged);
        ASSERT_TRUE(page.ok()) << page.status();
        ASSERT_LE(page->events.size(), static_cast<size_t>(limit));
        got.insert(got.end(), page->events.begin(), page->events.end());
        if (page->next_cursor.empty()) break;
        paged.cursor = page->next_cursor;
      }
      EXPECT_EQ(ids(got), ids(want)) << "limit " << limit << ", tenant " << f.tenant_id
                                     << ", user " << f.user_id << ", model " << f.model;
    }
  };
  EventFilter f;
  expect(f, all);
  f.tenant_id = "beta";
  expect(f, all);
  f.user_id = "carol";
  expect(f, all);
  f = {};
  f.model = "gpt-4o-mini";
  f.from = kT0 + absl::Seconds(50);
  f.to = kT0 + absl::Seconds(120);
  expect(f, all);

  const absl::Time cut = kT0 + absl::Seconds(90);
  std::vector<UsageEvent> kept;
  int64_t old = 0;
  for (const UsageEvent& e : all) {
    if (e.ts < cut) {
      ++old;
    } else {
      kept.push_back(e);
    }
  }
  absl::StatusOr<int64_t> deleted = s.Sweep(cut, kT0);
  ASSERT_TRUE(deleted.ok()) << deleted.status();
  EXPECT_EQ(*deleted, old);
  expect(EventFilter{}, kept);
  f = {};
  f.tenant_id = "acme";
  expect(f, kept);
  // Swept keys are forgotten, kept ones still answer.
  for (const UsageEvent& e : all) {
    absl::StatusOr<std::optional<UsageEvent>> found =
        s.FindEventByIdempotencyKey(e.tenant_id, e.idempotency_key);
    ASSERT_TRUE(found.ok()) << found.status();
    EXPECT_EQ(found->has_value(), e.ts >= cut) << e.event_id;
    if (found->has_value()) {
      EXPECT_EQ((*found)->event_id, e.event_id);
    }
  }
}

TYPED_TEST(StoreTest, ListEventsRejectsBadLimitAndCursor) {
  EventFilter f;
  f.limit = 0;
  EXPECT_EQ(this->store_->ListEvents(f).status().code(), absl::StatusCode::kInvalidArgument);
  f.limit = 1001;
  EXPECT_EQ(this->store_->ListEvents(f).status().code(), absl::StatusCode::kInvalidArgument);
  f.limit = 10;
  f.cursor = "not a cursor!";
  EXPECT_EQ(this->store_->ListEvents(f).status().code(), absl::StatusCode::kInvalidArgument);
}

TYPED_TEST(StoreTest, SweepDeletesOldEventsAndExpiredCellsAndKeepsDailyRows) {
  Store& s = *this->store_;
  for (int i = 0; i < 10; ++i) {
    ASSERT_TRUE(
        s.AppendSync(MakeEntry("acme", absl::StrCat("k", i), 1, kT0 + absl::Hours(i))).ok());
  }
  // Events before kT0 + 4h go (4 of them); the cells of the first 6 events expired by
  // kT0 + 30h (expiry is ts + 24h), but they all share one cell, whose latest expiry is
  // kT0 + 33h.
  absl::StatusOr<int64_t> deleted = s.Sweep(kT0 + absl::Hours(4), kT0 + absl::Hours(30));
  ASSERT_TRUE(deleted.ok()) << deleted.status();
  EXPECT_EQ(*deleted, 4);
  EXPECT_THAT(this->AllEvents(), SizeIs(6));
  EXPECT_EQ(this->CounterAmount(kT0 + absl::Hours(30)), 10);

  deleted = s.Sweep(kT0 + absl::Hours(100), kT0 + absl::Hours(33));
  ASSERT_TRUE(deleted.ok());
  EXPECT_EQ(*deleted, 6);
  EXPECT_THAT(this->AllEvents(), IsEmpty());
  EXPECT_THAT(*s.LoadCounters(kT0), IsEmpty());  // deleted, not merely expired
  absl::StatusOr<std::vector<DailyRow>> daily = s.ListDaily({});
  ASSERT_TRUE(daily.ok());
  int64_t requests = 0;
  for (const DailyRow& r : *daily) requests += r.requests;
  EXPECT_EQ(requests, 10);
  // A swept event's idempotency key is forgotten with it.
  EXPECT_FALSE(s.FindEventByIdempotencyKey("acme", "k0")->has_value());
}

TYPED_TEST(StoreTest, ManyConcurrentAppendersAreAllAcknowledgedAndPresent) {
  constexpr int kThreads = 8;
  constexpr int kPerThread = 500;
  std::vector<std::thread> threads;
  std::atomic<int> failures{0};
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] {
      for (int i = 0; i < kPerThread; ++i) {
        absl::Status s = this->store_->AppendSync(
            MakeEntry("acme", absl::StrCat("t", t, "-", i), 1, kT0 + absl::Milliseconds(i)));
        if (!s.ok()) failures.fetch_add(1);
      }
    });
  }
  for (std::thread& t : threads) t.join();
  EXPECT_EQ(failures.load(), 0);
  EXPECT_THAT(this->AllEvents(), SizeIs(kThreads * kPerThread));
  EXPECT_EQ(this->CounterAmount(kT0), kThreads * kPerThread);
  EXPECT_EQ((*this->store_->ListDaily({}))[0].requests, kThreads * kPerThread);
  EXPECT_TRUE(this->store_->FindEventByIdempotencyKey("acme", "t7-499")->has_value());
}

TYPED_TEST(StoreTest, FailedCommitIsReportedToEveryDoneAndAppliesNothing) {
  TypeParam::FailCommits(this->store_.get(), true);
  std::vector<LedgerEntry> entries;
  for (int i = 0; i < 5; ++i) entries.push_back(MakeEntry("acme", absl::StrCat("k", i), 1, kT0));
  std::vector<absl::Status> results = this->AppendAll(std::move(entries));
  for (const absl::Status& r : results) {
    EXPECT_FALSE(r.ok());
    EXPECT_NE(r.code(), absl::StatusCode::kAlreadyExists);
  }
  TypeParam::FailCommits(this->store_.get(), false);
  EXPECT_THAT(this->AllEvents(), IsEmpty());
  EXPECT_THAT(*this->store_->LoadCounters(kT0), IsEmpty());
  EXPECT_THAT(*this->store_->ListDaily({}), IsEmpty());

  // Nothing was recorded, so the same keys are accepted once the store recovers.
  EXPECT_TRUE(this->store_->AppendSync(MakeEntry("acme", "k0", 1, kT0)).ok());
  EXPECT_THAT(this->AllEvents(), SizeIs(1));
}

TYPED_TEST(StoreTest, PingAnswersWhenTheStoreCan) { EXPECT_TRUE(this->store_->Ping().ok()); }

}  // namespace
}  // namespace tollgate::store::testing
