#include "providers/usage.h"

#include <boost/json.hpp>
#include <algorithm>
#include <array>
#include <cmath>
#include <initializer_list>
#include <iterator>
#include <limits>
#include <string>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"

namespace tollgate::providers {
namespace {

constexpr int64_t kInt64Max = std::numeric_limits<int64_t>::max();
// Doubles above 2^53 no longer hold every integer; such counts are refused.
constexpr double kMaxExactDouble = 9007199254740992.0;

absl::string_view AbslView(std::string_view s) { return absl::string_view(s.data(), s.size()); }

boost::json::string_view JsonView(std::string_view s) {
  return boost::json::string_view(s.data(), s.size());
}

absl::Status Bad(std::string_view path, std::string_view what) {
  return absl::InvalidArgumentError(absl::StrCat(AbslView(path), ": ", AbslView(what)));
}

// One object of the payload and where it sits, for error messages (built only for
// one: a usage read without fault allocates nothing for them).
struct Node {
  const boost::json::object* object;
  const Node* parent;     // nullptr at the top
  std::string_view name;  // its key in the parent (at the top, its whole path)

  std::string Path() const {
    return parent == nullptr ? std::string(name)
                             : absl::StrCat(parent->Path(), ".", AbslView(name));
  }
  std::string Field(std::string_view key) const {
    return absl::StrCat(Path(), ".", AbslView(key));
  }

  bool Has(std::string_view key) const {
    const boost::json::value* v = object->if_contains(JsonView(key));
    return v != nullptr && !v->is_null();
  }

  // A token count: absent or null reads as 0.
  absl::Status Count(std::string_view key, int64_t* out) const {
    *out = 0;
    const boost::json::value* v = object->if_contains(JsonView(key));
    if (v == nullptr || v->is_null()) return absl::OkStatus();
    if (const int64_t* i = v->if_int64()) {
      if (*i < 0) return Bad(Field(key), "must not be negative");
      *out = *i;
      return absl::OkStatus();
    }
    if (v->if_uint64() != nullptr) return Bad(Field(key), "must be less than 2^63");
    if (const double* d = v->if_double()) {
      if (!std::isfinite(*d) || std::trunc(*d) != *d) return Bad(Field(key), "must be an integer");
      if (*d < 0) return Bad(Field(key), "must not be negative");
      if (*d > kMaxExactDouble) {
        return Bad(Field(key), "must be less than 2^53 when written as a float");
      }
      *out = static_cast<int64_t>(*d);
      return absl::OkStatus();
    }
    return Bad(Field(key), "must be an integer");
  }

