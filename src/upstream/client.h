#pragma once

// The HTTP/1.1 client the gateway uses to forward calls to the providers (OpenAI,
// Anthropic, Gemini) or to a local upstream: keep-alive pooling per origin, TLS with
// peer and host name verification, a timeout on every step, and response bodies read
// piece by piece as they arrive (for streamed answers).

#include <boost/asio/awaitable.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/beast/http/fields.hpp>
#include <boost/beast/http/message.hpp>
#include <boost/beast/http/string_body.hpp>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>

#include "absl/status/status.h"
#include "absl/status/statusor.h"

namespace tollgate::upstream {

// Where a provider lives, parsed from a base URL such as "https://api.openai.com/v1"
// or "http://127.0.0.1:9000".
struct Origin {
  bool tls = true;
  std::string host;  // a lower-case DNS name or an IP address (IPv6 without brackets)
  uint16_t port = 443;
  std::string base_path;  // "/v1" or "": no trailing slash, still percent-encoded

  // "https://host:port" (IPv6 in brackets): connections are pooled per key.
  std::string Key() const;
  // The Host header value: host, plus ":port" when the port is not the scheme's default.
  std::string HostHeader() const;
};

// Accepts http:// and https:// URLs with a host, an optional port (1..65535) and an
// optional path. InvalidArgument naming the problem for anything else: another scheme,
// no host, a bad port, user info ("user:pass@"), a query or a fragment.
absl::StatusOr<Origin> ParseBaseUrl(std::string_view url);

struct ClientOptions {
  // DNS + TCP connect + TLS handshake, together. DNS lookups run getaddrinfo on a
  // background thread and cannot be interrupted: a hung lookup makes Send wait for the
  // system resolver's own timeout before it reports DeadlineExceeded.
  std::chrono::milliseconds connect_timeout{10000};
  // The longest wait for the response headers, and for each next piece of body.
  std::chrono::milliseconds read_timeout{600000};
  // The longest time writing the request may take.
  std::chrono::milliseconds write_timeout{30000};
  // Idle keep-alive connections kept per origin; more are closed when returned.
  size_t max_idle_per_origin = 64;
  // A pooled connection idle longer than this is closed, not reused.
  std::chrono::milliseconds idle_timeout{30000};
  // PEM file of the CAs to trust. Empty: the system trust store
  // (set_default_verify_paths, which also honours SSL_CERT_FILE and SSL_CERT_DIR).
  std::string ca_file;
  // Largest status line + response headers; larger is ResourceExhausted.
  size_t max_header_bytes = 64 * 1024;
};

namespace detail {
struct Exchange;
struct PoolState;
}  // namespace detail

// Loads the trust store that Clients with these options use, now rather than in the
// first Client (tens of milliseconds for the system store): for servers that create
// their clients lazily, on the first call of each thread.
void PrepareTls(const ClientOptions& options);

// One response being read, returned by Client::Send.
//
// Thread safety: not thread-safe. Call every method, the destructor included, on the
// executor that called Send (a strand, or an io_context run by one thread): timeouts
// and Cancel() act on that executor. At most one Read/ReadAll may be pending at a time,
// and the stream must not be destroyed while one is (Cancel(), let the Read complete,
// then destroy it). A ResponseStream may outlive its Client.
class ResponseStream {
 public:
  ~ResponseStream();
  ResponseStream(const ResponseStream&) = delete;
  ResponseStream& operator=(const ResponseStream&) = delete;

  unsigned status() const;  // e.g. 200
  const boost::beast::http::fields& headers() const;

  // The next piece of the body as it arrives (chunked transfer coding removed); an
  // empty view once the body has ended (and on every call after that). The view stays
  // valid until the next call or the destruction of the stream.
  // Errors: DeadlineExceeded (nothing arrived for read_timeout), Unavailable (the
  // connection closed or reset mid-body), InvalidArgument (a malformed body, e.g. bad
  // chunk framing), Cancelled (after Cancel() or Cancellation::Cancel()). After an
  // error every call returns it.
  boost::asio::awaitable<absl::StatusOr<std::string_view>> Read();

  // Reads the rest of the body. ResourceExhausted when it is larger than `max_bytes`
  // (the connection is then not reused); otherwise the errors of Read().
  boost::asio::awaitable<absl::StatusOr<std::string>> ReadAll(size_t max_bytes);

