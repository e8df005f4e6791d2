#pragma once

// The API routes. Each Add* registers one group on the router; handlers keep a pointer
// to `metering`, which must outlive the router.

#include "server/gateway.h"
#include "server/http/router.h"
#include "server/metering.h"

namespace tollgate::server::handlers {

// POST /api/agent/usage/{check,report,release}, GET /api/agent/usage/status, and
// POST /api/utils/token_counter.
void AddAgentRoutes(Router& router, Metering* metering);
// /api/client/usage/*: status, limits CRUD, history, events, export.
void AddClientRoutes(Router& router, Metering* metering);
// /api/admin/*: tenants, keys, limits, usage summary and events, prices.
void AddAdminRoutes(Router& router, Metering* metering);
// /api/admin/models/{policies,policies/resolve,available} and /api/client/models/policies.
void AddPolicyRoutes(Router& router, Metering* metering);
// /healthz, /readyz, /metrics (with the gateway's counters when `gateway` is set).
void AddOpsRoutes(Router& router, Metering* metering, const Gateway* gateway = nullptr);
// The gateway: /v1/chat/completions, /v1/responses, /v1/embeddings, /v1/models,
// /v1/messages(/count_tokens), /v1beta/models/{model}:(stream)generateContent.
void AddGatewayRoutes(Router& router, Gateway* gateway);

}  // namespace tollgate::server::handlers
