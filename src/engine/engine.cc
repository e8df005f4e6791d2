#include "tollgate/engine.h"

#include <algorithm>
#include <array>
#include <cstdint>
#include <functional>
#include <limits>
#include <utility>

#include "absl/base/thread_annotations.h"
#include "absl/container/btree_set.h"
#include "absl/container/flat_hash_map.h"
#include "absl/container/node_hash_map.h"
#include "absl/hash/hash.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/string_view.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/civil_time.h"
#include "core/ids.h"
#include "engine/glob.h"
#include "engine/window.h"

namespace tollgate {

int64_t Amount::Of(Metric m) const {
  switch (m) {
    case Metric::kTokens:
      return input_tokens + output_tokens;
    case Metric::kInputTokens:
      return input_tokens;
    case Metric::kOutputTokens:
      return output_tokens;
    case Metric::kCostUsd:
      return cost;
    case Metric::kRequests:
      return requests;
  }
  return 0;
}

namespace {

using engine::FloorDiv;

// absl::string_view is not std::string_view in every Abseil build.
absl::string_view Av(std::string_view s) { return absl::string_view(s.data(), s.size()); }
using engine::kRollingBuckets;

// Ring slots of a rolling counter: the current bucket and kRollingBuckets before it.
constexpr int kRingSlots = kRollingBuckets + 1;
// How often (in clock time) dead counters and expired pending cells are swept.
constexpr absl::Duration kSweepInterval = absl::Minutes(1);

// A limit as the engine indexes it.
struct LimitEntry {
  Limit limit;
  uint32_t lid = 0;                        // interned id, key of its counters
  std::vector<std::string> sorted_models;  // for override comparison
  int specificity = 0;         // +2 when the tenant is named, +1 when the subject is named
  int64_t bucket_seconds = 0;  // rolling windows only
  bool rolling() const { return limit.window.kind == WindowKind::kRolling; }
};

// Counters are keyed by (interned limit id, concrete subject).
struct CounterKey {
  uint32_t lid;
  std::string subject;
};
struct CounterKeyRef {
  uint32_t lid;
  std::string_view subject;
};
struct CounterHash {
  using is_transparent = void;
  size_t operator()(const CounterKey& k) const { return Hash(k.lid, k.subject); }
  size_t operator()(const CounterKeyRef& k) const { return Hash(k.lid, k.subject); }
  static size_t Hash(uint32_t lid, std::string_view s) {
    return absl::Hash<std::pair<uint32_t, absl::string_view>>()(
        {lid, absl::string_view(s.data(), s.size())});
  }
};
struct CounterEq {
  using is_transparent = void;
  template <typename A, typename B>
  bool operator()(const A& a, const B& b) const {
    return a.lid == b.lid && std::string_view(a.subject) == std::string_view(b.subject);
  }
};

// One calendar window's count. Times are unix seconds. `reserved` belongs to calls in
// flight and carries over when the window rolls: they will settle into the new one.
struct CalendarCounter {
  int64_t start = 0;
  int64_t end = 0;
  int64_t used = 0;
  int64_t reserved = 0;
};

// A rolling window's buckets: cells[i % kRingSlots] holds bucket i for i in
// (head - kRingSlots, head]. Bucket i covers [i * b, (i + 1) * b) unix seconds.
struct RollingCounter {
  int64_t head = std::numeric_limits<int64_t>::min();
  int64_t reserved = 0;
  std::array<int64_t, kRingSlots> cells{};
};

int Slot(int64_t bucket) {
  return static_cast<int>(bucket - FloorDiv(bucket, kRingSlots) * kRingSlots);
}

// Moves `c` forward to bucket `n`, clearing buckets that left the window.
void Advance(RollingCounter& c, int64_t n) {
  if (c.head == std::numeric_limits<int64_t>::min() || n - c.head >= kRingSlots) {
    c.cells.fill(0);
    c.head = n;
    return;
  }
  while (c.head < n) c.cells[Slot(++c.head)] = 0;
}

// Bucket `i` of `c` as seen at bucket `n` (0 when it is not in the window).
int64_t Cell(const RollingCounter& c, int64_t n, int64_t i) {
  if (c.head == std::numeric_limits<int64_t>::min()) return 0;
  if (i > c.head || i <= c.head - kRingSlots || i <= n - kRingSlots) return 0;
  return c.cells[Slot(i)];
}

struct Hold {
  uint32_t lid;
  bool rolling;
  std::string subject;
  int64_t amount;
};

struct Reservation {
  absl::Time expires_at;
  std::vector<Hold> holds;
  std::string tenant_id;  // who may settle or release it
  Engine::Held held;      // the model its check substituted, if any
};

struct TenantInfo {
  absl::TimeZone tz;
  Mode mode = Mode::kInherit;
};

// A limit applied to one call: the limit, the concrete subject, the effective mode.
struct Applied {
  const LimitEntry* entry;
  std::string subject;
  Mode mode;
};

// What a limit's counter says at one instant.
struct Reading {
  int64_t used = 0;
  int64_t reserved = 0;
  absl::Time window_start;
  absl::Time resets_at;
};

std::string Grouped(int64_t v) {
  std::string digits = absl::StrCat(v < 0 ? -v : v);
  std::string out;
  int n = static_cast<int>(digits.size());
  for (int i = 0; i < n; ++i) {
    if (i > 0 && (n - i) % 3 == 0) out.push_back(',');
    out.push_back(digits[i]);
  }
  return v < 0 ? "-" + out : out;
}

std::string Usd(Nanos v) {
  const bool neg = v < 0;
  const uint64_t a = neg ? -static_cast<uint64_t>(v) : static_cast<uint64_t>(v);
  std::string frac = absl::StrCat(1'000'000'000 + a % 1'000'000'000).substr(1);
  while (frac.size() > 2 && frac.back() == '0') frac.pop_back();
  return absl::StrCat(neg ? "-$" : "$", Grouped(static_cast<int64_t>(a / 1'000'000'000)), ".",
                      frac);
}

// "9,500" or "$9.50": an amount in the metric's unit, without its noun.
std::string Number(Metric m, int64_t v) { return m == Metric::kCostUsd ? Usd(v) : Grouped(v); }

// "10,000 tokens" or "$10.00".
std::string Quantity(Metric m, int64_t v) {
  switch (m) {
    case Metric::kTokens:
      return Grouped(v) + " tokens";
    case Metric::kInputTokens:
      return Grouped(v) + " input tokens";
    case Metric::kOutputTokens:
      return Grouped(v) + " output tokens";
    case Metric::kCostUsd:
      return Usd(v);
    case Metric::kRequests:
      return Grouped(v) + " requests";
  }
  return Grouped(v);
}

absl::string_view UnitName(WindowUnit u) { return Av(ToString(u)); }

// "today", "this week", "this 3-day window", "the last minute", "the last 5 minutes".
std::string WindowPhrase(const Window& w) {
  if (w.kind == WindowKind::kRolling) {
    if (w.size == 1) return absl::StrCat("in the last ", UnitName(w.unit));
    return absl::StrCat("in the last ", w.size, " ", UnitName(w.unit), "s");
  }
  if (w.size == 1) {
    if (w.unit == WindowUnit::kDay) return "today";
    return absl::StrCat("this ", UnitName(w.unit));
  }
  return absl::StrCat("in this ", w.size, "-", UnitName(w.unit), " window");
}

// "per day", "per 3 days", "per rolling minute", "per rolling 5 minutes".
std::string PerPhrase(const Window& w) {
  std::string rolling = w.kind == WindowKind::kRolling ? "rolling " : "";
  if (w.size == 1) return absl::StrCat("per ", rolling, UnitName(w.unit));
  return absl::StrCat("per ", rolling, w.size, " ", UnitName(w.unit), "s");
}

// "user alice", "tenant acme", "global".
std::string ScopePhrase(Level level, std::string_view subject) {
  if (level == Level::kGlobal) return "global";
  size_t slash = subject.find('/');
  std::string_view id = slash == std::string_view::npos ? subject : subject.substr(slash + 1);
  return absl::StrCat(Av(ToString(level)), " ", Av(id));
}

}  // namespace

class Engine::Impl {
 public:
  Impl(const Clock* clock, EngineOptions options) : clock_(clock), options_(options) {}

  void PutLimit(const Limit& limit) {
    absl::MutexLock lock(&mu_);
    uint32_t lid = Intern(limit.id);
    auto it = limits_.find(limit.id);
    if (it != limits_.end()) {
      const Limit& old = it->second.limit;
      if (old.scope != limit.scope || old.metric != limit.metric || old.window != limit.window)
        EraseCounters(lid);  // the old counts mean something else now
      Unindex(it->second);
    }
    LimitEntry& e = limits_[limit.id];
    e.limit = limit;
    e.lid = lid;
    e.sorted_models = limit.models;
    std::sort(e.sorted_models.begin(), e.sorted_models.end());
    e.sorted_models.erase(std::unique(e.sorted_models.begin(), e.sorted_models.end()),
                          e.sorted_models.end());
    e.specificity = 0;
    if (limit.scope.level != Level::kGlobal) {
      if (limit.scope.tenant_id != "*") e.specificity += 2;
      if (limit.scope.level != Level::kTenant && limit.scope.subject_id != "*") e.specificity += 1;
    }
    e.bucket_seconds = std::max<int64_t>(1, engine::RollingBucketSeconds(limit.window));
    by_tenant_[IndexKey(limit.scope)].push_back(&e);
    live_[lid] = true;
    bucket_seconds_[lid] = e.bucket_seconds;

    auto pending = pending_.find(limit.id);
    if (pending != pending_.end()) {
      std::vector<CounterDelta> cells = std::move(pending->second);
      pending_.erase(pending);
      absl::Time now = clock_->Now();
      for (const CounterDelta& cell : cells)
        if (cell.expires_at > now) ApplyCell(e, cell, now);
    }
  }

  void RemoveLimit(std::string_view limit_id) {
    absl::MutexLock lock(&mu_);
    auto it = limits_.find(Av(limit_id));
    if (it == limits_.end()) return;
    Unindex(it->second);
    live_[it->second.lid] = false;  // its counters go at the next sweep
    limits_.erase(it);
  }

  void PutTenant(const Tenant& tenant) {
    absl::TimeZone tz;
    if (!absl::LoadTimeZone(tenant.timezone.empty() ? "UTC" : tenant.timezone, &tz))
      tz = absl::UTCTimeZone();  // unknown zone: UTC (the API validates names)
    absl::MutexLock lock(&mu_);
    tenants_[tenant.id] = TenantInfo{tz, tenant.mode};
  }

  void RemoveTenant(std::string_view tenant_id) {
    absl::MutexLock lock(&mu_);
    tenants_.erase(Av(tenant_id));
  }

  void SetDefaultMode(Mode mode) {
    absl::MutexLock lock(&mu_);
    options_.default_mode = mode;
  }

  CheckResult Check(const CallContext& ctx, const Amount& expected, bool reserve,
                    bool substituted) {
    std::string reservation_id = reserve ? core::NewId("res") : std::string();
    absl::MutexLock lock(&mu_);
    const absl::Time now = clock_->Now();
    if (reserve)
      Housekeep(now);
    else
      ExpireLeases(now);
    std::vector<Applied> applied = Resolve(ctx);

    struct Eval {
      const Applied* a;
      Reading r;
      int64_t need;
      bool fits;
      bool never;  // need exceeds the limit itself
      std::optional<absl::Duration> retry;
    };
    std::vector<Eval> evals;
    evals.reserve(applied.size());
    for (const Applied& a : applied) {
      if (a.mode == Mode::kOff) continue;
      const Limit& l = a.entry->limit;
      Eval ev{&a, Read(a, now), std::max<int64_t>(0, expected.Of(l.metric)), true, false, {}};
      ev.never = ev.need > l.limit;
      ev.fits = !ev.never && ev.r.used + ev.r.reserved + ev.need <= l.limit;
      if (!ev.fits && !ev.never) ev.retry = RetryAfter(a, ev.r, ev.need, now);
      evals.push_back(std::move(ev));
    }

    // The blocking limit: enforced refusals first, then shadow ones; among them one
    // that can never fit, else the one that frees up last.
    const Eval* blocking = nullptr;
    auto worse = [](const Eval& a, const Eval* b) {
      if (b == nullptr) return true;
      if (a.never != b->never) return a.never;
      return a.retry.value_or(absl::ZeroDuration()) > b->retry.value_or(absl::ZeroDuration());
    };
    for (Mode mode : {Mode::kEnforce, Mode::kShadow}) {
      for (const Eval& ev : evals)
        if (!ev.fits && ev.a->mode == mode && worse(ev, blocking)) blocking = &ev;
      if (blocking != nullptr) break;
    }

    CheckResult result;
    if (blocking != nullptr) {
      result.allowed = blocking->a->mode != Mode::kEnforce;
      result.decision = result.allowed ? DecisionKind::kShadowDeny : DecisionKind::kDeny;
      result.reason = Reason(*blocking->a, blocking->r, blocking->need);
      result.retry_after = blocking->retry;
    }
    if (result.allowed && reserve) {
      Reservation res;
      res.expires_at = now + options_.lease;
      res.tenant_id = ctx.tenant_id;
      if (substituted) res.held = Held{ctx.provider, ctx.model};
      for (Eval& ev : evals) {
        if (ev.need == 0) continue;
        const Applied& a = *ev.a;
        if (a.entry->rolling()) {
          RollingCounter& c = RollingOf(a.entry->lid, a.subject);
          Advance(c, std::max(c.head, FloorDiv(absl::ToUnixSeconds(now), a.entry->bucket_seconds)));
          c.reserved += ev.need;
        } else {
          CalendarCounter& c = CalendarAt(a, now);
          c.reserved += ev.need;
        }
        ev.r.reserved += ev.need;
        res.holds.push_back(Hold{a.entry->lid, a.entry->rolling(), a.subject, ev.need});
      }
      result.reservation_id = reservation_id;
      result.expires_at = res.expires_at;
      leases_.emplace(res.expires_at, reservation_id);
      Shard(reservation_id).emplace(std::move(reservation_id), std::move(res));
    }
    result.limits.reserve(evals.size());
    for (const Eval& ev : evals) {
      LimitStatus s = ToStatus(*ev.a, ev.r);
      if (&ev == blocking) result.blocking = s;
      result.limits.push_back(std::move(s));
    }
    return result;
  }

  std::vector<CounterDelta> Settle(std::string_view reservation_id, const CallContext& ctx,
                                   const Amount& actual, std::vector<LimitStatus>* limits) {
    absl::MutexLock lock(&mu_);
    const absl::Time now = clock_->Now();
    Housekeep(now);
    if (!reservation_id.empty()) {
      Reservations& shard = Shard(reservation_id);
      auto it = shard.find(Av(reservation_id));
      if (it != shard.end() && it->second.tenant_id == ctx.tenant_id) Drop(shard, it);
    }
    std::vector<CounterDelta> deltas;
    for (const Applied& a : Resolve(ctx)) {
      const int64_t amount = std::max<int64_t>(0, actual.Of(a.entry->limit.metric));
      if (amount != 0) deltas.push_back(Charge(a, amount, now));
      if (limits != nullptr) limits->push_back(ToStatus(a, Read(a, now)));
    }
    return deltas;
  }

  // Adds `amount` to the counter of `a` in the window current at `now`; returns the cell
  // it changed.
  CounterDelta Charge(const Applied& a, int64_t amount, absl::Time now)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
    CounterDelta d;
    d.limit_id = a.entry->limit.id;
    d.subject = a.subject;
    d.amount = amount;
    if (a.entry->rolling()) {
      const int64_t b = a.entry->bucket_seconds;
      RollingCounter& c = RollingOf(a.entry->lid, a.subject);
      Advance(c, std::max(c.head, FloorDiv(absl::ToUnixSeconds(now), b)));
      c.cells[Slot(c.head)] += amount;
      d.window_start = c.head * b;
      d.expires_at = absl::FromUnixSeconds((c.head + kRingSlots) * b);
    } else {
      CalendarCounter& c = CalendarAt(a, now);
      c.used += amount;
      d.window_start = c.start;
      d.expires_at = absl::FromUnixSeconds(c.end);
    }
    return d;
  }

  std::optional<Held> Find(std::string_view tenant_id, std::string_view reservation_id) {
    absl::MutexLock lock(&mu_);
    ExpireLeases(clock_->Now());
    Reservations& shard = Shard(reservation_id);
    auto it = shard.find(Av(reservation_id));
    if (it == shard.end() || it->second.tenant_id != tenant_id) return std::nullopt;
    return it->second.held;
  }

  bool Release(std::string_view tenant_id, std::string_view reservation_id) {
    absl::MutexLock lock(&mu_);
    ExpireLeases(clock_->Now());
    Reservations& shard = Shard(reservation_id);
    auto it = shard.find(Av(reservation_id));
    if (it == shard.end() || it->second.tenant_id != tenant_id) return false;
    Drop(shard, it);
    return true;
  }

  std::vector<LimitStatus> Status(const CallContext& ctx) {
    absl::MutexLock lock(&mu_);
    const absl::Time now = clock_->Now();
    ExpireLeases(now);
    std::vector<LimitStatus> out;
    for (const Applied& a : Resolve(ctx)) out.push_back(ToStatus(a, Read(a, now)));
    return out;
  }

  void Restore(const std::vector<CounterDelta>& cells) {
    absl::MutexLock lock(&mu_);
    const absl::Time now = clock_->Now();
    for (const CounterDelta& cell : cells) {
      if (cell.expires_at <= now) continue;
      auto it = limits_.find(cell.limit_id);
      if (it == limits_.end()) {
        pending_[cell.limit_id].push_back(cell);
      } else {
        ApplyCell(it->second, cell, now);
      }
    }
  }

  size_t ActiveCounters() {
    absl::MutexLock lock(&mu_);
    return calendar_.size() + rolling_.size();
  }

  size_t HeldReservations() {
    absl::MutexLock lock(&mu_);
    size_t n = 0;
    for (const Reservations& shard : reservations_) n += shard.size();
    return n;
  }

 private:
  static std::string IndexKey(const Scope& scope) {
    return scope.level == Level::kGlobal ? std::string() : scope.tenant_id;
  }

  uint32_t Intern(const std::string& limit_id) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
    auto [it, inserted] = lids_.try_emplace(limit_id, static_cast<uint32_t>(lids_.size()));
    if (inserted) {
      live_.push_back(false);
      bucket_seconds_.push_back(1);
    }
    return it->second;
  }