  // A nested object: absent or null gives a node with no object. The node refers to
  // this one, which must outlive it.
  absl::StatusOr<Node> Child(std::string_view key) const {
    const boost::json::value* v = object->if_contains(JsonView(key));
    if (v == nullptr || v->is_null()) return Node{nullptr, this, key};
    const boost::json::object* o = v->if_object();
    if (o == nullptr) return Bad(Field(key), "must be an object");
    return Node{o, this, key};
  }
};

// Count of `key` in a child object that may be absent.
absl::Status ChildCount(const Node& parent, std::string_view child, std::string_view key,
                        int64_t* out, bool* present = nullptr) {
  *out = 0;
  if (present != nullptr) *present = false;
  absl::StatusOr<Node> node = parent.Child(child);
  if (!node.ok()) return node.status();
  if (node->object == nullptr) return absl::OkStatus();
  if (present != nullptr) *present = node->Has(key);
  return node->Count(key, out);
}

// a + b, or an error naming what overflowed: n's field `key`, or n itself ("").
absl::Status Add(int64_t a, int64_t b, const Node& n, std::string_view key, int64_t* out) {
  if (a > kInt64Max - b) return Bad(key.empty() ? n.Path() : n.Field(key), "sum overflows 2^63");
  *out = a + b;
  return absl::OkStatus();
}

// Fills total_tokens, checking a reported total against input + output.
absl::Status Finish(const Node& node, std::string_view total_key, Usage* u) {
  int64_t sum;
  if (absl::Status s = Add(u->input_tokens, u->output_tokens, node, "", &sum); !s.ok()) return s;
  if (node.Has(total_key)) {
    int64_t total;
    if (absl::Status s = node.Count(total_key, &total); !s.ok()) return s;
    if (total != sum) {
      return Bad(
          node.Field(total_key),
          absl::StrCat("is ", total, ", not the sum of input and output tokens (", sum, ")"));
    }
  }
  u->total_tokens = sum;
  return absl::OkStatus();
}

// An error unless n's field `part_key` (its value `part`) is at most its `whole_key`.
absl::Status NotMore(int64_t part, const Node& n, std::string_view part_key, int64_t whole,
                     std::string_view whole_key) {
  if (part <= whole) return absl::OkStatus();
  return Bad(n.Field(part_key),
             absl::StrCat("is ", part, ", more than ", n.Field(whole_key), " (", whole, ")"));
}

#define TG_RETURN_IF_ERROR(expr)              \
  do {                                        \
    if (absl::Status _s = (expr); !_s.ok()) { \
      return _s;                              \
    }                                         \
  } while (0)

absl::StatusOr<Usage> OpenAi(const Node& n, std::string_view in_key, std::string_view out_key,
                             std::string_view in_details, std::string_view out_details) {
  Usage u;
  TG_RETURN_IF_ERROR(n.Count(in_key, &u.input_tokens));
  TG_RETURN_IF_ERROR(n.Count(out_key, &u.output_tokens));
  TG_RETURN_IF_ERROR(ChildCount(n, in_details, "cached_tokens", &u.cached_input_tokens));
  TG_RETURN_IF_ERROR(ChildCount(n, out_details, "reasoning_tokens", &u.reasoning_tokens));
  if (u.cached_input_tokens > u.input_tokens || u.reasoning_tokens > u.output_tokens) {
    TG_RETURN_IF_ERROR(NotMore(u.cached_input_tokens, n,
                               absl::StrCat(AbslView(in_key), "_details.cached_tokens"),
                               u.input_tokens, in_key));
    TG_RETURN_IF_ERROR(NotMore(u.reasoning_tokens, n,
                               absl::StrCat(AbslView(out_key), "_details.reasoning_tokens"),
                               u.output_tokens, out_key));
  }
  TG_RETURN_IF_ERROR(Finish(n, "total_tokens", &u));
  return u;
}

absl::StatusOr<Usage> Anthropic(const Node& n) {
  Usage u;
  int64_t input, writes, reads;
  TG_RETURN_IF_ERROR(n.Count("input_tokens", &input));
  TG_RETURN_IF_ERROR(n.Count("output_tokens", &u.output_tokens));
  TG_RETURN_IF_ERROR(n.Count("cache_creation_input_tokens", &writes));
  TG_RETURN_IF_ERROR(n.Count("cache_read_input_tokens", &reads));
  // The breakdown of cache writes by lifetime, when present, must add up.
  absl::StatusOr<Node> creation = n.Child("cache_creation");
  if (!creation.ok()) return creation.status();
  if (creation->object != nullptr) {
    int64_t m5, h1, sum;
    TG_RETURN_IF_ERROR(creation->Count("ephemeral_5m_input_tokens", &m5));
    TG_RETURN_IF_ERROR(creation->Count("ephemeral_1h_input_tokens", &h1));
    TG_RETURN_IF_ERROR(Add(m5, h1, *creation, "", &sum));
    if (!n.Has("cache_creation_input_tokens")) {
      writes = sum;
    } else if (sum != writes && (creation->Has("ephemeral_5m_input_tokens") ||
                                 creation->Has("ephemeral_1h_input_tokens"))) {
      return Bad(creation->Path(), absl::StrCat("adds up to ", sum,
                                              ", not cache_creation_input_tokens (", writes, ")"));
    }
  }
  // Anthropic's input_tokens excludes cache reads and writes; tollgate's includes them.
  int64_t partial;
  TG_RETURN_IF_ERROR(Add(input, writes, n, "input_tokens", &partial));
  TG_RETURN_IF_ERROR(Add(partial, reads, n, "input_tokens", &u.input_tokens));
  u.cached_input_tokens = reads;
  u.cache_write_tokens = writes;
  // Newer answers break the output down: output_tokens_details.thinking_tokens.
  TG_RETURN_IF_ERROR(ChildCount(n, "output_tokens_details", "thinking_tokens", &u.reasoning_tokens));
  TG_RETURN_IF_ERROR(NotMore(u.reasoning_tokens, n, "output_tokens_details.thinking_tokens",
                             u.output_tokens, "output_tokens"));
  TG_RETURN_IF_ERROR(Finish(n, "total_tokens", &u));
  return u;
}

absl::StatusOr<Usage> Gemini(const Node& n) {
  Usage u;
  int64_t prompt, tool_prompt, candidates;
  TG_RETURN_IF_ERROR(n.Count("promptTokenCount", &prompt));
  TG_RETURN_IF_ERROR(n.Count("toolUsePromptTokenCount", &tool_prompt));
  TG_RETURN_IF_ERROR(n.Count("candidatesTokenCount", &candidates));
  TG_RETURN_IF_ERROR(n.Count("cachedContentTokenCount", &u.cached_input_tokens));
  TG_RETURN_IF_ERROR(n.Count("thoughtsTokenCount", &u.reasoning_tokens));
  TG_RETURN_IF_ERROR(NotMore(u.cached_input_tokens, n, "cachedContentTokenCount", prompt,
                             "promptTokenCount"));
  TG_RETURN_IF_ERROR(Add(prompt, tool_prompt, n, "promptTokenCount", &u.input_tokens));
  // Gemini's candidates exclude the thinking tokens; tollgate's output includes them.
  TG_RETURN_IF_ERROR(
      Add(candidates, u.reasoning_tokens, n, "candidatesTokenCount", &u.output_tokens));
  TG_RETURN_IF_ERROR(Finish(n, "totalTokenCount", &u));
  return u;
}

absl::StatusOr<Usage> Tollgate(const Node& n) {
  Usage u;
  TG_RETURN_IF_ERROR(n.Count("input_tokens", &u.input_tokens));
  TG_RETURN_IF_ERROR(n.Count("output_tokens", &u.output_tokens));
  TG_RETURN_IF_ERROR(n.Count("cached_input_tokens", &u.cached_input_tokens));
  TG_RETURN_IF_ERROR(n.Count("cache_write_tokens", &u.cache_write_tokens));
  TG_RETURN_IF_ERROR(n.Count("reasoning_tokens", &u.reasoning_tokens));
  int64_t cache_sum;
  TG_RETURN_IF_ERROR(Add(u.cached_input_tokens, u.cache_write_tokens, n, "", &cache_sum));
  TG_RETURN_IF_ERROR(NotMore(cache_sum, n, "cached_input_tokens + cache_write_tokens",
                             u.input_tokens, "input_tokens"));
  TG_RETURN_IF_ERROR(
      NotMore(u.reasoning_tokens, n, "reasoning_tokens", u.output_tokens, "output_tokens"));
  TG_RETURN_IF_ERROR(Finish(n, "total_tokens", &u));
  return u;
}

// Keys that only one shape uses.
constexpr std::string_view kChatKeys[] = {"prompt_tokens", "completion_tokens",
                                          "prompt_tokens_details", "completion_tokens_details"};
constexpr std::string_view kResponsesKeys[] = {"input_tokens_details", "output_tokens_details"};
constexpr std::string_view kAnthropicKeys[] = {"cache_creation_input_tokens",
                                               "cache_read_input_tokens", "cache_creation"};
constexpr std::string_view kGeminiKeys[] = {"promptTokenCount",   "candidatesTokenCount",
                                            "totalTokenCount",    "cachedContentTokenCount",
                                            "thoughtsTokenCount", "toolUsePromptTokenCount"};
constexpr std::string_view kTollgateKeys[] = {"cached_input_tokens", "cache_write_tokens",
                                              "reasoning_tokens"};
// Keys shared by the Responses, Anthropic and tollgate shapes.
constexpr std::string_view kSharedKeys[] = {"input_tokens", "output_tokens", "total_tokens"};

// The first of `keys` that `o` has, or "" when it has none.
template <size_t N>
std::string_view FirstPresent(const boost::json::object& o, const std::string_view (&keys)[N]) {
  for (std::string_view k : keys) {
    if (o.contains(JsonView(k))) return k;
  }
  return {};
}

// Which shapes' own keys an object has (the first of each), and whether it has a
// shared one: looked up once, for both the wrapper test and Detect.
constexpr UsageShape kShapeOrder[] = {UsageShape::kOpenAiChat, UsageShape::kOpenAiResponses,
                                      UsageShape::kAnthropic, UsageShape::kGemini,
                                      UsageShape::kTollgate};
struct ShapeKeys {
  static constexpr size_t kShapes = std::size(kShapeOrder);
  std::array<std::string_view, kShapes> first;  // in the order of kShapeOrder
  bool shared = false;

