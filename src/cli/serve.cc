#include "cli/serve.h"

#include <signal.h>
#include <sys/stat.h>

#include <condition_variable>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <memory>
#include <mutex>
#include <thread>

#include "providers/prices.h"
#include "server/common/config.h"
#include "server/gateway.h"
#include "server/handlers/routes.h"
#include "server/http/server.h"
#include "server/metering.h"
#include "spdlog/spdlog.h"
#include "tollgate/engine.h"
#include "tollgate/store.h"
#include "tollgate/tokenizer.h"

namespace tollgate::cli {
namespace {

struct ServeArgs {
  std::string config;
  std::string listen;
  std::string data_dir;
};

// Loads the config and applies the flags over it. Exits on error.
server::Config LoadOrExit(const ServeArgs& a) {
  absl::StatusOr<server::Config> config = server::LoadConfigFromEnvironment(a.config);
  if (!config.ok()) {
    std::cerr << "tollgate: configuration: " << config.status().message() << "\n";
    std::exit(2);
  }
  if (!a.listen.empty()) {
    if (absl::StatusOr<server::ListenAddress> l = server::ParseListen(a.listen); !l.ok()) {
      std::cerr << "tollgate: --listen: " << l.status().message() << "\n";
      std::exit(2);
    }
    config->server.listen = a.listen;
  }
  if (!a.data_dir.empty()) config->server.data_dir = a.data_dir;
  return *config;
}

// Writes the generated admin key to <data-dir>/admin.key, readable by the owner only.
void WriteAdminKey(const std::string& data_dir, const std::string& secret) {
  std::string path = (std::filesystem::path(data_dir) / "admin.key").string();
  umask(077);
  std::ofstream out(path, std::ios::trunc);
  out << secret << "\n";
  out.close();
  chmod(path.c_str(), 0600);
}

int Serve(const ServeArgs& args) {
  server::Config config = LoadOrExit(args);
  std::error_code ec;
  std::filesystem::create_directories(config.server.data_dir, ec);
  if (ec) {
    std::cerr << "tollgate: cannot create data dir " << config.server.data_dir << ": "
              << ec.message() << "\n";
    return 1;
  }
  // Signals are handled by one thread with sigwait; block them everywhere else first.
  sigset_t signals;
  sigemptyset(&signals);
  sigaddset(&signals, SIGINT);
  sigaddset(&signals, SIGTERM);
  pthread_sigmask(SIG_BLOCK, &signals, nullptr);

  const Clock* clock = SystemClock::Get();
  SqliteOptions store_options;
  store_options.path = config.StorePath();
  store_options.fsync_each_commit = config.storage.sync == "full";
  absl::StatusOr<std::unique_ptr<Store>> store = OpenSqliteStore(store_options, clock);
  if (!store.ok()) {
    std::cerr << "tollgate: store " << store_options.path << ": " << store.status().message() << "\n";
    return 1;
  }
  absl::StatusOr<std::unique_ptr<providers::PriceCatalog>> prices =
      providers::PriceCatalog::Builtin();
  if (!prices.ok()) {
    std::cerr << "tollgate: price catalog: " << prices.status().message() << "\n";
    return 1;
  }
  EngineOptions engine_options;
  engine_options.lease = absl::Seconds(config.metering.lease_s);
  engine_options.default_mode = config.enforcement.mode;
  Engine engine(clock, engine_options);
  server::MeteringOptions metering_options;
  metering_options.default_mode = config.enforcement.mode;
  metering_options.default_output_estimate = config.metering.default_output_estimate;
  metering_options.event_retention_days = config.metering.event_retention_days;
  server::Metering metering(clock, store->get(), &engine, prices->get(), metering_options);
  if (absl::Status s = metering.Load(); !s.ok()) {
    std::cerr << "tollgate: loading state: " << s.message() << "\n";
    return 1;
  }
  const char* admin_env = std::getenv("TOLLGATE_ADMIN_KEY");
  absl::StatusOr<std::string> generated = metering.Bootstrap(admin_env ? admin_env : "");
  if (!generated.ok()) {
    std::cerr << "tollgate: bootstrap: " << generated.status().message() << "\n";
    return 1;
  }
  if (!generated->empty()) {
    WriteAdminKey(config.server.data_dir, *generated);
    std::cout << "admin key (shown once, also in " << config.server.data_dir
              << "/admin.key): " << *generated << std::endl;
  }

  absl::StatusOr<server::GatewayOptions> gateway_options = server::GatewayOptionsFromConfig(config);
  if (!gateway_options.ok()) {
    std::cerr << "tollgate: configuration: " << gateway_options.status().message() << "\n";
    return 2;
  }
  for (const server::UpstreamConfig* up :
       {&gateway_options->openai, &gateway_options->anthropic, &gateway_options->gemini}) {
    if (up->api_key.empty())
      spdlog::info("gateway: no API key for {} (calls go upstream without one)", up->name);
  }
  server::Gateway gateway(&metering, *std::move(gateway_options));

  // The encodings load on first use (tens of milliseconds with the pre-splitter's
  // compilation): here, not in the first calls that count tokens.
  for (tokenizer::EncodingId id : {tokenizer::EncodingId::kCl100kBase,
                                   tokenizer::EncodingId::kO200kBase}) {
    tokenizer::Encoding::Get(id).Count("warm up");
  }

  server::Router router;
  server::handlers::AddOpsRoutes(router, &metering, &gateway);
  server::handlers::AddAgentRoutes(router, &metering);
  server::handlers::AddClientRoutes(router, &metering);
  server::handlers::AddAdminRoutes(router, &metering);
  server::handlers::AddPolicyRoutes(router, &metering);
  server::handlers::AddGatewayRoutes(router, &gateway);
  absl::StatusOr<std::unique_ptr<server::HttpServer>> http =
      server::HttpServer::Start(server::ServerOptionsFromConfig(config), &router);
  if (!http.ok()) {
    std::cerr << "tollgate: " << http.status().message() << "\n";
    return 1;
  }
  server::ServerOptions opts = server::ServerOptionsFromConfig(config);
  std::string host = opts.host.find(':') != std::string::npos ? "[" + opts.host + "]" : opts.host;
  std::cout << "tollgate listening on http://" << host << ":" << (*http)->port() << std::endl;

  // Retention: sweep at start, then hourly, until stopped.
  std::mutex mu;
  std::condition_variable cv;
  bool stopping = false;
  std::thread sweeper([&] {
    std::unique_lock lock(mu);
    do {
      lock.unlock();
      if (absl::StatusOr<int64_t> n = metering.Sweep(); !n.ok())
        spdlog::warn("retention sweep failed: {}", std::string(n.status().message()));
      lock.lock();
    } while (!cv.wait_for(lock, std::chrono::hours(1), [&] { return stopping; }));
  });

  int sig = 0;
  sigwait(&signals, &sig);
  spdlog::info("signal {}: stopping", sig);
  (*http)->Stop();
  (*http)->Wait();
  gateway.Close();
  {
    std::lock_guard lock(mu);
    stopping = true;
  }
  cv.notify_all();
  sweeper.join();
  return 0;
}

}  // namespace

void RegisterServeCommands(CLI::App& app) {
  auto args = std::make_shared<ServeArgs>();
  auto* serve = app.add_subcommand("serve", "run the HTTP server");
  serve->add_option("--config", args->config, "TOML configuration file");
  serve->add_option("--listen", args->listen, "HOST:PORT to listen on (default 127.0.0.1:8080)");
  serve->add_option("--data-dir", args->data_dir, "data directory (default ./var)");
  serve->final_callback([args] { std::exit(Serve(*args)); });

  auto* migrate = app.add_subcommand("migrate", "create or upgrade the store's schema, then exit");
  auto margs = std::make_shared<ServeArgs>();
  migrate->add_option("--config", margs->config, "TOML configuration file");
  migrate->add_option("--data-dir", margs->data_dir, "data directory (default ./var)");
  migrate->final_callback([margs] {
    server::Config config = LoadOrExit(*margs);
    std::error_code ec;
    std::filesystem::create_directories(config.server.data_dir, ec);
    absl::StatusOr<int> version = MigrateSqlite(config.StorePath());
    if (!version.ok()) {
      std::cerr << "tollgate migrate: " << version.status().message() << "\n";
      std::exit(1);
    }
    std::cout << "schema version " << *version << " at " << config.StorePath() << "\n";
  });
}

}  // namespace tollgate::cli
