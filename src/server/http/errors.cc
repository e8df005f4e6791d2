#include "server/http/errors.h"

#include <spdlog/spdlog.h>

#include <boost/json.hpp>
#include <optional>
#include <utility>

#include "absl/strings/cord.h"

namespace tollgate::server {
namespace http = boost::beast::http;
namespace {

constexpr std::string_view kCodePayloadUrl = "type.tollgate/error_code";

std::optional<std::string> ErrorCodeOf(const absl::Status& status) {
  auto payload =
      status.GetPayload(absl::string_view(kCodePayloadUrl.data(), kCodePayloadUrl.size()));
  if (!payload) return std::nullopt;
  return std::string(*payload);
}

}  // namespace

Response JsonResponse(http::status status, std::string body) {
  Response res{status, 11};
  res.set(http::field::content_type, "application/json");
  res.body() = std::move(body);
  return res;
}

Response JsonError(http::status status, std::string_view type, std::string_view code,
                   std::string_view message) {
  boost::json::object inner;
  inner["type"] = type;
  inner["code"] = code;
  inner["message"] = message;
  boost::json::object outer;
  outer["error"] = std::move(inner);
  return JsonResponse(status, boost::json::serialize(outer));
}

MappedError MapStatus(const absl::Status& status) {
  MappedError e;
  bool client_error = true;
  switch (status.code()) {
    case absl::StatusCode::kInvalidArgument:
    case absl::StatusCode::kOutOfRange:
      e = {http::status::bad_request, "invalid_request_error", "invalid_argument", ""};
      break;
    case absl::StatusCode::kUnauthenticated:
      e = {http::status::unauthorized, "authentication_error", "unauthenticated", ""};
      break;
    case absl::StatusCode::kPermissionDenied:
      e = {http::status::forbidden, "permission_error", "permission_denied", ""};
      break;
    case absl::StatusCode::kNotFound:
      e = {http::status::not_found, "not_found_error", "not_found", ""};
      break;
    case absl::StatusCode::kAlreadyExists:
      e = {http::status::conflict, "conflict_error", "already_exists", ""};
      break;
    case absl::StatusCode::kFailedPrecondition:
    case absl::StatusCode::kAborted:
      e = {http::status::conflict, "conflict_error", "failed_precondition", ""};
      break;
    case absl::StatusCode::kResourceExhausted:
      e = {http::status::too_many_requests, "rate_limit_error", "resource_exhausted", ""};
      break;
    case absl::StatusCode::kUnavailable:
      e = {http::status::service_unavailable, "unavailable_error", "unavailable",
           "the service is temporarily unavailable"};
      client_error = false;
      break;
    case absl::StatusCode::kDeadlineExceeded:
      e = {http::status::gateway_timeout, "timeout_error", "deadline_exceeded",
           "the request timed out"};
      client_error = false;
      break;
    default:
      e = {http::status::internal_server_error, "internal_error", "internal",
           "internal server error"};
      client_error = false;
      break;
  }
  if (client_error) e.message = std::string(status.message());
  if (std::optional<std::string> code = ErrorCodeOf(status)) e.code = std::move(*code);
  return e;
}

Response ErrorResponse(const absl::Status& status) {
  MappedError e = MapStatus(status);
  if (static_cast<int>(e.status) >= 500) {
    spdlog::warn("request failed: {}", std::string(status.ToString()));
  }
  return JsonError(e.status, e.type, e.code, e.message);
}

absl::Status WithErrorCode(absl::Status status, std::string_view code) {
  status.SetPayload(absl::string_view(kCodePayloadUrl.data(), kCodePayloadUrl.size()),
                    absl::Cord(absl::string_view(code.data(), code.size())));
  return status;
}

}  // namespace tollgate::server
