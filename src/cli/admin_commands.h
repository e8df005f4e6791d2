#pragma once

#include "CLI/CLI.hpp"

namespace tollgate::cli {

// `tollgate keys create`, `tollgate limits list|set|rm` and `tollgate usage`: clients of a
// running server's admin API (--url, --key or TOLLGATE_URL, TOLLGATE_KEY).
void RegisterAdminCommands(CLI::App& app);

}  // namespace tollgate::cli
