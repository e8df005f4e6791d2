#pragma once

#include "CLI/CLI.hpp"

namespace tollgate::cli {

// `tollgate serve` and `tollgate migrate`.
void RegisterServeCommands(CLI::App& app);

}  // namespace tollgate::cli
