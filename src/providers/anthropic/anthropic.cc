#include "providers/anthropic/anthropic.h"

#include <utility>

#include "absl/strings/str_cat.h"
#include "providers/usage.h"
#include "providers/wire_internal.h"
#include "tollgate/tokenizer.h"

namespace tollgate::providers::anthropic {
namespace {

namespace json = boost::json;
using internal::AbslView;
using internal::Arr;
using internal::Bad;
using internal::Find;
using internal::Obj;
using internal::Str;

// The generated or prompt text of one content block: text, thinking, tool_use name and
// input, tool_result content. Images, documents and redacted thinking carry none.
void AppendBlock(const json::object& block, std::string* out) {
  std::string_view type = Str(Find(block, "type"));
  if (type == "text") {
    out->append(Str(Find(block, "text")));
  } else if (type == "thinking") {
    out->append(Str(Find(block, "thinking")));
  } else if (type == "tool_use" || type == "server_tool_use") {
    out->append(Str(Find(block, "name")));
    if (const json::value* input = Find(block, "input")) internal::AppendJson(out, *input);
  } else if (type == "tool_result") {
    const json::value* content = Find(block, "content");
    if (content != nullptr && content->is_string())
      out->append(internal::View(content->get_string()));
    if (const json::array* parts = Arr(content)) {
      for (const json::value& p : *parts)
        if (p.is_object()) AppendBlock(p.get_object(), out);
    }
  }
}

// A "system" or message "content": a string or an array of content blocks (objects).
absl::Status AppendContent(const json::value& content, std::string_view field, std::string* out) {
  if (content.is_string()) {
    out->append(internal::View(content.get_string()));
    return absl::OkStatus();
  }
  const json::array* blocks = content.if_array();
  if (blocks == nullptr) return Bad(field, "must be a string or an array");
  for (size_t i = 0; i < blocks->size(); ++i) {
    const json::object* block = (*blocks)[i].if_object();
    if (block == nullptr)
      return Bad(absl::StrCat(AbslView(field), "[", i, "]"), "must be an object");
    AppendBlock(*block, out);
  }
  return absl::OkStatus();
}

std::string_view ErrorType(unsigned status) {
  switch (status) {
    case 400:
      return "invalid_request_error";
    case 401:
      return "authentication_error";
    case 402:
      return "billing_error";
    case 403:
      return "permission_error";
    case 404:
      return "not_found_error";
    case 413:
      return "request_too_large";
    case 429:
      return "rate_limit_error";
    case 504:
      return "timeout_error";
    case 503:
    case 529:
      return "overloaded_error";
    default:
      return status >= 500 ? "api_error" : "invalid_request_error";
  }
}

}  // namespace

absl::StatusOr<ParsedCall> ParseMessages(const json::object& body) {
  ParsedCall call;
  TG_WIRE_ASSIGN_OR_RETURN(call.model, internal::RequiredModel(body));
  TG_WIRE_ASSIGN_OR_RETURN(call.stream, internal::OptionalBool(Find(body, "stream"), "stream"));
  TG_WIRE_ASSIGN_OR_RETURN(call.max_output_tokens,
                           internal::OptionalCount(Find(body, "max_tokens"), "max_tokens"));
  if (!call.max_output_tokens) return Bad("max_tokens", "required");
  TG_WIRE_ASSIGN_OR_RETURN(call.has_temperature,
                           internal::OptionalNumber(Find(body, "temperature"), "temperature"));

  tokenizer::ChatRequest chat;
  if (const json::value* system = Find(body, "system")) {
    tokenizer::ChatMessage msg{"system", {}, {}};
    TG_WIRE_RETURN_IF_ERROR(AppendContent(*system, "system", &msg.content));
    chat.messages.push_back(std::move(msg));
  }
  const json::array* messages = Arr(Find(body, "messages"));
  if (messages == nullptr) return Bad("messages", "must be an array");
  for (size_t i = 0; i < messages->size(); ++i) {
    std::string field = absl::StrCat("messages[", i, "]");
    const json::object* m = (*messages)[i].if_object();
    if (m == nullptr) return Bad(field, "must be an object");
    const json::value* role = Find(*m, "role");
    if (role == nullptr || !role->is_string()) return Bad(field + ".role", "must be a string");
    tokenizer::ChatMessage msg{std::string(internal::View(role->get_string())), {}, {}};
    const json::value* content = Find(*m, "content");
    if (content == nullptr) return Bad(field + ".content", "required");
    TG_WIRE_RETURN_IF_ERROR(AppendContent(*content, field + ".content", &msg.content));
    chat.messages.push_back(std::move(msg));
  }
  if (const json::value* tools = Find(body, "tools")) {
    const json::array* list = tools->if_array();
    if (list == nullptr) return Bad("tools", "must be an array");
    for (size_t i = 0; i < list->size(); ++i) {
      const json::object* t = (*list)[i].if_object();
      if (t == nullptr) return Bad(absl::StrCat("tools[", i, "]"), "must be an object");
      chat.tools.push_back(internal::ToolFromSchema(
          Str(Find(*t, "name")), Str(Find(*t, "description")), Find(*t, "input_schema")));
    }
  }
  internal::CountChatInto(call.model, chat, &call);
  return call;
}

void RewriteMessages(json::object& body, const Rewrite& rewrite) {
  internal::RewriteModelAndTemperature(body, rewrite);
  if (rewrite.max_output_tokens) body["max_tokens"] = *rewrite.max_output_tokens;
}

std::string OutputText(const json::value& body) {
  std::string out;
  const json::object* o = body.if_object();
  const json::array* content = o ? Arr(Find(*o, "content")) : nullptr;
  if (content == nullptr) return out;
  for (const json::value& block : *content)
    if (block.is_object()) AppendBlock(block.get_object(), &out);
  return out;
}

std::string ErrorBody(unsigned http_status, std::string_view message) {
  return json::serialize(json::object{
      {"type", "error"},
      {"error",
       json::object{{"type", ErrorType(http_status)}, {"message", internal::ValidUtf8(message)}}}});
}

void OnEvent(const json::object& event, internal::MeterState* state) {
  std::string_view type = Str(Find(event, "type"));
  if (type == "content_block_delta") {
    const json::object* delta = Obj(Find(event, "delta"));
    if (delta == nullptr) return;
    state->AppendText(Str(Find(*delta, "text")));          // text_delta
    state->AppendText(Str(Find(*delta, "thinking")));      // thinking_delta
    state->AppendText(Str(Find(*delta, "partial_json")));  // input_json_delta
    return;
  }
  if (type == "content_block_start") {
    // Text and tool names can start here; a tool's input comes as deltas.
    if (const json::object* block = Obj(Find(event, "content_block"))) {
      state->AppendText(Str(Find(*block, "text")));
      state->AppendText(Str(Find(*block, "name")));
    }
    return;
  }
  // Usage: message_start has the input side (and output_tokens 1 or so); each
  // message_delta the cumulative output (newer API versions repeat the input side).
  const json::object* usage = nullptr;
  if (type == "message_start") {
    const json::object* message = Obj(Find(event, "message"));
    usage = message ? Obj(Find(*message, "usage")) : nullptr;
  } else if (type == "message_delta") {
    usage = Obj(Find(event, "usage"));
  }
  if (usage == nullptr) return;
  json::value merged =
      state->anthropic_usage.is_object() ? state->anthropic_usage : json::value(json::object());
  for (const auto& [key, value] : *usage)
    if (!value.is_null()) merged.get_object()[key] = value;
  absl::StatusOr<Usage> u = NormalizeUsage(merged, "anthropic");
  if (!u.ok()) return;  // ignored for metering; the answer is counted instead
  state->input_reported = merged.get_object().contains("input_tokens");
  state->anthropic_usage = std::move(merged);
  state->reported = *u;
  if (type == "message_delta") state->complete = state->input_reported;
}

}  // namespace tollgate::providers::anthropic