  bool Any() const {
    return shared || std::any_of(first.begin(), first.end(),
                                 [](std::string_view k) { return !k.empty(); });
  }
  bool Has(UsageShape shape) const {
    for (size_t i = 0; i < kShapes; ++i)
      if (kShapeOrder[i] == shape) return !first[i].empty();
    return false;
  }
};

ShapeKeys KeysOf(const boost::json::object& o) {
  ShapeKeys k;
  k.first = {FirstPresent(o, kChatKeys), FirstPresent(o, kResponsesKeys),
             FirstPresent(o, kAnthropicKeys), FirstPresent(o, kGeminiKeys),
             FirstPresent(o, kTollgateKeys)};
  k.shared = !FirstPresent(o, kSharedKeys).empty();
  return k;
}

absl::StatusOr<UsageShape> Detect(const Node& n, const ShapeKeys& keys, std::string_view hint) {
  struct Found {
    UsageShape shape;
    std::string_view key;  // one of its keys that the object has
  };
  std::array<Found, ShapeKeys::kShapes> found;
  size_t count = 0;
  for (size_t i = 0; i < ShapeKeys::kShapes; ++i) {
    if (!keys.first[i].empty()) found[count++] = Found{kShapeOrder[i], keys.first[i]};
  }
  // Anthropic's output_tokens_details (thinking_tokens) is not the Responses API's
  // (reasoning_tokens): the Anthropic hint or Anthropic's own keys decide.
  if (const boost::json::value* d = n.object->if_contains("output_tokens_details");
      d != nullptr && d->is_object() && d->as_object().contains("thinking_tokens") &&
      !n.object->contains("input_tokens_details") &&
      (hint == "anthropic" || keys.Has(UsageShape::kAnthropic))) {
    count = static_cast<size_t>(
        std::remove_if(found.begin(), found.begin() + count,
                       [](const Found& f) { return f.shape == UsageShape::kOpenAiResponses; }) -
        found.begin());
    if (count == 0) found[count++] = Found{UsageShape::kAnthropic, "output_tokens_details"};
  }
  if (count > 1) {
    return Bad(n.Path(), absl::StrCat("mixes the ", AbslView(ToString(found[0].shape)),
                                      " field ", AbslView(found[0].key), " with the ",
                                      AbslView(ToString(found[1].shape)), " field ",
                                      AbslView(found[1].key)));
  }
  if (count == 1) {
    UsageShape shape = found[0].shape;
    // Chat Completions has total_tokens too, but never input_tokens or output_tokens.
    for (std::string_view key : kSharedKeys) {
      if (!keys.shared || !n.object->contains(JsonView(key))) continue;
      if (shape == UsageShape::kGemini ||
          (shape == UsageShape::kOpenAiChat && key != "total_tokens")) {
        return Bad(n.Path(), absl::StrCat("mixes the ", AbslView(ToString(shape)), " field ",
                                          AbslView(found[0].key), " with ", AbslView(key)));
      }
    }
    return shape;
  }
  if (!keys.shared) {
    return Bad(n.Path(),
               "has no token counts of a known shape (OpenAI, Anthropic, Gemini, tollgate)");
  }
  // input_tokens / output_tokens alone read the same in the three shapes that share
  // them; the hint only picks the name reported.
  if (hint == "anthropic") return UsageShape::kAnthropic;
  if (hint == "openai") return UsageShape::kOpenAiResponses;
  return UsageShape::kTollgate;
}

std::string Lower(std::string_view s) {
  std::string out(s);
  for (char& c : out) {
    if (c >= 'A' && c <= 'Z') c = static_cast<char>(c - 'A' + 'a');
  }
  return out;
}

}  // namespace

std::string_view ToString(UsageShape shape) {
  switch (shape) {
    case UsageShape::kOpenAiChat:
      return "openai_chat";
    case UsageShape::kOpenAiResponses:
      return "openai_responses";
    case UsageShape::kAnthropic:
      return "anthropic";
    case UsageShape::kGemini:
      return "gemini";
    case UsageShape::kTollgate:
      return "tollgate";
  }
  return "unknown";
}

absl::StatusOr<Usage> NormalizeUsage(const boost::json::value& usage,
                                     std::string_view provider_hint) {
  return NormalizeUsage(usage, provider_hint, nullptr);
}

absl::StatusOr<Usage> NormalizeUsage(const boost::json::value& usage,
                                     std::string_view provider_hint, UsageShape* shape) {
  const boost::json::object* o = usage.if_object();
  if (o == nullptr) return Bad("usage", "must be an object");
  Node node{o, nullptr, "usage"};
  ShapeKeys keys = KeysOf(*o);
  // A whole response or wrapper: use its usage block.
  if (!keys.Any()) {
    for (std::string_view key : {std::string_view("usageMetadata"), std::string_view("usage")}) {
      const boost::json::value* inner = o->if_contains(JsonView(key));
      if (inner == nullptr) continue;
      const boost::json::object* io = inner->if_object();
      if (io == nullptr) return Bad(key, "must be an object");
      node = Node{io, nullptr, key};
      keys = KeysOf(*io);
      break;
    }
  }
  std::string hint = Lower(provider_hint);
  absl::StatusOr<UsageShape> detected = Detect(node, keys, hint);
  if (!detected.ok()) return detected.status();
  if (shape != nullptr) *shape = *detected;
  switch (*detected) {
    case UsageShape::kOpenAiChat:
      return OpenAi(node, "prompt_tokens", "completion_tokens", "prompt_tokens_details",
                    "completion_tokens_details");
    case UsageShape::kOpenAiResponses:
      return OpenAi(node, "input_tokens", "output_tokens", "input_tokens_details",
                    "output_tokens_details");
    case UsageShape::kAnthropic:
      return Anthropic(node);
    case UsageShape::kGemini:
      return Gemini(node);
    case UsageShape::kTollgate:
      return Tollgate(node);
  }
  return Bad(node.Path(), "unknown shape");
}

}  // namespace tollgate::providers
