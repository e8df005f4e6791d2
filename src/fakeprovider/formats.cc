#include "fakeprovider/formats.h"

#include <bit>
#include <boost/json/array.hpp>
#include <boost/json/object.hpp>
#include <boost/json/serialize.hpp>
#include <boost/json/value.hpp>
#include <cstring>

#include "absl/strings/escaping.h"
#include "absl/strings/str_cat.h"
#include "providers/wire.h"
#include "server/common/json_util.h"

namespace tollgate::fakeprovider {
namespace json = boost::json;
namespace {

json::string_view JsonView(std::string_view s) { return json::string_view(s.data(), s.size()); }
absl::string_view AbslView(std::string_view s) { return absl::string_view(s.data(), s.size()); }

std::string Dump(const json::value& v) { return json::serialize(v); }

// "event: NAME\ndata: {...}\n\n" (OpenAI Responses, Anthropic).
std::string NamedEvent(std::string_view name, const json::value& v) {
  return absl::StrCat("event: ", std::string(name), "\ndata: ", Dump(v), "\n\n");
}

// --- Errors -----------------------------------------------------------------------------

// --- OpenAI -----------------------------------------------------------------------------

// Chat Completions is the benchmarks' path: its bodies are written directly instead of
// through json::value, which costs several times more per request.

// Appends `s` as a JSON string literal.
void AppendString(std::string& out, std::string_view s) {
  static constexpr char kHex[] = "0123456789abcdef";
  out.push_back('"');
  size_t run = 0;  // start of the bytes not yet copied
  for (size_t i = 0; i < s.size(); ++i) {
    unsigned char c = static_cast<unsigned char>(s[i]);
    if (c >= 0x20 && c != '"' && c != '\\') continue;
    out.append(s.data() + run, i - run);
    run = i + 1;
    switch (c) {
      case '"':
        out += "\\\"";
        break;
      case '\\':
        out += "\\\\";
        break;
      case '\n':
        out += "\\n";
        break;
      case '\r':
        out += "\\r";
        break;
      case '\t':
        out += "\\t";
        break;
      default:
        out += "\\u00";
        out.push_back(kHex[c >> 4]);
        out.push_back(kHex[c & 15]);
    }
  }
  out.append(s.data() + run, s.size() - run);
  out.push_back('"');
}

void AppendChatUsage(std::string& out, const Usage& u) {
  absl::StrAppend(
      &out, "{\"prompt_tokens\":", u.input, ",\"completion_tokens\":", u.output,
      ",\"total_tokens\":", u.total(), ",\"prompt_tokens_details\":{\"cached_tokens\":", u.cached,
      ",\"audio_tokens\":0},\"completion_tokens_details\":{\"reasoning_tokens\":", u.reasoning,
      ",\"audio_tokens\":0,\"accepted_prediction_tokens\":0,"
      "\"rejected_prediction_tokens\":0}}");
}

std::string_view ChatFinishReason(const Reply& r) { return r.truncated ? "length" : "stop"; }

// `{"id":...,"object":OBJECT,"created":...,"model":...,`: the start of every chat body.
std::string ChatHead(const Reply& r, std::string_view object) {
  std::string out = absl::StrCat("{\"id\":\"chatcmpl-", r.id, "\",\"object\":\"",
                                 std::string(object), "\",\"created\":", r.created, ",\"model\":");
  AppendString(out, r.model);
  out += ",\"service_tier\":\"default\",\"system_fingerprint\":\"fp_fake\",";
  return out;
}

// One chat.completion.chunk SSE event. `delta` is a JSON object text; `finish_reason`
// is a JSON value text.
std::string ChatChunkEvent(std::string_view head, std::string_view delta,
                           std::string_view finish_reason, bool usage_null) {
  return absl::StrCat("data: ", AbslView(head),
                      "\"choices\":[{\"index\":0,\"delta\":", AbslView(delta),
                      ",\"logprobs\":null,\"finish_reason\":", AbslView(finish_reason), "}]",
                      usage_null ? ",\"usage\":null" : "", "}\n\n");
}

json::object ResponsesUsage(const Usage& u) {
  return json::object{{"input_tokens", u.input},
                      {"input_tokens_details", json::object{{"cached_tokens", u.cached}}},
                      {"output_tokens", u.output},
                      {"output_tokens_details", json::object{{"reasoning_tokens", u.reasoning}}},
                      {"total_tokens", u.total()}};
}

json::object OutputText(std::string_view text) {
  return json::object{{"type", "output_text"},
                      {"annotations", json::array{}},
                      {"logprobs", json::array{}},
                      {"text", JsonView(text)}};
}

json::object MessageItem(const Reply& r, bool done) {
  json::array content;
  if (done) content.push_back(OutputText(r.text));
  return json::object{{"id", absl::StrCat("msg_", r.id)},
                      {"type", "message"},
                      {"status", done ? "completed" : "in_progress"},
                      {"content", std::move(content)},
                      {"role", "assistant"}};
}

// The response object; `done` adds the output, the usage and the final status.
json::object ResponseObject(const Reply& r, bool done) {
  std::string_view status = !done ? "in_progress" : r.truncated ? "incomplete" : "completed";
  json::value incomplete = nullptr;
  if (done && r.truncated) incomplete = json::object{{"reason", "max_output_tokens"}};
  json::array output;
  if (done) output.push_back(MessageItem(r, true));
  json::value usage = nullptr;
  if (done && r.report_usage) usage = ResponsesUsage(r.usage);
  return json::object{
      {"id", absl::StrCat("resp_", r.id)},
      {"object", "response"},
      {"created_at", r.created},
      {"status", JsonView(status)},
      {"background", false},
      {"error", nullptr},
      {"incomplete_details", std::move(incomplete)},
      {"instructions", nullptr},
      {"max_output_tokens", nullptr},
      {"model", r.model},
      {"output", std::move(output)},
      {"parallel_tool_calls", true},
      {"previous_response_id", nullptr},
      {"reasoning", json::object{{"effort", nullptr}, {"summary", nullptr}}},
      {"service_tier", "default"},
      {"store", true},
      {"temperature", 1.0},
      {"text", json::object{{"format", json::object{{"type", "text"}}}, {"verbosity", "medium"}}},
      {"tool_choice", "auto"},
      {"tools", json::array{}},
      {"top_p", 1.0},
      {"truncation", "disabled"},
      {"usage", std::move(usage)},
      {"user", nullptr},
      {"metadata", json::object{}}};
}

// Fixed float values in [-0.5, 0.5], exact in float32 and short in decimal.
float EmbeddingValue(int64_t input, int64_t i) {
  return static_cast<float>((input * 31 + i * 7) % 17 - 8) / 16.0f;
}

// --- Anthropic --------------------------------------------------------------------------

std::string_view StopReason(const Reply& r) { return r.truncated ? "max_tokens" : "end_turn"; }

// `output` is the output_tokens to report (1 in message_start, like the real API).
json::object AnthropicUsage(const Usage& u, int64_t output) {
  json::object usage{{"input_tokens", u.input - u.cached - u.cache_write},
                     {"cache_creation_input_tokens", u.cache_write},
                     {"cache_read_input_tokens", u.cached},
                     {"cache_creation", json::object{{"ephemeral_5m_input_tokens", u.cache_write},
                                                     {"ephemeral_1h_input_tokens", 0}}},
                     {"output_tokens", output},
                     {"service_tier", "standard"}};
  if (u.reasoning > 0 && output == u.output) {
    usage["output_tokens_details"] = json::object{{"thinking_tokens", u.reasoning}};
  }
  return usage;
}

json::object AnthropicMessageObject(const Reply& r, bool done) {
  json::array content;
  if (done) content.push_back(json::object{{"type", "text"}, {"text", r.text}});
  json::object m{{"id", absl::StrCat("msg_", r.id)},
                 {"type", "message"},
                 {"role", "assistant"},
                 {"model", r.model},
                 {"content", std::move(content)},
                 {"stop_reason", done ? json::value(StopReason(r)) : json::value(nullptr)},
                 {"stop_sequence", nullptr}};
  if (r.report_usage) m["usage"] = AnthropicUsage(r.usage, done ? r.usage.output : 1);
  return m;
}

// --- Gemini -----------------------------------------------------------------------------

// Usage after `visible` reply tokens (cumulative while streaming).
json::object GeminiUsage(const Usage& u, int64_t visible) {
  json::object m{{"promptTokenCount", u.input},
                 {"candidatesTokenCount", visible},
                 {"totalTokenCount", u.input + visible + u.reasoning},
                 {"promptTokensDetails",
                  json::array{json::object{{"modality", "TEXT"}, {"tokenCount", u.input}}}}};
  if (u.cached > 0) m["cachedContentTokenCount"] = u.cached;
  if (u.reasoning > 0) m["thoughtsTokenCount"] = u.reasoning;
  return m;
}

json::object GeminiChunk(const Reply& r, std::string_view text, bool last, int64_t visible) {
  json::object candidate{
      {"content", json::object{{"parts", json::array{json::object{{"text", JsonView(text)}}}},
                               {"role", "model"}}}};
  if (last) candidate["finishReason"] = r.truncated ? "MAX_TOKENS" : "STOP";
  candidate["index"] = 0;
  json::object out{{"candidates", json::array{std::move(candidate)}}};
  if (r.report_usage) out["usageMetadata"] = GeminiUsage(r.usage, visible);
  out["modelVersion"] = r.model;
  out["responseId"] = r.id;
  return out;
}

}  // namespace

std::string ErrorBody(Provider provider, int status, std::string_view message) {
  // The bodies the gateway writes too (providers/wire.h), with OpenAI's own codes.
  std::string_view code = status == 401   ? "invalid_api_key"
                          : status == 429 ? "rate_limit_exceeded"
                          : status == 404 ? "not_found"
                                          : "";
  providers::WireFormat format = provider == Provider::kOpenAi ? providers::WireFormat::kOpenAiChat
                                 : provider == Provider::kAnthropic
                                     ? providers::WireFormat::kAnthropicMessages
                                     : providers::WireFormat::kGeminiGenerate;
  return providers::ErrorBody(format, static_cast<unsigned>(status), code, message);
}

std::string ChatCompletion(const Reply& r) {
  std::string out = ChatHead(r, "chat.completion");
  out.reserve(out.size() + r.text.size() + 512);
  out += "\"choices\":[{\"index\":0,\"message\":{\"role\":\"assistant\",\"content\":";
  AppendString(out, r.text);
  absl::StrAppend(&out,
                  ",\"refusal\":null,\"annotations\":[]},\"logprobs\":null,\"finish_reason\":\"",
                  AbslView(ChatFinishReason(r)), "\"}]");
  if (r.report_usage) {
    out += ",\"usage\":";
    AppendChatUsage(out, r.usage);
  }
  out += "}";
  return out;
}

StreamBody ChatCompletionStream(const Reply& r, bool include_usage) {
  bool usage_chunk = include_usage && r.report_usage;
  std::string head = ChatHead(r, "chat.completion.chunk");
  StreamBody s;
  s.events.reserve(r.chunks.size() + 4);
  s.events.push_back(ChatChunkEvent(
      head, "{\"role\":\"assistant\",\"content\":\"\",\"refusal\":null}", "null", usage_chunk));
  s.first_text = s.events.size();
  std::string delta;
  for (const std::string& piece : r.chunks) {
    delta = "{\"content\":";
    AppendString(delta, piece);
    delta += "}";
    s.events.push_back(ChatChunkEvent(head, delta, "null", usage_chunk));
  }
  s.text_events = r.chunks.size();
  s.events.push_back(ChatChunkEvent(
      head, "{}", absl::StrCat("\"", AbslView(ChatFinishReason(r)), "\""), usage_chunk));
  if (usage_chunk) {
    std::string last = absl::StrCat("data: ", head, "\"choices\":[],\"usage\":");
    AppendChatUsage(last, r.usage);
    last += "}\n\n";
    s.events.push_back(std::move(last));
  }
  s.events.push_back("data: [DONE]\n\n");
  return s;
}

std::string ResponsesBody(const Reply& r) {
  return server::SerializeJson(ResponseObject(r, /*done=*/true));
}

StreamBody ResponsesStream(const Reply& r) {
  StreamBody s;
  int64_t seq = 0;
  std::string item_id = absl::StrCat("msg_", r.id);
  auto add = [&](std::string_view type, json::object fields) {
    json::object event{{"type", JsonView(type)}, {"sequence_number", seq++}};
    for (json::key_value_pair& kv : fields) event[kv.key()] = std::move(kv.value());
    s.events.push_back(NamedEvent(type, event));
  };
  // Content events name their place: item, output index, content index.
  auto at = [&](json::object more) {
    json::object o{{"item_id", item_id}, {"output_index", 0}, {"content_index", 0}};
    for (json::key_value_pair& kv : more) o[kv.key()] = std::move(kv.value());
    return o;
  };
  // The in-progress response holds doubles (temperature): serialize it the plain way.
  auto add_response = [&](std::string_view type, bool done) {
    json::object event{{"type", JsonView(type)},
                       {"sequence_number", seq++},
                       {"response", ResponseObject(r, done)}};
    s.events.push_back(absl::StrCat("event: ", std::string(type),
                                    "\ndata: ", server::SerializeJson(event), "\n\n"));
  };
  add_response("response.created", false);
  add_response("response.in_progress", false);
  add("response.output_item.added",
      json::object{{"output_index", 0}, {"item", MessageItem(r, false)}});
  add("response.content_part.added", at(json::object{{"part", OutputText("")}}));
  s.first_text = s.events.size();
  for (const std::string& piece : r.chunks) {
    add("response.output_text.delta",
        at(json::object{{"delta", piece}, {"logprobs", json::array{}}}));
  }
  s.text_events = r.chunks.size();
  add("response.output_text.done", at(json::object{{"text", r.text}, {"logprobs", json::array{}}}));
  add("response.content_part.done", at(json::object{{"part", OutputText(r.text)}}));
  add("response.output_item.done",
      json::object{{"output_index", 0}, {"item", MessageItem(r, true)}});
  add_response(r.truncated ? "response.incomplete" : "response.completed", true);
  return s;
}

std::string Embeddings(const Reply& r, const RequestInfo& request) {
  static_assert(std::endian::native == std::endian::little, "base64 embeddings are little-endian");
  json::array data;
  data.reserve(static_cast<size_t>(request.inputs));
  for (int64_t n = 0; n < request.inputs; ++n) {
    json::value embedding;
    if (request.base64) {
      std::string bytes(static_cast<size_t>(request.dimensions) * sizeof(float), '\0');
      for (int64_t i = 0; i < request.dimensions; ++i) {
        float f = EmbeddingValue(n, i);
        std::memcpy(bytes.data() + i * sizeof(float), &f, sizeof f);
      }
      embedding = absl::Base64Escape(bytes);
    } else {
      json::array values;
      values.reserve(static_cast<size_t>(request.dimensions));
      for (int64_t i = 0; i < request.dimensions; ++i) values.push_back(EmbeddingValue(n, i));
      embedding = std::move(values);
    }
    data.push_back(
        json::object{{"object", "embedding"}, {"index", n}, {"embedding", std::move(embedding)}});
  }
  json::object out{{"object", "list"}, {"data", std::move(data)}, {"model", r.model}};
  if (r.report_usage) {
    out["usage"] = json::object{{"prompt_tokens", r.usage.input}, {"total_tokens", r.usage.input}};
  }
  return server::SerializeJson(out);
}

std::string ModelList() {
  static constexpr std::string_view kModels[] = {
      "gpt-4o", "gpt-4o-mini", "gpt-4.1", "gpt-3.5-turbo", "text-embedding-3-small", "o3-mini"};
  json::array data;
  for (std::string_view id : kModels) {
    data.push_back(json::object{{"id", JsonView(id)},
                                {"object", "model"},
                                {"created", 1715367049},
                                {"owned_by", "system"}});
  }
  return Dump(json::object{{"object", "list"}, {"data", std::move(data)}});
}

std::string AnthropicMessage(const Reply& r) { return Dump(AnthropicMessageObject(r, true)); }

StreamBody AnthropicMessageStream(const Reply& r) {
  StreamBody s;
  s.events.reserve(r.chunks.size() + 6);
  s.events.push_back(NamedEvent(
      "message_start",
      json::object{{"type", "message_start"}, {"message", AnthropicMessageObject(r, false)}}));
  s.events.push_back(
      NamedEvent("content_block_start",
                 json::object{{"type", "content_block_start"},
                              {"index", 0},
                              {"content_block", json::object{{"type", "text"}, {"text", ""}}}}));
  s.events.push_back(NamedEvent("ping", json::object{{"type", "ping"}}));
  s.first_text = s.events.size();
  for (const std::string& piece : r.chunks) {
    s.events.push_back(
        NamedEvent("content_block_delta",
                   json::object{{"type", "content_block_delta"},
                                {"index", 0},
                                {"delta", json::object{{"type", "text_delta"}, {"text", piece}}}}));
  }
  s.text_events = r.chunks.size();
  s.events.push_back(
      NamedEvent("content_block_stop", json::object{{"type", "content_block_stop"}, {"index", 0}}));
  json::object delta{{"type", "message_delta"},
                     {"delta", json::object{{"stop_reason", JsonView(StopReason(r))},
                                            {"stop_sequence", nullptr}}}};
  if (r.report_usage) {
    // Cumulative, like the real API: the input counts again, output_tokens final.
    const Usage& u = r.usage;
    json::object usage{{"input_tokens", u.input - u.cached - u.cache_write},
                       {"cache_creation_input_tokens", u.cache_write},
                       {"cache_read_input_tokens", u.cached},
                       {"output_tokens", u.output}};
    if (u.reasoning > 0) {
      usage["output_tokens_details"] = json::object{{"thinking_tokens", u.reasoning}};
    }
    delta["usage"] = std::move(usage);
  }
  s.events.push_back(NamedEvent("message_delta", delta));
  s.events.push_back(NamedEvent("message_stop", json::object{{"type", "message_stop"}}));
  return s;
}

std::string AnthropicCountTokens(const Reply& r) {
  return Dump(json::object{{"input_tokens", r.usage.input}});
}

std::string GeminiResponse(const Reply& r) {
  return Dump(GeminiChunk(r, r.text, /*last=*/true, r.usage.visible()));
}

StreamBody GeminiStream(const Reply& r, bool sse) {
  StreamBody s;
  size_t n = std::max<size_t>(r.chunks.size(), 1);  // an empty reply still finishes
  s.events.reserve(n + 1);
  int64_t visible = r.usage.visible();
  int64_t words = std::max<int64_t>(std::min(visible, kMaxReplyWords), 1);
  int64_t words_so_far = 0;
  for (size_t i = 0; i < n; ++i) {
    std::string_view text = i < r.chunks.size() ? std::string_view(r.chunks[i]) : "";
    bool last = i + 1 == n;
    words_so_far = std::min<int64_t>(words_so_far + kWordsPerChunk, words);
    // Tokens so far in proportion to the words sent (the text is capped at
    // kMaxReplyWords words, the usage is not); exact at the end.
    int64_t tokens =
        last ? visible : visible / words * words_so_far + visible % words * words_so_far / words;
    std::string json = Dump(GeminiChunk(r, text, last, tokens));
    if (sse) {
      s.events.push_back(absl::StrCat("data: ", json, "\r\n\r\n"));
    } else {
      s.events.push_back(absl::StrCat(i == 0 ? "[" : "\n,\r\n", json));
    }
  }
  s.text_events = r.chunks.size();
  if (!sse) s.events.push_back("]");
  return s;
}

}  // namespace tollgate::fakeprovider
