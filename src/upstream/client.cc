#include "upstream/client.h"

#include <openssl/ssl.h>
#include <openssl/x509.h>
#include <openssl/x509_vfy.h>
#include <poll.h>

#include <algorithm>
#include <array>
#include <atomic>
#include <boost/asio/as_tuple.hpp>
#include <boost/asio/async_result.hpp>
#include <boost/asio/connect.hpp>
#include <boost/asio/ip/address.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/ssl/context.hpp>
#include <boost/asio/ssl/error.hpp>
#include <boost/asio/ssl/host_name_verification.hpp>
#include <boost/asio/ssl/stream.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/beast/core/error.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/http/buffer_body.hpp>
#include <boost/beast/http/error.hpp>
#include <boost/beast/http/parser.hpp>
#include <boost/beast/http/read.hpp>
#include <boost/beast/http/rfc7230.hpp>
#include <boost/beast/http/write.hpp>
#include <iterator>
#include <limits>
#include <mutex>
#include <optional>
#include <tuple>
#include <utility>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "absl/strings/str_cat.h"
#include "absl/synchronization/mutex.h"

namespace tollgate::upstream {
namespace net = boost::asio;
namespace ssl = net::ssl;
namespace beast = boost::beast;
namespace http = beast::http;
using tcp = net::ip::tcp;
using Clock = std::chrono::steady_clock;
using Request = http::request<http::string_body>;

namespace {

constexpr auto kNoThrow = net::as_tuple(net::use_awaitable);
// Size of the buffer a response body is read into: the largest piece Read returns.
constexpr size_t kPieceBytes = 16 * 1024;
constexpr std::string_view kUserAgent = "tollgate/0.1";

bool IsHttpError(const beast::error_code& ec) {
  return &ec.category() == &http::make_error_code(http::error::bad_version).category();
}

bool IsIpAddress(const std::string& host) {
  beast::error_code ec;
  net::ip::make_address(host, ec);
  return !ec;
}

// Peer verification as host_name_verification does it, except that a name mismatch is
// recorded as X509_V_ERR_HOSTNAME_MISMATCH, so the error message can say so.
struct VerifyHost {
  ssl::host_name_verification check;
  bool operator()(bool preverified, ssl::verify_context& ctx) const {
    if (!preverified) return false;
    if (check(preverified, ctx)) return true;
    X509_STORE_CTX_set_error(ctx.native_handle(), X509_V_ERR_HOSTNAME_MISMATCH);
    return false;
  }
};

}  // namespace

namespace detail {

// One TCP connection to an origin, with TLS on top when the origin asks for it. Owned
// by one Exchange at a time, or idle in the pool; never used by two at once. Its I/O
// completes on the executor of the coroutine that awaits it (the socket's own executor
// only tracks work), so the owner's executor serializes everything done to it.
//
// A Beast AsyncReadStream and AsyncWriteStream: reads and writes go to TLS or to the
// socket, so the HTTP code is written once.
class Connection {
 public:
  using executor_type = net::any_io_executor;

  // The TLS stream object exists for plain HTTP too (an unused SSL object), so that one
  // type serves both.
  Connection(const executor_type& executor, ssl::context& ssl, bool tls)
      : stream_(tcp::socket(executor), ssl), tls_(tls) {}

  executor_type get_executor() { return stream_.get_executor(); }
  tcp::socket& socket() { return stream_.next_layer(); }
  ssl::stream<tcp::socket>& tls_stream() { return stream_; }

  // Closes the socket; a pending operation completes with an error.
  void Close() {
    beast::error_code ec;
    socket().close(ec);
  }

  // For an idle connection: true when the peer closed it, reset it, or sent something
  // nobody asked for (a late answer, a TLS alert); it must not be reused.
  bool LooksDead() {
    if (!socket().is_open()) return true;
    pollfd p{socket().native_handle(), POLLIN, 0};
    return ::poll(&p, 1, 0) != 0;
  }

  template <class MutableBuffers, class Token>
  auto async_read_some(const MutableBuffers& buffers, Token&& token) {
    return net::async_initiate<Token, void(beast::error_code, size_t)>(
        [this](auto handler, const MutableBuffers& b) {
          if (tls_) {
            stream_.async_read_some(b, std::move(handler));
          } else {
            stream_.next_layer().async_read_some(b, std::move(handler));
          }
        },
        token, buffers);
  }

