// Operations endpoints: liveness, readiness and Prometheus metrics. No key needed.
#include "absl/strings/str_cat.h"
#include "server/handlers/common.h"
#include "server/handlers/routes.h"

namespace tollgate::server::handlers {
namespace {

namespace json = boost::json;
namespace http = boost::beast::http;
using boost::asio::awaitable;

}  // namespace

void AddOpsRoutes(Router& router, Metering* m, const Gateway* gateway) {
  router.Add(http::verb::get, "/healthz", [](RequestContext&) -> awaitable<Response> {
    co_return Ok(json::object{{"status", "ok"}});
  });
  router.Add(http::verb::get, "/readyz", [m](RequestContext&) -> awaitable<Response> {
    if (absl::Status s = m->store()->Ping(); !s.ok())
      co_return ErrorResponse(absl::UnavailableError("the store cannot answer"));
    co_return Ok(json::object{{"status", "ready"}});
  });
  router.Add(http::verb::get, "/metrics", [m, gateway](RequestContext&) -> awaitable<Response> {
    std::string out;
    absl::StrAppend(&out, "# HELP tollgate_active_counters Counter cells held in memory.\n",
                    "# TYPE tollgate_active_counters gauge\n", "tollgate_active_counters ",
                    m->engine()->ActiveCounters(), "\n");
    absl::StrAppend(&out, "# HELP tollgate_held_reservations Reservations not yet settled, released or expired.\n",
                    "# TYPE tollgate_held_reservations gauge\n", "tollgate_held_reservations ",
                    m->engine()->HeldReservations(), "\n");
    absl::StrAppend(&out, "# HELP tollgate_tenants Tenants configured.\n",
                    "# TYPE tollgate_tenants gauge\n", "tollgate_tenants ",
                    m->ListTenants().size(), "\n");
    if (gateway != nullptr) gateway->AppendMetrics(&out);
    Response res{http::status::ok, 11};
    res.set(http::field::content_type, "text/plain; version=0.0.4");
    res.body() = std::move(out);
    co_return res;
  });
}

}  // namespace tollgate::server::handlers