  void Unindex(const LimitEntry& e) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
    auto it = by_tenant_.find(IndexKey(e.limit.scope));
    if (it == by_tenant_.end()) return;
    std::erase(it->second, &e);
    if (it->second.empty()) by_tenant_.erase(it);
  }

  void EraseCounters(uint32_t lid) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
    absl::erase_if(calendar_, [lid](const auto& kv) { return kv.first.lid == lid; });
    absl::erase_if(rolling_, [lid](const auto& kv) { return kv.first.lid == lid; });
  }

  Mode EffectiveMode(const Limit& l, const TenantInfo* tenant) const
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
    if (l.mode != Mode::kInherit) return l.mode;
    if (tenant != nullptr && tenant->mode != Mode::kInherit) return tenant->mode;
    return options_.default_mode == Mode::kInherit ? Mode::kEnforce : options_.default_mode;
  }

  // The limits that apply to `ctx`, defaults replaced by their overrides. Every model
  // matches when ctx.model is empty.
  std::vector<Applied> Resolve(const CallContext& ctx) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
    std::vector<Applied> out;
    if (ctx.tenant_id.empty()) return out;
    std::string model;  // "provider:model", made when a limit names models
    const auto tenant_it = tenants_.find(ctx.tenant_id);
    const TenantInfo* tenant = tenant_it == tenants_.end() ? nullptr : &tenant_it->second;
    const bool own_key = ctx.tenant_id != "*";
    const std::string_view keys[] = {std::string_view(), std::string_view("*"), ctx.tenant_id};
    for (int k = 0; k < (own_key ? 3 : 2); ++k) {
      auto it = by_tenant_.find(Av(keys[k]));
      if (it == by_tenant_.end()) continue;
      for (const LimitEntry* e : it->second) {
        const Scope& s = e->limit.scope;
        const std::string* id = nullptr;
        switch (s.level) {
          case Level::kGlobal:
            break;
          case Level::kTenant:
            break;
          case Level::kUser:
            id = &ctx.user_id;
            break;
          case Level::kAgent:
            id = &ctx.agent;
            break;
          case Level::kKey:
            id = &ctx.key_id;
            break;
        }
        if (id != nullptr && (id->empty() || (s.subject_id != "*" && s.subject_id != *id)))
          continue;
        if (!ctx.model.empty() && !e->limit.models.empty()) {
          if (model.empty()) model = absl::StrCat(ctx.provider, ":", ctx.model);
          if (std::none_of(e->limit.models.begin(), e->limit.models.end(),
                           [&](const std::string& g) { return engine::GlobMatch(g, model); }))
            continue;
        }
        std::string subject;
        if (s.level == Level::kTenant)
          subject = ctx.tenant_id;
        else if (id != nullptr)
          subject = absl::StrCat(ctx.tenant_id, "/", *id);
        out.push_back(Applied{e, std::move(subject), EffectiveMode(e->limit, tenant)});
      }
    }
    // A more specific limit with the same level, metric, window and models replaces
    // the less specific ones for this subject.
    auto replaced = [&out](const Applied& a) {
      const LimitEntry& x = *a.entry;
      for (const Applied& b : out) {
        const LimitEntry& y = *b.entry;
        if (y.specificity > x.specificity && y.limit.scope.level == x.limit.scope.level &&
            y.limit.metric == x.limit.metric && y.limit.window == x.limit.window &&
            y.sorted_models == x.sorted_models)
          return true;
      }
      return false;
    };
    if (out.size() > 1) {
      std::vector<bool> drop(out.size());
      for (size_t i = 0; i < out.size(); ++i) drop[i] = replaced(out[i]);
      size_t j = 0;
      for (size_t i = 0; i < out.size(); ++i)
        if (!drop[i]) {
          if (i != j) out[j] = std::move(out[i]);
          ++j;
        }
      out.resize(j);
    }
    return out;
  }

  // Calendar windows of global limits align in UTC; all others in their tenant's zone.
  absl::TimeZone ZoneOf(const Limit& l, std::string_view subject) const
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
    if (l.scope.level == Level::kGlobal) return absl::UTCTimeZone();
    std::string_view tenant = subject.substr(0, subject.find('/'));
    auto it = tenants_.find(Av(tenant));
    return it == tenants_.end() ? absl::UTCTimeZone() : it->second.tz;
  }

  RollingCounter& RollingOf(uint32_t lid, const std::string& subject)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
    auto it = rolling_.find(CounterKeyRef{lid, subject});
    if (it == rolling_.end())
      it = rolling_.emplace(CounterKey{lid, subject}, RollingCounter{}).first;
    return it->second;
  }

  // The calendar counter of `a`, rolled to the window holding `now` (created if absent).
  CalendarCounter& CalendarAt(const Applied& a, absl::Time now) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
    auto it = calendar_.find(CounterKeyRef{a.entry->lid, a.subject});
    if (it == calendar_.end())
      it = calendar_.emplace(CounterKey{a.entry->lid, a.subject}, CalendarCounter{}).first;
    CalendarCounter& c = it->second;
    const int64_t t = absl::ToUnixSeconds(now);
    if (c.end == 0 || t >= c.end) {
      engine::Span w =
          engine::CalendarWindowAt(a.entry->limit.window, now, ZoneOf(a.entry->limit, a.subject));
      c.start = absl::ToUnixSeconds(w.start);
      c.end = absl::ToUnixSeconds(w.end);
      c.used = 0;
    }
    return c;
  }

  Reading Read(const Applied& a, absl::Time now) const ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
    Reading r;
    const int64_t t = absl::ToUnixSeconds(now);
    const CounterKeyRef key{a.entry->lid, a.subject};
    if (a.entry->rolling()) {
      const int64_t b = a.entry->bucket_seconds;
      int64_t n = FloorDiv(t, b);
      auto it = rolling_.find(key);
      int64_t oldest_used = -1;
      if (it != rolling_.end()) {
        const RollingCounter& c = it->second;
        n = std::max(n, c.head);
        r.reserved = c.reserved;
        for (int64_t i = n - kRollingBuckets; i <= n; ++i) {
          int64_t v = Cell(c, n, i);
          if (v != 0 && oldest_used < 0) oldest_used = i;
          r.used += v;
        }
      }
      r.window_start = absl::FromUnixSeconds((n - kRollingBuckets) * b);
      r.resets_at = oldest_used < 0 ? now : absl::FromUnixSeconds((oldest_used + kRingSlots) * b);
      return r;
    }
    auto it = calendar_.find(key);
    if (it != calendar_.end()) r.reserved = it->second.reserved;
    if (it != calendar_.end() && t < it->second.end) {
      r.used = it->second.used;
      r.window_start = absl::FromUnixSeconds(it->second.start);
      r.resets_at = absl::FromUnixSeconds(it->second.end);
      return r;
    }
    engine::Span w =
        engine::CalendarWindowAt(a.entry->limit.window, now, ZoneOf(a.entry->limit, a.subject));
    r.window_start = w.start;
    r.resets_at = w.end;
    return r;
  }

  // How long until `need` fits, assuming reservations stay as they are. Calendar: the
  // window's end. Rolling: when enough buckets have left the window.
  absl::Duration RetryAfter(const Applied& a, const Reading& r, int64_t need, absl::Time now) const
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
    if (!a.entry->rolling()) return r.resets_at - now;
    const int64_t b = a.entry->bucket_seconds;
    const int64_t limit = a.entry->limit.limit;
    auto it = rolling_.find(CounterKeyRef{a.entry->lid, a.subject});
    if (it == rolling_.end() || r.used == 0) return absl::Seconds(b);  // only reservations
    const RollingCounter& c = it->second;
    const int64_t n = std::max(FloorDiv(absl::ToUnixSeconds(now), b), c.head);
    int64_t used = r.used;
    for (int64_t i = n - kRollingBuckets; i <= n; ++i) {
      used -= Cell(c, n, i);
      const absl::Time expiry = absl::FromUnixSeconds((i + kRingSlots) * b);
      if (used + r.reserved + need <= limit || i == n) return expiry - now;
    }
    return absl::Seconds(b);
  }

  std::string Reason(const Applied& a, const Reading& r, int64_t need) const {
    const Limit& l = a.entry->limit;
    const std::string who = ScopePhrase(l.scope.level, a.subject);
    if (need > l.limit) {
      return absl::StrCat(who, ": this call needs ", Quantity(l.metric, need), " but the limit is ",
                          Quantity(l.metric, l.limit), " ", PerPhrase(l.window),
                          "; it can never fit");
    }
    std::string text =
        absl::StrCat(who, ": ", Number(l.metric, r.used), " of ", Quantity(l.metric, l.limit),
                     l.metric == Metric::kCostUsd ? " spent " : " used ", WindowPhrase(l.window));
    if (r.reserved > 0)
      absl::StrAppend(&text, " (", Quantity(l.metric, r.reserved), " reserved by calls in flight)");
    absl::StrAppend(&text, "; this call needs ", Number(l.metric, need));
    return text;
  }

  LimitStatus ToStatus(const Applied& a, const Reading& r) const {
    LimitStatus s;
    s.limit = a.entry->limit;
    s.subject = a.subject;
    s.used = r.used;
    s.reserved = r.reserved;
    s.remaining = std::max<int64_t>(0, a.entry->limit.limit - r.used - r.reserved);
    s.window_start = r.window_start;
    s.resets_at = r.resets_at;
    s.mode = a.mode;
    return s;
  }

  void ApplyCell(const LimitEntry& e, const CounterDelta& cell, absl::Time now)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
    if (e.rolling()) {
      const int64_t b = e.bucket_seconds;
      RollingCounter& c = RollingOf(e.lid, cell.subject);
      Advance(c, std::max(c.head, FloorDiv(absl::ToUnixSeconds(now), b)));
      const int64_t i = std::min(FloorDiv(cell.window_start, b), c.head);
      if (i <= c.head - kRingSlots) return;
      int64_t& v = c.cells[Slot(i)];
      v = std::max<int64_t>(0, v + cell.amount);
      return;
    }
    Applied a{&e, cell.subject, Mode::kEnforce};
    CalendarCounter& c = CalendarAt(a, now);
    if (cell.window_start == c.start) c.used = std::max<int64_t>(0, c.used + cell.amount);
  }

  void Free(const Reservation& res) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
    for (const Hold& h : res.holds) {
      const CounterKeyRef key{h.lid, h.subject};
      if (h.rolling) {
        auto it = rolling_.find(key);
        if (it != rolling_.end())
          it->second.reserved = std::max<int64_t>(0, it->second.reserved - h.amount);
      } else {
        auto it = calendar_.find(key);
        if (it != calendar_.end())
          it->second.reserved = std::max<int64_t>(0, it->second.reserved - h.amount);
      }
    }
  }

  using Reservations = absl::flat_hash_map<std::string, Reservation>;
  Reservations& Shard(std::string_view reservation_id) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
    // The hash's top bits: the map itself probes with the lower ones.
    return reservations_[absl::Hash<std::string_view>{}(reservation_id) >>
                         (std::numeric_limits<size_t>::digits - kShardBits)];
  }

  // Frees a held reservation and forgets it.
  void Drop(Reservations& shard, Reservations::iterator it) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
    Free(it->second);
    leases_.erase(Lease(it->second.expires_at, it->first));
    shard.erase(it);
  }

  void ExpireLeases(absl::Time now) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
    while (!leases_.empty() && leases_.begin()->first <= now) {
      Reservations& shard = Shard(leases_.begin()->second);
      auto it = shard.find(leases_.begin()->second);
      if (it != shard.end()) {
        Drop(shard, it);
      } else {
        leases_.erase(leases_.begin());
      }
    }
  }

  // Expires leases and, at most once per kSweepInterval, drops counters that count
  // nothing any more (window over, nothing reserved, or limit removed).
  void Housekeep(absl::Time now) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
    ExpireLeases(now);
    if (now - last_sweep_ < kSweepInterval) return;
    last_sweep_ = now;
    const int64_t t = absl::ToUnixSeconds(now);
    absl::erase_if(calendar_, [&](const auto& kv) {
      return !live_[kv.first.lid] || (kv.second.reserved == 0 && t >= kv.second.end);
    });
    absl::erase_if(rolling_, [&](const auto& kv) {
      if (!live_[kv.first.lid]) return true;
      if (kv.second.reserved != 0) return false;
      return t >= (kv.second.head + kRingSlots) * bucket_seconds_[kv.first.lid];
    });
    for (auto it = pending_.begin(); it != pending_.end();) {
      std::erase_if(it->second, [now](const CounterDelta& c) { return c.expires_at <= now; });
      if (it->second.empty())
        pending_.erase(it++);
      else
        ++it;
    }
  }

  const Clock* const clock_;
  mutable absl::Mutex mu_;
  EngineOptions options_ ABSL_GUARDED_BY(mu_);
  absl::flat_hash_map<std::string, uint32_t> lids_ ABSL_GUARDED_BY(mu_);  // never shrinks
  std::vector<bool> live_ ABSL_GUARDED_BY(mu_);  // by lid: the limit exists
  // Limits by id; node map so that the index below can point into it.
  absl::node_hash_map<std::string, LimitEntry> limits_ ABSL_GUARDED_BY(mu_);
  // Limits by the tenant they name: "" global, "*" every tenant, else the tenant id.
  absl::flat_hash_map<std::string, std::vector<const LimitEntry*>> by_tenant_ ABSL_GUARDED_BY(mu_);
  std::vector<int64_t> bucket_seconds_ ABSL_GUARDED_BY(mu_);  // by lid, rolling limits
  absl::flat_hash_map<std::string, TenantInfo> tenants_ ABSL_GUARDED_BY(mu_);
  absl::flat_hash_map<CounterKey, CalendarCounter, CounterHash, CounterEq> calendar_
      ABSL_GUARDED_BY(mu_);
  // A node map: rolling counters are larger, and a node keeps their memory per counter
  // flat when the table grows.
  absl::node_hash_map<CounterKey, RollingCounter, CounterHash, CounterEq> rolling_
      ABSL_GUARDED_BY(mu_);
  // Held reservations by id, in 2^kShardBits tables: hundreds of thousands may be
  // held (checks whose reports never come keep theirs for the lease), and a table that
  // size takes tens of milliseconds to grow, during which every call waits; a shard
  // grows by 1/64 of that.
  static constexpr int kShardBits = 6;
  std::array<Reservations, size_t{1} << kShardBits> reservations_ ABSL_GUARDED_BY(mu_);
  using Lease = std::pair<absl::Time, std::string>;
  // The held reservations by lease end (entries leave with their reservation).
  absl::btree_set<Lease> leases_ ABSL_GUARDED_BY(mu_);
  // Restored cells of limits not (yet) configured, by limit id.
  absl::flat_hash_map<std::string, std::vector<CounterDelta>> pending_ ABSL_GUARDED_BY(mu_);
  absl::Time last_sweep_ ABSL_GUARDED_BY(mu_) = absl::InfinitePast();
};

