#include "providers/prices.h"

#include <algorithm>
#include <boost/json.hpp>
#include <limits>
#include <utility>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "core/money.h"

namespace tollgate::providers {
namespace {

constexpr size_t kMaxCachedNames = 4096;
constexpr int64_t kInt64Max = std::numeric_limits<int64_t>::max();

absl::string_view AbslView(std::string_view s) { return absl::string_view(s.data(), s.size()); }

bool HasUpper(std::string_view s) {
  return std::any_of(s.begin(), s.end(), [](char c) { return c >= 'A' && c <= 'Z'; });
}

std::string Lower(std::string_view s) {
  std::string out(s);
  for (char& c : out) {
    if (c >= 'A' && c <= 'Z') c = static_cast<char>(c - 'A' + 'a');
  }
  return out;
}

// Lower-cases into `storage` only when needed; returns a view of the lower-case name.
std::string_view LowerView(std::string_view s, std::string& storage) {
  if (!HasUpper(s)) return s;
  storage = Lower(s);
  return storage;
}

std::string_view CanonicalProvider(std::string_view provider) {
  return provider == "google" ? std::string_view("gemini") : provider;
}

bool IsDigits(std::string_view s) {
  return std::all_of(s.begin(), s.end(), [](char c) { return c >= '0' && c <= '9'; });
}

// "gpt-4o-2024-08-06" -> "gpt-4o"; "claude-3-haiku-20240307" -> "claude-3-haiku";
// anything else -> empty.
std::string_view StripDateSuffix(std::string_view name) {
  if (name.size() > 11) {
    std::string_view tail = name.substr(name.size() - 11);  // -YYYY-MM-DD
    if (tail[0] == '-' && tail[5] == '-' && tail[8] == '-' && IsDigits(tail.substr(1, 4)) &&
        IsDigits(tail.substr(6, 2)) && IsDigits(tail.substr(9, 2))) {
      return name.substr(0, name.size() - 11);
    }
  }
  if (name.size() > 9) {
    std::string_view tail = name.substr(name.size() - 9);  // -YYYYMMDD
    if (tail[0] == '-' && IsDigits(tail.substr(1))) {
      return name.substr(0, name.size() - 9);
    }
  }
  return {};
}

enum class GlobKind { kExact, kPrefix, kSuffix, kContains };

GlobKind KindOf(std::string_view pattern, std::string_view* text) {
  bool starts = !pattern.empty() && pattern.front() == '*';
  bool ends = pattern.size() > 1 && pattern.back() == '*';
  *text = pattern.substr(starts ? 1 : 0, pattern.size() - (starts ? 1 : 0) - (ends ? 1 : 0));
  if (starts && ends) return GlobKind::kContains;
  if (ends) return GlobKind::kPrefix;
  if (starts) return GlobKind::kSuffix;
  return GlobKind::kExact;
}

bool GlobMatches(GlobKind kind, std::string_view text, std::string_view name) {
  switch (kind) {
    case GlobKind::kExact:
      return name == text;
    case GlobKind::kPrefix:
      return name.starts_with(text);
    case GlobKind::kSuffix:
      return name.ends_with(text);
    case GlobKind::kContains:
      return name.find(text) != std::string_view::npos;
  }
  return false;
}

bool Excepted(const CatalogEntry& entry, std::string_view name) {
  for (const std::string& pattern : entry.except) {
    std::string_view text;
    GlobKind kind = KindOf(pattern, &text);
    if (GlobMatches(kind, text, name)) return true;
  }
  return false;
}

// Sum of tokens x rate for up to three terms, exact in 128 bits, rounded half up to
// nano-USD, saturated to int64.
Nanos Charge(std::initializer_list<std::pair<int64_t, Nanos>> terms) {
  __int128 sum = 0;
  for (const auto& [tokens, rate] : terms) {
    if (tokens > 0 && rate > 0) sum += static_cast<__int128>(tokens) * rate;
  }
  __int128 cost = (sum + 500'000) / 1'000'000;
  return cost > kInt64Max ? kInt64Max : static_cast<Nanos>(cost);
}

// --- JSON helpers (non-throwing) ---

absl::Status FieldError(std::string_view where, std::string_view field, std::string_view what) {
  return absl::InvalidArgumentError(
      absl::StrCat(AbslView(where), ".", AbslView(field), ": ", AbslView(what)));
}

absl::StatusOr<std::string> GetString(const boost::json::object& o, std::string_view field,
                                      std::string_view where, bool required) {
  const boost::json::value* v = o.if_contains(boost::json::string_view(field.data(), field.size()));
  if (v == nullptr || v->is_null()) {
    if (required) return FieldError(where, field, "missing");
    return std::string();
  }
  const boost::json::string* s = v->if_string();
  if (s == nullptr) return FieldError(where, field, "must be a string");
  return std::string(s->data(), s->size());
}

absl::StatusOr<Nanos> GetUsdPerMtok(const boost::json::object& o, std::string_view field,
                                    std::string_view where) {
  absl::StatusOr<std::string> s = GetString(o, field, where, /*required=*/true);
  if (!s.ok()) return s.status();
  absl::StatusOr<Nanos> nanos = core::ParseUsd(*s);
  if (!nanos.ok()) {
    absl::string_view message = nanos.status().message();
    return FieldError(where, field, std::string_view(message.data(), message.size()));
  }
  return *nanos;
}

absl::StatusOr<Rates> GetRates(const boost::json::object& o, std::string_view where) {
  Rates r;
  struct Field {
    const char* name;
    Nanos Rates::*member;
  };
  static constexpr Field kFields[] = {
      {"input_per_mtok", &Rates::input_per_mtok},
      {"output_per_mtok", &Rates::output_per_mtok},
      {"cached_input_per_mtok", &Rates::cached_input_per_mtok},
      {"cache_write_per_mtok", &Rates::cache_write_per_mtok},
  };
  for (const Field& f : kFields) {
    absl::StatusOr<Nanos> v = GetUsdPerMtok(o, f.name, where);
    if (!v.ok()) return v.status();
    r.*(f.member) = *v;
  }
  return r;
}

absl::StatusOr<std::vector<std::string>> GetStrings(const boost::json::object& o,
                                                    std::string_view field,
                                                    std::string_view where) {
  std::vector<std::string> out;
  const boost::json::value* v = o.if_contains(boost::json::string_view(field.data(), field.size()));
  if (v == nullptr || v->is_null()) return out;
  const boost::json::array* a = v->if_array();
  if (a == nullptr) return FieldError(where, field, "must be an array of strings");
  for (const boost::json::value& item : *a) {
    const boost::json::string* s = item.if_string();
    if (s == nullptr || s->empty()) return FieldError(where, field, "must hold non-empty strings");
    out.push_back(Lower(std::string_view(s->data(), s->size())));
  }
  return out;
}

absl::StatusOr<CatalogEntry> ParseEntry(const boost::json::value& v, size_t i) {
  std::string where = absl::StrCat("entries[", i, "]");
  const boost::json::object* o = v.if_object();
  if (o == nullptr) return absl::InvalidArgumentError(absl::StrCat(where, ": must be an object"));
  CatalogEntry e;
  absl::StatusOr<std::string> provider = GetString(*o, "provider", where, true);
  if (!provider.ok()) return provider.status();
  absl::StatusOr<std::string> model = GetString(*o, "model", where, true);
  if (!model.ok()) return model.status();
  if (provider->empty() || model->empty()) return FieldError(where, "model", "must not be empty");
  e.price.provider = Lower(*provider);
  e.price.model = Lower(*model);
  where = absl::StrCat(where, " (", e.price.provider, ":", e.price.model, ")");
  absl::StatusOr<std::string> tier = GetString(*o, "tier", where, false);
  if (!tier.ok()) return tier.status();
  if (!tier->empty() && *tier != "premium" && *tier != "standard" && *tier != "economy") {
    return FieldError(where, "tier", "must be premium, standard or economy");
  }
  e.price.tier = *tier;
  absl::StatusOr<Rates> rates = GetRates(*o, where);
  if (!rates.ok()) return rates.status();
  e.price.input_per_mtok = rates->input_per_mtok;
  e.price.output_per_mtok = rates->output_per_mtok;
  e.price.cached_input_per_mtok = rates->cached_input_per_mtok;
  e.price.cache_write_per_mtok = rates->cache_write_per_mtok;
  absl::StatusOr<std::vector<std::string>> match = GetStrings(*o, "match", where);
  if (!match.ok()) return match.status();
  e.match = std::move(*match);
  if (e.match.empty()) e.match.push_back(e.price.model);
  absl::StatusOr<std::vector<std::string>> except = GetStrings(*o, "except", where);
  if (!except.ok()) return except.status();
  e.except = std::move(*except);
  if (const boost::json::value* tiers = o->if_contains("tiers"); tiers && !tiers->is_null()) {
    const boost::json::array* a = tiers->if_array();
    if (a == nullptr) return FieldError(where, "tiers", "must be an array");
    for (size_t t = 0; t < a->size(); ++t) {
      std::string tw = absl::StrCat(where, ".tiers[", t, "]");
      const boost::json::object* to = (*a)[t].if_object();
      if (to == nullptr) return absl::InvalidArgumentError(absl::StrCat(tw, ": must be an object"));
      const boost::json::value* above = to->if_contains("above_input_tokens");
      const int64_t* n = above ? above->if_int64() : nullptr;
      if (n == nullptr || *n < 0) {
        return FieldError(tw, "above_input_tokens", "must be a non-negative integer");
      }
      if (!e.tiers.empty() && *n <= e.tiers.back().above_input_tokens) {
        return FieldError(tw, "above_input_tokens", "must ascend");
      }
      absl::StatusOr<Rates> tr = GetRates(*to, tw);
      if (!tr.ok()) return tr.status();
      e.tiers.push_back(PriceTier{*n, *tr});
    }
  }
  return e;
}

}  // namespace

Rates RatesOf(const Price& price) {
  return Rates{price.input_per_mtok, price.output_per_mtok, price.cached_input_per_mtok,
               price.cache_write_per_mtok};
}

Rates CatalogEntry::RatesFor(int64_t input_tokens) const {
  for (auto it = tiers.rbegin(); it != tiers.rend(); ++it) {
    if (input_tokens > it->above_input_tokens) return it->rates;
  }
  return RatesOf(price);
}

Cost CostOf(const Rates& rates, const Usage& usage) {
  int64_t cached = std::max<int64_t>(usage.cached_input_tokens, 0);
  int64_t writes = std::max<int64_t>(usage.cache_write_tokens, 0);
  // Computed in 128 bits so that no count can overflow the subtraction.
  __int128 uncached128 =
      static_cast<__int128>(std::max<int64_t>(usage.input_tokens, 0)) - cached - writes;
  int64_t uncached = uncached128 > 0 ? static_cast<int64_t>(uncached128) : 0;
  Cost cost;
  cost.input = Charge({{uncached, rates.input_per_mtok},
                       {cached, rates.cached_input_per_mtok},
                       {writes, rates.cache_write_per_mtok}});
  cost.output = Charge({{usage.output_tokens, rates.output_per_mtok}});
  return cost;
}

Cost CostOf(const Price& price, const Usage& usage) { return CostOf(RatesOf(price), usage); }

Cost CostOf(const CatalogEntry& entry, const Usage& usage) {
  return CostOf(entry.RatesFor(usage.input_tokens), usage);
}

// One provider's names: exact names in a hash map, patterns most specific first.
struct Glob {
  GlobKind kind;
  std::string text;
  EntryRef entry;
};
struct ProviderIndex {
  absl::flat_hash_map<std::string, EntryRef> exact;
  std::vector<Glob> globs;
};
struct PriceCatalog::Index {
  absl::flat_hash_map<std::string, ProviderIndex> providers;
  std::vector<EntryRef> entries;  // sorted, overrides replacing catalog entries
};

PriceCatalog::PriceCatalog() {
  absl::MutexLock lock(&mu_);
  Rebuild();
}

PriceCatalog::~PriceCatalog() = default;

absl::StatusOr<std::unique_ptr<PriceCatalog>> PriceCatalog::FromJson(std::string_view json) {
  boost::system::error_code ec;
  boost::json::value root =
      boost::json::parse(boost::json::string_view(json.data(), json.size()), ec);
  if (ec) return absl::InvalidArgumentError(absl::StrCat("price catalog: ", ec.message()));
  const boost::json::object* o = root.if_object();
  if (o == nullptr) return absl::InvalidArgumentError("price catalog: must be an object");
  const boost::json::value* format = o->if_contains("format");
  if (format == nullptr || format->if_int64() == nullptr || *format->if_int64() != 1) {
    return absl::InvalidArgumentError("price catalog: format must be 1");
  }
  CatalogSource source;
  if (const boost::json::value* s = o->if_contains("source"); s && s->is_object()) {
    const boost::json::object& so = s->get_object();
    auto str = [&](const char* key) {
      const boost::json::value* v = so.if_contains(key);
      const boost::json::string* str = v ? v->if_string() : nullptr;
      return str ? std::string(str->data(), str->size()) : std::string();
    };
    source =
        CatalogSource{str("package"), str("version"), str("license"), str("sha512"), str("as_of")};
  }
  const boost::json::value* entries = o->if_contains("entries");
  if (entries == nullptr || !entries->is_array()) {
    return absl::InvalidArgumentError("price catalog: entries must be an array");
  }
  std::vector<EntryRef> parsed;
  absl::flat_hash_map<std::string, std::string> claimed;  // provider\nexact name -> model
  for (size_t i = 0; i < entries->get_array().size(); ++i) {
    absl::StatusOr<CatalogEntry> e = ParseEntry(entries->get_array()[i], i);
    if (!e.ok())
      return absl::InvalidArgumentError(absl::StrCat("price catalog: ", e.status().message()));
    for (const std::string& m : e->match) {
      std::string_view text;
      if (KindOf(m, &text) != GlobKind::kExact) continue;
      auto [it, inserted] =
          claimed.try_emplace(absl::StrCat(e->price.provider, "\n", m), e->price.model);
      if (!inserted && it->second != e->price.model) {
        return absl::InvalidArgumentError(absl::StrCat("price catalog: ", e->price.provider, ":", m,
                                                       " is claimed by ", it->second, " and ",
                                                       e->price.model));
      }
    }
    parsed.push_back(std::make_shared<const CatalogEntry>(std::move(*e)));
  }
  auto catalog = std::make_unique<PriceCatalog>();
  {
    absl::MutexLock lock(&catalog->mu_);
    catalog->source_ = std::move(source);
    catalog->catalog_ = std::move(parsed);
    catalog->Rebuild();
  }
  return catalog;
}

absl::StatusOr<std::unique_ptr<PriceCatalog>> PriceCatalog::Builtin() {
  return FromJson(EmbeddedPriceCatalogJson());
}

void PriceCatalog::Rebuild() {
  auto index = std::make_unique<Index>();
  absl::flat_hash_map<std::string, EntryRef> by_name;  // provider:model -> entry
  for (const EntryRef& e : catalog_)
    by_name[absl::StrCat(e->price.provider, ":", e->price.model)] = e;
  for (const EntryRef& e : overrides_)
    by_name[absl::StrCat(e->price.provider, ":", e->price.model)] = e;
  for (auto& [name, e] : by_name) index->entries.push_back(e);
  std::sort(index->entries.begin(), index->entries.end(), [](const EntryRef& a, const EntryRef& b) {
    return std::tie(a->price.provider, a->price.model) <
           std::tie(b->price.provider, b->price.model);
  });
  // Catalog names first, then override names, so an override's exact names win.
  for (int pass = 0; pass < 2; ++pass) {
    for (const EntryRef& e : index->entries) {
      if (e->price.is_override != (pass == 1)) continue;
      ProviderIndex& p = index->providers[e->price.provider];
      for (const std::string& m : e->match) {
        std::string_view text;
        GlobKind kind = KindOf(m, &text);
        if (kind == GlobKind::kExact) {
          p.exact[m] = e;
        } else {
          p.globs.push_back(Glob{kind, std::string(text), e});
        }
      }
    }
  }
  for (auto& [name, p] : index->providers) {
    std::sort(p.globs.begin(), p.globs.end(), [](const Glob& a, const Glob& b) {
      if (a.text.size() != b.text.size()) return a.text.size() > b.text.size();
      if (a.kind != b.kind) return a.kind < b.kind;
      return a.entry->price.model < b.entry->price.model;
    });
  }
  index_ = std::move(index);
  absl::MutexLock lock(&cache_mu_);
  cache_.clear();
  cached_names_ = 0;
}

absl::Status PriceCatalog::Put(Price price) {
  if (price.provider.empty()) return absl::InvalidArgumentError("provider: must not be empty");
  if (price.model.empty()) return absl::InvalidArgumentError("model: must not be empty");
  if (price.model.find('*') != std::string::npos) {
    return absl::InvalidArgumentError("model: must be a model name, not a pattern");
  }
  if (price.input_per_mtok < 0 || price.output_per_mtok < 0 || price.cached_input_per_mtok < 0 ||
      price.cache_write_per_mtok < 0) {
    return absl::InvalidArgumentError("price: must not be negative");
  }
  if (!price.tier.empty() && price.tier != "premium" && price.tier != "standard" &&
      price.tier != "economy") {
    return absl::InvalidArgumentError("tier: must be premium, standard or economy");
  }
  price.provider = Lower(CanonicalProvider(Lower(price.provider)));
  price.model = Lower(price.model);
  price.is_override = true;
  CatalogEntry e;
  absl::MutexLock lock(&mu_);
  auto base = std::find_if(catalog_.begin(), catalog_.end(), [&](const EntryRef& c) {
    return c->price.provider == price.provider && c->price.model == price.model;
  });
  if (base != catalog_.end()) {
    e.match = (*base)->match;
    e.except = (*base)->except;
    if (price.tier.empty()) price.tier = (*base)->price.tier;
  } else {
    e.match = {price.model};
  }
  e.price = std::move(price);
  auto entry = std::make_shared<const CatalogEntry>(std::move(e));
  auto same = std::find_if(overrides_.begin(), overrides_.end(), [&](const EntryRef& o) {
    return o->price.provider == entry->price.provider && o->price.model == entry->price.model;
  });
  if (same != overrides_.end()) {
    *same = std::move(entry);
  } else {
    overrides_.push_back(std::move(entry));
  }
  Rebuild();
  return absl::OkStatus();
}

bool PriceCatalog::Remove(std::string_view provider, std::string_view model) {
  std::string p = Lower(CanonicalProvider(Lower(provider)));
  std::string m = Lower(model);
  absl::MutexLock lock(&mu_);
  auto it = std::find_if(overrides_.begin(), overrides_.end(), [&](const EntryRef& o) {
    return o->price.provider == p && o->price.model == m;
  });
  if (it == overrides_.end()) return false;
  overrides_.erase(it);
  Rebuild();
  return true;
}

EntryRef PriceCatalog::Resolve(const Index& index, std::string_view provider,
                               std::string_view model) const {
  auto pit = index.providers.find(AbslView(provider));
  if (pit == index.providers.end()) return nullptr;
  const ProviderIndex& p = pit->second;
  if (auto it = p.exact.find(AbslView(model)); it != p.exact.end()) return it->second;
  if (std::string_view base = StripDateSuffix(model); !base.empty()) {
    if (auto it = p.exact.find(AbslView(base)); it != p.exact.end()) return it->second;
  }
  for (const Glob& g : p.globs) {
    if (GlobMatches(g.kind, g.text, model) && !Excepted(*g.entry, model)) return g.entry;
  }
  return nullptr;
}

EntryRef PriceCatalog::Lookup(std::string_view provider, std::string_view model) const {
  std::string provider_storage, model_storage;
  provider = CanonicalProvider(LowerView(provider, provider_storage));
  model = LowerView(model, model_storage);
  absl::ReaderMutexLock lock(&mu_);
  auto pit = index_->providers.find(AbslView(provider));
  if (pit == index_->providers.end()) return nullptr;
  if (auto it = pit->second.exact.find(AbslView(model)); it != pit->second.exact.end()) {
    return it->second;
  }
  {
    absl::ReaderMutexLock cache_lock(&cache_mu_);
    auto cp = cache_.find(AbslView(provider));
    if (cp != cache_.end()) {
      if (auto it = cp->second.find(AbslView(model)); it != cp->second.end()) return it->second;
    }
  }
  EntryRef resolved = Resolve(*index_, provider, model);
  absl::MutexLock cache_lock(&cache_mu_);
  if (cached_names_ >= kMaxCachedNames) {
    cache_.clear();
    cached_names_ = 0;
  }
  if (cache_[AbslView(provider)].try_emplace(AbslView(model), resolved).second) ++cached_names_;
  return resolved;
}

std::optional<Cost> PriceCatalog::CostFor(std::string_view provider, std::string_view model,
                                          const Usage& usage) const {
  EntryRef entry = Lookup(provider, model);
  if (entry == nullptr) return std::nullopt;
  return CostOf(*entry, usage);
}

std::vector<EntryRef> PriceCatalog::List() const {
  absl::ReaderMutexLock lock(&mu_);
  return index_->entries;
}

CatalogSource PriceCatalog::source() const {
  absl::ReaderMutexLock lock(&mu_);
  return source_;
}

}  // namespace tollgate::providers