  // Aborts the response: closes the connection (it is not pooled) at once. A pending
  // Read completes with Cancelled, and so does every later one. Safe at any time and
  // several times, from the stream's executor (e.g. from another coroutine on the same
  // strand while one is suspended in Read).
  void Cancel();

 private:
  friend class Client;
  explicit ResponseStream(std::shared_ptr<detail::Exchange> exchange);

  // Owned here; the exchange's timer callbacks and a Cancellation hold weak references.
  std::shared_ptr<detail::Exchange> exchange_;
};

// Lets a caller abort one Send call in progress, and then the ResponseStream it
// returned, e.g. when the gateway's own client disconnects before the upstream answers:
// the connection is closed (not pooled) and the Send, or a pending Read, completes with
// Cancelled. Never retried.
//
// Thread safety: not thread-safe; use it on the executor that calls Send. It must
// outlive the Send call it is passed to; it may be destroyed before the stream.
class Cancellation {
 public:
  // Safe at any time and several times, also before Send starts or after it ended.
  void Cancel();
  bool cancelled() const { return cancelled_; }

 private:
  friend class Client;
  bool cancelled_ = false;
  std::weak_ptr<detail::Exchange> exchange_;  // the attempt in progress, or the stream's
};

// Sends requests to upstreams over pooled HTTP/1.1 connections.
//
// Thread safety: Send and stats may be called concurrently from any number of
// coroutines and threads (the pool is locked; no lock is held across I/O). Each call
// runs its I/O on the calling coroutine's executor, which must be a strand or an
// io_context run by one thread. The io_context passed in must outlive the Client and
// every ResponseStream it returned.
class Client {
 public:
  // TLS: 1.2 or later, peer verification against ca_file or the system trust store,
  // loaded once per process and shared by the clients that name the same file (see
  // PrepareTls). If it fails to load (e.g. an unreadable ca_file) every Send fails with
  // init_status().
  Client(boost::asio::io_context& ioc, ClientOptions options);
  ~Client();
  Client(const Client&) = delete;
  Client& operator=(const Client&) = delete;

  // OK, or why the client cannot send (FailedPrecondition).
  const absl::Status& init_status() const { return init_status_; }

  // Sends `request` to `origin` and reads the response's status line and headers; the
  // body is then read from the returned stream.
  //
  // The caller sets the method, the target (origin.base_path included), its own headers
  // and the body. Send sets Host, Content-Length (replacing any chunked coding),
  // User-Agent when absent, and HTTP/1.1 keep-alive unless the request says
  // "Connection: close".
  //
  // TLS: SNI is sent and the certificate must verify against the trusted CAs and match
  // origin.host (boost::asio::ssl::host_name_verification, IP addresses included); if it
  // does not, the call fails with Unavailable("upstream TLS: certificate verify failed
  // ...") and nothing is sent.
  //
  // An idle pooled connection is reused when there is one. If a reused connection turns
  // out closed before any response byte arrived (a stale keep-alive the server dropped),
  // the request is sent once more on a fresh connection; note that this repeats a
  // request the server may, rarely, have received. Interim 1xx responses are skipped.
  //
  // Errors: Unavailable (resolve, connect, TLS, connection reset or closed),
  // DeadlineExceeded (connect_timeout, write_timeout, or read_timeout waiting for the
  // headers), InvalidArgument (a malformed response), ResourceExhausted (headers larger
  // than max_header_bytes), Cancelled (through `cancellation`), FailedPrecondition
  // (init_status()).
  //
  // REQUIRES: `origin` and `cancellation` (when not null) stay valid until Send
  // completes, as they do in `co_await client.Send(origin, ...)`. Asio's own per-operation
  // cancellation (cancellation slots) is not supported: use `cancellation`.
  boost::asio::awaitable<absl::StatusOr<std::unique_ptr<ResponseStream>>> Send(
      const Origin& origin, boost::beast::http::request<boost::beast::http::string_body> request,
      Cancellation* cancellation = nullptr);

  // Counters for tests and metrics, monotonic.
  struct Stats {
    uint64_t connections_opened = 0;  // TCP connections established
    uint64_t requests = 0;            // Send calls
    uint64_t reuses = 0;              // pooled connections taken for a request
    uint64_t retries = 0;             // requests re-sent after a stale pooled connection
  };
  Stats stats() const;

 private:
  std::shared_ptr<detail::PoolState> pool_;
  absl::Status init_status_;
};

}  // namespace tollgate::upstream
