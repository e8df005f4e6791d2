#include "fakeprovider/request.h"

#include <algorithm>
#include <boost/json/value.hpp>
#include <cstdint>
#include <initializer_list>

#include "absl/strings/str_cat.h"

namespace tollgate::fakeprovider {
namespace json = boost::json;
namespace {

absl::string_view AbslView(std::string_view s) { return absl::string_view(s.data(), s.size()); }
std::string_view View(json::string_view s) { return std::string_view(s.data(), s.size()); }

absl::Status Invalid(std::string_view field, std::string_view what) {
  return absl::InvalidArgumentError(
      absl::StrCat("Invalid value for '", AbslView(field), "': ", AbslView(what)));
}

// Keys whose values are not prompt text: labels, and inline media that a real tokenizer
// would not count byte by byte.
bool SkippedKey(std::string_view key) {
  return key == "type" || key == "role" || key == "cache_control" || key == "image_url" ||
         key == "source" || key == "inlineData" || key == "inline_data" || key == "fileData" ||
         key == "file_data" || key == "mimeType" || key == "mime_type";
}

// Bytes of every string in `v` outside skipped keys.
int64_t TextBytes(const json::value& v) {
  switch (v.kind()) {
    case json::kind::string:
      return static_cast<int64_t>(v.get_string().size());
    case json::kind::array: {
      int64_t n = 0;
      for (const json::value& e : v.get_array()) n += TextBytes(e);
      return n;
    }
    case json::kind::object: {
      int64_t n = 0;
      for (const json::key_value_pair& kv : v.get_object()) {
        if (!SkippedKey(View(kv.key()))) n += TextBytes(kv.value());
      }
      return n;
    }
    default:
      return 0;
  }
}

int64_t FieldBytes(const json::object& body, std::string_view key) {
  const json::value* v = body.if_contains(json::string_view(key.data(), key.size()));
  return v ? TextBytes(*v) : 0;
}

// The text of a message content: a string, or parts that are strings or objects with a
// "text" string (OpenAI text/input_text parts, Anthropic text blocks, Gemini parts).
// Parts are joined with newlines.
std::string ContentText(const json::value& content) {
  if (const json::string* s = content.if_string()) return std::string(View(*s));
  std::string out;
  if (const json::array* parts = content.if_array()) {
    for (const json::value& part : *parts) {
      const json::string* text = part.if_string();
      if (!text) {
        if (const json::object* o = part.if_object()) {
          if (const json::value* t = o->if_contains("text")) text = t->if_string();
        }
      }
      if (!text) continue;
      if (!out.empty()) out.push_back('\n');
      out.append(text->data(), text->size());
    }
  }
  return out;
}

bool IsUser(const json::object& message, bool role_optional) {
  const json::value* role = message.if_contains("role");
  if (!role || role->is_null()) return role_optional;
  const json::string* s = role->if_string();
  return s && *s == "user";
}

// The text of the last user message in `messages` (an array of message objects whose
// text lives under `content_key`).
absl::StatusOr<std::string> LastUserText(const json::object& body, std::string_view field,
                                         std::string_view content_key, bool role_optional) {
  const json::value* v = body.if_contains(json::string_view(field.data(), field.size()));
  if (!v) {
    return absl::InvalidArgumentError(
        absl::StrCat("Missing required parameter: '", AbslView(field), "'."));
  }
  const json::array* messages = v->if_array();
  if (!messages) return Invalid(field, "expected an array of objects");
  for (auto it = messages->rbegin(); it != messages->rend(); ++it) {
    const json::object* m = it->if_object();
    if (!m) return Invalid(field, "expected an array of objects");
    if (!IsUser(*m, role_optional)) continue;
    const json::value* content =
        m->if_contains(json::string_view(content_key.data(), content_key.size()));
    return content ? ContentText(*content) : std::string();
  }
  return std::string();
}

absl::StatusOr<std::string> Model(const json::object& body) {
  const json::value* v = body.if_contains("model");
  if (!v || v->is_null()) {
    return absl::InvalidArgumentError("you must provide a model parameter");
  }
  const json::string* s = v->if_string();
  if (!s || s->empty()) return Invalid("model", "expected a non-empty string");
  return std::string(View(*s));
}

absl::StatusOr<bool> Bool(const json::object& body, std::string_view key) {
  const json::value* v = body.if_contains(json::string_view(key.data(), key.size()));
  if (!v || v->is_null()) return false;
  if (!v->is_bool()) return Invalid(key, "expected a boolean");
  return v->get_bool();
}

// A non-negative integer field, nullopt when absent or null.
absl::StatusOr<std::optional<int64_t>> Count(const json::object& o, std::string_view key) {
  const json::value* v = o.if_contains(json::string_view(key.data(), key.size()));
  if (!v || v->is_null()) return std::nullopt;
  if (v->is_int64() && v->get_int64() >= 0) return v->get_int64();
  if (v->is_uint64()) return static_cast<int64_t>(std::min<uint64_t>(v->get_uint64(), INT64_MAX));
  return Invalid(key, "expected a non-negative integer");
}

absl::Status ReadMaxTokens(const json::object& o, std::initializer_list<std::string_view> keys,
                           RequestInfo& info) {
  for (std::string_view key : keys) {
    absl::StatusOr<std::optional<int64_t>> n = Count(o, key);
    if (!n.ok()) return n.status();
    if (*n) info.max_output_tokens = **n;
  }
  return absl::OkStatus();
}

absl::Status InspectChat(const json::object& body, RequestInfo& info) {
  absl::StatusOr<std::string> text = LastUserText(body, "messages", "content", false);
  if (!text.ok()) return text.status();
  info.directive_text = std::move(*text);
  info.text_bytes = FieldBytes(body, "messages");
  if (const json::value* so = body.if_contains("stream_options"); so && !so->is_null()) {
    const json::object* o = so->if_object();
    if (!o) return Invalid("stream_options", "expected an object");
    absl::StatusOr<bool> include = Bool(*o, "include_usage");
    if (!include.ok()) return include.status();
    info.include_usage = *include;
  }
  return ReadMaxTokens(body, {"max_tokens", "max_completion_tokens"}, info);
}

absl::Status InspectResponses(const json::object& body, RequestInfo& info) {
  const json::value* input = body.if_contains("input");
  if (!input) return absl::InvalidArgumentError("Missing required parameter: 'input'.");
  if (input->is_string()) {
    info.directive_text = std::string(View(input->get_string()));
  } else if (input->is_array()) {
    absl::StatusOr<std::string> text = LastUserText(body, "input", "content", false);
    if (!text.ok()) return text.status();
    info.directive_text = std::move(*text);
  } else {
    return Invalid("input", "expected a string or an array of input items");
  }
  info.text_bytes = FieldBytes(body, "input") + FieldBytes(body, "instructions");
  return ReadMaxTokens(body, {"max_output_tokens"}, info);
}

absl::Status InspectEmbeddings(const json::object& body, RequestInfo& info) {
  const json::value* input = body.if_contains("input");
  if (!input) return absl::InvalidArgumentError("Missing required parameter: 'input'.");
  const std::string_view kShape = "expected a string, an array of strings or of token arrays";
  if (const json::string* s = input->if_string()) {
    info.directive_text = std::string(View(*s));
    info.text_bytes = static_cast<int64_t>(s->size());
  } else if (const json::array* a = input->if_array()) {
    if (a->empty()) return Invalid("input", "must not be empty");
    if (a->size() > static_cast<size_t>(kMaxEmbeddingInputs)) {
      return Invalid("input", absl::StrCat("at most ", kMaxEmbeddingInputs, " inputs"));
    }
    if ((*a)[0].is_number()) {  // one token array: each token counts as 4 bytes
      info.text_bytes = 4 * static_cast<int64_t>(a->size());
    } else {
      info.inputs = static_cast<int64_t>(a->size());
      for (const json::value& e : *a) {
        if (const json::string* s = e.if_string()) {
          if (!info.directive_text.empty()) info.directive_text.push_back('\n');
          info.directive_text.append(s->data(), s->size());
          info.text_bytes += static_cast<int64_t>(s->size());
        } else if (const json::array* tokens = e.if_array()) {
          info.text_bytes += 4 * static_cast<int64_t>(tokens->size());
        } else {
          return Invalid("input", kShape);
        }
      }
    }
  } else {
    return Invalid("input", kShape);
  }
  absl::StatusOr<std::optional<int64_t>> dims = Count(body, "dimensions");
  if (!dims.ok()) return dims.status();
  if (*dims) {
    if (**dims < 1 || **dims > kMaxDimensions) {
      return Invalid("dimensions", absl::StrCat("must be in [1, ", kMaxDimensions, "]"));
    }
    info.dimensions = **dims;
  }
  if (const json::value* f = body.if_contains("encoding_format"); f && !f->is_null()) {
    const json::string* s = f->if_string();
    if (!s || (*s != "float" && *s != "base64")) {
      return Invalid("encoding_format", "expected 'float' or 'base64'");
    }
    info.base64 = *s == "base64";
  }
  return absl::OkStatus();
}

absl::Status InspectAnthropic(const json::object& body, RequestInfo& info) {
  absl::StatusOr<std::string> text = LastUserText(body, "messages", "content", false);
  if (!text.ok()) return text.status();
  info.directive_text = std::move(*text);
  info.text_bytes = FieldBytes(body, "messages") + FieldBytes(body, "system");
  return ReadMaxTokens(body, {"max_tokens"}, info);
}

absl::Status InspectGemini(const json::object& body, RequestInfo& info) {
  absl::StatusOr<std::string> text = LastUserText(body, "contents", "parts", true);
  if (!text.ok()) return text.status();
  info.directive_text = std::move(*text);
  info.text_bytes = FieldBytes(body, "contents") + FieldBytes(body, "systemInstruction") +
                    FieldBytes(body, "system_instruction");
  const json::value* config = body.if_contains("generationConfig");
  if (!config) config = body.if_contains("generation_config");
  if (config && !config->is_null()) {
    const json::object* o = config->if_object();
    if (!o) return Invalid("generationConfig", "expected an object");
    return ReadMaxTokens(*o, {"maxOutputTokens", "max_output_tokens"}, info);
  }
  return absl::OkStatus();
}

}  // namespace

Provider ProviderOf(Api api) {
  switch (api) {
    case Api::kChatCompletions:
    case Api::kResponses:
    case Api::kEmbeddings:
      return Provider::kOpenAi;
    case Api::kMessages:
    case Api::kCountTokens:
      return Provider::kAnthropic;
    case Api::kGenerateContent:
    case Api::kStreamGenerateContent:
      return Provider::kGemini;
  }
  return Provider::kOpenAi;
}

int64_t EstimateTokens(int64_t text_bytes) { return std::max<int64_t>(1, (text_bytes + 3) / 4); }

absl::StatusOr<RequestInfo> InspectRequest(Api api, const json::object& body,
                                           std::string_view path_model) {
  RequestInfo info;
  if (ProviderOf(api) == Provider::kGemini) {
    info.model = std::string(path_model);
    info.stream = api == Api::kStreamGenerateContent;
    if (absl::Status s = InspectGemini(body, info); !s.ok()) return s;
    return info;
  }
  absl::StatusOr<std::string> model = Model(body);
  if (!model.ok()) return model.status();
  info.model = std::move(*model);
  if (api != Api::kEmbeddings && api != Api::kCountTokens) {
    absl::StatusOr<bool> stream = Bool(body, "stream");
    if (!stream.ok()) return stream.status();
    info.stream = *stream;
  }
  absl::Status s;
  switch (api) {
    case Api::kChatCompletions:
      s = InspectChat(body, info);
      break;
    case Api::kResponses:
      s = InspectResponses(body, info);
      break;
    case Api::kEmbeddings:
      s = InspectEmbeddings(body, info);
      break;
    case Api::kMessages:
    case Api::kCountTokens:
      s = InspectAnthropic(body, info);
      break;
    default:
      break;
  }
  if (!s.ok()) return s;
  return info;
}

}  // namespace tollgate::fakeprovider
