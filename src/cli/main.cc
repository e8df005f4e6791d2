// tollgate: the command line. Subcommands are added in src/cli/*.cc.
#include <iostream>

#include "CLI/CLI.hpp"

int main(int argc, char** argv) {
  CLI::App app{"tollgate: meters, limits and governs LLM token spend"};
  app.require_subcommand(1);
  app.add_subcommand("version", "print the version")->callback([] { std::cout << "tollgate 0.1.0\n"; });
  CLI11_PARSE(app, argc, argv);
  return 0;
}
