#include "server/metering.h"

#include <algorithm>
#include <array>
#include <utility>

#include "absl/hash/hash.h"
#include "absl/strings/str_cat.h"
#include "absl/time/civil_time.h"
#include "core/ids.h"
#include "server/codec.h"

namespace tollgate::server {
namespace {

bool IsGlobChar(char c) {
  return core::IsValidId(std::string_view(&c, 1)) || c == '*' || c == '/';
}

absl::Status ValidateScope(Scope& scope) {
  auto valid_or_star = [](std::string_view id) { return id == "*" || core::IsValidId(id); };
  switch (scope.level) {
    case Level::kGlobal:
      if (!scope.tenant_id.empty() || (!scope.subject_id.empty() && scope.subject_id != "*"))
        return absl::InvalidArgumentError("field 'scope': a global limit names no tenant or subject");
      scope.subject_id.clear();
      return absl::OkStatus();
    case Level::kTenant:
      if (!valid_or_star(scope.tenant_id))
        return absl::InvalidArgumentError("field 'scope.tenant_id' must be a tenant id or \"*\"");
      if (!scope.subject_id.empty() && scope.subject_id != scope.tenant_id)
        return absl::InvalidArgumentError(
            "field 'scope.subject_id' of a tenant limit must be empty or the tenant id");
      scope.subject_id = scope.tenant_id;
      return absl::OkStatus();
    case Level::kUser:
    case Level::kAgent:
    case Level::kKey:
      if (!valid_or_star(scope.tenant_id))
        return absl::InvalidArgumentError("field 'scope.tenant_id' must be a tenant id or \"*\"");
      if (!valid_or_star(scope.subject_id))
        return absl::InvalidArgumentError(
            "field 'scope.subject_id' must be an id (1-128 of letters, digits, ._:@-) or \"*\"");
      return absl::OkStatus();
  }
  return absl::InvalidArgumentError("field 'scope.level' is not a known level");
}

}  // namespace

absl::Status ValidateLimit(Limit& limit) {
  if (limit.id.empty()) limit.id = core::NewId("lim");
  if (!core::IsValidId(limit.id)) return absl::InvalidArgumentError("field 'id' is not a valid id");
  if (absl::Status s = ValidateScope(limit.scope); !s.ok()) return s;
  if (limit.window.size < 1 || limit.window.size > 1000)
    return absl::InvalidArgumentError("field 'window.size' must be between 1 and 1000");
  if (limit.limit < 0) return absl::InvalidArgumentError("field 'limit' must not be negative");
  if (limit.models.size() > 64)
    return absl::InvalidArgumentError("field 'models' has more than 64 patterns");
  for (const std::string& m : limit.models) {
    bool ok = !m.empty() && m.size() <= 200 && m.find(':') != std::string::npos;
    for (char c : m) ok = ok && IsGlobChar(c);
    if (!ok)
      return absl::InvalidArgumentError(
          absl::StrCat("field 'models': '", m.substr(0, 64), "' is not a provider:model pattern"));
  }
  if (limit.alert_thresholds.size() > 16)
    return absl::InvalidArgumentError("field 'alert_thresholds' has more than 16 entries");
  for (double t : limit.alert_thresholds)
    if (!(t > 0 && t <= 10))
      return absl::InvalidArgumentError("field 'alert_thresholds' entries must be in (0, 10]");
  return absl::OkStatus();
}

Metering::Metering(const Clock* clock, Store* store, Engine* engine,
                   providers::PriceCatalog* prices, MeteringOptions options)
    : clock_(clock),
      store_(store),
      ledger_(store),
      engine_(engine),
      prices_(prices),
      options_(options),
      policies_(std::make_unique<PolicyService>(this)) {}

absl::Status Metering::Load() {
  absl::StatusOr<std::vector<Tenant>> tenants = store_->ListTenants();
  if (!tenants.ok()) return tenants.status();
  absl::StatusOr<std::vector<ApiKey>> keys = store_->ListKeys("");
  if (!keys.ok()) return keys.status();
  absl::StatusOr<std::vector<Limit>> limits = store_->ListLimits();
  if (!limits.ok()) return limits.status();
  absl::StatusOr<std::vector<Price>> prices = store_->ListPrices();
  if (!prices.ok()) return prices.status();
  absl::StatusOr<std::vector<CounterDelta>> counters = store_->LoadCounters(clock_->Now());
  if (!counters.ok()) return counters.status();
  {
    absl::MutexLock lock(&mu_);
    for (Tenant& t : *tenants) {
      absl::TimeZone tz = absl::UTCTimeZone();
      absl::LoadTimeZone(t.timezone, &tz);
      zones_[t.id] = tz;
      tenants_[t.id] = t;
    }
    for (ApiKey& k : *keys) keys_by_hash_[k.secret_hash] = std::make_shared<const ApiKey>(k);
  }
  for (const Tenant& t : *tenants) engine_->PutTenant(t);
  for (const Limit& l : *limits) engine_->PutLimit(l);
  for (const Price& p : *prices)
    if (absl::Status s = prices_->Put(p); !s.ok()) return s;
  engine_->Restore(*counters);
  return policies_->Load();
}

absl::StatusOr<std::string> Metering::Bootstrap(std::string_view admin_secret) {
  absl::StatusOr<int64_t> n = store_->CountKeys();
  if (!n.ok()) return n.status();
  if (*n > 0) return std::string();
  std::string secret(admin_secret);
  bool generated = secret.empty();
  if (generated) secret = core::NewSecret();
  if (secret.size() < 16)
    return absl::InvalidArgumentError("TOLLGATE_ADMIN_KEY must be at least 16 characters");
  ApiKey key;
  key.id = core::NewId("key");
  key.role = Role::kAdmin;
  key.name = "bootstrap admin";
  key.secret_hash = core::Sha256Hex(secret);
  key.created_at = clock_->Now();
  if (absl::Status s = store_->CreateKey(key); !s.ok()) return s;
  absl::MutexLock lock(&mu_);
  keys_by_hash_[key.secret_hash] = std::make_shared<const ApiKey>(key);
  return generated ? secret : std::string();
}

namespace {

// Sha256Hex(secret) of a non-empty secret, remembered for the last secrets this thread
// saw: an agent sends its key with every request, and OpenSSL's hash of it costs
// thousands of instructions. Only the pure function is cached (the key itself is looked
// up every time, so a deleted key fails at once); the cache holds a few secrets per
// thread, as every request does while it runs.
const std::string& SecretHash(std::string_view secret) {
  struct Slot {
    std::string secret;
    std::string hash;
  };
  constexpr size_t kSlots = 16;
  thread_local std::array<Slot, kSlots> slots;
  Slot& slot = slots[absl::HashOf(absl::string_view(secret.data(), secret.size())) % kSlots];
  if (slot.secret != secret) {  // an unused slot's "" never matches
    slot.secret.assign(secret);
    slot.hash = core::Sha256Hex(secret);
  }
  return slot.hash;
}

}  // namespace

std::shared_ptr<const ApiKey> Metering::Authenticate(std::string_view secret) const {
  if (secret.empty() || secret.size() > 256) return nullptr;
  const std::string& hash = SecretHash(secret);
  absl::ReaderMutexLock lock(&mu_);
  auto it = keys_by_hash_.find(hash);
  if (it == keys_by_hash_.end()) return nullptr;
  return it->second;
}

// --- Tenants ---------------------------------------------------------------------

absl::StatusOr<Tenant> Metering::CreateTenant(Tenant tenant) {
  if (!core::IsValidId(tenant.id)) return absl::InvalidArgumentError("field 'id' is not a valid id");
  absl::TimeZone tz;
  if (!absl::LoadTimeZone(tenant.timezone, &tz))
    return absl::InvalidArgumentError(
        absl::StrCat("field 'timezone': '", tenant.timezone.substr(0, 64), "' is not an IANA time zone"));
  tenant.created_at = clock_->Now();
  if (absl::Status s = store_->CreateTenant(tenant); !s.ok()) return s;
  {
    absl::MutexLock lock(&mu_);
    tenants_[tenant.id] = tenant;
    zones_[tenant.id] = tz;
  }
  engine_->PutTenant(tenant);
  return tenant;
}

absl::StatusOr<Tenant> Metering::UpdateTenant(const Tenant& tenant) {
  absl::TimeZone tz;
  if (!absl::LoadTimeZone(tenant.timezone, &tz))
    return absl::InvalidArgumentError(
        absl::StrCat("field 'timezone': '", tenant.timezone.substr(0, 64), "' is not an IANA time zone"));
  if (absl::Status s = store_->UpdateTenant(tenant); !s.ok()) return s;
  {
    absl::MutexLock lock(&mu_);
    tenants_[tenant.id] = tenant;
    zones_[tenant.id] = tz;
  }
  engine_->PutTenant(tenant);
  return tenant;
}

absl::Status Metering::DeleteTenant(std::string_view id) {
  absl::StatusOr<std::vector<Limit>> limits = store_->ListLimits();
  if (!limits.ok()) return limits.status();
  if (absl::Status s = store_->DeleteTenant(id); !s.ok()) return s;
  for (const Limit& l : *limits)
    if (l.scope.tenant_id == id) engine_->RemoveLimit(l.id);
  engine_->RemoveTenant(id);
  policies_->ForgetTenant(id);
  absl::MutexLock lock(&mu_);
  tenants_.erase(std::string(id));
  zones_.erase(std::string(id));
  for (auto it = keys_by_hash_.begin(); it != keys_by_hash_.end();) {
    if (it->second->tenant_id == id)
      keys_by_hash_.erase(it++);
    else
      ++it;
  }
  return absl::OkStatus();
}

std::optional<Tenant> Metering::GetTenant(std::string_view id) const {
  absl::ReaderMutexLock lock(&mu_);
  auto it = tenants_.find(absl::string_view(id.data(), id.size()));
  if (it == tenants_.end()) return std::nullopt;
  return it->second;
}

std::vector<Tenant> Metering::ListTenants() const {
  absl::ReaderMutexLock lock(&mu_);
  std::vector<Tenant> out;
  for (const auto& [id, t] : tenants_) out.push_back(t);
  std::sort(out.begin(), out.end(), [](const Tenant& a, const Tenant& b) { return a.id < b.id; });
  return out;
}

absl::TimeZone Metering::TenantZone(std::string_view tenant_id) const {
  absl::ReaderMutexLock lock(&mu_);
  auto it = zones_.find(absl::string_view(tenant_id.data(), tenant_id.size()));
  return it == zones_.end() ? absl::UTCTimeZone() : it->second;
}

std::string Metering::LocalDate(std::string_view tenant_id, absl::Time t) const {
  absl::CivilDay day = absl::ToCivilDay(t, TenantZone(tenant_id));
  // Every report needs this date: the date part of the codec's RFC 3339 writer, which
  // is absl::FormatCivilTime's text without its strftime machinery (absl writes years
  // below 1000 without leading zeros: those keep its path).
  if (day.year() < 1000 || day.year() > 9999) return absl::FormatCivilTime(day);
  std::string out;
  AppendRfc3339(absl::FromCivil(day, absl::UTCTimeZone()), out);
  out.resize(10);  // YYYY-MM-DD
  return out;
}

Mode Metering::TenantMode(std::string_view tenant_id) const {
  std::optional<Tenant> t = GetTenant(tenant_id);
  if (t && t->mode != Mode::kInherit) return t->mode;
  return options_.default_mode;
}

// --- Keys ------------------------------------------------------------------------

absl::StatusOr<NewKey> Metering::CreateKey(ApiKey key) {
  if (key.role == Role::kAdmin) {
    if (!key.tenant_id.empty() || !key.user_id.empty())
      return absl::InvalidArgumentError("field 'tenant_id': an admin key belongs to no tenant");
  } else {
    if (!core::IsValidId(key.tenant_id))
      return absl::InvalidArgumentError("field 'tenant_id' is required for this role");
    if (!GetTenant(key.tenant_id))
      return absl::NotFoundError(absl::StrCat("tenant '", key.tenant_id, "' does not exist"));
  }
  if (!key.user_id.empty() && !core::IsValidId(key.user_id))
    return absl::InvalidArgumentError("field 'user_id' is not a valid id");
  if (!key.user_id.empty() && key.role != Role::kClient)
    return absl::InvalidArgumentError("field 'user_id': only client keys are bound to a user");
  if (key.name.size() > 200) return absl::InvalidArgumentError("field 'name' is longer than 200");
  NewKey out;
  out.secret = core::NewSecret();
  key.id = core::NewId("key");
  key.secret_hash = core::Sha256Hex(out.secret);
  key.created_at = clock_->Now();
  if (absl::Status s = store_->CreateKey(key); !s.ok()) return s;
  {
    absl::MutexLock lock(&mu_);
    keys_by_hash_[key.secret_hash] = std::make_shared<const ApiKey>(key);
  }
  out.key = std::move(key);
  return out;
}

absl::Status Metering::DeleteKey(std::string_view id) {
  if (absl::Status s = store_->DeleteKey(id); !s.ok()) return s;
  absl::MutexLock lock(&mu_);
  for (auto it = keys_by_hash_.begin(); it != keys_by_hash_.end(); ++it) {
    if (it->second->id == id) {
      keys_by_hash_.erase(it);
      break;
    }
  }
  return absl::OkStatus();
}

std::vector<ApiKey> Metering::ListKeys(std::string_view tenant_id) const {
  absl::ReaderMutexLock lock(&mu_);
  std::vector<ApiKey> out;
  for (const auto& [hash, k] : keys_by_hash_)
    if (tenant_id.empty() || k->tenant_id == tenant_id) out.push_back(*k);
  std::sort(out.begin(), out.end(), [](const ApiKey& a, const ApiKey& b) {
    return a.created_at != b.created_at ? a.created_at < b.created_at : a.id < b.id;
  });
  return out;
}

std::optional<ApiKey> Metering::GetKey(std::string_view id) const {
  absl::ReaderMutexLock lock(&mu_);
  for (const auto& [hash, k] : keys_by_hash_)
    if (k->id == id) return *k;
  return std::nullopt;
}

// --- Limits ----------------------------------------------------------------------

absl::StatusOr<Limit> Metering::PutLimit(Limit limit) {
  if (absl::Status s = ValidateLimit(limit); !s.ok()) return s;
  if (limit.scope.tenant_id != "*" && !limit.scope.tenant_id.empty() &&
      !GetTenant(limit.scope.tenant_id))
    return absl::NotFoundError(absl::StrCat("tenant '", limit.scope.tenant_id, "' does not exist"));
  absl::Time now = clock_->Now();
  absl::StatusOr<Limit> existing = store_->GetLimit(limit.id);
  limit.created_at = existing.ok() ? existing->created_at : now;
  limit.updated_at = now;
  if (absl::Status s = store_->PutLimit(limit); !s.ok()) return s;
  engine_->PutLimit(limit);
  return limit;
}

absl::Status Metering::DeleteLimit(std::string_view id) {
  if (absl::Status s = store_->DeleteLimit(id); !s.ok()) return s;
  engine_->RemoveLimit(id);
  return absl::OkStatus();
}

absl::StatusOr<Limit> Metering::GetLimit(std::string_view id) { return store_->GetLimit(id); }

absl::StatusOr<std::vector<Limit>> Metering::ListLimits() { return store_->ListLimits(); }

// --- Prices ----------------------------------------------------------------------

absl::Status Metering::PutPrice(Price price) {
  price.is_override = true;
  // Validate by applying to a scratch catalog first, so a bad price is never stored.
  providers::PriceCatalog scratch;
  if (absl::Status s = scratch.Put(price); !s.ok()) return s;
  if (absl::Status s = store_->PutPrice(price); !s.ok()) return s;
  absl::Status applied = prices_->Put(price);
  policies_->Invalidate();  // tiers may have changed
  return applied;
}

// --- Metering --------------------------------------------------------------------

Nanos Metering::EstimateCost(const CallContext& ctx, int64_t input, int64_t output) const {
  Usage u;
  u.input_tokens = input;
  u.output_tokens = output;
  u.total_tokens = input + output;
  std::optional<Cost> cost = prices_->CostFor(ctx.provider, ctx.model, u);
  return cost ? cost->Total() : 0;
}

CheckAnswer Metering::Check(const CheckRequest& request) {
  CheckAnswer answer;
  CallContext ctx = request.ctx;
  std::optional<int64_t> max_output = request.max_output_tokens;
  answer.temperature = request.temperature;
  if (policies_->Any()) {
    PolicyQuery q;
    q.ctx = request.ctx;
    q.input_tokens = request.input_tokens;
    q.max_tokens = request.max_output_tokens;
    q.temperature = request.temperature;
    engine::Resolution r = policies_->Resolve(q);
    answer.policy_applied = true;
    answer.provider = r.provider;
    answer.model = r.model;
    answer.max_output_tokens = r.max_tokens;
    answer.temperature = r.temperature;
    if (r.decision == engine::PolicyDecision::kDeny) {
      answer.result.allowed = false;
      answer.result.decision = DecisionKind::kDeny;
      answer.result.reason = r.reason;
      answer.code = r.code;
      answer.result.limits = engine_->Status(request.ctx);
      return answer;
    }
    if (r.decision == engine::PolicyDecision::kDowngrade) answer.downgraded_from = r.requested;
    ctx.provider = r.provider;
    ctx.model = r.model;
    max_output = r.max_tokens;
  }
  int64_t output = max_output.value_or(options_.default_output_estimate);
  // Several answers: each may use the max. Capped at 2^40 tokens, more than any limit
  // holds and small enough that the cost estimate and the engine's sums cannot overflow.
  constexpr int64_t kMaxOutput = int64_t{1} << 40;
  if (request.choices > 1)
    output = output > kMaxOutput / request.choices ? kMaxOutput : output * request.choices;
  Amount expected;
  expected.input_tokens = request.input_tokens;
  expected.output_tokens = output;
  expected.cost = EstimateCost(ctx, request.input_tokens, output);
  expected.requests = 1;
  answer.result = engine_->Check(ctx, expected, /*substituted=*/!answer.downgraded_from.empty());
  answer.provider = ctx.provider;
  answer.model = ctx.model;
  if (!answer.downgraded_from.empty() && answer.result.decision == DecisionKind::kAllow)
    answer.result.decision = DecisionKind::kDowngrade;
  return answer;
}

absl::Status Metering::Release(std::string_view tenant_id, std::string_view reservation_id) {
  if (!engine_->Release(tenant_id, reservation_id))
    return absl::NotFoundError("reservation not found (settled, released or expired)");
  return absl::OkStatus();
}

void Metering::Report(ReportRequest request,
                      std::function<void(absl::StatusOr<ReportAnswer>)> done,
                      const boost::asio::any_io_executor& loop) {
  std::string reservation;
  std::string provider_used;
  if (!request.reservation_id.empty()) {
    // A reservation of another tenant is ignored, never freed.
    std::optional<Engine::Held> held = engine_->Find(request.ctx.tenant_id, request.reservation_id);
    if (held) {
      reservation = request.reservation_id;
      // The check downgraded the call: a report that names no other model records the
      // model the policy chose, and the decision.
      if (!held->model_used.empty() &&
          (request.model_used.empty() || request.model_used == held->model_used)) {
        request.model_used = std::move(held->model_used);
        provider_used = std::move(held->provider_used);
        if (request.decision == DecisionKind::kAllow) request.decision = DecisionKind::kDowngrade;
      }
    }
  }
  if (provider_used.empty()) provider_used = request.ctx.provider;
  UsageEvent e;
  e.ts = clock_->Now();
  e.event_id = core::NewTimeOrderedId("evt", absl::ToUnixMicros(e.ts));
  e.tenant_id = request.ctx.tenant_id;
  e.user_id = request.ctx.user_id;
  e.agent = request.ctx.agent;
  e.key_id = request.ctx.key_id;
  e.request_id = std::move(request.request_id);
  e.idempotency_key = std::move(request.idempotency_key);
  e.provider = request.ctx.provider;
  e.model = request.ctx.model;
  e.model_used = request.model_used.empty() ? request.ctx.model : request.model_used;
  e.endpoint = std::move(request.endpoint);
  e.usage = request.usage;
  if (std::optional<Cost> cost = prices_->CostFor(provider_used, e.model_used, e.usage))
    e.cost = *cost;
  e.latency_ms = request.latency_ms;
  e.status = request.status;
  e.decision = request.decision;
  e.estimated = request.estimated;

  CallContext charged = request.ctx;
  charged.provider = provider_used;
  charged.model = e.model_used;
  Amount actual;
  actual.input_tokens = e.usage.input_tokens;
  actual.output_tokens = e.usage.output_tokens;
  actual.cost = e.cost.Total();
  actual.requests = 1;
  ReportAnswer answer;
  std::vector<CounterDelta> deltas = engine_->Settle(
      reservation, charged, actual, request.with_limits ? &answer.limits : nullptr);

  answer.event_id = e.event_id;
  answer.model_used = e.model_used;
  answer.cost = e.cost;
  std::string tenant_id = e.tenant_id;
  std::string idempotency_key = e.idempotency_key;
  LedgerEntry entry;
  entry.date = LocalDate(e.tenant_id, e.ts);
  entry.event = std::move(e);
  entry.counters = deltas;
  auto recorded = [this, answer = std::move(answer), tenant_id = std::move(tenant_id),
                   idempotency_key = std::move(idempotency_key), deltas = std::move(deltas),
                   charged = std::move(charged), with_limits = request.with_limits,
                   done = std::move(done)](absl::Status status) mutable {
    if (status.ok()) return done(std::move(answer));
    // Not recorded: take the charge back out of the counters.
    for (CounterDelta& d : deltas) d.amount = -d.amount;
    engine_->Restore(deltas);
    if (!absl::IsAlreadyExists(status)) return done(status);
    absl::StatusOr<std::optional<UsageEvent>> first =
        store_->FindEventByIdempotencyKey(tenant_id, idempotency_key);
    if (!first.ok()) return done(first.status());
    if (!first->has_value()) return done(absl::InternalError("duplicate event not found"));
    answer.event_id = std::move((*first)->event_id);
    answer.model_used = std::move((*first)->model_used);
    answer.cost = (*first)->cost;
    answer.duplicate = true;
    if (with_limits) {
      charged.model = answer.model_used;
      answer.limits = engine_->Status(charged);
    }
    done(std::move(answer));
  };
  ledger_.Append(loop, std::move(entry), std::move(recorded));
}

std::vector<LimitStatus> Metering::Status(const CallContext& ctx) const {
  return engine_->Status(ctx);
}

absl::StatusOr<int64_t> Metering::Sweep() {
  absl::Time now = clock_->Now();
  return store_->Sweep(now - absl::Hours(24) * options_.event_retention_days, now);
}

}  // namespace tollgate::server
