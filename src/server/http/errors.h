#pragma once

#include <string>
#include <string_view>

#include "absl/status/status.h"
#include "server/http/message.h"

namespace tollgate::server {

// The one place where errors become HTTP (SPEC section 7). Every /api error body is
//   {"error": {"type": "...", "code": "...", "message": "..."}}
// Gateway routes answer in the provider's own format and build those bodies themselves.

// A 200-style response with `body` (already serialized JSON) and
// Content-Type: application/json.
Response JsonResponse(boost::beast::http::status status, std::string body);

// An error response in the section 7 shape. `message` is sent to the client as is: never
// put internal details (paths, SQL, upstream keys) in it.
Response JsonError(boost::beast::http::status status, std::string_view type, std::string_view code,
                   std::string_view message);

// How an absl::Status is shown to a client.
struct MappedError {
  boost::beast::http::status status;
  std::string type;     // e.g. "invalid_request_error"
  std::string code;     // e.g. "invalid_argument", or the code set with WithErrorCode
  std::string message;  // the status message for 4xx; a generic text for 5xx
};

// InvalidArgument/OutOfRange → 400, Unauthenticated → 401, PermissionDenied → 403,
// NotFound → 404, AlreadyExists/FailedPrecondition/Aborted → 409,
// ResourceExhausted → 429, Unavailable → 503, DeadlineExceeded → 504, anything else
// (Internal, Unknown, ...) → 500. The message of a 4xx status is passed through; a 5xx
// message is replaced by a generic one so internals do not leak.
// REQUIRES: !status.ok().
MappedError MapStatus(const absl::Status& status);

// JsonError(MapStatus(status)). Logs the real message of 5xx statuses.
Response ErrorResponse(const absl::Status& status);

// Attaches a machine-readable error code (e.g. "quota_exceeded", "unknown_model") that
// MapStatus reports as `code` instead of the generic one derived from the status code.
absl::Status WithErrorCode(absl::Status status, std::string_view code);

}  // namespace tollgate::server