  template <class ConstBuffers, class Token>
  auto async_write_some(const ConstBuffers& buffers, Token&& token) {
    return net::async_initiate<Token, void(beast::error_code, size_t)>(
        [this](auto handler, const ConstBuffers& b) {
          if (tls_) {
            stream_.async_write_some(b, std::move(handler));
          } else {
            stream_.next_layer().async_write_some(b, std::move(handler));
          }
        },
        token, buffers);
  }

  // Bytes received but not parsed yet. A connection goes back to the pool only empty.
  beast::flat_buffer buffer;
  // What Exchange::Read's views point into (kPieceBytes, allocated on first use): kept
  // with the connection so that a pooled connection's next exchange reuses it.
  std::unique_ptr<char[]> piece;
  Clock::time_point idle_since;

 private:
  ssl::stream<tcp::socket> stream_;
  const bool tls_;
};

// The TLS settings of every client that trusts the same CAs: TLS 1.2 or later, peer
// verification. Loading a trust store costs tens of milliseconds (the system one holds
// over a hundred certificates), and an SSL_CTX is safe to share once configured, so a
// process loads each one once.
struct TlsContext {
  ssl::context ctx{ssl::context::tls_client};
  absl::Status status;  // why the trust store did not load, if it did not
};

std::shared_ptr<TlsContext> SharedTlsContext(const std::string& ca_file) {
  static absl::Mutex mu(absl::kConstInit);
  static auto* contexts = new absl::flat_hash_map<std::string, std::shared_ptr<TlsContext>>();
  absl::MutexLock lock(&mu);
  std::shared_ptr<TlsContext>& tls = (*contexts)[ca_file];
  if (tls != nullptr) return tls;
  tls = std::make_shared<TlsContext>();
  ssl::context& ctx = tls->ctx;
  SSL_CTX_set_min_proto_version(ctx.native_handle(), TLS1_2_VERSION);
  ctx.set_options(ssl::context::default_workarounds | ssl::context::no_compression);
  ctx.set_verify_mode(ssl::verify_peer);
  beast::error_code ec;
  if (ca_file.empty()) {
    ctx.set_default_verify_paths(ec);
  } else {
    ctx.load_verify_file(ca_file, ec);
  }
  if (ec) {
    tls->status = absl::FailedPreconditionError(
        absl::StrCat("upstream TLS: cannot load ",
                     ca_file.empty() ? "the system trust store" : ca_file, ": ", ec.message()));
  }
  return tls;
}

// What the Client and its ResponseStreams share: options, TLS context, idle
// connections and counters. Outlives the Client while streams hold it.
struct PoolState {
  PoolState(net::io_context& ioc, ClientOptions opts)
      : executor(ioc.get_executor()),
        options(std::move(opts)),
        tls(SharedTlsContext(options.ca_file)) {}

  // An idle connection to `key` (the most recently used one), or null.
  std::unique_ptr<Connection> Take(const std::string& key);
  // Keeps `conn` for reuse, or closes it when the origin already has enough idle ones.
  void Put(const std::string& key, std::unique_ptr<Connection> conn);

  const net::any_io_executor executor;  // of the sockets
  const ClientOptions options;
  const std::shared_ptr<TlsContext> tls;  // shared, only read

  std::atomic<uint64_t> opened{0}, requests{0}, reuses{0}, retries{0};

  std::mutex mu;
  // Idle connections per origin key, oldest first. GUARDED_BY(mu)
  absl::flat_hash_map<std::string, std::vector<std::unique_ptr<Connection>>> idle;

