#pragma once

// Anthropic wire format: the Messages API. Called through the dispatch in
// providers/wire.h; contracts are stated there.

#include <boost/json.hpp>
#include <string>
#include <string_view>

#include "absl/status/statusor.h"
#include "providers/meter_state.h"
#include "providers/wire.h"

namespace tollgate::providers::anthropic {

absl::StatusOr<ParsedCall> ParseMessages(const boost::json::object& body);
void RewriteMessages(boost::json::object& body, const Rewrite& rewrite);
std::string OutputText(const boost::json::value& body);
std::string ErrorBody(unsigned http_status, std::string_view message);

// One decoded stream event (its JSON "type": message_start, content_block_delta,
// message_delta, ...).
void OnEvent(const boost::json::object& event, internal::MeterState* state);

}  // namespace tollgate::providers::anthropic
