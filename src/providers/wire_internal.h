#pragma once

// Helpers shared by the provider adapters (openai/, anthropic/, gemini/). Private to
// src/providers: the gateway uses wire.h, sse.h and stream_meter.h.

#include <boost/json.hpp>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "providers/wire.h"
#include "tollgate/tokenizer.h"
#include "tollgate/types.h"

namespace tollgate::providers::internal {

namespace json = boost::json;

inline absl::string_view AbslView(std::string_view s) { return {s.data(), s.size()}; }
inline json::string_view JsonView(std::string_view s) { return {s.data(), s.size()}; }
inline std::string_view View(const json::string& s) { return {s.data(), s.size()}; }

// InvalidArgument "<field>: <what>".
absl::Status Bad(std::string_view field, std::string_view what);

// The value of `key`, or nullptr when it is absent or null.
const json::value* Find(const json::object& o, std::string_view key);
// The same for a field with two spellings (Gemini's REST API takes camelCase and
// snake_case): the first present wins, and *used names it.
const json::value* Find(const json::object& o, std::string_view key, std::string_view alt,
                        std::string_view* used);
// The string value of `v` ("" when `v` is null or not a string).
std::string_view Str(const json::value* v);
// The object at `v`, or nullptr when it is not one.
inline const json::object* Obj(const json::value* v) { return v ? v->if_object() : nullptr; }
inline const json::array* Arr(const json::value* v) { return v ? v->if_array() : nullptr; }

// Field readers for request bodies. `v` may be nullptr (absent or null); `field` names
// it in errors.
absl::StatusOr<std::string> ModelName(std::string_view model, std::string_view field);
absl::StatusOr<std::string> RequiredModel(const json::object& body);
absl::StatusOr<bool> OptionalBool(const json::value* v, std::string_view field);
// A non-negative integer below 2^63 (an integral float up to 2^53 is accepted).
absl::StatusOr<std::optional<int64_t>> OptionalCount(const json::value* v, std::string_view field);
// Whether a number is present; an error when `v` is not a number.
absl::StatusOr<bool> OptionalNumber(const json::value* v, std::string_view field);
// A positive count (choices) no larger than `max`; 1 when absent.
absl::StatusOr<int64_t> Choices(const json::value* v, std::string_view field, int64_t max);
// The object at `v` (nullptr when absent); an error when it is not an object.
absl::StatusOr<const json::object*> OptionalObject(const json::value* v, std::string_view field);

// For ApplyRewrite: the object at `key`, created (or replacing a value of another type).
json::object& ObjectAt(json::object& o, std::string_view key);
// Replaces "model" when `rewrite.model` is set and fills "temperature" when absent.
void RewriteModelAndTemperature(json::object& body, const Rewrite& rewrite);

// Appends the compact JSON text of `v` (tool arguments, function calls).
void AppendJson(std::string* out, const json::value& v);

// A tool definition from a JSON-schema "parameters" object, as CountChat counts tools.
tokenizer::ToolFunction ToolFromSchema(std::string_view name, std::string_view description,
                                       const json::value* schema);

// Counts `chat` with tokenizer::CountChat into call->input_tokens / encoding / estimated.
// A model the tokenizer does not know is estimated: every text byte / 4, plus 3 per
// message and 3 for the reply, with encoding "estimate".
void CountChatInto(std::string_view model, const tokenizer::ChatRequest& chat, ParsedCall* call);

// Tokens of generated `text` for `model` (bytes / 4 for an unknown model; *estimated set
// unless the count is exact).
int64_t CountText(std::string_view model, std::string_view text, bool* estimated);

// ceil(bytes / 4): tollgate's estimate for text of a model without a tokenizer.
inline int64_t EstimateBytes(size_t bytes) { return static_cast<int64_t>((bytes + 3) / 4); }

// `s` with every invalid UTF-8 sequence replaced by U+FFFD (JSON output must be UTF-8).
std::string ValidUtf8(std::string_view s);

// Runs `expr` (an absl::Status) and returns it when it is an error.
#define TG_WIRE_RETURN_IF_ERROR(expr)         \
  do {                                        \
    if (absl::Status _s = (expr); !_s.ok()) { \
      return _s;                              \
    }                                         \
  } while (0)

// Assigns the value of `rexpr` (an absl::StatusOr<T>) to `lhs`, or returns its error.
#define TG_WIRE_ASSIGN_OR_RETURN(lhs, rexpr) \
  TG_WIRE_ASSIGN_OR_RETURN_IMPL(TG_WIRE_CONCAT(_statusor_, __LINE__), lhs, rexpr)
#define TG_WIRE_ASSIGN_OR_RETURN_IMPL(tmp, lhs, rexpr) \
  auto tmp = (rexpr);                                  \
  if (!tmp.ok()) return tmp.status();                  \
  lhs = std::move(*tmp)
#define TG_WIRE_CONCAT(a, b) TG_WIRE_CONCAT_INNER(a, b)
#define TG_WIRE_CONCAT_INNER(a, b) a##b

}  // namespace tollgate::providers::internal
