#include "providers/gemini/gemini.h"

#include <tuple>
#include <utility>

#include "absl/functional/function_ref.h"
#include "absl/strings/str_cat.h"
#include "providers/usage.h"
#include "providers/wire_internal.h"
#include "tollgate/tokenizer.h"

namespace tollgate::providers::gemini {
namespace {

namespace json = boost::json;
using internal::AbslView;
using internal::Arr;
using internal::Bad;
using internal::Find;
using internal::Obj;
using internal::Str;

// Gemini allows at most 8 candidates.
constexpr int64_t kMaxCandidates = 8;

// The text of one part: text (thoughts included), a function call's name and args, a
// function response. Inline data and files carry none.
using Sink = absl::FunctionRef<void(std::string_view)>;
void AppendPart(const json::object& part, Sink out) {
  out(Str(Find(part, "text")));
  std::string_view used;
  for (auto [key, alt, payload] :
       {std::tuple{"functionCall", "function_call", "args"},
        std::tuple{"functionResponse", "function_response", "response"}}) {
    const json::object* call = Obj(Find(part, key, alt, &used));
    if (call == nullptr) continue;
    out(Str(Find(*call, "name")));
    if (const json::value* v = Find(*call, payload)) {
      std::string text;
      internal::AppendJson(&text, *v);
      out(text);
    }
  }
}

// A Content object {role?, parts: [...]} as a chat message.
absl::Status ParseContent(const json::value& v, const std::string& field,
                          tokenizer::ChatMessage* msg) {
  const json::object* content = v.if_object();
  if (content == nullptr) return Bad(field, "must be an object");
  if (const json::value* role = Find(*content, "role")) {
    if (!role->is_string()) return Bad(field + ".role", "must be a string");
    msg->role = std::string(internal::View(role->get_string()));
  }
  const json::value* parts = Find(*content, "parts");
  if (parts == nullptr) return absl::OkStatus();
  const json::array* list = parts->if_array();
  if (list == nullptr) return Bad(field + ".parts", "must be an array");
  for (size_t i = 0; i < list->size(); ++i) {
    const json::object* part = (*list)[i].if_object();
    if (part == nullptr) return Bad(absl::StrCat(field, ".parts[", i, "]"), "must be an object");
    AppendPart(*part, [msg](std::string_view s) { msg->content.append(s); });
  }
  return absl::OkStatus();
}

// The text of every candidate's parts (responses are camelCase only); *finished set when
// one has a finishReason.
void AppendCandidates(const json::object& response, Sink out, bool* finished) {
  const json::array* candidates = Arr(Find(response, "candidates"));
  if (candidates == nullptr) return;
  for (const json::value& v : *candidates) {
    const json::object* candidate = v.if_object();
    if (candidate == nullptr) continue;
    if (!Str(Find(*candidate, "finishReason")).empty()) *finished = true;
    const json::object* content = Obj(Find(*candidate, "content"));
    const json::array* parts = content ? Arr(Find(*content, "parts")) : nullptr;
    if (parts == nullptr) continue;
    for (const json::value& p : *parts)
      if (p.is_object()) AppendPart(p.get_object(), out);
  }
}

std::string_view Status(unsigned status) {
  switch (status) {
    case 400:
    case 413:
      return "INVALID_ARGUMENT";
    case 401:
      return "UNAUTHENTICATED";
    case 403:
      return "PERMISSION_DENIED";
    case 404:
      return "NOT_FOUND";
    case 409:
      return "ABORTED";
    case 429:
      return "RESOURCE_EXHAUSTED";
    case 502:
    case 503:
    case 529:
      return "UNAVAILABLE";
    case 504:
      return "DEADLINE_EXCEEDED";
    default:
      return status >= 500 ? "INTERNAL" : "INVALID_ARGUMENT";
  }
}

}  // namespace

absl::StatusOr<ParsedCall> ParseGenerate(const json::object& body, std::string_view path_model,
                                         bool stream) {
  ParsedCall call;
  TG_WIRE_ASSIGN_OR_RETURN(call.model, internal::ModelName(path_model, "model"));
  call.stream = stream;
  std::string_view config_key, key;
  const json::value* config_value =
      Find(body, "generationConfig", "generation_config", &config_key);
  TG_WIRE_ASSIGN_OR_RETURN(const json::object* config,
                           internal::OptionalObject(config_value, config_key));
  if (config != nullptr) {
    std::string prefix = absl::StrCat(AbslView(config_key), ".");
    const json::value* v = Find(*config, "maxOutputTokens", "max_output_tokens", &key);
    TG_WIRE_ASSIGN_OR_RETURN(call.max_output_tokens,
                             internal::OptionalCount(v, absl::StrCat(prefix, AbslView(key))));
    v = Find(*config, "candidateCount", "candidate_count", &key);
    TG_WIRE_ASSIGN_OR_RETURN(
        call.choices, internal::Choices(v, absl::StrCat(prefix, AbslView(key)), kMaxCandidates));
    TG_WIRE_ASSIGN_OR_RETURN(call.has_temperature,
                             internal::OptionalNumber(Find(*config, "temperature"),
                                                      absl::StrCat(prefix, "temperature")));
  }

  tokenizer::ChatRequest chat;
  if (const json::value* system = Find(body, "systemInstruction", "system_instruction", &key)) {
    tokenizer::ChatMessage msg{"system", {}, {}};
    TG_WIRE_RETURN_IF_ERROR(ParseContent(*system, std::string(key), &msg));
    msg.role = "system";
    chat.messages.push_back(std::move(msg));
  }
  const json::array* contents = Arr(Find(body, "contents"));
  if (contents == nullptr) return Bad("contents", "must be an array");
  for (size_t i = 0; i < contents->size(); ++i) {
    tokenizer::ChatMessage msg{"user", {}, {}};
    TG_WIRE_RETURN_IF_ERROR(ParseContent((*contents)[i], absl::StrCat("contents[", i, "]"), &msg));
    chat.messages.push_back(std::move(msg));
  }
  if (const json::value* tools = Find(body, "tools")) {
    const json::array* list = tools->if_array();
    if (list == nullptr) return Bad("tools", "must be an array");
    for (size_t i = 0; i < list->size(); ++i) {
      const json::object* tool = (*list)[i].if_object();
      if (tool == nullptr) return Bad(absl::StrCat("tools[", i, "]"), "must be an object");
      // Built-in tools (googleSearch, codeExecution) have no declarations to count.
      const json::array* decls =
          Arr(Find(*tool, "functionDeclarations", "function_declarations", &key));
      if (decls == nullptr) continue;
      for (const json::value& d : *decls) {
        const json::object* fn = d.if_object();
        if (fn == nullptr) continue;
        const json::value* schema = Find(*fn, "parameters");
        if (schema == nullptr)
          schema = Find(*fn, "parametersJsonSchema", "parameters_json_schema", &key);
        chat.tools.push_back(internal::ToolFromSchema(Str(Find(*fn, "name")),
                                                      Str(Find(*fn, "description")), schema));
      }
    }
  }
  internal::CountChatInto(call.model, chat, &call);
  return call;
}

void RewriteGenerate(json::object& body, const Rewrite& rewrite) {
  std::string_view config_key, key;
  const json::value* existing = Find(body, "generationConfig", "generation_config", &config_key);
  const json::object* config = Obj(existing);
  const bool fill_temperature =
      rewrite.temperature && (config == nullptr || Find(*config, "temperature") == nullptr);
  if (!rewrite.max_output_tokens && !fill_temperature) return;
  json::object& out = internal::ObjectAt(body, config_key);
  if (rewrite.max_output_tokens) {
    Find(out, "maxOutputTokens", "max_output_tokens", &key);
    out[internal::JsonView(key)] = *rewrite.max_output_tokens;
  }
  if (fill_temperature) out["temperature"] = *rewrite.temperature;
}

std::string OutputText(const json::value& body) {
  std::string out;
  bool finished = false;
  if (const json::object* o = body.if_object())
    AppendCandidates(
        *o, [&out](std::string_view s) { out.append(s); }, &finished);
  return out;
}

std::string ErrorBody(unsigned http_status, std::string_view code, std::string_view message) {
  json::object error{{"code", http_status},
                     {"message", internal::ValidUtf8(message)},
                     {"status", Status(http_status)}};
  if (!code.empty()) {
    error["details"] = json::array{json::object{
        {"@type", "type.googleapis.com/google.rpc.ErrorInfo"},
        {"reason", internal::ValidUtf8(code)},
        {"domain", "tollgate"},
    }};
  }
  return json::serialize(json::object{{"error", std::move(error)}});
}

void OnChunk(const json::object& chunk, internal::MeterState* state) {
  AppendCandidates(
      chunk, [state](std::string_view s) { state->AppendText(s); }, &state->finished);
  if (const json::value* usage = Find(chunk, "usageMetadata")) {
    // Each chunk's usageMetadata is cumulative: the latest wins.
    absl::StatusOr<Usage> u = NormalizeUsage(*usage, "gemini");
    if (u.ok()) {
      state->reported = *u;
      state->input_reported =
          usage->is_object() && usage->get_object().contains("promptTokenCount");
    }
  }
  state->complete = state->finished && state->reported.has_value();
}

}  // namespace tollgate::providers::gemini
