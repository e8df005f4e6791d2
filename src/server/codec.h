#pragma once

// JSON forms of tollgate's records, as the HTTP API speaks them (docs/api.md).
// Money goes out as decimal USD numbers; cost_usd limits speak USD too.

#include <string>

#include <boost/json.hpp>

#include "absl/status/statusor.h"
#include "server/common/json_util.h"
#include "tollgate/engine.h"
#include "tollgate/types.h"

namespace tollgate::server {

std::string Rfc3339(absl::Time t);  // RFC 3339, UTC, seconds precision
void AppendRfc3339(absl::Time t, std::string& out);  // the same, appended to `out`
// The forms on the request path take the memory resource to build in (a
// boost::json::monotonic_resource per answer keeps malloc off the hot path).
boost::json::object ToJson(const Scope& s, boost::json::storage_ptr sp = {});
boost::json::object ToJson(const Window& w, boost::json::storage_ptr sp = {});
boost::json::object ToJson(const Limit& l);
// A limit's state for one subject ("limits" of the check, report and status answers),
// written straight into the answer's text.
void WriteJson(JsonWriter& w, const LimitStatus& s);
void WriteJson(JsonWriter& w, const std::vector<LimitStatus>& limits);
boost::json::object ToJson(const Tenant& t);
boost::json::object ToJson(const ApiKey& k);  // never the hash
boost::json::object ToJson(const Usage& u);
boost::json::object ToJson(const UsageEvent& e);
boost::json::object ToJson(const Price& p);

// A limit amount in API units: USD for cost_usd, a count otherwise.
boost::json::value LimitAmountToJson(Metric m, int64_t amount, boost::json::storage_ptr sp = {});

// Parses a limit from a request body. Missing `window.kind` defaults to rolling for
// minute and hour windows and calendar otherwise. `id` is taken from the body when
// present (PUT passes the path id instead).
absl::StatusOr<Limit> LimitFromJson(const boost::json::value& body);

}  // namespace tollgate::server
