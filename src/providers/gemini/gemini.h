#pragma once

// Gemini wire format: generateContent and streamGenerateContent. Called through the
// dispatch in providers/wire.h; contracts are stated there. The REST API accepts
// camelCase and snake_case field names; both are read, and a rewrite writes the
// spelling the client used.

#include <boost/json.hpp>
#include <string>
#include <string_view>

#include "absl/status/statusor.h"
#include "providers/meter_state.h"
#include "providers/wire.h"

namespace tollgate::providers::gemini {

absl::StatusOr<ParsedCall> ParseGenerate(const boost::json::object& body,
                                         std::string_view path_model, bool stream);
void RewriteGenerate(boost::json::object& body, const Rewrite& rewrite);
std::string OutputText(const boost::json::value& body);
std::string ErrorBody(unsigned http_status, std::string_view code, std::string_view message);

// One decoded GenerateContentResponse of a stream (an SSE event or an element of the
// JSON array).
void OnChunk(const boost::json::object& chunk, internal::MeterState* state);

}  // namespace tollgate::providers::gemini
