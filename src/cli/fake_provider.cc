// tollgate fake-provider: a fake OpenAI / Anthropic / Gemini endpoint for tests,
// benchmarks and trying tollgate without provider keys (src/fakeprovider).
#include "fakeprovider/fake_provider.h"

#include <signal.h>

#include <cstdint>
#include <cstdlib>
#include <iostream>
#include <memory>
#include <optional>
#include <string>

#include "CLI/CLI.hpp"
#include "server/common/config.h"
#include "server/http/server.h"

namespace tollgate::cli {
namespace {

struct FakeProviderArgs {
  std::string listen = "127.0.0.1:8090";
  std::string api_key;
  int64_t latency_ms = 0;
  int64_t chunk_delay_ms = 0;
  std::optional<int64_t> input_tokens;
  int64_t output_tokens = 20;
  int threads = 1;
  bool no_record = false;
};

int RunFakeProvider(const FakeProviderArgs& args) {
  absl::StatusOr<server::ListenAddress> listen = server::ParseListen(args.listen);
  if (!listen.ok()) {
    std::cerr << "tollgate fake-provider: --listen: " << listen.status().message() << "\n";
    return 2;
  }
  sigset_t signals;
  sigemptyset(&signals);
  sigaddset(&signals, SIGINT);
  sigaddset(&signals, SIGTERM);
  pthread_sigmask(SIG_BLOCK, &signals, nullptr);

  fakeprovider::FakeProviderOptions options;
  options.api_key = args.api_key;
  options.defaults.latency_ms = args.latency_ms;
  options.defaults.chunk_delay_ms = args.chunk_delay_ms;
  options.defaults.input_tokens = args.input_tokens;
  options.defaults.output_tokens = args.output_tokens;
  options.record = !args.no_record;
  fakeprovider::FakeProvider fake(options);
  server::Router router;
  fake.AddRoutes(router);

  server::ServerOptions server_options;
  server_options.host = listen->host;
  server_options.port = listen->port;
  server_options.threads = args.threads;
  // A stalled request ([fake stall]) must stay open as long as its client waits.
  server_options.shutdown_grace = std::chrono::seconds(1);
  absl::StatusOr<std::unique_ptr<server::HttpServer>> http =
      server::HttpServer::Start(server_options, &router);
  if (!http.ok()) {
    std::cerr << "tollgate fake-provider: " << http.status().message() << "\n";
    return 1;
  }
  std::string host =
      listen->host.find(':') != std::string::npos ? "[" + listen->host + "]" : listen->host;
  std::cout << "fake provider listening on http://" << host << ":" << (*http)->port() << std::endl;

  int sig = 0;
  sigwait(&signals, &sig);
  (*http)->Stop();
  (*http)->Wait();
  return 0;
}

}  // namespace
}  // namespace tollgate::cli

void RegisterFakeProviderCommand(CLI::App& app) {
  using tollgate::cli::FakeProviderArgs;
  auto args = std::make_shared<FakeProviderArgs>();
  auto* cmd = app.add_subcommand(
      "fake-provider",
      "run a fake OpenAI/Anthropic/Gemini API (deterministic replies, scripted with "
      "[fake ...] directives in the last user message)");
  cmd->add_option("--listen", args->listen, "HOST:PORT to listen on; port 0 picks a free one")
      ->capture_default_str();
  cmd->add_option("--api-key", args->api_key,
                  "require this key (Bearer, x-api-key, x-goog-api-key or ?key=); default none");
  cmd->add_option("--latency-ms", args->latency_ms, "wait before every response's headers")
      ->check(CLI::Range(int64_t{0}, tollgate::fakeprovider::kMaxDelayMs))
      ->capture_default_str();
  cmd->add_option("--chunk-delay-ms", args->chunk_delay_ms, "wait before each streamed text chunk")
      ->check(CLI::Range(int64_t{0}, tollgate::fakeprovider::kMaxDelayMs))
      ->capture_default_str();
  cmd->add_option("--input-tokens", args->input_tokens,
                  "input tokens to report (default: request text bytes / 4, rounded up)")
      ->check(CLI::Range(int64_t{0}, tollgate::fakeprovider::kMaxTokens));
  cmd->add_option("--output-tokens", args->output_tokens,
                  "output tokens to report; the reply has this many words")
      ->check(CLI::Range(int64_t{0}, tollgate::fakeprovider::kMaxTokens))
      ->capture_default_str();
  cmd->add_option("--threads", args->threads, "server threads")
      ->check(CLI::Range(1, 256))
      ->capture_default_str();
  cmd->add_flag("--no-record", args->no_record,
                "do not keep the last 100 requests for GET /_fake/requests");
  cmd->final_callback([args] { std::exit(tollgate::cli::RunFakeProvider(*args)); });
}
