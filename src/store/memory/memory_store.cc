#include "store/memory/memory_store.h"

#include <algorithm>

#include "absl/strings/str_cat.h"
#include "store/codec.h"

namespace tollgate {
namespace store {
namespace {

std::string Key(std::string_view s) { return std::string(s); }

absl::Status NotFound(std::string_view what) {
  return absl::NotFoundError(absl::StrCat(ToAbsl(what), " not found"));
}

// What SQLite keeps of a time: whole nanoseconds.
absl::Time Truncate(absl::Time t) { return FromNanos(ToNanos(t)); }

}  // namespace

void MemoryStore::FailCommitsForTesting(bool fail) {
  absl::MutexLock lock(&mu_);
  fail_commits_ = fail;
}

absl::Status MemoryStore::CheckWritable() const {
  if (fail_commits_) return absl::AbortedError("memory store: injected commit failure");
  return absl::OkStatus();
}

absl::Status MemoryStore::CheckTenantRef(std::string_view tenant_id) const {
  std::string_view ref = TenantRef(tenant_id);
  if (!ref.empty() && !tenants_.contains(Key(ref))) {
    return absl::FailedPreconditionError(absl::StrCat("tenant ", ToAbsl(ref), " does not exist"));
  }
  return absl::OkStatus();
}

// --- Tenants.

absl::Status MemoryStore::CreateTenant(const Tenant& tenant) {
  if (tenant.id.empty()) return absl::InvalidArgumentError("tenant id is empty");
  absl::MutexLock lock(&mu_);
  if (absl::Status s = CheckWritable(); !s.ok()) return s;
  Tenant t = tenant;
  t.created_at = Truncate(t.created_at);
  if (!tenants_.emplace(t.id, t).second) {
    return absl::AlreadyExistsError(absl::StrCat("tenant ", t.id, " exists"));
  }
  return absl::OkStatus();
}

absl::Status MemoryStore::UpdateTenant(const Tenant& tenant) {
  absl::MutexLock lock(&mu_);
  if (absl::Status s = CheckWritable(); !s.ok()) return s;
  auto it = tenants_.find(tenant.id);
  if (it == tenants_.end()) return NotFound("tenant");
  it->second = tenant;
  it->second.created_at = Truncate(tenant.created_at);
  return absl::OkStatus();
}

absl::Status MemoryStore::DeleteTenant(std::string_view id) {
  absl::MutexLock lock(&mu_);
  if (absl::Status s = CheckWritable(); !s.ok()) return s;
  if (tenants_.erase(Key(id)) == 0) return NotFound("tenant");
  std::erase_if(keys_, [&](const auto& kv) { return kv.second.tenant_id == id; });
  std::erase_if(limits_, [&](const auto& kv) { return kv.second.scope.tenant_id == id; });
  std::erase_if(policies_, [&](const auto& kv) { return kv.second.tenant_id == id; });
  return absl::OkStatus();
}

absl::StatusOr<Tenant> MemoryStore::GetTenant(std::string_view id) {
  absl::MutexLock lock(&mu_);
  auto it = tenants_.find(Key(id));
  if (it == tenants_.end()) return NotFound("tenant");
  return it->second;
}

absl::StatusOr<std::vector<Tenant>> MemoryStore::ListTenants() {
  absl::MutexLock lock(&mu_);
  std::vector<Tenant> out;
  for (const auto& [id, t] : tenants_) out.push_back(t);
  return out;
}

// --- Keys.

absl::Status MemoryStore::CreateKey(const ApiKey& key) {
  if (key.id.empty()) return absl::InvalidArgumentError("key id is empty");
  absl::MutexLock lock(&mu_);
  if (absl::Status s = CheckWritable(); !s.ok()) return s;
  if (keys_.contains(key.id)) return absl::AlreadyExistsError("key id exists");
  for (const auto& [id, k] : keys_) {
    if (k.secret_hash == key.secret_hash) return absl::AlreadyExistsError("key hash exists");
  }
  if (absl::Status s = CheckTenantRef(key.tenant_id); !s.ok()) return s;
  ApiKey k = key;
  k.created_at = Truncate(k.created_at);
  keys_.emplace(k.id, std::move(k));
  return absl::OkStatus();
}

absl::Status MemoryStore::DeleteKey(std::string_view id) {
  absl::MutexLock lock(&mu_);
  if (absl::Status s = CheckWritable(); !s.ok()) return s;
  if (keys_.erase(Key(id)) == 0) return NotFound("key");
  return absl::OkStatus();
}

absl::StatusOr<ApiKey> MemoryStore::GetKey(std::string_view id) {
  absl::MutexLock lock(&mu_);
  auto it = keys_.find(Key(id));
  if (it == keys_.end()) return NotFound("key");
  return it->second;
}

absl::StatusOr<ApiKey> MemoryStore::FindKeyByHash(std::string_view secret_hash) {
  absl::MutexLock lock(&mu_);
  for (const auto& [id, k] : keys_) {
    if (k.secret_hash == secret_hash) return k;
  }
  return NotFound("key");
}

absl::StatusOr<std::vector<ApiKey>> MemoryStore::ListKeys(std::string_view tenant_id) {
  absl::MutexLock lock(&mu_);
  std::vector<ApiKey> out;
  for (const auto& [id, k] : keys_) {
    if (tenant_id.empty() || k.tenant_id == tenant_id) out.push_back(k);
  }
  return out;
}

absl::StatusOr<int64_t> MemoryStore::CountKeys() {
  absl::MutexLock lock(&mu_);
  return static_cast<int64_t>(keys_.size());
}

// --- Limits.

absl::Status MemoryStore::PutLimit(const Limit& limit) {
  if (limit.id.empty()) return absl::InvalidArgumentError("limit id is empty");
  absl::MutexLock lock(&mu_);
  if (absl::Status s = CheckWritable(); !s.ok()) return s;
  if (absl::Status s = CheckTenantRef(limit.scope.tenant_id); !s.ok()) return s;
  Limit l = limit;
  l.created_at = Truncate(l.created_at);
  l.updated_at = Truncate(l.updated_at);
  limits_[l.id] = std::move(l);
  return absl::OkStatus();
}

absl::Status MemoryStore::DeleteLimit(std::string_view id) {
  absl::MutexLock lock(&mu_);
  if (absl::Status s = CheckWritable(); !s.ok()) return s;
  if (limits_.erase(Key(id)) == 0) return NotFound("limit");
  return absl::OkStatus();
}

absl::StatusOr<Limit> MemoryStore::GetLimit(std::string_view id) {
  absl::MutexLock lock(&mu_);
  auto it = limits_.find(Key(id));
  if (it == limits_.end()) return NotFound("limit");
  return it->second;
}

absl::StatusOr<std::vector<Limit>> MemoryStore::ListLimits() {
  absl::MutexLock lock(&mu_);
  std::vector<Limit> out;
  for (const auto& [id, l] : limits_) out.push_back(l);
  return out;
}

// --- Prices.

absl::Status MemoryStore::PutPrice(const Price& price) {
  if (price.provider.empty() || price.model.empty()) {
    return absl::InvalidArgumentError("price provider and model are required");
  }
  absl::MutexLock lock(&mu_);
  if (absl::Status s = CheckWritable(); !s.ok()) return s;
  Price p = price;
  p.is_override = true;
  prices_[{p.provider, p.model}] = std::move(p);
  return absl::OkStatus();
}

absl::StatusOr<std::vector<Price>> MemoryStore::ListPrices() {
  absl::MutexLock lock(&mu_);
  std::vector<Price> out;
  for (const auto& [k, p] : prices_) out.push_back(p);
  return out;
}

// --- Policies.

absl::Status MemoryStore::PutPolicy(const PolicyRecord& policy) {
  if (policy.level != Level::kGlobal && policy.level != Level::kTenant &&
      policy.level != Level::kUser) {
    return absl::InvalidArgumentError("policy level must be global, tenant or user");
  }
  absl::MutexLock lock(&mu_);
  if (absl::Status s = CheckWritable(); !s.ok()) return s;
  PolicyKey key{policy.level, policy.tenant_id, policy.user_id};
  if (policy.json.empty()) {
    policies_.erase(key);
    return absl::OkStatus();
  }
  if (absl::Status s = CheckTenantRef(policy.tenant_id); !s.ok()) return s;
  PolicyRecord p = policy;
  p.updated_at = Truncate(p.updated_at);
  policies_[key] = std::move(p);
  return absl::OkStatus();
}

absl::StatusOr<std::vector<PolicyRecord>> MemoryStore::ListPolicies() {
  absl::MutexLock lock(&mu_);
  std::vector<PolicyRecord> out;
  for (const auto& [k, p] : policies_) out.push_back(p);
  return out;
}

// --- Ledger.

void MemoryStore::Append(LedgerEntry entry, std::function<void(absl::Status)> done) {
  absl::Status result = ValidateEntry(entry);
  if (result.ok()) {
    absl::MutexLock lock(&mu_);
    result = CheckWritable();
    UsageEvent& e = entry.event;
    e.ts = Truncate(e.ts);
    std::pair<std::string, std::string> idem{e.tenant_id, e.idempotency_key};
    if (result.ok() && ((!e.idempotency_key.empty() && by_idempotency_.contains(idem)) ||
                        event_ts_.contains(e.event_id))) {
      result = absl::AlreadyExistsError("idempotency key already recorded");
    }
    if (result.ok()) {
      for (const CounterDelta& c : entry.counters) {
        auto [it, inserted] =
            counters_.try_emplace(CellKey{c.limit_id, c.subject, c.window_start}, c);
        if (!inserted) {
          it->second.amount += c.amount;
          it->second.expires_at = std::max(it->second.expires_at, Truncate(c.expires_at));
        } else {
          it->second.expires_at = Truncate(c.expires_at);
        }
      }
      DailyKey dk{DailyDate(entry), e.tenant_id, e.user_id, e.agent, e.provider, DailyModel(e)};
      DailyRow& row = daily_[dk];
      std::tie(row.date, row.tenant_id, row.user_id, row.agent, row.provider, row.model) = dk;
      row.usage += e.usage;
      row.cost += e.cost;
      row.requests += 1;
      EventKey key{ToNanos(e.ts), e.event_id};
      if (!e.idempotency_key.empty()) by_idempotency_.emplace(std::move(idem), key);
      event_ts_.emplace(e.event_id, key.first);
      events_.emplace(std::move(key), std::move(e));
    }
  }
  done(std::move(result));
}

absl::StatusOr<std::optional<UsageEvent>> MemoryStore::FindEventByIdempotencyKey(
    std::string_view tenant_id, std::string_view idempotency_key) {
  absl::MutexLock lock(&mu_);
  if (idempotency_key.empty()) return std::optional<UsageEvent>();
  auto it = by_idempotency_.find(std::pair(Key(tenant_id), Key(idempotency_key)));
  if (it == by_idempotency_.end()) return std::optional<UsageEvent>();
  return std::optional<UsageEvent>(events_.at(it->second));
}

absl::StatusOr<EventPage> MemoryStore::ListEvents(const EventFilter& f) {
  if (absl::Status s = ValidateFilter(f); !s.ok()) return s;
  std::optional<CursorKey> cursor;
  if (!f.cursor.empty()) {
    absl::StatusOr<CursorKey> c = DecodeCursor(f.cursor);
    if (!c.ok()) return c.status();
    cursor = *std::move(c);
  }
  absl::MutexLock lock(&mu_);
  EventPage page;
  auto it = events_.rbegin();
  if (cursor) {
    // First key strictly below the cursor, walking down.
    it = std::make_reverse_iterator(events_.lower_bound({cursor->ts_nanos, cursor->event_id}));
  }
  for (; it != events_.rend(); ++it) {
    const UsageEvent& e = it->second;
    if (!f.tenant_id.empty() && e.tenant_id != f.tenant_id) continue;
    if (!f.user_id.empty() && e.user_id != f.user_id) continue;
    if (!f.agent.empty() && e.agent != f.agent) continue;
    if (!f.model.empty() && e.model != f.model && e.model_used != f.model) continue;
    if (f.from && e.ts < *f.from) continue;
    if (f.to && e.ts >= *f.to) continue;
    if (page.events.size() == static_cast<size_t>(f.limit)) {
      const UsageEvent& last = page.events.back();
      page.next_cursor = EncodeCursor(ToNanos(last.ts), last.event_id);
      break;
    }
    page.events.push_back(e);
  }
  return page;
}

absl::StatusOr<std::vector<DailyRow>> MemoryStore::ListDaily(const DailyQuery& q) {
  absl::MutexLock lock(&mu_);
  std::vector<DailyRow> out;
  for (const auto& [k, row] : daily_) {
    if (!q.tenant_id.empty() && row.tenant_id != q.tenant_id) continue;
    if (!q.user_id.empty() && row.user_id != q.user_id) continue;
    if (!q.from_date.empty() && row.date < q.from_date) continue;
    if (!q.to_date.empty() && row.date > q.to_date) continue;
    out.push_back(row);
  }
  return out;
}

absl::StatusOr<std::vector<CounterDelta>> MemoryStore::LoadCounters(absl::Time now) {
  absl::MutexLock lock(&mu_);
  std::vector<CounterDelta> out;
  for (const auto& [k, c] : counters_) {
    if (c.expires_at > now) out.push_back(c);
  }
  return out;
}

absl::StatusOr<int64_t> MemoryStore::Sweep(absl::Time before, absl::Time now) {
  absl::MutexLock lock(&mu_);
  if (absl::Status s = CheckWritable(); !s.ok()) return s;
  int64_t deleted = 0;
  for (auto it = events_.begin(); it != events_.end() && it->second.ts < before;) {
    const UsageEvent& e = it->second;
    if (!e.idempotency_key.empty())
      by_idempotency_.erase(std::pair(e.tenant_id, e.idempotency_key));
    event_ts_.erase(e.event_id);
    it = events_.erase(it);
    ++deleted;
  }
  std::erase_if(counters_, [&](const auto& kv) { return kv.second.expires_at <= now; });
  return deleted;
}

absl::Status MemoryStore::Ping() { return absl::OkStatus(); }

}  // namespace store

std::unique_ptr<Store> NewMemoryStore(const Clock* clock) {
  return std::make_unique<store::MemoryStore>(clock);
}

}  // namespace tollgate
