// Model -> encoding table, chat-message counting and estimates for non-OpenAI models.
#include <boost/json.hpp>
#include <cmath>

#include "absl/strings/str_cat.h"
#include "tollgate/tokenizer.h"

namespace tollgate::tokenizer {
namespace {

bool StartsWith(std::string_view s, std::string_view prefix) {
  return s.substr(0, prefix.size()) == prefix;
}

// Prefix table after tiktoken's MODEL_TO_ENCODING / MODEL_PREFIX_TO_ENCODING; the first
// matching prefix wins, so longer prefixes come before their own prefixes.
struct PrefixRule {
  std::string_view prefix;
  EncodingId encoding;
};
constexpr PrefixRule kOpenAIRules[] = {
    {"gpt-4o", EncodingId::kO200kBase},
    {"gpt-4.1", EncodingId::kO200kBase},
    {"gpt-4.5", EncodingId::kO200kBase},
    {"chatgpt-4o", EncodingId::kO200kBase},
    {"gpt-5", EncodingId::kO200kBase},
    {"gpt-oss", EncodingId::kO200kBase},
    {"codex-", EncodingId::kO200kBase},
    {"o1", EncodingId::kO200kBase},
    {"o3", EncodingId::kO200kBase},
    {"o4", EncodingId::kO200kBase},
    {"gpt-4", EncodingId::kCl100kBase},
    {"gpt-3.5", EncodingId::kCl100kBase},
    {"gpt-35", EncodingId::kCl100kBase},
    {"text-embedding-3", EncodingId::kCl100kBase},
    {"text-embedding-ada-002", EncodingId::kCl100kBase},
    {"davinci-002", EncodingId::kCl100kBase},
    {"babbage-002", EncodingId::kCl100kBase},
    // Newer OpenAI families not listed above use the newest encoding.
    {"gpt-", EncodingId::kO200kBase},
};

std::string_view Normalise(std::string_view model) {
  for (std::string_view p : {"openai/", "openai:", "anthropic/", "anthropic:", "google/",
                             "google:", "gemini/", "models/"}) {
    if (StartsWith(model, p)) {
      model.remove_prefix(p.size());
      break;
    }
  }
  if (StartsWith(model, "ft:")) {
    model.remove_prefix(3);
    model = model.substr(0, model.find(':'));
  }
  return model;
}

// Code points of valid UTF-8; each invalid byte counts as one.
int64_t CodePoints(std::string_view s) {
  int64_t n = 0;
  for (unsigned char c : s) n += (c & 0xC0) != 0x80;
  return n;
}

// Characters per token that each vendor documents for its models (see docs/tokenizer.md).
double CharsPerToken(Provider p) { return p == Provider::kAnthropic ? 3.5 : 4.0; }
std::string_view EstimateName(Provider p) {
  return p == Provider::kAnthropic ? "anthropic-estimate" : "gemini-estimate";
}
int64_t Estimate(Provider p, std::string_view text) {
  return static_cast<int64_t>(std::ceil(static_cast<double>(CodePoints(text)) / CharsPerToken(p)));
}

int64_t Tokens(const Encoding& enc, std::string_view text) {
  return static_cast<int64_t>(enc.Count(text));
}

std::string StripFinalDot(const std::string& s) {
  if (!s.empty() && s.back() == '.') return s.substr(0, s.size() - 1);
  return s;
}

}  // namespace

std::string_view ToString(Provider p) {
  switch (p) {
    case Provider::kOpenAI:
      return "openai";
    case Provider::kAnthropic:
      return "anthropic";
    case Provider::kGemini:
      return "gemini";
  }
  return "";
}

absl::StatusOr<ModelInfo> LookupModel(std::string_view model) {
  std::string_view m = Normalise(model);
  if (StartsWith(m, "claude")) return ModelInfo{Provider::kAnthropic, std::nullopt};
  if (StartsWith(m, "gemini")) return ModelInfo{Provider::kGemini, std::nullopt};
  for (const auto& rule : kOpenAIRules) {
    if (StartsWith(m, rule.prefix)) return ModelInfo{Provider::kOpenAI, rule.encoding};
  }
  return absl::NotFoundError(absl::StrCat("unknown model: ", std::string(model)));
}

absl::StatusOr<TokenCount> CountText(std::string_view model, std::string_view text) {
  auto info = LookupModel(model);
  if (!info.ok()) return info.status();
  if (info->estimated())
    return TokenCount{Estimate(info->provider, text), EstimateName(info->provider), true};
  const Encoding& enc = Encoding::Get(*info->encoding);
  return TokenCount{Tokens(enc, text), enc.name(), false};
}

absl::StatusOr<TokenCount> CountChat(std::string_view model, const ChatRequest& request) {
  auto info = LookupModel(model);
  if (!info.ok()) return info.status();
  if (info->estimated()) {
    // Text of every field, plus the same 3-token message framing as OpenAI's.
    int64_t n = 3;
    for (const auto& m : request.messages) {
      n += 3 + Estimate(info->provider, m.role) + Estimate(info->provider, m.content);
      if (m.name) n += 1 + Estimate(info->provider, *m.name);
    }
    for (const auto& f : request.tools) {
      std::string text = absl::StrCat(f.name, ":", f.description);
      for (const auto& p : f.properties) {
        absl::StrAppend(&text, "\n", p.name, ":", p.type, ":", p.description);
        for (const auto& e : p.enum_values) absl::StrAppend(&text, ",", e);
      }
      n += 10 + Estimate(info->provider, text);
    }
    return TokenCount{n, EstimateName(info->provider), true};
  }
  const Encoding& enc = Encoding::Get(*info->encoding);
  std::string_view m = Normalise(model);
  const bool legacy = m == "gpt-3.5-turbo-0301";
  const int64_t per_message = legacy ? 4 : 3;
  const int64_t per_name = legacy ? -1 : 1;
  int64_t n = 0;
  for (const auto& msg : request.messages) {
    n += per_message + Tokens(enc, msg.role) + Tokens(enc, msg.content);
    if (msg.name) n += per_name + Tokens(enc, *msg.name);
  }
  n += 3;  // every reply is primed with <|start|>assistant<|message|>
  if (!request.tools.empty()) {
    // Constants of the cookbook's num_tokens_for_tools: 7 per function for o200k models
    // (gpt-4o), 10 for cl100k ones (gpt-4, gpt-3.5-turbo).
    const int64_t func_init = *info->encoding == EncodingId::kO200kBase ? 7 : 10;
    const int64_t prop_init = 3, prop_key = 3, enum_init = -3, enum_item = 3, func_end = 12;
    for (const auto& f : request.tools) {
      n += func_init;
      n += Tokens(enc, absl::StrCat(f.name, ":", StripFinalDot(f.description)));
      if (!f.properties.empty()) {
        n += prop_init;
        for (const auto& p : f.properties) {
          n += prop_key;
          if (!p.enum_values.empty()) {
            n += enum_init;
            for (const auto& e : p.enum_values) n += enum_item + Tokens(enc, e);
          }
          n += Tokens(enc, absl::StrCat(p.name, ":", p.type, ":", StripFinalDot(p.description)));
        }
      }
    }
    n += func_end;
  }
  return TokenCount{n, enc.name(), false};
}

namespace {

namespace json = boost::json;

std::string StringOr(const json::object& o, std::string_view key) {
  const json::value* v = o.if_contains(json::string_view(key.data(), key.size()));
  if (v && v->is_string()) return std::string(v->get_string());
  return {};
}

absl::Status ParseContent(const json::value& v, const std::string& field, std::string* out) {
  if (v.is_null()) return absl::OkStatus();
  if (v.is_string()) {
    *out = std::string(v.get_string());
    return absl::OkStatus();
  }
  if (!v.is_array())
    return absl::InvalidArgumentError(absl::StrCat(field, ": must be a string or an array"));
  for (const auto& part : v.get_array()) {
    if (!part.is_object())
      return absl::InvalidArgumentError(absl::StrCat(field, ": parts must be objects"));
    const json::value* t = part.get_object().if_contains("text");
    if (t && t->is_string()) out->append(t->get_string().data(), t->get_string().size());
  }
  return absl::OkStatus();
}

absl::StatusOr<ToolFunction> ParseFunction(const json::value& v, const std::string& field) {
  if (!v.is_object()) return absl::InvalidArgumentError(absl::StrCat(field, ": must be an object"));
  const json::object& f = v.get_object();
  ToolFunction fn;
  fn.name = StringOr(f, "name");
  if (fn.name.empty()) return absl::InvalidArgumentError(absl::StrCat(field, ".name: required"));
  fn.description = StringOr(f, "description");
  const json::value* params = f.if_contains("parameters");
  if (params && params->is_object()) {
    const json::value* props = params->get_object().if_contains("properties");
    if (props && props->is_object()) {
      for (const auto& [key, pv] : props->get_object()) {
        ToolProperty p;
        p.name = std::string(key);
        if (pv.is_object()) {
          p.type = StringOr(pv.get_object(), "type");
          p.description = StringOr(pv.get_object(), "description");
          const json::value* en = pv.get_object().if_contains("enum");
          if (en && en->is_array()) {
            for (const auto& e : en->get_array()) {
              if (e.is_string())
                p.enum_values.emplace_back(e.get_string());
              else
                p.enum_values.push_back(json::serialize(e));
            }
          }
        }
        fn.properties.push_back(std::move(p));
      }
    }
  }
  return fn;
}

}  // namespace

absl::StatusOr<ChatRequest> ParseChatRequest(std::string_view text) {
  boost::system::error_code ec;
  json::value root = json::parse(json::string_view(text.data(), text.size()), ec);
  if (ec) return absl::InvalidArgumentError(absl::StrCat("body: invalid JSON: ", ec.message()));
  if (!root.is_object()) return absl::InvalidArgumentError("body: must be an object");
  return ParseChatRequest(root.get_object());
}

absl::StatusOr<ChatRequest> ParseChatRequest(const json::object& o) {
  ChatRequest req;
  const json::value* msgs = o.if_contains("messages");
  if (!msgs || !msgs->is_array()) return absl::InvalidArgumentError("messages: must be an array");
  size_t i = 0;
  for (const auto& mv : msgs->get_array()) {
    std::string field = absl::StrCat("messages[", i++, "]");
    if (!mv.is_object())
      return absl::InvalidArgumentError(absl::StrCat(field, ": must be an object"));
    const json::object& m = mv.get_object();
    ChatMessage msg;
    const json::value* role = m.if_contains("role");
    if (!role || !role->is_string())
      return absl::InvalidArgumentError(absl::StrCat(field, ".role: must be a string"));
    msg.role = std::string(role->get_string());
    if (const json::value* c = m.if_contains("content")) {
      absl::Status st = ParseContent(*c, absl::StrCat(field, ".content"), &msg.content);
      if (!st.ok()) return st;
    }
    if (const json::value* name = m.if_contains("name")) {
      if (!name->is_string())
        return absl::InvalidArgumentError(absl::StrCat(field, ".name: must be a string"));
      msg.name = std::string(name->get_string());
    }
    // Assistant tool calls: their function names and argument text are prompt tokens too.
    if (const json::value* calls = m.if_contains("tool_calls"); calls && calls->is_array()) {
      for (const auto& call : calls->get_array()) {
        if (!call.is_object()) continue;
        const json::value* fn = call.get_object().if_contains("function");
        if (!fn || !fn->is_object()) continue;
        absl::StrAppend(&msg.content, StringOr(fn->get_object(), "name"),
                        StringOr(fn->get_object(), "arguments"));
      }
    }
    req.messages.push_back(std::move(msg));
  }
  if (const json::value* tools = o.if_contains("tools"); tools && !tools->is_null()) {
    if (!tools->is_array()) return absl::InvalidArgumentError("tools: must be an array");
    size_t j = 0;
    for (const auto& t : tools->get_array()) {
      std::string field = absl::StrCat("tools[", j++, "]");
      if (!t.is_object())
        return absl::InvalidArgumentError(absl::StrCat(field, ": must be an object"));
      if (std::string type = StringOr(t.get_object(), "type");
          !type.empty() && type != "function")
        continue;  // a custom or built-in tool: no function to count
      const json::value* fn = t.get_object().if_contains("function");
      if (!fn) return absl::InvalidArgumentError(absl::StrCat(field, ".function: required"));
      auto parsed = ParseFunction(*fn, absl::StrCat(field, ".function"));
      if (!parsed.ok()) return parsed.status();
      req.tools.push_back(std::move(*parsed));
    }
  }
  if (const json::value* fns = o.if_contains("functions"); fns && !fns->is_null()) {
    if (!fns->is_array()) return absl::InvalidArgumentError("functions: must be an array");
    size_t j = 0;
    for (const auto& f : fns->get_array()) {
      auto parsed = ParseFunction(f, absl::StrCat("functions[", j++, "]"));
      if (!parsed.ok()) return parsed.status();
      req.tools.push_back(std::move(*parsed));
    }
  }
  return req;
}

}  // namespace tollgate::tokenizer