Engine::Engine(const Clock* clock, EngineOptions options)
    : impl_(std::make_unique<Impl>(clock, options)) {}
Engine::~Engine() = default;

void Engine::PutLimit(const Limit& limit) { impl_->PutLimit(limit); }
void Engine::RemoveLimit(std::string_view limit_id) { impl_->RemoveLimit(limit_id); }
void Engine::PutTenant(const Tenant& tenant) { impl_->PutTenant(tenant); }
void Engine::RemoveTenant(std::string_view tenant_id) { impl_->RemoveTenant(tenant_id); }
void Engine::SetDefaultMode(Mode mode) { impl_->SetDefaultMode(mode); }

CheckResult Engine::Check(const CallContext& ctx, const Amount& expected, bool substituted) {
  return impl_->Check(ctx, expected, /*reserve=*/true, substituted);
}
CheckResult Engine::Evaluate(const CallContext& ctx, const Amount& expected) const {
  return impl_->Check(ctx, expected, /*reserve=*/false, /*substituted=*/false);
}
std::optional<Engine::Held> Engine::Find(std::string_view tenant_id,
                                         std::string_view reservation_id) const {
  return impl_->Find(tenant_id, reservation_id);
}
std::vector<CounterDelta> Engine::Settle(std::string_view reservation_id, const CallContext& ctx,
                                         const Amount& actual, std::vector<LimitStatus>* limits) {
  return impl_->Settle(reservation_id, ctx, actual, limits);
}
bool Engine::Release(std::string_view tenant_id, std::string_view reservation_id) {
  return impl_->Release(tenant_id, reservation_id);
}
std::vector<LimitStatus> Engine::Status(const CallContext& ctx) const { return impl_->Status(ctx); }
void Engine::Restore(const std::vector<CounterDelta>& cells) { impl_->Restore(cells); }
size_t Engine::ActiveCounters() const { return impl_->ActiveCounters(); }
size_t Engine::HeldReservations() const { return impl_->HeldReservations(); }

}  // namespace tollgate
