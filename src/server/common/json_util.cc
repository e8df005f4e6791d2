#include "server/common/json_util.h"

#include <boost/json/parser.hpp>
#include <boost/json/serialize.hpp>
#include <charconv>
#include <cmath>
#include <limits>
#include <utility>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "core/ids.h"

namespace tollgate::server {
namespace json = boost::json;
namespace {

absl::string_view AbslView(std::string_view s) { return absl::string_view(s.data(), s.size()); }

constexpr std::string_view kNonNegativeInt = "must be a non-negative integer below 2^63";

template <class T, class F>
absl::StatusOr<T> Require(absl::StatusOr<std::optional<T>> v, F missing) {
  if (!v.ok()) return v.status();
  if (!v->has_value()) return missing();
  return std::move(**v);
}

// `v` as JsonWriter writes values, which is what json::serialize writes but for doubles
// (in fixed notation).
void AppendJson(const json::value& v, std::string& out) {
  switch (v.kind()) {
    case json::kind::object: {
      out.push_back('{');
      bool first = true;
      for (const json::key_value_pair& kv : v.get_object()) {
        if (!first) out.push_back(',');
        first = false;
        AppendJsonString(std::string_view(kv.key().data(), kv.key().size()), out);
        out.push_back(':');
        AppendJson(kv.value(), out);
      }
      out.push_back('}');
      return;
    }
    case json::kind::array: {
      out.push_back('[');
      bool first = true;
      for (const json::value& e : v.get_array()) {
        if (!first) out.push_back(',');
        first = false;
        AppendJson(e, out);
      }
      out.push_back(']');
      return;
    }
    case json::kind::double_:
      AppendJsonNumber(v.get_double(), out);
      return;
    case json::kind::string:
      AppendJsonString(std::string_view(v.get_string().data(), v.get_string().size()), out);
      return;
    case json::kind::int64:
      AppendJsonNumber(v.get_int64(), out);
      return;
    case json::kind::uint64: {
      char buf[24];
      std::to_chars_result r = std::to_chars(buf, buf + sizeof buf, v.get_uint64());
      out.append(buf, r.ptr);
      return;
    }
    case json::kind::bool_:
      out += v.get_bool() ? "true" : "false";
      return;
    case json::kind::null:
      out += "null";
      return;
  }
}

}  // namespace

// Strings with nothing to escape (nearly all: ids, model names) are copied as they are;
// the rest go through Boost.JSON, so the output is byte for byte what json::serialize
// writes.
void AppendJsonString(std::string_view s, std::string& out) {
  for (unsigned char c : s) {
    if (c < 0x20 || c == '"' || c == '\\') {
      out += json::serialize(json::string_view(s.data(), s.size()));
      return;
    }
  }
  out.push_back('"');
  out.append(s.data(), s.size());
  out.push_back('"');
}

void AppendJsonNumber(int64_t v, std::string& out) {
  char buf[24];
  std::to_chars_result r = std::to_chars(buf, buf + sizeof buf, v);
  out.append(buf, r.ptr);
}

void AppendJsonNumber(double v, std::string& out) {
  if (!std::isfinite(v)) {
    out += "null";  // JSON has no NaN or infinity
    return;
  }
  char buf[400];  // enough for any double in fixed notation
  std::to_chars_result r = std::to_chars(buf, buf + sizeof buf, v, std::chars_format::fixed);
  out.append(buf, r.ptr);
}

std::string& JsonWriter::RawValue() {
  Separate();
  need_comma_ = true;
  return *out_;
}

void JsonWriter::Separate() {
  if (need_comma_) out_->push_back(',');
}

JsonWriter& JsonWriter::Open(char bracket) {
  Separate();
  out_->push_back(bracket);
  need_comma_ = false;
  return *this;
}

JsonWriter& JsonWriter::Close(char bracket) {
  out_->push_back(bracket);
  need_comma_ = true;
  return *this;
}

JsonWriter& JsonWriter::Key(std::string_view key) {
  Separate();
  AppendJsonString(key, *out_);
  out_->push_back(':');
  need_comma_ = false;
  return *this;
}

JsonWriter& JsonWriter::String(std::string_view value) {
  AppendJsonString(value, RawValue());
  return *this;
}

JsonWriter& JsonWriter::Int(int64_t value) {
  AppendJsonNumber(value, RawValue());
  return *this;
}

JsonWriter& JsonWriter::Double(double value) {
  AppendJsonNumber(value, RawValue());
  return *this;
}

JsonWriter& JsonWriter::Bool(bool value) {
  RawValue() += value ? "true" : "false";
  return *this;
}

JsonWriter& JsonWriter::Null() {
  RawValue() += "null";
  return *this;
}

JsonWriter& JsonWriter::Value(const json::value& value) {
  AppendJson(value, RawValue());
  return *this;
}

std::string SerializeJson(const json::value& value) {
  std::string out;
  out.reserve(256);
  AppendJson(value, out);
  return out;
}

absl::StatusOr<json::value> ParseJson(std::string_view body, int max_depth, json::storage_ptr sp) {
  json::parse_options options;
  options.max_depth = static_cast<std::size_t>(max_depth);
  // The parser's working stack lives here for ordinary bodies; it allocates only for
  // deeply nested ones.
  unsigned char temp[4096];
  json::parser parser(json::storage_ptr(), options, temp, sizeof temp);
  parser.reset(std::move(sp));
  boost::system::error_code ec;
  std::size_t consumed = parser.write(body.data(), body.size(), ec);
  if (ec == json::error::too_deep) {
    return absl::InvalidArgumentError(
        absl::StrCat("JSON nested too deep (more than ", max_depth, " levels)"));
  }
  if (ec) {
    if (body.find_first_not_of(" \t\r\n") == std::string_view::npos) {
      return absl::InvalidArgumentError("request body is empty; expected JSON");
    }
    return absl::InvalidArgumentError(
        absl::StrCat("malformed JSON at byte ", consumed, ": ", ec.message()));
  }
  return parser.release();
}

absl::StatusOr<json::object> ParseJsonObject(std::string_view body, int max_depth,
                                             json::storage_ptr sp) {
  absl::StatusOr<json::value> value = ParseJson(body, max_depth, std::move(sp));
  if (!value.ok()) return value.status();
  if (!value->is_object()) return absl::InvalidArgumentError("request body must be a JSON object");
  return std::move(value->get_object());
}

JsonReader::JsonReader(const json::object& object, std::string path_prefix)
    : object_(&object), prefix_(std::move(path_prefix)) {}

std::string JsonReader::FieldName(std::string_view key) const {
  return absl::StrCat(prefix_, AbslView(key));
}

absl::Status JsonReader::Invalid(std::string_view key, std::string_view what) const {
  return absl::InvalidArgumentError(absl::StrCat("field '", FieldName(key), "' ", AbslView(what)));
}

absl::Status JsonReader::Missing(std::string_view key) const {
  return absl::InvalidArgumentError(absl::StrCat("field '", FieldName(key), "' is required"));
}

const json::value* JsonReader::Raw(std::string_view key) const { return object_->if_contains(key); }

bool JsonReader::Has(std::string_view key) const { return object_->contains(key); }

const json::value* JsonReader::Present(std::string_view key) const {
  const json::value* v = object_->if_contains(key);
  if (v == nullptr || v->is_null()) return nullptr;
  return v;
}

absl::StatusOr<std::optional<std::string>> JsonReader::String(std::string_view key) const {
  const json::value* v = Present(key);
  if (v == nullptr) return std::nullopt;
  if (!v->is_string()) return Invalid(key, "must be a string");
  return std::string(v->get_string());
}

absl::StatusOr<std::string> JsonReader::RequiredString(std::string_view key) const {
  return Require(String(key), [&] { return Missing(key); });
}

absl::StatusOr<std::optional<std::string>> JsonReader::NonEmptyString(std::string_view key,
                                                                      size_t max_len) const {
  auto s = String(key);
  if (!s.ok() || !s->has_value()) return s;
  if ((*s)->empty()) return Invalid(key, "must not be empty");
  if ((*s)->size() > max_len) {
    return Invalid(key, absl::StrCat("must be at most ", max_len, " bytes long"));
  }
  return s;
}

absl::StatusOr<std::string> JsonReader::RequiredNonEmptyString(std::string_view key,
                                                               size_t max_len) const {
  return Require(NonEmptyString(key, max_len), [&] { return Missing(key); });
}

absl::StatusOr<std::optional<std::string>> JsonReader::Id(std::string_view key) const {
  auto s = String(key);
  if (!s.ok() || !s->has_value()) return s;
  if (!core::IsValidId(**s)) {
    return Invalid(key, "must be 1-128 characters of [A-Za-z0-9._:@-]");
  }
  return s;
}

absl::StatusOr<std::string> JsonReader::RequiredId(std::string_view key) const {
  return Require(Id(key), [&] { return Missing(key); });
}

absl::StatusOr<std::optional<std::string>> JsonReader::Enum(
    std::string_view key, std::initializer_list<std::string_view> allowed) const {
  auto s = String(key);
  if (!s.ok() || !s->has_value()) return s;
  for (std::string_view a : allowed) {
    if (**s == a) return s;
  }
  std::vector<absl::string_view> names;
  for (std::string_view a : allowed) names.push_back(AbslView(a));
  return Invalid(key, absl::StrCat("must be one of: ", absl::StrJoin(names, ", ")));
}

absl::StatusOr<std::string> JsonReader::RequiredEnum(
    std::string_view key, std::initializer_list<std::string_view> allowed) const {
  return Require(Enum(key, allowed), [&] { return Missing(key); });
}

absl::StatusOr<std::optional<int64_t>> JsonReader::NonNegativeInt(std::string_view key) const {
  const json::value* v = Present(key);
  if (v == nullptr) return std::nullopt;
  if (v->is_int64() && v->get_int64() >= 0) return v->get_int64();
  if (v->is_uint64() &&
      v->get_uint64() <= static_cast<uint64_t>(std::numeric_limits<int64_t>::max())) {
    return static_cast<int64_t>(v->get_uint64());
  }
  return Invalid(key, kNonNegativeInt);
}

absl::StatusOr<int64_t> JsonReader::RequiredNonNegativeInt(std::string_view key) const {
  return Require(NonNegativeInt(key), [&] { return Missing(key); });
}

absl::StatusOr<std::optional<int64_t>> JsonReader::Int(std::string_view key) const {
  const json::value* v = Present(key);
  if (v == nullptr) return std::nullopt;
  if (v->is_int64()) return v->get_int64();
  if (v->is_uint64() &&
      v->get_uint64() <= static_cast<uint64_t>(std::numeric_limits<int64_t>::max())) {
    return static_cast<int64_t>(v->get_uint64());
  }
  return Invalid(key, "must be an integer between -2^63 and 2^63-1");
}

absl::StatusOr<int64_t> JsonReader::RequiredInt(std::string_view key) const {
  return Require(Int(key), [&] { return Missing(key); });
}

absl::StatusOr<std::optional<bool>> JsonReader::Bool(std::string_view key) const {
  const json::value* v = Present(key);
  if (v == nullptr) return std::nullopt;
  if (!v->is_bool()) return Invalid(key, "must be true or false");
  return v->get_bool();
}

absl::StatusOr<bool> JsonReader::RequiredBool(std::string_view key) const {
  return Require(Bool(key), [&] { return Missing(key); });
}

absl::StatusOr<std::optional<double>> JsonReader::Double(std::string_view key) const {
  const json::value* v = Present(key);
  if (v == nullptr) return std::nullopt;
  if (!v->is_number()) return Invalid(key, "must be a number");
  double d = v->to_number<double>();
  if (!std::isfinite(d)) return Invalid(key, "must be a finite number");
  return d;
}

absl::StatusOr<double> JsonReader::RequiredDouble(std::string_view key) const {
  return Require(Double(key), [&] { return Missing(key); });
}

absl::StatusOr<std::optional<std::vector<std::string>>> JsonReader::StringArray(
    std::string_view key, size_t max_items) const {
  const json::value* v = Present(key);
  if (v == nullptr) return std::nullopt;
  if (!v->is_array()) return Invalid(key, "must be an array of strings");
  const json::array& array = v->get_array();
  if (array.size() > max_items) {
    return Invalid(key, absl::StrCat("must have at most ", max_items, " items"));
  }
  std::vector<std::string> out;
  out.reserve(array.size());
  for (const json::value& item : array) {
    if (!item.is_string()) return Invalid(key, "must be an array of strings");
    out.emplace_back(item.get_string());
  }
  return out;
}

absl::StatusOr<std::vector<std::string>> JsonReader::RequiredStringArray(std::string_view key,
                                                                         size_t max_items) const {
  return Require(StringArray(key, max_items), [&] { return Missing(key); });
}

absl::StatusOr<std::optional<JsonReader>> JsonReader::Object(std::string_view key) const {
  const json::value* v = Present(key);
  if (v == nullptr) return std::nullopt;
  if (!v->is_object()) return Invalid(key, "must be an object");
  return JsonReader(v->get_object(), FieldName(key) + ".");
}

absl::StatusOr<JsonReader> JsonReader::RequiredObject(std::string_view key) const {
  return Require(Object(key), [&] { return Missing(key); });
}

absl::Status JsonReader::RejectUnknownFields(std::initializer_list<std::string_view> known) const {
  return RejectUnknownFields(std::vector<std::string_view>(known));
}

absl::Status JsonReader::RejectUnknownFields(const std::vector<std::string_view>& known) const {
  for (const auto& kv : *object_) {
    std::string_view key(kv.key().data(), kv.key().size());
    bool found = false;
    for (std::string_view k : known) found |= k == key;
    if (!found) {
      return absl::InvalidArgumentError(absl::StrCat("unknown field '", FieldName(key), "'"));
    }
  }
  return absl::OkStatus();
}

}  // namespace tollgate::server