 private:
  // Moves the connections of `list` idle longer than idle_timeout to `out`.
  // REQUIRES: mu held.
  void Expire(std::vector<std::unique_ptr<Connection>>& list, Clock::time_point now,
              std::vector<std::unique_ptr<Connection>>& out);
};

void PoolState::Expire(std::vector<std::unique_ptr<Connection>>& list, Clock::time_point now,
                       std::vector<std::unique_ptr<Connection>>& out) {
  auto fresh = list.begin();
  while (fresh != list.end() && now - (*fresh)->idle_since > options.idle_timeout) ++fresh;
  std::move(list.begin(), fresh, std::back_inserter(out));
  list.erase(list.begin(), fresh);
}

std::unique_ptr<Connection> PoolState::Take(const std::string& key) {
  std::vector<std::unique_ptr<Connection>> closing;  // closed after the lock is released
  std::unique_ptr<Connection> found;
  {
    std::lock_guard<std::mutex> lock(mu);
    auto it = idle.find(key);
    if (it == idle.end()) return nullptr;
    std::vector<std::unique_ptr<Connection>>& list = it->second;
    Expire(list, Clock::now(), closing);
    while (!list.empty() && !found) {
      std::unique_ptr<Connection> conn = std::move(list.back());
      list.pop_back();
      if (conn->LooksDead()) {  // poll() with no wait: not I/O held under the lock
        closing.push_back(std::move(conn));
      } else {
        found = std::move(conn);
      }
    }
  }
  return found;
}

void PoolState::Put(const std::string& key, std::unique_ptr<Connection> conn) {
  std::vector<std::unique_ptr<Connection>> closing;
  Clock::time_point now = Clock::now();
  conn->idle_since = now;
  std::lock_guard<std::mutex> lock(mu);
  std::vector<std::unique_ptr<Connection>>& list = idle[key];
  Expire(list, now, closing);
  // `closing` is declared before `lock`, so it is destroyed after the unlock.
  list.push_back(std::move(conn));
  while (list.size() > options.max_idle_per_origin) {
    closing.push_back(std::move(list.front()));
    list.erase(list.begin());
  }
}

// One request/response on one connection, from connecting (or taking a pooled
// connection) to the end of the body. Touched only on the executor of the coroutine
// that called Send; its timer runs there too, so no locking is needed.
struct Exchange : std::enable_shared_from_this<Exchange> {
  // The outcome of sending the request and reading the headers.
  struct Started {
    absl::Status status;
    bool retry = false;  // a stale pooled connection: send again on a fresh one
  };

  Exchange(std::shared_ptr<PoolState> p, const net::any_io_executor& executor, std::string k)
      : pool(std::move(p)), key(std::move(k)), timer(executor) {}
  ~Exchange();

  // Puts a deadline on the I/O that follows: when it passes before Disarm(), the
  // connection is closed (and a resolve cancelled), so the pending operation fails;
  // `timed_out` then says why.
  void Arm(Clock::time_point deadline);
  void Disarm();
  void Abort();

  net::awaitable<absl::Status> Connect(const Origin& origin);
  net::awaitable<Started> Start(Request& request);
  net::awaitable<absl::StatusOr<std::string_view>> Read();

  // The error for a failed or interrupted I/O step.
  absl::Status IoError(const beast::error_code& ec, std::string_view what,
                       std::chrono::milliseconds limit) const;
  absl::Status TlsError(const beast::error_code& ec);
  bool Reusable() const;

