// tollgate: the command line.
#include <iostream>

#include "CLI/CLI.hpp"
#include "absl/synchronization/mutex.h"
#include "cli/admin_commands.h"
#include "cli/serve.h"

void RegisterCountCommand(CLI::App& app);
void RegisterFakeProviderCommand(CLI::App& app);

int main(int argc, char** argv) {
  // The system's Abseil checks every lock acquisition for lock-order cycles (a debug
  // aid that showed in request profiles); the tests keep it on.
  absl::SetMutexDeadlockDetectionMode(absl::OnDeadlockCycle::kIgnore);
  CLI::App app{"tollgate: meters, limits and governs LLM token spend"};
  app.require_subcommand(1);
  app.add_subcommand("version", "print the version")->callback([] { std::cout << "tollgate 0.1.0\n"; });
  tollgate::cli::RegisterServeCommands(app);
  tollgate::cli::RegisterAdminCommands(app);
  RegisterCountCommand(app);
  RegisterFakeProviderCommand(app);
  CLI11_PARSE(app, argc, argv);
  return 0;
}
