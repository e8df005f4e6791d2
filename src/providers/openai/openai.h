#pragma once

// OpenAI wire format: Chat Completions, Responses and Embeddings. Called through the
// dispatch in providers/wire.h; contracts are stated there.

#include <boost/json.hpp>
#include <string>
#include <string_view>

#include "absl/status/statusor.h"
#include "providers/meter_state.h"
#include "providers/wire.h"

namespace tollgate::providers::openai {

absl::StatusOr<ParsedCall> ParseChat(const boost::json::object& body);
absl::StatusOr<ParsedCall> ParseResponses(const boost::json::object& body);
absl::StatusOr<ParsedCall> ParseEmbeddings(const boost::json::object& body);

void RewriteChat(boost::json::object& body, const Rewrite& rewrite);
void RewriteResponses(boost::json::object& body, const Rewrite& rewrite);
void RewriteEmbeddings(boost::json::object& body, const Rewrite& rewrite);

std::string ChatOutputText(const boost::json::value& body);
std::string ResponsesOutputText(const boost::json::value& body);

std::string ErrorBody(unsigned http_status, std::string_view code, std::string_view message);

// One decoded chat.completion.chunk. Returns false for the usage-only chunk
// ("choices": [] with "usage") when the client did not ask for include_usage.
bool OnChatChunk(const boost::json::object& chunk, bool client_wants_usage,
                 internal::MeterState* state);
// One decoded Responses stream event (its JSON "type" says which).
void OnResponsesEvent(const boost::json::object& event, internal::MeterState* state);

}  // namespace tollgate::providers::openai