  const std::shared_ptr<PoolState> pool;
  const std::string key;
  net::steady_timer timer;
  uint64_t armed = 0;  // generation of the armed deadline; older expiries are ignored
  bool timed_out = false;
  bool cancelled = false;                 // by ResponseStream::Cancel or Cancellation::Cancel
  std::optional<tcp::resolver> resolver;  // during Connect
  std::unique_ptr<Connection> conn;
  bool reused = false;
  bool keep_alive = true;  // the request allows keep-alive
  std::optional<http::response_parser<http::buffer_body>> parser;
  bool body_done = false;
  absl::Status error;  // sticky: the first body error
};

Exchange::~Exchange() {
  if (Reusable()) pool->Put(key, std::move(conn));
}

bool Exchange::Reusable() const {
  return conn && conn->socket().is_open() && !cancelled && !timed_out && error.ok() && body_done &&
         keep_alive && parser && parser->keep_alive() && parser->get().result_int() != 101 &&
         conn->buffer.size() == 0 && pool->options.max_idle_per_origin > 0;
}

void Exchange::Arm(Clock::time_point deadline) {
  uint64_t generation = ++armed;
  timer.expires_at(deadline);
  std::weak_ptr<Exchange> weak = weak_from_this();
  timer.async_wait([weak, generation](const beast::error_code& ec) {
    if (ec) return;
    std::shared_ptr<Exchange> self = weak.lock();
    if (!self || self->armed != generation) return;
    self->timed_out = true;
    self->Abort();
  });
}

void Exchange::Disarm() {
  ++armed;
  timer.cancel();
}

void Exchange::Abort() {
  if (resolver) resolver->cancel();
  if (conn) conn->Close();
}

absl::Status Exchange::IoError(const beast::error_code& ec, std::string_view what,
                               std::chrono::milliseconds limit) const {
  if (cancelled) return absl::CancelledError(absl::StrCat("upstream ", key, ": cancelled"));
  if (timed_out) {
    return absl::DeadlineExceededError(absl::StrCat("upstream ", key, ": ", std::string(what),
                                                    " timed out after ", limit.count(), " ms"));
  }
  return absl::UnavailableError(
      absl::StrCat("upstream ", key, ": ", std::string(what), ": ", ec.message()));
}

absl::Status Exchange::TlsError(const beast::error_code& ec) {
  long verify = SSL_get_verify_result(conn->tls_stream().native_handle());
  if (verify != X509_V_OK) {
    return absl::UnavailableError(absl::StrCat("upstream TLS: certificate verify failed (",
                                               X509_verify_cert_error_string(verify), ") for ",
                                               key));
  }
  return IoError(ec, "TLS handshake", pool->options.connect_timeout);
}

net::awaitable<absl::Status> Exchange::Connect(const Origin& origin) {
  const std::chrono::milliseconds limit = pool->options.connect_timeout;
  Arm(Clock::now() + limit);
  resolver.emplace(timer.get_executor());
  const std::string service = std::to_string(origin.port);
  auto [rec, endpoints] = co_await resolver->async_resolve(
      origin.host, service, tcp::resolver::numeric_service, kNoThrow);
  resolver.reset();
  if (rec || timed_out || cancelled) {
    Disarm();
    co_return IoError(rec, absl::StrCat("resolving ", origin.host), limit);
  }

  conn = std::make_unique<Connection>(pool->executor, pool->tls->ctx, origin.tls);
  auto [cec, endpoint] = co_await net::async_connect(conn->socket(), endpoints, kNoThrow);
  if (cec || timed_out || cancelled) {
    Disarm();
    co_return IoError(cec, "connect", limit);
  }
  pool->opened.fetch_add(1, std::memory_order_relaxed);
  beast::error_code ignored;
  conn->socket().set_option(tcp::no_delay(true), ignored);

  if (origin.tls) {
    ssl::stream<tcp::socket>& tls = conn->tls_stream();
    // SNI carries names only, never IP addresses (RFC 6066).
    if (!IsIpAddress(origin.host))
      SSL_set_tlsext_host_name(tls.native_handle(), origin.host.c_str());
    tls.set_verify_mode(ssl::verify_peer);
    VerifyHost verify{ssl::host_name_verification(origin.host)};
    tls.set_verify_callback(verify);
    auto [hec] = co_await tls.async_handshake(ssl::stream_base::client, kNoThrow);
    if (hec || timed_out || cancelled) {
      Disarm();
      co_return timed_out || cancelled ? IoError(hec, "TLS handshake", limit) : TlsError(hec);
    }
  }
  Disarm();
  co_return absl::OkStatus();
}

net::awaitable<Exchange::Started> Exchange::Start(Request& request) {
  const ClientOptions& opt = pool->options;
  keep_alive = request.keep_alive();

  // The head serialized here as Beast's serializer would, then head and body in one
  // gathered write: cheaper than the serializer's buffer sequences.
  std::string head;
  head.reserve(256);
  beast::string_view method = request.method_string();
  beast::string_view target = request.target();
  head.append(method.data(), method.size());
  head.push_back(' ');
  head.append(target.data(), target.size());
  head.append(request.version() == 10 ? " HTTP/1.0\r\n" : " HTTP/1.1\r\n");
  for (const auto& field : request) {
    beast::string_view name = field.name_string();
    beast::string_view value = field.value();
    head.append(name.data(), name.size());
    head.append(": ");
    head.append(value.data(), value.size());
    head.append("\r\n");
  }
  head.append("\r\n");
  const std::array<net::const_buffer, 2> buffers = {
      net::const_buffer(head.data(), head.size()),
      net::const_buffer(request.body().data(), request.body().size())};
  Arm(Clock::now() + opt.write_timeout);
  auto [wec, written] = co_await net::async_write(*conn, buffers, kNoThrow);
  Disarm();
  if (wec || timed_out || cancelled) {
    co_return Started{IoError(wec, "sending the request", opt.write_timeout),
                      reused && !timed_out && !cancelled};
  }

  // One deadline for the headers, interim (1xx) responses included.
  Arm(Clock::now() + opt.read_timeout);
  bool got_interim = false;
  for (;;) {
    parser.emplace();
    parser->header_limit(static_cast<std::uint32_t>(
        std::min<size_t>(opt.max_header_bytes, std::numeric_limits<std::uint32_t>::max())));
    parser->body_limit(boost::none);  // the body streams; ReadAll has its own limit
    if (request.method() == http::verb::head) parser->skip(true);
    auto [ec, n] = co_await http::async_read_header(*conn, conn->buffer, *parser, kNoThrow);
    if (ec || timed_out || cancelled) {
      Disarm();
      const bool nothing_received = !got_interim && !parser->got_some() && conn->buffer.size() == 0;
      if (!timed_out && !cancelled && ec == http::error::header_limit) {
        co_return Started{absl::ResourceExhaustedError(absl::StrCat(
            "upstream ", key, ": response headers larger than ", opt.max_header_bytes, " bytes"))};
      }
      if (!timed_out && !cancelled && IsHttpError(ec) && ec != http::error::end_of_stream &&
          ec != http::error::partial_message) {
        co_return Started{absl::InvalidArgumentError(
            absl::StrCat("upstream ", key, ": malformed response: ", ec.message()))};
      }
      co_return Started{IoError(ec, "reading the response headers", opt.read_timeout),
                        reused && nothing_received && !timed_out && !cancelled};
    }
    const unsigned status = parser->get().result_int();
    if (status < 100 || status >= 200 || status == 101) break;
    got_interim = true;  // e.g. 100 Continue: the real answer follows
  }
  Disarm();
  body_done = parser->is_done();  // HEAD, 204, 304, Content-Length: 0
  co_return Started{};
}

net::awaitable<absl::StatusOr<std::string_view>> Exchange::Read() {
  const std::chrono::milliseconds limit = pool->options.read_timeout;
  if (cancelled) co_return IoError({}, "reading the response body", limit);
  if (!error.ok()) co_return error;
  if (timed_out) {  // a deadline passed just as the previous read completed
    error = IoError({}, "reading the response body", limit);
    co_return error;
  }
  if (body_done) co_return std::string_view();
  if (!conn->piece) conn->piece.reset(new char[kPieceBytes]);  // no need to zero it
  char* const piece = conn->piece.get();
  for (;;) {
    http::buffer_body::value_type& body = parser->get().body();
    body.data = piece;
    body.size = kPieceBytes;
    beast::error_code ec;
    // What is buffered already (usually the whole body of a small answer: it came with
    // the headers) is parsed here. An asynchronous read would complete at once, but
    // through a turn of the event loop, after every other handler that is ready.
    size_t used = 0;
    if (conn->buffer.size() > 0) {
      used = parser->put(conn->buffer.data(), ec);
      conn->buffer.consume(used);
      if (ec == http::error::need_more) ec = {};
    }
    if (used == 0 && !ec) {
      Arm(Clock::now() + limit);
      std::tie(ec, std::ignore) =
          co_await http::async_read_some(*conn, conn->buffer, *parser, kNoThrow);
      Disarm();
      if (cancelled) co_return IoError(ec, "reading the response body", limit);
    }
    if (ec == http::error::need_buffer) ec = {};  // the piece is full
    // A body that ends when the connection does, over TLS without close_notify: the
    // end of the connection is still the end of the body.
    if (ec == ssl::error::stream_truncated && parser->need_eof()) parser->put_eof(ec);
    if (ec || timed_out) {
      if (timed_out) {
        error = IoError(ec, "reading the response body", limit);
      } else if (IsHttpError(ec) && ec != http::error::partial_message &&
                 ec != http::error::end_of_stream) {
        error = absl::InvalidArgumentError(
            absl::StrCat("upstream ", key, ": malformed response body: ", ec.message()));
      } else {
        error = absl::UnavailableError(
            absl::StrCat("upstream ", key, ": connection lost mid-body: ", ec.message()));
      }
      if (conn) conn->Close();
      co_return error;
    }
    const size_t got = kPieceBytes - parser->get().body().size;
    body_done = parser->is_done();
    if (got > 0) co_return std::string_view(piece, got);
    if (body_done) co_return std::string_view();
    // Only framing (a chunk header) was parsed: read on.
  }
}

}  // namespace detail

// ResponseStream

ResponseStream::ResponseStream(std::shared_ptr<detail::Exchange> exchange)
    : exchange_(std::move(exchange)) {}

ResponseStream::~ResponseStream() = default;  // ~Exchange pools or closes the connection

unsigned ResponseStream::status() const { return exchange_->parser->get().result_int(); }

const http::fields& ResponseStream::headers() const { return exchange_->parser->get().base(); }

net::awaitable<absl::StatusOr<std::string_view>> ResponseStream::Read() {
  co_return co_await exchange_->Read();
}

net::awaitable<absl::StatusOr<std::string>> ResponseStream::ReadAll(size_t max_bytes) {
  std::string all;
  for (;;) {
    absl::StatusOr<std::string_view> piece = co_await exchange_->Read();
    if (!piece.ok()) co_return piece.status();
    if (piece->empty()) co_return all;
    if (piece->size() > max_bytes - all.size()) {
      exchange_->error = absl::ResourceExhaustedError(absl::StrCat(
          "upstream ", exchange_->key, ": response body larger than ", max_bytes, " bytes"));
      exchange_->Abort();
      co_return exchange_->error;
    }
    all.append(*piece);
  }
}

void ResponseStream::Cancel() {
  exchange_->cancelled = true;
  exchange_->Abort();
}

void Cancellation::Cancel() {
  cancelled_ = true;
  if (std::shared_ptr<detail::Exchange> exchange = exchange_.lock()) {
    exchange->cancelled = true;
    exchange->Abort();
  }
}

// Client

Client::Client(net::io_context& ioc, ClientOptions options)
    : pool_(std::make_shared<detail::PoolState>(ioc, std::move(options))),
      init_status_(pool_->tls->status) {}

void PrepareTls(const ClientOptions& options) { detail::SharedTlsContext(options.ca_file); }

Client::~Client() = default;

Client::Stats Client::stats() const {
  return Stats{.connections_opened = pool_->opened.load(std::memory_order_relaxed),
               .requests = pool_->requests.load(std::memory_order_relaxed),
               .reuses = pool_->reuses.load(std::memory_order_relaxed),
               .retries = pool_->retries.load(std::memory_order_relaxed)};
}

net::awaitable<absl::StatusOr<std::unique_ptr<ResponseStream>>> Client::Send(
    const Origin& origin, Request request, Cancellation* cancellation) {
  if (!init_status_.ok()) co_return init_status_;
  // Copies taken before the first suspension: this Client may go away meanwhile.
  const std::shared_ptr<detail::PoolState> pool = pool_;
  const Origin target = origin;
  const std::string key = target.Key();
  pool->requests.fetch_add(1, std::memory_order_relaxed);

  if (request.method() == http::verb::trace && !request.body().empty()) {
    co_return absl::InvalidArgumentError("a TRACE request cannot have a body");
  }
  const bool keep_alive = !http::token_list(request[http::field::connection]).exists("close");
  request.version(11);
  request.set(http::field::host, target.HostHeader());
  if (request.find(http::field::user_agent) == request.end()) {
    request.set(http::field::user_agent, beast::string_view(kUserAgent.data(), kUserAgent.size()));
  }
  request.prepare_payload();
  request.keep_alive(keep_alive);

  const net::any_io_executor executor = co_await net::this_coro::executor;
  for (int attempt = 0;; ++attempt) {
    auto exchange = std::make_shared<detail::Exchange>(pool, executor, key);
    if (cancellation) {
      if (cancellation->cancelled_) {
        co_return absl::CancelledError(absl::StrCat("upstream ", key, ": cancelled"));
      }
      cancellation->exchange_ = exchange;
    }
    if (attempt == 0) exchange->conn = pool->Take(key);
    exchange->reused = exchange->conn != nullptr;
    if (exchange->reused) {
      pool->reuses.fetch_add(1, std::memory_order_relaxed);
    } else {
      absl::Status connected = co_await exchange->Connect(target);
      if (!connected.ok()) co_return connected;
    }
    detail::Exchange::Started started = co_await exchange->Start(request);
    if (started.retry && attempt == 0) {
      pool->retries.fetch_add(1, std::memory_order_relaxed);
      continue;
    }
    if (!started.status.ok()) co_return started.status;
    co_return std::unique_ptr<ResponseStream>(new ResponseStream(std::move(exchange)));
  }
}

}  // namespace tollgate::upstream
