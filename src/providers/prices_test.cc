#include "providers/prices.h"

#include <atomic>
#include <limits>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace tollgate::providers {
namespace {

using ::testing::HasSubstr;

constexpr Nanos kUsd = 1'000'000'000;

std::unique_ptr<PriceCatalog> Builtin() {
  absl::StatusOr<std::unique_ptr<PriceCatalog>> c = PriceCatalog::Builtin();
  EXPECT_TRUE(c.ok()) << c.status();
  return c.ok() ? std::move(*c) : std::make_unique<PriceCatalog>();
}

std::string ModelOf(const PriceCatalog& c, std::string_view provider, std::string_view model) {
  EntryRef e = c.Lookup(provider, model);
  return e == nullptr ? "<none>" : e->price.model;
}

Usage Calls(int64_t in, int64_t out, int64_t cached = 0, int64_t writes = 0) {
  return Usage{in, out, cached, writes, 0, in + out};
}

// --- the compiled-in catalog ---

TEST(PriceCatalogTest, BuiltinCoversTheThreeProviders) {
  auto c = Builtin();
  int openai = 0, anthropic = 0, gemini = 0;
  for (const EntryRef& e : c->List()) {
    openai += e->price.provider == "openai";
    anthropic += e->price.provider == "anthropic";
    gemini += e->price.provider == "gemini";
    EXPECT_THAT(e->price.tier, ::testing::AnyOf("premium", "standard", "economy"))
        << e->price.model;
    EXPECT_FALSE(e->price.is_override);
  }
  EXPECT_GT(openai, 20);
  EXPECT_GT(anthropic, 5);
  EXPECT_GT(gemini, 5);
  EXPECT_EQ(c->source().package, "@pydantic/genai-prices");
  EXPECT_FALSE(c->source().version.empty());
  EXPECT_EQ(c->source().license, "MIT");
}

TEST(PriceCatalogTest, ListIsSortedByProviderThenModel) {
  auto c = Builtin();
  std::vector<EntryRef> all = c->List();
  for (size_t i = 1; i < all.size(); ++i) {
    EXPECT_LT(std::tie(all[i - 1]->price.provider, all[i - 1]->price.model),
              std::tie(all[i]->price.provider, all[i]->price.model));
  }
}

TEST(PriceCatalogTest, ExactModelHasTheCatalogPrices) {
  auto c = Builtin();
  EntryRef e = c->Lookup("openai", "gpt-4o");
  ASSERT_NE(e, nullptr);
  EXPECT_EQ(e->price.provider, "openai");
  EXPECT_EQ(e->price.model, "gpt-4o");
  EXPECT_EQ(e->price.input_per_mtok, 2'500'000'000);
  EXPECT_EQ(e->price.output_per_mtok, 10 * kUsd);
  EXPECT_EQ(e->price.cached_input_per_mtok, 1'250'000'000);
  EXPECT_EQ(e->price.tier, "premium");
}

TEST(PriceCatalogTest, AliasResolvesToItsModel) {
  auto c = Builtin();
  EXPECT_EQ(ModelOf(*c, "openai", "gpt-4o-2024-11-20"), "gpt-4o");
  EXPECT_EQ(ModelOf(*c, "openai", "gpt-35-turbo"), "gpt-3.5-turbo");
  // A snapshot with a price of its own is its own entry.
  EXPECT_EQ(ModelOf(*c, "openai", "gpt-4o-2024-05-13"), "gpt-4o-2024-05-13");
}

TEST(PriceCatalogTest, DatedSnapshotSuffixResolvesToTheBaseModel) {
  auto c = Builtin();
  EXPECT_EQ(ModelOf(*c, "openai", "gpt-4o-2099-01-31"), "gpt-4o");
  EXPECT_EQ(ModelOf(*c, "openai", "gpt-4o-mini-2099-01-31"), "gpt-4o-mini");
  EXPECT_EQ(ModelOf(*c, "openai", "o3-20990131"), "o3");
}

TEST(PriceCatalogTest, LongestPrefixWins) {
  auto c = Builtin();
  EXPECT_EQ(ModelOf(*c, "anthropic", "claude-3-5-sonnet-20241022"), "claude-3-5-sonnet");
  EXPECT_EQ(ModelOf(*c, "anthropic", "claude-sonnet-4-5-20250929"), "claude-sonnet-4-5");
  EXPECT_EQ(ModelOf(*c, "gemini", "gemini-2.5-pro-preview-06-05"), "gemini-2.5-pro");
  EXPECT_EQ(ModelOf(*c, "gemini", "gemini-2.0-flash-lite-001"), "gemini-2.0-flash-lite");
  EXPECT_EQ(ModelOf(*c, "gemini", "gemini-2.0-flash-001"), "gemini-2.0-flash");
}

TEST(PriceCatalogTest, ExceptKeepsTtsModelsOffTheGeneralPattern) {
  auto c = Builtin();
  EXPECT_EQ(ModelOf(*c, "gemini", "gemini-2.5-pro-preview-tts"), "gemini-2.5-pro-tts");
  EXPECT_EQ(ModelOf(*c, "gemini", "gemini-2.5-pro-preview-tts-2"), "<none>");
}

TEST(PriceCatalogTest, NamesAreCaseInsensitiveAndGoogleMeansGemini) {
  auto c = Builtin();
  EXPECT_EQ(ModelOf(*c, "OpenAI", "GPT-4o"), "gpt-4o");
  EXPECT_EQ(ModelOf(*c, "google", "gemini-2.5-flash"), "gemini-2.5-flash");
}

TEST(PriceCatalogTest, UnknownModelHasNoPrice) {
  auto c = Builtin();
  EXPECT_EQ(c->Lookup("openai", "no-such-model"), nullptr);
  EXPECT_EQ(c->Lookup("openai", "no-such-model"), nullptr);  // now from the cache
  EXPECT_EQ(c->Lookup("mistral", "gpt-4o"), nullptr);
  EXPECT_EQ(c->Lookup("anthropic", "gpt-4o"), nullptr);
  EXPECT_FALSE(c->CostFor("openai", "no-such-model", Calls(100, 100)).has_value());
}

TEST(PriceCatalogTest, CachedResolutionGivesTheSameEntry) {
  auto c = Builtin();
  EntryRef first = c->Lookup("anthropic", "claude-3-5-sonnet-20241022");
  EntryRef second = c->Lookup("anthropic", "claude-3-5-sonnet-20241022");
  ASSERT_NE(first, nullptr);
  EXPECT_EQ(first, second);
}

// --- cost arithmetic ---

TEST(CostTest, Gpt4oThousandInFiveHundredOutIsExact) {
  auto c = Builtin();
  std::optional<Cost> cost = c->CostFor("openai", "gpt-4o", Calls(1000, 500));
  ASSERT_TRUE(cost.has_value());
  EXPECT_EQ(cost->input, 2'500'000);   // 1,000 x $2.50 / 1M = $0.0025
  EXPECT_EQ(cost->output, 5'000'000);  // 500 x $10 / 1M = $0.005
  EXPECT_EQ(cost->Total(), 7'500'000);
}

TEST(CostTest, CachedAndCacheWriteTokensHaveTheirOwnPrices) {
  auto c = Builtin();
  EntryRef e = c->Lookup("anthropic", "claude-sonnet-4-5");
  ASSERT_NE(e, nullptr);
  ASSERT_EQ(e->price.input_per_mtok, 3 * kUsd);
  ASSERT_EQ(e->price.cached_input_per_mtok, 300'000'000);
  ASSERT_EQ(e->price.cache_write_per_mtok, 3'750'000'000);
  // 10,000 input of which 6,000 read from cache and 2,000 written to it.
  Cost cost = CostOf(*e, Calls(10'000, 100, 6'000, 2'000));
  EXPECT_EQ(cost.input, 6'000'000 + 1'800'000 + 7'500'000);
  EXPECT_EQ(cost.output, 1'500'000);
}

TEST(CostTest, ReasoningIsPricedAsOutput) {
  Price p;
  p.output_per_mtok = 8 * kUsd;
  Usage u{0, 1000, 0, 0, 900, 1000};
  EXPECT_EQ(CostOf(p, u).output, 8'000'000);
}

TEST(CostTest, LongContextTierRepricesTheWholeCall) {
  auto c = Builtin();
  EntryRef e = c->Lookup("gemini", "gemini-2.5-pro");
  ASSERT_NE(e, nullptr);
  ASSERT_FALSE(e->tiers.empty());
  EXPECT_EQ(e->tiers[0].above_input_tokens, 200'000);
  Cost at = CostOf(*e, Calls(200'000, 1'000));
  EXPECT_EQ(at.input, 250'000'000);  // 200k x $1.25 / 1M
  EXPECT_EQ(at.output, 10'000'000);  // 1k x $10 / 1M
  Cost above = CostOf(*e, Calls(200'001, 1'000));
  EXPECT_EQ(above.input, 500'002'500);  // 200,001 x $2.50 / 1M
  EXPECT_EQ(above.output, 15'000'000);  // 1k x $15 / 1M
}

TEST(CostTest, RoundsHalfUpOnceOverTheWholeInput) {
  Rates r{1'500'000, 1'400'000, 500'000, 500'000};  // $0.0015, $0.0014, $0.0005 per 1M
  EXPECT_EQ(CostOf(r, Calls(1, 1)).input, 2);       // 1.5 nano -> 2
  EXPECT_EQ(CostOf(r, Calls(1, 1)).output, 1);      // 1.4 nano -> 1
  // 1 uncached + 1 cached + 1 write = 1.5 + 0.5 + 0.5 = 2.5 nano -> 3, not 2 + 1 + 1.
  EXPECT_EQ(CostOf(r, Calls(3, 0, 1, 1)).input, 3);
}

TEST(CostTest, SaturatesInsteadOfOverflowing) {
  constexpr int64_t kMax = std::numeric_limits<int64_t>::max();
  Rates r{kMax, kMax, kMax, kMax};
  Cost cost = CostOf(r, Usage{kMax, kMax, kMax / 2, kMax / 2, 0, kMax});
  EXPECT_EQ(cost.input, kMax);
  EXPECT_EQ(cost.output, kMax);
}

TEST(CostTest, MoreCachedThanInputChargesNoUncachedInput) {
  Rates r{kUsd, 0, kUsd / 10, 0};
  EXPECT_EQ(CostOf(r, Calls(100, 0, 1'000'000)).input, 100'000'000);  // 1M cached x $0.10 / 1M
}

TEST(CostTest, NegativeCountsCostNothing) {
  Rates r{kUsd, kUsd, kUsd, kUsd};
  Cost cost = CostOf(r, Usage{-5, -5, -1, -1, 0, -10});
  EXPECT_EQ(cost.input, 0);
  EXPECT_EQ(cost.output, 0);
}

// --- overrides ---

Price OverridePrice(std::string model, Nanos in, Nanos out) {
  Price p;
  p.provider = "openai";
  p.model = std::move(model);
  p.input_per_mtok = in;
  p.output_per_mtok = out;
  p.cached_input_per_mtok = in / 2;
  p.cache_write_per_mtok = in;
  return p;
}

TEST(PriceOverrideTest, OverrideWinsAndKeepsTheModelsNames) {
  auto c = Builtin();
  ASSERT_TRUE(c->Put(OverridePrice("gpt-4o", 5 * kUsd, 20 * kUsd)).ok());
  EntryRef e = c->Lookup("openai", "gpt-4o");
  ASSERT_NE(e, nullptr);
  EXPECT_TRUE(e->price.is_override);
  EXPECT_EQ(e->price.input_per_mtok, 5 * kUsd);
  EXPECT_EQ(e->price.tier, "premium");  // inherited from the catalog entry
  EXPECT_EQ(c->Lookup("openai", "gpt-4o-2024-08-06"), e);
  EXPECT_EQ(c->CostFor("openai", "gpt-4o", Calls(1000, 500))->Total(), 5'000'000 + 10'000'000);
}

TEST(PriceOverrideTest, OverrideReplacesACachedResolution) {
  auto c = Builtin();
  EntryRef before = c->Lookup("openai", "gpt-4o-2099-01-01");
  ASSERT_NE(before, nullptr);
  EXPECT_FALSE(before->price.is_override);
  ASSERT_TRUE(c->Put(OverridePrice("gpt-4o", 1, 1)).ok());
  EntryRef after = c->Lookup("openai", "gpt-4o-2099-01-01");
  ASSERT_NE(after, nullptr);
  EXPECT_TRUE(after->price.is_override);
}

TEST(PriceOverrideTest, OverrideOfAnAliasNameBeatsTheCatalogAlias) {
  auto c = Builtin();
  ASSERT_TRUE(c->Put(OverridePrice("gpt-4o-2024-08-06", 7 * kUsd, 7 * kUsd)).ok());
  EXPECT_EQ(c->Lookup("openai", "gpt-4o-2024-08-06")->price.input_per_mtok, 7 * kUsd);
  EXPECT_EQ(c->Lookup("openai", "gpt-4o")->price.input_per_mtok, 2'500'000'000);
}

TEST(PriceOverrideTest, OverrideAddsAnUnknownModel) {
  auto c = Builtin();
  Price p = OverridePrice("my-finetune", kUsd, 2 * kUsd);
  p.provider = "OpenAI";
  ASSERT_TRUE(c->Put(p).ok());
  EntryRef e = c->Lookup("openai", "My-Finetune");
  ASSERT_NE(e, nullptr);
  EXPECT_EQ(e->price.model, "my-finetune");
  EXPECT_EQ(e->price.tier, "");
}

TEST(PriceOverrideTest, RemoveRestoresTheCatalogPrice) {
  auto c = Builtin();
  ASSERT_TRUE(c->Put(OverridePrice("gpt-4o", 1, 1)).ok());
  EXPECT_TRUE(c->Remove("openai", "gpt-4o"));
  EXPECT_FALSE(c->Remove("openai", "gpt-4o"));
  EntryRef e = c->Lookup("openai", "gpt-4o");
  ASSERT_NE(e, nullptr);
  EXPECT_FALSE(e->price.is_override);
  EXPECT_EQ(e->price.input_per_mtok, 2'500'000'000);
}

TEST(PriceOverrideTest, ListShowsTheOverrideInsteadOfTheCatalogEntry) {
  auto c = Builtin();
  size_t n = c->List().size();
  ASSERT_TRUE(c->Put(OverridePrice("gpt-4o", 1, 1)).ok());
  std::vector<EntryRef> all = c->List();
  EXPECT_EQ(all.size(), n);
  int gpt4o = 0;
  for (const EntryRef& e : all) {
    if (e->price.provider == "openai" && e->price.model == "gpt-4o") {
      ++gpt4o;
      EXPECT_TRUE(e->price.is_override);
    }
  }
  EXPECT_EQ(gpt4o, 1);
}

TEST(PriceOverrideTest, RejectsBadOverrides) {
  PriceCatalog c;
  EXPECT_FALSE(c.Put(OverridePrice("", 1, 1)).ok());
  EXPECT_FALSE(c.Put(OverridePrice("gpt-*", 1, 1)).ok());
  EXPECT_FALSE(c.Put(OverridePrice("m", -1, 1)).ok());
  Price p = OverridePrice("m", 1, 1);
  p.provider = "";
  EXPECT_FALSE(c.Put(p).ok());
  p = OverridePrice("m", 1, 1);
  p.tier = "gold";
  EXPECT_FALSE(c.Put(p).ok());
}

TEST(PriceOverrideTest, LookupsRunWhileOverridesChange) {
  auto c = Builtin();
  std::atomic<bool> stop{false};
  std::atomic<int> bad{0};
  std::vector<std::thread> readers;
  for (int t = 0; t < 2; ++t) {
    readers.emplace_back([&] {
      while (!stop.load()) {
        EntryRef e = c->Lookup("openai", "gpt-4o-2099-01-01");
        if (e == nullptr || e->price.model != "gpt-4o") bad.fetch_add(1);
        if (c->Lookup("openai", "unknown-model") != nullptr) bad.fetch_add(1);
      }
    });
  }
  for (int i = 0; i < 50; ++i) {
    ASSERT_TRUE(c->Put(OverridePrice("gpt-4o", i + 1, i + 1)).ok());
    if (i % 2) c->Remove("openai", "gpt-4o");
  }
  stop = true;
  for (std::thread& t : readers) t.join();
  EXPECT_EQ(bad.load(), 0);
}

// --- catalog JSON ---

TEST(PriceCatalogJsonTest, ParsesEntriesTiersAndPatterns) {
  auto c = PriceCatalog::FromJson(R"({"format": 1, "source": {"package": "p", "version": "1"},
    "entries": [
      {"provider": "x", "model": "m", "tier": "economy", "match": ["m", "m-*", "*-m"],
       "input_per_mtok": "0.1", "output_per_mtok": "0.4", "cached_input_per_mtok": "0.025",
       "cache_write_per_mtok": "0.1",
       "tiers": [{"above_input_tokens": 100, "input_per_mtok": "0.2", "output_per_mtok": "0.8",
                  "cached_input_per_mtok": "0.05", "cache_write_per_mtok": "0.2"}]}]})");
  ASSERT_TRUE(c.ok()) << c.status();
  EntryRef e = (*c)->Lookup("x", "m-large");
  ASSERT_NE(e, nullptr);
  EXPECT_EQ((*c)->Lookup("x", "big-m"), e);
  EXPECT_EQ(e->price.cached_input_per_mtok, 25'000'000);
  EXPECT_EQ(e->RatesFor(100).input_per_mtok, 100'000'000);
  EXPECT_EQ(e->RatesFor(101).input_per_mtok, 200'000'000);
}

TEST(PriceCatalogJsonTest, RejectsBadCatalogs) {
  EXPECT_FALSE(PriceCatalog::FromJson("not json").ok());
  EXPECT_FALSE(PriceCatalog::FromJson(R"({"format": 2, "entries": []})").ok());
  EXPECT_FALSE(PriceCatalog::FromJson(R"({"format": 1})").ok());
  auto negative = PriceCatalog::FromJson(R"({"format": 1, "entries": [
    {"provider": "x", "model": "m", "input_per_mtok": "-1", "output_per_mtok": "1",
     "cached_input_per_mtok": "1", "cache_write_per_mtok": "1"}]})");
  ASSERT_FALSE(negative.ok());
  EXPECT_THAT(negative.status().message(), HasSubstr("entries[0] (x:m).input_per_mtok"));
  auto floaty = PriceCatalog::FromJson(R"({"format": 1, "entries": [
    {"provider": "x", "model": "m", "input_per_mtok": 1.5, "output_per_mtok": "1",
     "cached_input_per_mtok": "1", "cache_write_per_mtok": "1"}]})");
  ASSERT_FALSE(floaty.ok());
  EXPECT_THAT(floaty.status().message(), HasSubstr("must be a string"));
  auto twice = PriceCatalog::FromJson(R"({"format": 1, "entries": [
    {"provider": "x", "model": "a", "match": ["n"], "input_per_mtok": "1", "output_per_mtok": "1",
     "cached_input_per_mtok": "1", "cache_write_per_mtok": "1"},
    {"provider": "x", "model": "b", "match": ["n"], "input_per_mtok": "1", "output_per_mtok": "1",
     "cached_input_per_mtok": "1", "cache_write_per_mtok": "1"}]})");
  ASSERT_FALSE(twice.ok());
  EXPECT_THAT(twice.status().message(), HasSubstr("x:n is claimed by a and b"));
}

}  // namespace
}  // namespace tollgate::providers
