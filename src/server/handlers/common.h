#pragma once

// What every API handler shares: authentication, role checks, the tenant a request acts
// on, and answers.

#include <initializer_list>
#include <memory>
#include <optional>
#include <string>

#include <boost/json.hpp>

#include "absl/status/statusor.h"
#include "server/common/json_util.h"
#include "server/http/errors.h"
#include "server/http/router.h"
#include "server/metering.h"

namespace tollgate::server::handlers {

// The authenticated caller, and the tenant the request acts on.
struct Caller {
  std::shared_ptr<const ApiKey> key;  // never null
  std::string tenant_id;  // empty only for admin requests that name no tenant
  bool is_admin() const { return key->role == Role::kAdmin; }
};

// The bearer secret of a request: `Authorization: Bearer <key>`; with
// `allow_provider_headers`, also `x-api-key`, `x-goog-api-key` or `?key=`.
std::string BearerSecret(const RequestContext& ctx, bool allow_provider_headers = false);

// Authenticates and checks the role. The tenant comes from the key; an admin names it
// with the `tenant_id` query parameter or `body_tenant` (required when
// `tenant_required`). A non-admin that names another tenant gets NotFound.
// Errors: Unauthenticated (401), PermissionDenied (403), NotFound (404),
// InvalidArgument (400).
absl::StatusOr<Caller> Authorize(const RequestContext& ctx, const Metering& metering,
                                 std::initializer_list<Role> roles, bool tenant_required,
                                 std::string_view body_tenant = {});

// The two steps of Authorize, for handlers that must read the body in between (the
// body is parsed only for callers with a valid key and role).
absl::StatusOr<Caller> Authenticate(const RequestContext& ctx, const Metering& metering,
                                    std::initializer_list<Role> roles);
absl::Status ResolveTenant(const RequestContext& ctx, const Metering& metering, Caller& caller,
                           bool tenant_required, std::string_view body_tenant);

// Parses the request body as a JSON object (depth and size limited), built in `sp`.
absl::StatusOr<boost::json::object> BodyObject(const RequestContext& ctx,
                                               boost::json::storage_ptr sp = {});

// An optional id field of a body: "" when absent.
absl::StatusOr<std::string> IdOrEmpty(const JsonReader& r, std::string_view key);

// FailedPrecondition (409) when `limit` is owned by a model policy: such limits are
// changed through the policy (docs/policies.md), never directly.
absl::Status NotPolicyOwned(const Limit& limit);

// A route handler from a function `awaitable<Response>(RequestContext&, Metering*)`.
template <typename Fn>
Handler Bind(Metering* m, Fn fn) {
  return [m, fn](RequestContext& c) { return fn(c, m); };
}

// A JSON answer.
Response Json(boost::beast::http::status status, const boost::json::value& body);
inline Response Ok(const boost::json::value& body) {
  return Json(boost::beast::http::status::ok, body);
}

// Query parameter helpers; errors name the parameter.
absl::StatusOr<std::optional<int64_t>> QueryInt(const RequestContext& ctx, std::string_view name,
                                                int64_t min, int64_t max);
// An id-valued query parameter ("" when absent).
absl::StatusOr<std::string> QueryId(const RequestContext& ctx, std::string_view name);
// A time parameter: RFC 3339 or YYYY-MM-DD (midnight UTC).
absl::StatusOr<std::optional<absl::Time>> QueryTime(const RequestContext& ctx, std::string_view name);

}  // namespace tollgate::server::handlers
