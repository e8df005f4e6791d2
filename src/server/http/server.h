#pragma once

#include <atomic>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>

#include "absl/status/statusor.h"
#include "server/http/router.h"

namespace tollgate::server {

struct ServerOptions {
  // IP address or host name to listen on, and the port; 0 picks a free port (read it
  // back with HttpServer::port()).
  std::string host = "127.0.0.1";
  uint16_t port = 8080;
  // Threads serving HTTP, each with its own io_context; accepted connections are
  // spread over them in turn and each stays on its thread. One is usually fastest on a
  // small machine.
  int threads = 1;
  // Largest request body; a larger one is answered 413 without being read into memory.
  size_t max_body_bytes = 8 * 1024 * 1024;
  // Largest request line + headers; larger is answered 431.
  size_t max_header_bytes = 16 * 1024;
  // The three timeouts below fire late by up to a quarter of the shortest of them,
  // bounded to 10..250 ms.
  //
  // Time allowed to receive one request's headers and body, from its first byte.
  std::chrono::milliseconds read_timeout = std::chrono::seconds(30);
  // Time allowed for each response write (each chunk when streaming).
  std::chrono::milliseconds write_timeout = std::chrono::seconds(30);
  // How long a connection may wait for the first byte of its next request.
  std::chrono::milliseconds idle_timeout = std::chrono::seconds(60);
  // Open connections at most; connections beyond are accepted and closed at once.
  size_t max_connections = 10000;
  // After Stop(), requests in progress get this long to finish before their
  // connections are closed.
  std::chrono::milliseconds shutdown_grace = std::chrono::seconds(10);
};

// Counters for tests and /metrics. Monotonic except `open_connections`.
struct ServerStats {
  uint64_t accepted_connections = 0;
  uint64_t rejected_connections = 0;  // over max_connections
  uint64_t open_connections = 0;
  uint64_t requests = 0;
  uint64_t timeouts = 0;            // reads or writes that timed out
  uint64_t bodies_too_large = 0;    // 413 answers
  uint64_t headers_too_large = 0;   // 431 answers
  uint64_t handler_exceptions = 0;  // 500 answers to an escaped exception
};

// An HTTP/1.1 server: a listener accepts connections and hands each to a session that
// reads requests (keep-alive, pipelining), passes them to the Router and writes the
// answers. Each of the `threads` threads runs its own io_context, and a connection, its
// handlers included, runs on one of them only: a handler never runs concurrently with
// itself, nor with the other handlers of its thread, and one that blocks stalls the
// connections of its thread.
//
// Thread safety: all methods are safe from any thread, except that Wait() and the
// destructor must not be called from a server thread (a handler).
class HttpServer {
 public:
  // Binds, listens and starts the threads. Fails (with the address in the message) when
  // the address cannot be resolved or bound. `router` must outlive the server.
  static absl::StatusOr<std::unique_ptr<HttpServer>> Start(const ServerOptions& options,
                                                           const Router* router);

  // Stop() then Wait().
  ~HttpServer();
  HttpServer(const HttpServer&) = delete;
  HttpServer& operator=(const HttpServer&) = delete;

  // The bound port (the chosen one when ServerOptions::port was 0).
  uint16_t port() const { return port_; }

  // Graceful stop; returns at once. Stops accepting, closes idle connections, lets
  // requests in progress finish (answered with Connection: close), and after
  // shutdown_grace closes whatever is left. Idempotent.
  void Stop();

  // Blocks until the server has stopped (after Stop()) and its threads have exited.
  void Wait();

  ServerStats stats() const;

  struct State;  // shared with the sessions; defined in server.cc

 private:
  explicit HttpServer(std::shared_ptr<State> state);

  std::shared_ptr<State> state_;
  uint16_t port_ = 0;
};

}  // namespace tollgate::server
