// A server with one trivial route (GET / → 200 "ok"), to measure the framework's own
// cost under a load generator:
//   hello_server_benchmark [PORT] [THREADS]
//   wrk -t1 -c64 -d5s http://127.0.0.1:PORT/
// Prints the bound port, then serves until stdin is closed.

#include <cstdio>
#include <cstdlib>
#include <iostream>
#include <string>

#include "server/http/server.h"

namespace net = boost::asio;
namespace http = boost::beast::http;
using tollgate::server::HttpServer;
using tollgate::server::RequestContext;
using tollgate::server::Response;

int main(int argc, char** argv) {
  tollgate::server::ServerOptions options;
  options.port = argc > 1 ? static_cast<uint16_t>(std::atoi(argv[1])) : 0;
  options.threads = argc > 2 ? std::atoi(argv[2]) : 1;
  tollgate::server::Router router;
  router.Add(http::verb::get, "/", [](RequestContext&) -> net::awaitable<Response> {
    Response res{http::status::ok, 11};
    res.set(http::field::content_type, "text/plain");
    res.body() = "ok";
    co_return res;
  });
  auto server = HttpServer::Start(options, &router);
  if (!server.ok()) {
    std::cerr << server.status() << "\n";
    return 1;
  }
  std::cout << (*server)->port() << std::endl;
  std::string line;
  while (std::getline(std::cin, line)) {
  }
  return 0;
}
