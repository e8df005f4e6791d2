#include "providers/wire_internal.h"

#include <cmath>

#include "absl/strings/str_cat.h"

namespace tollgate::providers::internal {

// Doubles above 2^53 no longer hold every integer; such counts are refused.
constexpr double kMaxExactDouble = 9007199254740992.0;

absl::Status Bad(std::string_view field, std::string_view what) {
  return absl::InvalidArgumentError(absl::StrCat(AbslView(field), ": ", AbslView(what)));
}

const json::value* Find(const json::object& o, std::string_view key) {
  const json::value* v = o.if_contains(JsonView(key));
  return v == nullptr || v->is_null() ? nullptr : v;
}

const json::value* Find(const json::object& o, std::string_view key, std::string_view alt,
                        std::string_view* used) {
  *used = key;
  if (const json::value* v = Find(o, key)) return v;
  if (const json::value* v = Find(o, alt)) {
    *used = alt;
    return v;
  }
  return nullptr;
}

std::string_view Str(const json::value* v) {
  if (v == nullptr || !v->is_string()) return {};
  return View(v->get_string());
}

absl::StatusOr<std::string> ModelName(std::string_view model, std::string_view field) {
  if (model.empty()) return Bad(field, "must not be empty");
  if (model.size() > kMaxModelBytes)
    return Bad(field, absl::StrCat("must be at most ", kMaxModelBytes, " bytes"));
  return std::string(model);
}

absl::StatusOr<std::string> RequiredModel(const json::object& body) {
  const json::value* v = Find(body, "model");
  if (v == nullptr) return Bad("model", "required");
  if (!v->is_string()) return Bad("model", "must be a string");
  return ModelName(View(v->get_string()), "model");
}

absl::StatusOr<bool> OptionalBool(const json::value* v, std::string_view field) {
  if (v == nullptr) return false;
  if (!v->is_bool()) return Bad(field, "must be a boolean");
  return v->get_bool();
}

absl::StatusOr<std::optional<int64_t>> OptionalCount(const json::value* v, std::string_view field) {
  if (v == nullptr) return std::nullopt;
  if (const int64_t* i = v->if_int64()) {
    if (*i < 0) return Bad(field, "must not be negative");
    return *i;
  }
  if (v->is_uint64()) return Bad(field, "must be less than 2^63");
  if (const double* d = v->if_double()) {
    if (!std::isfinite(*d) || std::trunc(*d) != *d) return Bad(field, "must be an integer");
    if (*d < 0) return Bad(field, "must not be negative");
    if (*d > kMaxExactDouble) return Bad(field, "must be less than 2^53 when written as a float");
    return static_cast<int64_t>(*d);
  }
  return Bad(field, "must be an integer");
}

absl::StatusOr<bool> OptionalNumber(const json::value* v, std::string_view field) {
  if (v == nullptr) return false;
  if (!v->is_number()) return Bad(field, "must be a number");
  return true;
}

absl::StatusOr<int64_t> Choices(const json::value* v, std::string_view field, int64_t max) {
  TG_WIRE_ASSIGN_OR_RETURN(std::optional<int64_t> n, OptionalCount(v, field));
  if (!n) return 1;
  if (*n < 1 || *n > max) return Bad(field, absl::StrCat("must be between 1 and ", max));
  return *n;
}

absl::StatusOr<const json::object*> OptionalObject(const json::value* v, std::string_view field) {
  if (v == nullptr) return nullptr;
  if (!v->is_object()) return Bad(field, "must be an object");
  return &v->get_object();
}

json::object& ObjectAt(json::object& o, std::string_view key) {
  json::value& v = o[JsonView(key)];
  if (!v.is_object()) v = json::object(o.storage());
  return v.get_object();
}

void RewriteModelAndTemperature(json::object& body, const Rewrite& rewrite) {
  if (!rewrite.model.empty()) body["model"] = JsonView(rewrite.model);
  if (rewrite.temperature && Find(body, "temperature") == nullptr)
    body["temperature"] = *rewrite.temperature;
}

void AppendJson(std::string* out, const json::value& v) {
  if (v.is_string()) {
    out->append(View(v.get_string()));
  } else {
    out->append(json::serialize(v));
  }
}

tokenizer::ToolFunction ToolFromSchema(std::string_view name, std::string_view description,
                                       const json::value* schema) {
  tokenizer::ToolFunction fn;
  fn.name = std::string(name);
  fn.description = std::string(description);
  const json::object* props = Obj(schema) ? Obj(Find(*Obj(schema), "properties")) : nullptr;
  if (props == nullptr) return fn;
  for (const auto& [key, pv] : *props) {
    tokenizer::ToolProperty p;
    p.name = std::string(key.data(), key.size());
    if (const json::object* po = pv.if_object()) {
      p.type = std::string(Str(Find(*po, "type")));
      p.description = std::string(Str(Find(*po, "description")));
      if (const json::array* en = Arr(Find(*po, "enum"))) {
        for (const json::value& e : *en) {
          std::string item;
          AppendJson(&item, e);
          p.enum_values.push_back(std::move(item));
        }
      }
    }
    fn.properties.push_back(std::move(p));
  }
  return fn;
}

void CountChatInto(std::string_view model, const tokenizer::ChatRequest& chat, ParsedCall* call) {
  absl::StatusOr<tokenizer::TokenCount> n = tokenizer::CountChat(model, chat);
  if (n.ok()) {
    call->input_tokens = n->tokens;
    call->encoding = n->encoding;
    call->estimated = n->estimated;
    return;
  }
  // Only NotFound (unknown model) is possible here; estimate from the bytes.
  size_t bytes = 0;
  for (const tokenizer::ChatMessage& m : chat.messages)
    bytes += m.role.size() + m.content.size() + (m.name ? m.name->size() : 0);
  for (const tokenizer::ToolFunction& f : chat.tools) {
    bytes += f.name.size() + f.description.size();
    for (const tokenizer::ToolProperty& p : f.properties) {
      bytes += p.name.size() + p.type.size() + p.description.size();
      for (const std::string& e : p.enum_values) bytes += e.size();
    }
  }
  call->input_tokens = EstimateBytes(bytes) + 3 * static_cast<int64_t>(chat.messages.size()) + 3;
  call->encoding = "estimate";
  call->estimated = true;
}

int64_t CountText(std::string_view model, std::string_view text, bool* estimated) {
  absl::StatusOr<tokenizer::TokenCount> n = tokenizer::CountText(model, text);
  if (!n.ok()) {
    *estimated = true;
    return EstimateBytes(text.size());
  }
  if (n->estimated) *estimated = true;
  return n->tokens;
}

std::string ValidUtf8(std::string_view s) {
  std::string out;
  out.reserve(s.size());
  size_t i = 0;
  while (i < s.size()) {
    const unsigned char c = static_cast<unsigned char>(s[i]);
    size_t len = 0;
    unsigned char lo = 0x80, hi = 0xBF;  // allowed range of the second byte
    if (c < 0x80) {
      len = 1;
    } else if (c >= 0xC2 && c <= 0xDF) {
      len = 2;
    } else if (c >= 0xE0 && c <= 0xEF) {
      len = 3;
      if (c == 0xE0) lo = 0xA0;
      if (c == 0xED) hi = 0x9F;
    } else if (c >= 0xF0 && c <= 0xF4) {
      len = 4;
      if (c == 0xF0) lo = 0x90;
      if (c == 0xF4) hi = 0x8F;
    }
    // Valid prefix length (the "maximal subpart" rule: one U+FFFD per invalid prefix).
    size_t ok = len == 0 ? 0 : 1;
    while (ok > 0 && ok < len && i + ok < s.size()) {
      const unsigned char b = static_cast<unsigned char>(s[i + ok]);
      if (b < (ok == 1 ? lo : 0x80) || b > (ok == 1 ? hi : 0xBF)) break;
      ++ok;
    }
    if (len != 0 && ok == len) {
      out.append(s.substr(i, len));
      i += len;
    } else {
      out.append("\xEF\xBF\xBD");
      i += ok == 0 ? 1 : ok;
    }
  }
  return out;
}

}  // namespace tollgate::providers::internal
