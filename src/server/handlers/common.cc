#include "server/handlers/common.h"

#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "core/ids.h"
#include "server/common/json_util.h"

namespace tollgate::server::handlers {

namespace json = boost::json;
namespace http = boost::beast::http;

std::string BearerSecret(const RequestContext& ctx, bool allow_provider_headers) {
  std::string_view auth = ctx.Header("authorization");
  if (auth.size() > 7 && absl::StartsWithIgnoreCase(absl::string_view(auth.data(), 7), "bearer "))
    return std::string(auth.substr(7));
  if (allow_provider_headers) {
    if (std::string_view k = ctx.Header("x-api-key"); !k.empty()) return std::string(k);
    if (std::string_view k = ctx.Header("x-goog-api-key"); !k.empty()) return std::string(k);
    if (std::optional<std::string> k = ctx.Query("key"); k && !k->empty()) return *k;
  }
  return "";
}

absl::StatusOr<Caller> Authenticate(const RequestContext& ctx, const Metering& metering,
                                    std::initializer_list<Role> roles) {
  std::string secret = BearerSecret(ctx);
  if (secret.empty())
    return absl::UnauthenticatedError("missing API key: send Authorization: Bearer <key>");
  std::shared_ptr<const ApiKey> key = metering.Authenticate(secret);
  if (!key) return absl::UnauthenticatedError("invalid API key");
  bool allowed = false;
  for (Role r : roles) allowed = allowed || r == key->role;
  if (!allowed)
    return absl::PermissionDeniedError(
        absl::StrCat("a key with role ", std::string(ToString(key->role)), " may not use this endpoint"));
  std::string tenant_id = key->tenant_id;
  return Caller{std::move(key), std::move(tenant_id)};
}

absl::Status ResolveTenant(const RequestContext& ctx, const Metering& metering, Caller& caller,
                           bool tenant_required, std::string_view body_tenant) {
  std::optional<std::string> named = ctx.Query("tenant_id");
  if (!named && !body_tenant.empty()) named = std::string(body_tenant);
  if (caller.is_admin()) {
    if (named) {
      if (!core::IsValidId(*named))
        return absl::InvalidArgumentError("parameter 'tenant_id' is not a valid id");
      if (!metering.GetTenant(*named))
        return absl::NotFoundError(absl::StrCat("tenant '", *named, "' not found"));
      caller.tenant_id = *named;
    } else if (tenant_required) {
      return absl::InvalidArgumentError("parameter 'tenant_id' is required for an admin key");
    }
  } else if (named && *named != caller.tenant_id) {
    return absl::NotFoundError("tenant not found");
  }
  return absl::OkStatus();
}

absl::StatusOr<Caller> Authorize(const RequestContext& ctx, const Metering& metering,
                                 std::initializer_list<Role> roles, bool tenant_required,
                                 std::string_view body_tenant) {
  absl::StatusOr<Caller> caller = Authenticate(ctx, metering, roles);
  if (!caller.ok()) return caller;
  if (absl::Status s = ResolveTenant(ctx, metering, *caller, tenant_required, body_tenant); !s.ok())
    return s;
  return caller;
}

absl::StatusOr<json::object> BodyObject(const RequestContext& ctx, json::storage_ptr sp) {
  return ParseJsonObject(ctx.req.body(), kMaxJsonDepth, std::move(sp));
}

absl::StatusOr<std::string> IdOrEmpty(const JsonReader& r, std::string_view key) {
  absl::StatusOr<std::optional<std::string>> v = r.Id(key);
  if (!v.ok()) return v.status();
  return v->value_or("");
}

absl::Status NotPolicyOwned(const Limit& limit) {
  if (limit.owner.empty()) return absl::OkStatus();
  return absl::FailedPreconditionError(absl::StrCat(
      "limit ", limit.id, " is owned by ", limit.owner,
      "; change it through /api/admin/models/policies or /api/client/models/policies"));
}

Response Json(http::status status, const json::value& body) {
  return JsonResponse(status, SerializeJson(body));
}

absl::StatusOr<std::optional<int64_t>> QueryInt(const RequestContext& ctx, std::string_view name,
                                                int64_t min, int64_t max) {
  std::optional<std::string> v = ctx.Query(name);
  if (!v) return std::optional<int64_t>();
  int64_t n;
  if (!absl::SimpleAtoi(*v, &n) || n < min || n > max)
    return absl::InvalidArgumentError(
        absl::StrCat("parameter '", std::string(name), "' must be an integer from ", min, " to ", max));
  return std::optional<int64_t>(n);
}

absl::StatusOr<std::string> QueryId(const RequestContext& ctx, std::string_view name) {
  std::optional<std::string> v = ctx.Query(name);
  if (!v) return std::string();
  if (!core::IsValidId(*v))
    return absl::InvalidArgumentError(
        absl::StrCat("parameter '", std::string(name), "' must be 1-128 letters, digits or ._:@-"));
  return *v;
}

absl::StatusOr<std::optional<absl::Time>> QueryTime(const RequestContext& ctx,
                                                    std::string_view name) {
  std::optional<std::string> v = ctx.Query(name);
  if (!v) return std::optional<absl::Time>();
  absl::Time t;
  std::string err;
  if (absl::ParseTime(absl::RFC3339_full, *v, &t, &err) ||
      absl::ParseTime("%Y-%m-%d", *v, absl::UTCTimeZone(), &t, &err))
    return std::optional<absl::Time>(t);
  return absl::InvalidArgumentError(
      absl::StrCat("parameter '", std::string(name), "' must be a date (YYYY-MM-DD) or an RFC 3339 time"));
}

}  // namespace tollgate::server::handlers
