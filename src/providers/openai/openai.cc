#include "providers/openai/openai.h"

#include <utility>

#include "absl/strings/str_cat.h"
#include "providers/usage.h"
#include "providers/wire_internal.h"
#include "tollgate/tokenizer.h"

namespace tollgate::providers::openai {
namespace {

namespace json = boost::json;
using internal::Arr;
using internal::Bad;
using internal::Find;
using internal::Obj;
using internal::Str;

// The fields every generating request shares.
absl::Status ParseCommon(const json::object& body, std::string_view max_key, ParsedCall* call) {
  TG_WIRE_ASSIGN_OR_RETURN(call->model, internal::RequiredModel(body));
  TG_WIRE_ASSIGN_OR_RETURN(call->stream, internal::OptionalBool(Find(body, "stream"), "stream"));
  TG_WIRE_ASSIGN_OR_RETURN(call->max_output_tokens,
                           internal::OptionalCount(Find(body, max_key), max_key));
  TG_WIRE_ASSIGN_OR_RETURN(call->has_temperature,
                           internal::OptionalNumber(Find(body, "temperature"), "temperature"));
  return absl::OkStatus();
}

// Text of a content value: a string, or an array of parts whose "text" (or "refusal")
// strings are concatenated. Parts must be objects.
absl::Status AppendContent(const json::value& content, std::string_view field, std::string* out) {
  if (content.is_string()) {
    out->append(internal::View(content.get_string()));
    return absl::OkStatus();
  }
  const json::array* parts = content.if_array();
  if (parts == nullptr) return Bad(field, "must be a string or an array");
  for (size_t i = 0; i < parts->size(); ++i) {
    const json::object* part = (*parts)[i].if_object();
    if (part == nullptr)
      return Bad(absl::StrCat(internal::AbslView(field), "[", i, "]"), "must be an object");
    out->append(Str(Find(*part, "text")));
    out->append(Str(Find(*part, "refusal")));
  }
  return absl::OkStatus();
}

// Appends a function call's name and arguments.
void AppendCall(const json::object* fn, std::string* out) {
  if (fn == nullptr) return;
  out->append(Str(Find(*fn, "name")));
  if (const json::value* args = Find(*fn, "arguments")) internal::AppendJson(out, *args);
}

// One Responses input item as a chat message; false for items that hold no prompt text
// (reasoning, item references, tool-call results of built-in tools).
absl::StatusOr<bool> ResponsesItem(const json::object& item, const std::string& field,
                                   tokenizer::ChatMessage* msg) {
  std::string_view type = Str(Find(item, "type"));
  if (type.empty() || type == "message") {
    const json::value* role = Find(item, "role");
    if (role == nullptr || !role->is_string()) return Bad(field + ".role", "must be a string");
    msg->role = std::string(internal::View(role->get_string()));
    if (const json::value* content = Find(item, "content"))
      TG_WIRE_RETURN_IF_ERROR(AppendContent(*content, field + ".content", &msg->content));
    return true;
  }
  if (type == "function_call" || type == "custom_tool_call") {
    msg->role = "assistant";
    msg->content = std::string(Str(Find(item, "name")));
    if (const json::value* args = Find(item, "arguments"))
      internal::AppendJson(&msg->content, *args);
    msg->content.append(Str(Find(item, "input")));
    return true;
  }
  if (type == "function_call_output" || type == "custom_tool_call_output") {
    msg->role = "tool";
    if (const json::value* output = Find(item, "output"))
      TG_WIRE_RETURN_IF_ERROR(AppendContent(*output, field + ".output", &msg->content));
    return true;
  }
  return false;
}

bool StreamRequested(const json::object& body) {
  const json::value* stream = Find(body, "stream");
  return stream != nullptr && stream->is_bool() && stream->get_bool();
}

std::string_view ErrorType(unsigned status, std::string_view code) {
  if (code == "usage_limit_exceeded" || code == "quota_exceeded") return "insufficient_quota";
  switch (status) {
    case 401:
      return "authentication_error";
    case 403:
      return "permission_error";
    case 404:
      return "not_found_error";
    case 409:
      return "conflict_error";
    case 429:
      return "rate_limit_error";
    default:
      return status >= 500 ? "server_error" : "invalid_request_error";
  }
}

void SetUsage(const json::value& usage, internal::MeterState* state) {
  absl::StatusOr<Usage> u = NormalizeUsage(usage, "openai");
  if (!u.ok()) return;  // malformed usage: the answer is counted instead
  state->reported = *u;
  state->input_reported = true;
  state->complete = true;
}

}  // namespace

absl::StatusOr<ParsedCall> ParseChat(const json::object& body) {
  ParsedCall call;
  TG_WIRE_RETURN_IF_ERROR(ParseCommon(body, "max_completion_tokens", &call));
  if (!call.max_output_tokens) {
    TG_WIRE_ASSIGN_OR_RETURN(call.max_output_tokens,
                             internal::OptionalCount(Find(body, "max_tokens"), "max_tokens"));
  } else {
    // Validated even when max_completion_tokens wins.
    TG_WIRE_RETURN_IF_ERROR(
        internal::OptionalCount(Find(body, "max_tokens"), "max_tokens").status());
  }
  TG_WIRE_ASSIGN_OR_RETURN(call.choices, internal::Choices(Find(body, "n"), "n", 128));
  TG_WIRE_ASSIGN_OR_RETURN(
      const json::object* options,
      internal::OptionalObject(Find(body, "stream_options"), "stream_options"));
  if (options != nullptr) {
    TG_WIRE_ASSIGN_OR_RETURN(bool include, internal::OptionalBool(Find(*options, "include_usage"),
                                                                  "stream_options.include_usage"));
    call.client_wants_usage = call.stream && include;
  }

  // Counted by the tokenizer's own parser so the count is exactly CountChat's.
  const json::value* messages = Find(body, "messages");
  if (messages == nullptr || !messages->is_array()) return Bad("messages", "must be an array");
  TG_WIRE_ASSIGN_OR_RETURN(tokenizer::ChatRequest chat, tokenizer::ParseChatRequest(body));
  internal::CountChatInto(call.model, chat, &call);
  return call;
}

absl::StatusOr<ParsedCall> ParseResponses(const json::object& body) {
  ParsedCall call;
  TG_WIRE_RETURN_IF_ERROR(ParseCommon(body, "max_output_tokens", &call));
  tokenizer::ChatRequest chat;
  if (const json::value* instructions = Find(body, "instructions")) {
    if (!instructions->is_string()) return Bad("instructions", "must be a string");
    chat.messages.push_back(
        {"system", std::string(internal::View(instructions->get_string())), {}});
  }
  if (const json::value* input = Find(body, "input")) {
    if (input->is_string()) {
      chat.messages.push_back({"user", std::string(internal::View(input->get_string())), {}});
    } else if (const json::array* items = input->if_array()) {
      for (size_t i = 0; i < items->size(); ++i) {
        std::string field = absl::StrCat("input[", i, "]");
        const json::object* item = (*items)[i].if_object();
        if (item == nullptr) return Bad(field, "must be an object");
        tokenizer::ChatMessage msg;
        TG_WIRE_ASSIGN_OR_RETURN(bool counted, ResponsesItem(*item, field, &msg));
        if (counted) chat.messages.push_back(std::move(msg));
      }
    } else {
      return Bad("input", "must be a string or an array");
    }
  }
  if (const json::value* tools = Find(body, "tools")) {
    const json::array* list = tools->if_array();
    if (list == nullptr) return Bad("tools", "must be an array");
    for (size_t i = 0; i < list->size(); ++i) {
      const json::object* t = (*list)[i].if_object();
      if (t == nullptr) return Bad(absl::StrCat("tools[", i, "]"), "must be an object");
      if (Str(Find(*t, "type")) != "function") continue;  // built-in tools: no schema text
      chat.tools.push_back(internal::ToolFromSchema(
          Str(Find(*t, "name")), Str(Find(*t, "description")), Find(*t, "parameters")));
    }
  }
  internal::CountChatInto(call.model, chat, &call);
  return call;
}

absl::StatusOr<ParsedCall> ParseEmbeddings(const json::object& body) {
  ParsedCall call;
  TG_WIRE_ASSIGN_OR_RETURN(call.model, internal::RequiredModel(body));
  call.max_output_tokens = 0;
  const json::value* input = Find(body, "input");
  if (input == nullptr) return Bad("input", "required");
  absl::StatusOr<tokenizer::TokenCount> probe = tokenizer::CountText(call.model, "");
  call.encoding = probe.ok() ? probe->encoding : std::string_view("estimate");
  call.estimated = !probe.ok() || probe->estimated;
  auto count_text = [&](std::string_view text) {
    call.input_tokens += internal::CountText(call.model, text, &call.estimated);
  };
  if (input->is_string()) {
    count_text(internal::View(input->get_string()));
    return call;
  }
  const json::array* list = input->if_array();
  if (list == nullptr) return Bad("input", "must be a string or an array");
  for (size_t i = 0; i < list->size(); ++i) {
    const json::value& v = (*list)[i];
    if (v.is_string()) {
      count_text(internal::View(v.get_string()));
    } else if (v.is_int64() || v.is_uint64()) {
      call.input_tokens += 1;  // one token id
    } else if (const json::array* ids = v.if_array()) {
      for (const json::value& id : *ids) {
        if (!id.is_int64() && !id.is_uint64())
          return Bad(absl::StrCat("input[", i, "]"), "must be an array of token ids");
      }
      call.input_tokens += static_cast<int64_t>(ids->size());
    } else {
      return Bad(absl::StrCat("input[", i, "]"),
                 "must be a string, a token id or an array of token ids");
    }
  }
  return call;
}

void RewriteChat(json::object& body, const Rewrite& rewrite) {
  internal::RewriteModelAndTemperature(body, rewrite);
  if (rewrite.max_output_tokens) {
    const bool legacy = Find(body, "max_tokens") != nullptr;
    if (legacy) body["max_tokens"] = *rewrite.max_output_tokens;
    if (!legacy || Find(body, "max_completion_tokens") != nullptr)
      body["max_completion_tokens"] = *rewrite.max_output_tokens;
  }
  if (rewrite.force_include_usage && StreamRequested(body))
    internal::ObjectAt(body, "stream_options")["include_usage"] = true;
}

void RewriteResponses(json::object& body, const Rewrite& rewrite) {
  internal::RewriteModelAndTemperature(body, rewrite);
  if (rewrite.max_output_tokens) body["max_output_tokens"] = *rewrite.max_output_tokens;
}

void RewriteEmbeddings(json::object& body, const Rewrite& rewrite) {
  if (!rewrite.model.empty()) body["model"] = internal::JsonView(rewrite.model);
}

std::string ChatOutputText(const json::value& body) {
  std::string out;
  const json::object* o = body.if_object();
  const json::array* choices = o ? Arr(Find(*o, "choices")) : nullptr;
  if (choices == nullptr) return out;
  for (const json::value& choice : *choices) {
    const json::object* c = choice.if_object();
    const json::object* message = c ? Obj(Find(*c, "message")) : nullptr;
    if (message == nullptr) continue;
    if (const json::value* content = Find(*message, "content"))
      (void)AppendContent(*content, "content", &out);  // a malformed answer counts what it can
    out.append(Str(Find(*message, "refusal")));
    if (const json::array* calls = Arr(Find(*message, "tool_calls"))) {
      for (const json::value& call : *calls)
        AppendCall(call.is_object() ? Obj(Find(call.get_object(), "function")) : nullptr, &out);
    }
    AppendCall(Obj(Find(*message, "function_call")), &out);
  }
  return out;
}

std::string ResponsesOutputText(const json::value& body) {
  std::string out;
  const json::object* o = body.if_object();
  const json::array* items = o ? Arr(Find(*o, "output")) : nullptr;
  if (items == nullptr) return out;
  for (const json::value& v : *items) {
    const json::object* item = v.if_object();
    if (item == nullptr) continue;
    std::string_view type = Str(Find(*item, "type"));
    if (type == "message") {
      if (const json::value* content = Find(*item, "content"))
        (void)AppendContent(*content, "content", &out);
    } else if (type == "function_call") {
      AppendCall(item, &out);
    } else if (type == "reasoning") {
      if (const json::value* summary = Find(*item, "summary"))
        (void)AppendContent(*summary, "summary", &out);
    }
  }
  return out;
}

std::string ErrorBody(unsigned http_status, std::string_view code, std::string_view message) {
  json::object error;
  error["message"] = internal::ValidUtf8(message);
  error["type"] = ErrorType(http_status, code);
  error["param"] = nullptr;
  if (code.empty()) {
    error["code"] = nullptr;
  } else {
    error["code"] = internal::ValidUtf8(code);
  }
  return json::serialize(json::object{{"error", std::move(error)}});
}

bool OnChatChunk(const json::object& chunk, bool client_wants_usage, internal::MeterState* state) {
  const json::array* choices = Arr(Find(chunk, "choices"));
  if (choices != nullptr) {
    for (const json::value& choice : *choices) {
      const json::object* c = choice.if_object();
      const json::object* delta = c ? Obj(Find(*c, "delta")) : nullptr;
      if (delta == nullptr) continue;
      state->AppendText(Str(Find(*delta, "content")));
      state->AppendText(Str(Find(*delta, "refusal")));
      if (const json::array* calls = Arr(Find(*delta, "tool_calls"))) {
        for (const json::value& call : *calls) {
          const json::object* fn =
              call.is_object() ? Obj(Find(call.get_object(), "function")) : nullptr;
          if (fn == nullptr) continue;
          state->AppendText(Str(Find(*fn, "name")));
          state->AppendText(Str(Find(*fn, "arguments")));
        }
      }
    }
  }
  const json::value* usage = Find(chunk, "usage");
  if (usage == nullptr) return true;
  SetUsage(*usage, state);
  // The chunk tollgate asked for on the client's behalf.
  return client_wants_usage || choices == nullptr || !choices->empty();
}

void OnResponsesEvent(const json::object& event, internal::MeterState* state) {
  std::string_view type = Str(Find(event, "type"));
  if (type == "response.output_text.delta" || type == "response.refusal.delta" ||
      type == "response.function_call_arguments.delta" ||
      type == "response.reasoning_summary_text.delta" || type == "response.reasoning_text.delta") {
    state->AppendText(Str(Find(event, "delta")));
  } else if (type == "response.completed" || type == "response.incomplete" ||
             type == "response.failed") {
    const json::object* response = Obj(Find(event, "response"));
    if (const json::value* usage = response ? Find(*response, "usage") : nullptr)
      SetUsage(*usage, state);
  }
}

}  // namespace tollgate::providers::openai
