#pragma once

#include <boost/json/object.hpp>
#include <boost/json/value.hpp>
#include <cstdint>
#include <initializer_list>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"

namespace tollgate::server {

// Serialises like boost::json::serialize, but writes doubles in plain decimal notation
// ("0.0075", "250", never "7.5E-3"): money goes out as USD numbers that read as written.
// Doubles are the shortest text that reads back as the same value.
std::string SerializeJson(const boost::json::value& value);

// Writes JSON text straight into a string, for the answers on the request path, where
// building a boost::json::value first costs more than the writing. Output is what
// SerializeJson writes for the same value. The caller writes a well-formed sequence:
// Begin/End balanced, and inside an object a Key before every value.
//
//   std::string body;
//   JsonWriter w(&body);
//   w.BeginObject().Key("allowed").Bool(true).Key("limits").BeginArray().EndArray().EndObject();
class JsonWriter {
 public:
  explicit JsonWriter(std::string* out) : out_(out) {}

  JsonWriter& BeginObject() { return Open('{'); }
  JsonWriter& EndObject() { return Close('}'); }
  JsonWriter& BeginArray() { return Open('['); }
  JsonWriter& EndArray() { return Close(']'); }
  JsonWriter& Key(std::string_view key);
  JsonWriter& String(std::string_view value);
  JsonWriter& Int(int64_t value);
  JsonWriter& Double(double value);  // non-finite: null
  JsonWriter& Bool(bool value);
  JsonWriter& Null();
  JsonWriter& Value(const boost::json::value& value);  // any value, as SerializeJson
  // For a value assembled by the caller in fixed pieces (cheaper than a call per token):
  // writes the separator before it and returns the text, to which the caller appends
  // exactly one complete JSON value (with AppendJsonString for any string that is not
  // a known plain name).
  std::string& RawValue();

 private:
  void Separate();
  JsonWriter& Open(char bracket);
  JsonWriter& Close(char bracket);

  std::string* out_;
  bool need_comma_ = false;
};

// `s` as a JSON string literal (quotes included, escaped as needed), appended to `out`.
void AppendJsonString(std::string_view s, std::string& out);
// A number as JsonWriter writes it: integers in full, doubles in fixed notation,
// non-finite doubles as null.
void AppendJsonNumber(int64_t v, std::string& out);
void AppendJsonNumber(double v, std::string& out);

// Deepest nesting of arrays and objects accepted in a request body.
inline constexpr int kMaxJsonDepth = 32;

// Parses a request body strictly: one JSON value, valid UTF-8, no comments or trailing
// commas, at most `max_depth` levels. Errors are InvalidArgument ("JSON nested too deep
// (more than 32 levels)", "malformed JSON at byte 17: ..."). Never throws.
// The value is built in `sp` (the default resource when null), which must outlive it.
absl::StatusOr<boost::json::value> ParseJson(std::string_view body, int max_depth = kMaxJsonDepth,
                                             boost::json::storage_ptr sp = {});

// ParseJson, and the value must be an object ("request body must be a JSON object").
absl::StatusOr<boost::json::object> ParseJsonObject(std::string_view body,
                                                    int max_depth = kMaxJsonDepth,
                                                    boost::json::storage_ptr sp = {});

// Typed, strict reads of the fields of one JSON object, with errors that name the
// field (InvalidArgument, e.g. "field 'input_tokens' must be a non-negative integer
// below 2^63"). Nested readers prefix the path: "field 'usage.input_tokens' ...".
//
// Each type has two readers: `X(key)` returns nullopt when the field is absent or null,
// `RequiredX(key)` fails with "field 'key' is required" instead. A present field of the
// wrong type is always an error: nothing is coerced (no "5" for 5, no 5.0 for 5).
//
//   JsonReader r(body);
//   auto user = r.RequiredId("user_id");
//   if (!user.ok()) return ErrorResponse(user.status());
//   auto max_out = r.NonNegativeInt("max_output_tokens");  // StatusOr<optional<int64_t>>
//
// The reader views `object`, which must outlive it and the readers it returns.
// Thread safety: const methods only; safe to share once built.
class JsonReader {
 public:
  explicit JsonReader(const boost::json::object& object, std::string path_prefix = "");

  // Any JSON string (possibly empty).
  absl::StatusOr<std::optional<std::string>> String(std::string_view key) const;
  absl::StatusOr<std::string> RequiredString(std::string_view key) const;

  // A non-empty string of at most `max_len` bytes.
  absl::StatusOr<std::optional<std::string>> NonEmptyString(std::string_view key,
                                                            size_t max_len = 4096) const;
  absl::StatusOr<std::string> RequiredNonEmptyString(std::string_view key,
                                                     size_t max_len = 4096) const;

  // An id: 1–128 characters of [A-Za-z0-9._:@-] (tenant, user, agent ids).
  absl::StatusOr<std::optional<std::string>> Id(std::string_view key) const;
  absl::StatusOr<std::string> RequiredId(std::string_view key) const;

  // One of `allowed` (e.g. {"off", "shadow", "enforce"}); the error lists them.
  absl::StatusOr<std::optional<std::string>> Enum(
      std::string_view key, std::initializer_list<std::string_view> allowed) const;
  absl::StatusOr<std::string> RequiredEnum(std::string_view key,
                                           std::initializer_list<std::string_view> allowed) const;

  // An integer in [0, 2^63). Rejects negatives, fractions, any number written with a
  // fraction or exponent, values >= 2^63, and strings.
  absl::StatusOr<std::optional<int64_t>> NonNegativeInt(std::string_view key) const;
  absl::StatusOr<int64_t> RequiredNonNegativeInt(std::string_view key) const;

  // Any integer in [-2^63, 2^63).
  absl::StatusOr<std::optional<int64_t>> Int(std::string_view key) const;
  absl::StatusOr<int64_t> RequiredInt(std::string_view key) const;

  absl::StatusOr<std::optional<bool>> Bool(std::string_view key) const;
  absl::StatusOr<bool> RequiredBool(std::string_view key) const;

  // Any finite number, integers included.
  absl::StatusOr<std::optional<double>> Double(std::string_view key) const;
  absl::StatusOr<double> RequiredDouble(std::string_view key) const;

  // An array of strings, at most `max_items`.
  absl::StatusOr<std::optional<std::vector<std::string>>> StringArray(
      std::string_view key, size_t max_items = 1024) const;
  absl::StatusOr<std::vector<std::string>> RequiredStringArray(std::string_view key,
                                                               size_t max_items = 1024) const;

  // A nested object, read with its own reader (errors say "field 'usage.x' ...").
  absl::StatusOr<std::optional<JsonReader>> Object(std::string_view key) const;
  absl::StatusOr<JsonReader> RequiredObject(std::string_view key) const;

  // The raw value, or nullptr when absent (null is returned as a null value). For
  // fields of free shape (e.g. a provider's `usage` object, chat `messages`).
  const boost::json::value* Raw(std::string_view key) const;

  bool Has(std::string_view key) const;

  // Fails naming the first field of the object that is not in `known`
  // ("unknown field 'foo'").
  absl::Status RejectUnknownFields(std::initializer_list<std::string_view> known) const;
  absl::Status RejectUnknownFields(const std::vector<std::string_view>& known) const;

  // The full name of `key` as errors show it ("usage.input_tokens").
  std::string FieldName(std::string_view key) const;

  const boost::json::object& object() const { return *object_; }

 private:
  // The value of `key` unless absent or null.
  const boost::json::value* Present(std::string_view key) const;
  absl::Status Invalid(std::string_view key, std::string_view what) const;
  absl::Status Missing(std::string_view key) const;

  const boost::json::object* object_;
  std::string prefix_;
};

}  // namespace tollgate::server
