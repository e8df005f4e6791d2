#include "server/http/server.h"

#include <pthread.h>

#include <spdlog/spdlog.h>

#include <algorithm>
#include <array>
#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/asio/write.hpp>
#include <boost/beast/core/error.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/core/string.hpp>
#include <boost/beast/http/chunk_encode.hpp>
#include <boost/beast/http/empty_body.hpp>
#include <boost/beast/http/error.hpp>
#include <boost/beast/http/parser.hpp>
#include <boost/beast/http/read.hpp>
#include <boost/beast/http/serializer.hpp>
#include <boost/beast/http/write.hpp>
#include <chrono>
#include <exception>
#include <memory>
#include <mutex>
#include <thread>
#include <tuple>
#include <utility>
#include <vector>

#include "absl/container/flat_hash_set.h"
#include "absl/strings/str_cat.h"
#include "server/http/errors.h"

namespace tollgate::server {
namespace net = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
using tcp = net::ip::tcp;

namespace {

constexpr auto kNoThrow = net::as_tuple(net::use_awaitable);
// Bytes asked for when waiting for the next request.
constexpr size_t kReadSize = 16 * 1024;
// Pipelined bytes kept while watching a streaming client for a disconnect.
constexpr size_t kMaxWatchBuffer = 1024 * 1024;
// How long an error answer that ends a connection waits for the client to stop
// sending (the rest of an oversized body is read and dropped), so that the client
// reads the answer instead of a reset.
constexpr std::chrono::milliseconds kLingerTime = std::chrono::seconds(2);
// Bounds of the interval at which each thread looks for connections past their
// deadline; see SweepInterval().
constexpr std::chrono::milliseconds kMinSweepInterval{10};
constexpr std::chrono::milliseconds kMaxSweepInterval{250};

// I/O objects bound to their io_context directly, without a type-erased executor.
using Socket = net::basic_stream_socket<tcp, net::io_context::executor_type>;
using Clock = std::chrono::steady_clock;
constexpr Clock::time_point kNoDeadline = Clock::time_point::max();

class Session;

bool IsHttpParseError(const beast::error_code& ec) {
  return &ec.category() == &http::make_error_code(http::error::bad_version).category();
}

// Appends the status line and header fields of `res` to *out exactly as Beast's
// serializer writes them (without the blank line that ends the head), so a buffered
// answer goes out as two buffers (head, body) without the serializer's per-field buffer
// sequence.
void AppendHead(const Response& res, std::string* out) {
  const unsigned version = res.version();
  const unsigned code = res.result_int();
  const char line[13] = {'H', 'T', 'T', 'P', '/',
                         static_cast<char>('0' + version / 10), '.',
                         static_cast<char>('0' + version % 10), ' ',
                         static_cast<char>('0' + code / 100),
                         static_cast<char>('0' + (code / 10) % 10),
                         static_cast<char>('0' + code % 10), ' '};
  out->append(line, sizeof line);
  beast::string_view reason = res.reason();
  out->append(reason.data(), reason.size());
  out->append("\r\n");
  for (const auto& field : res) {
    beast::string_view name = field.name_string();
    beast::string_view value = field.value();
    out->append(name.data(), name.size());
    out->append(": ");
    out->append(value.data(), value.size());
    out->append("\r\n");
  }
}

// True when res.prepare_payload() would only add "Content-Length" as the last field:
// `res` has neither Content-Length nor Transfer-Encoding, and may have its body.
bool NeedsOnlyContentLength(const Response& res) {
  const unsigned code = res.result_int();
  if (!res.body().empty() && (code / 100 == 1 || code == 204 || code == 304)) return false;
  for (const auto& field : res) {
    if (field.name() == http::field::content_length ||
        field.name() == http::field::transfer_encoding) {
      return false;
    }
  }
  return true;
}

// A quarter of the shortest timeout, within [kMinSweepInterval, kMaxSweepInterval]: a
// timeout fires between its nominal time and that plus the interval.
std::chrono::milliseconds SweepInterval(const ServerOptions& opt) {
  const std::chrono::milliseconds shortest =
      std::min({opt.read_timeout, opt.write_timeout, opt.idle_timeout});
  return std::clamp(shortest / 4, kMinSweepInterval, kMaxSweepInterval);
}

std::string FormatEndpoint(const tcp::endpoint& ep) {
  if (ep.address().is_v6()) return absl::StrCat("[", ep.address().to_string(), "]:", ep.port());
  return absl::StrCat(ep.address().to_string(), ":", ep.port());
}

}  // namespace

struct HttpServer::State {
  // One single-threaded io_context and the sessions that live on it. `sessions` and
  // the sessions themselves are only touched on `ioc`'s thread.
  struct Worker {
    Worker() : ioc(1), sweeper(ioc) {}

    // Calls `fn` on every session of this worker. REQUIRES: on ioc's thread.
    void ForEachSession(void (Session::*fn)());

    // Destroyed after `ioc`: destroying the io_context destroys pending handlers, and
    // with them sessions, which unregister.
    absl::flat_hash_set<Session*> sessions;
    net::io_context ioc;
    // Closes the connections past their deadline (see Sweep()); keeps `ioc` running
    // until the drain after Stop() is over.
    net::steady_timer sweeper;
    bool drained = false;  // the drain is over: Sweep() returns
  };

  State(const ServerOptions& opts, const Router* r)
      : options(opts),
        router(r),
        sweep_interval(SweepInterval(opts)),
        workers(MakeWorkers(std::max(1, opts.threads))),
        acceptor(control()),
        accept_backoff(control()),
        drain_timer(control()) {}

  static std::vector<std::unique_ptr<Worker>> MakeWorkers(int n) {
    std::vector<std::unique_ptr<Worker>> workers;
    for (int i = 0; i < n; ++i) workers.push_back(std::make_unique<Worker>());
    return workers;
  }

  // Where the acceptor and the drain run: the first worker's io_context.
  net::io_context& control() { return workers.front()->ioc; }

  // Calls `fn` on every session, each on its own thread; returns at once.
  void ForEachSession(void (Session::*fn)());
  net::awaitable<void> Listen();
  net::awaitable<void> Drain();
  // Times out the I/O of `worker`'s sessions, on its thread, until the drain is over.
  net::awaitable<void> Sweep(Worker* worker);

  const ServerOptions options;
  const Router* const router;
  const std::chrono::milliseconds sweep_interval;

  std::atomic<bool> stopping{false};

  std::atomic<uint64_t> accepted{0}, rejected{0}, open{0}, requests{0}, timeouts{0}, too_large{0},
      headers_too_large{0}, handler_exceptions{0};

  // Fixed after construction. Destroyed after the I/O objects below, which live on
  // their io_contexts.
  const std::vector<std::unique_ptr<Worker>> workers;
  tcp::acceptor acceptor;
  net::steady_timer accept_backoff;
  net::steady_timer drain_timer;
  size_t next_worker = 0;  // round-robin of accepted connections; only used by Listen()

  std::mutex threads_mu;
  std::vector<std::thread> threads;  // GUARDED_BY(threads_mu)
};

namespace {

// One connection: reads requests, hands them to the router, writes the answers. Also
// the ResponseWriter of the request in progress. Lives on one worker: everything,
// construction aside, runs on that worker's thread.
class Session final : public ResponseWriter, public std::enable_shared_from_this<Session> {
 public:
  Session(HttpServer::State* state, HttpServer::State::Worker* worker, Socket socket)
      : state_(state),
        worker_(worker),
        socket_(std::move(socket)),
        watch_done_(socket_.get_executor()) {
    beast::error_code ec;
    tcp::endpoint peer = socket_.remote_endpoint(ec);
    if (!ec) remote_addr_ = FormatEndpoint(peer);
    // For TrySend(); the asynchronous operations do not depend on it.
    socket_.non_blocking(true, ec);
  }

  ~Session() override {
    worker_->sessions.erase(this);
    state_->open.fetch_sub(1);
  }

  net::any_io_executor executor() { return socket_.get_executor(); }

  net::awaitable<void> Run(std::shared_ptr<Session> self);

  // When the I/O in progress times out; kNoDeadline when none is timed.
  Clock::time_point deadline() const { return deadline_; }

  // Called past deadline(): closes the connection, and the I/O in progress fails with
  // beast::error::timeout.
  void TimeOut() {
    deadline_ = kNoDeadline;
    timed_out_ = true;
    beast::error_code ec;
    socket_.close(ec);
  }

  // Graceful stop: an idle connection closes now, a busy one after its answer.
  void BeginStop() {
    stopping_ = true;
    beast::error_code ec;
    if (idle_) socket_.cancel(ec);
  }

  // After the grace period: closes the connection and tells a handler that watches
  // (OnClientGone) that its client is gone.
  void ForceClose() {
    beast::error_code ec;
    socket_.close(ec);
    MarkGone();
  }

  // ResponseWriter.
  net::awaitable<bool> DoWriteHeader(http::status status, std::string_view content_type,
                                     HeaderList extra_headers) override;
  net::awaitable<bool> WriteChunk(std::string_view data) override;
  net::awaitable<bool> Finish() override;
  bool header_written() const override { return header_written_; }
  bool client_gone() const override { return gone_; }
  void OnClientGone(std::function<void()> callback) override;

 private:
  // Times the I/O that follows: it must complete by `deadline`, or within `timeout`.
  // Every Arm() is followed by I/O and then Disarm().
  void Arm(Clock::time_point deadline) { deadline_ = deadline; }
  void Arm(std::chrono::milliseconds timeout) { Arm(Clock::now() + timeout); }
  // Ends the timed I/O that completed with `ec`; returns `ec`, or beast::error::timeout
  // when the I/O failed because it timed out.
  beast::error_code Disarm(beast::error_code ec) {
    deadline_ = kNoDeadline;
    if (ec && timed_out_) {
      timed_out_ = false;
      return beast::error::timeout;
    }
    return ec;
  }

  // Reads one request. False ends the connection (already answered when needed).
  net::awaitable<bool> ReadRequest(std::optional<http::request_parser<http::string_body>>& p);
  // Resets the per-request state before the handler runs.
  void StartRequest(unsigned version);
  // Writes the answer to `req` (a 500 when the handler `threw`) unless the handler
  // streamed it, and finishes a stream left open. False ends the connection.
  net::awaitable<bool> Respond(const Request& req, Response& res, bool threw);
  // Makes `res` the answer to send (a 500 when the handler `threw`), with the request's
  // HTTP `version`, and renders its head into head_. Returns whether the connection
  // stays open after it: `keep_alive` unless the answer says otherwise.
  bool PrepareAnswer(Response& res, bool threw, unsigned version, bool keep_alive);
  // Answers (when it should) a request that could not be read: `in_body` when the
  // header was read whole. The connection ends after it.
  net::awaitable<void> ReadFailed(beast::error_code ec, bool in_body, unsigned version);
  // Answers an unreadable request and lingers so the client sees the answer.
  net::awaitable<void> Reject(http::status status, std::string_view code, std::string_view message,
                              unsigned version);
  // Sends what the socket takes now without waiting, and drops it from `buffers`. True
  // when all was sent; `ec` is set when the connection failed.
  bool TrySend(std::array<net::const_buffer, 2>& buffers, beast::error_code& ec);
  bool Wrote(const beast::error_code& ec);
  void MarkGone();
  void StartWatch();
  net::awaitable<void> StopWatch();

  HttpServer::State* const state_;
  HttpServer::State::Worker* const worker_;
  Socket socket_;
  beast::flat_buffer buffer_;
  std::string head_;  // the head of the answer being written, reused
  std::string remote_addr_;
  bool idle_ = false;
  bool stopping_ = false;
  Clock::time_point deadline_ = kNoDeadline;
  bool timed_out_ = false;  // TimeOut() closed the socket under the timed I/O

  // Per request: the streaming state.
  unsigned version_ = 11;
  bool header_written_ = false;
  bool chunked_ = false;
  bool finished_ = false;
  bool finish_ok_ = false;
  bool gone_ = false;
  std::function<void()> on_gone_;
  // The disconnect watch: a read on the socket while the handler runs.
  bool watching_ = false;
  bool watch_stop_ = false;
  net::steady_timer watch_done_;
};

net::awaitable<void> Session::Run(std::shared_ptr<Session> self) {
  // `self` keeps the session alive while the coroutine runs.
  worker_->sessions.insert(this);
  while (!stopping_ && !state_->stopping.load(std::memory_order_relaxed)) {
    std::optional<http::request_parser<http::string_body>> parser;
    if (!co_await ReadRequest(parser)) break;
    state_->requests.fetch_add(1, std::memory_order_relaxed);
    Request req = parser->release();
    // The handler runs here rather than inside Respond() so that few enough coroutine
    // frames are alive at once for asio's per-thread frame cache (two) to serve them
    // without allocating.
    StartRequest(req.version());
    RequestContext ctx{.req = req,
                       .url = {},
                       .path = {},
                       .params = {},
                       .remote_addr = remote_addr_,
                       .executor = executor(),
                       .writer = this};
    Response res;
    bool threw = false;
    try {
      res = co_await state_->router->Dispatch(ctx);
    } catch (const std::exception& e) {
      spdlog::error("handler for {} {} threw: {}", std::string_view(req.method_string()),
                    std::string_view(req.target()), e.what());
      threw = true;
    } catch (...) {
      spdlog::error("handler for {} {} threw", std::string_view(req.method_string()),
                    std::string_view(req.target()));
      threw = true;
    }
    if (!co_await Respond(req, res, threw)) break;
  }
  beast::error_code ec;
  socket_.shutdown(tcp::socket::shutdown_send, ec);
  socket_.close(ec);
}

net::awaitable<bool> Session::ReadRequest(
    std::optional<http::request_parser<http::string_body>>& parser) {
  const ServerOptions& opt = state_->options;
  if (buffer_.size() == 0) {
    idle_ = true;
    Arm(opt.idle_timeout);
    auto [ec, n] = co_await socket_.async_read_some(buffer_.prepare(kReadSize), kNoThrow);
    Disarm(ec);
    idle_ = false;
    if (ec) co_return false;  // closed, idle timeout or stop
    buffer_.commit(n);
  }
  parser.emplace();
  parser->header_limit(static_cast<std::uint32_t>(opt.max_header_bytes));
  parser->body_limit(opt.max_body_bytes);
  // Fast path: what is buffered (usually the whole request) is parsed here, body too,
  // instead of through the asynchronous read operations, each of which costs a round
  // trip through the scheduler even when it needs no I/O. They take over from where
  // this stops when more bytes are needed.
  beast::error_code ec;
  // When the header and body must have arrived; set when a read first has to wait.
  Clock::time_point read_deadline = kNoDeadline;
  {
    parser->eager(true);
    const size_t used = parser->put(buffer_.data(), ec);
    buffer_.consume(used);
    if (ec == http::error::need_more) ec = {};
  }
  if (!ec && !parser->is_header_done()) {
    read_deadline = Clock::now() + opt.read_timeout;
    Arm(read_deadline);
    std::tie(ec, std::ignore) =
        co_await http::async_read_header(socket_, buffer_, *parser, kNoThrow);
    ec = Disarm(ec);
  }
  if (ec) {
    co_await ReadFailed(ec, parser->is_header_done(), parser->get().version());
    co_return false;
  }
  const auto& head = parser->get();
  boost::optional<std::uint64_t> length = parser->content_length();
  if (length && *length > opt.max_body_bytes) {
    state_->too_large.fetch_add(1, std::memory_order_relaxed);
    const std::string message =
        absl::StrCat("request body is larger than ", opt.max_body_bytes, " bytes");
    co_await Reject(http::status::payload_too_large, "body_too_large", message, head.version());
    co_return false;
  }
  if (!parser->is_done()) {
    auto expect = head[http::field::expect];
    if (beast::iequals(expect, "100-continue")) {
      http::response<http::empty_body> cont{http::status::continue_, head.version()};
      Arm(opt.write_timeout);
      auto [wec, n] = co_await http::async_write(socket_, cont, kNoThrow);
      if (Disarm(wec)) co_return false;
      read_deadline = kNoDeadline;  // the body gets the whole read timeout
    }
    if (read_deadline == kNoDeadline) read_deadline = Clock::now() + opt.read_timeout;
    Arm(read_deadline);
    std::tie(ec, std::ignore) = co_await http::async_read(socket_, buffer_, *parser, kNoThrow);
    ec = Disarm(ec);
    if (ec) {
      co_await ReadFailed(ec, /*in_body=*/true, head.version());
      co_return false;
    }
  }
  co_return true;
}

net::awaitable<void> Session::ReadFailed(beast::error_code ec, bool in_body, unsigned version) {
  const ServerOptions& opt = state_->options;
  if (ec == http::error::header_limit) {
    state_->headers_too_large.fetch_add(1, std::memory_order_relaxed);
    co_await Reject(http::status::request_header_fields_too_large, "headers_too_large",
                    "request headers are too large", 11);
  } else if (ec == http::error::body_limit) {  // Content-Length or body over the limit
    state_->too_large.fetch_add(1, std::memory_order_relaxed);
    const std::string message =
        absl::StrCat("request body is larger than ", opt.max_body_bytes, " bytes");
    co_await Reject(http::status::payload_too_large, "body_too_large", message, version);
  } else if (ec == beast::error::timeout) {
    state_->timeouts.fetch_add(1, std::memory_order_relaxed);
  } else if (IsHttpParseError(ec) && ec != http::error::end_of_stream &&
             ec != http::error::partial_message) {
    if (in_body) {
      co_await Reject(http::status::bad_request, "malformed_request", "malformed request body",
                      version);
    } else {
      co_await Reject(http::status::bad_request, "malformed_request", "malformed HTTP request",
                      11);
    }
  }
}

net::awaitable<void> Session::Reject(http::status status, std::string_view code,
                                     std::string_view message, unsigned version) {
  Response res = JsonError(status, "invalid_request_error", code, message);
  res.version(version);
  res.keep_alive(false);
  res.prepare_payload();
  Arm(state_->options.write_timeout);
  auto [ec, n] = co_await http::async_write(socket_, res, kNoThrow);
  if (Disarm(ec)) co_return;
  // Half-close, then drop whatever the client still sends until it closes too or the
  // linger time is up: closing with unread data would reset the connection and the
  // client could lose the answer.
  socket_.shutdown(tcp::socket::shutdown_send, ec);
  Arm(std::min<std::chrono::milliseconds>(kLingerTime, state_->options.read_timeout));
  auto sink = std::make_unique<char[]>(kReadSize);
  beast::error_code rec;
  while (!rec) {
    std::tie(rec, std::ignore) =
        co_await socket_.async_read_some(net::buffer(sink.get(), kReadSize), kNoThrow);
  }
  Disarm(rec);
}

void Session::StartRequest(unsigned version) {
  version_ = version;
  header_written_ = chunked_ = finished_ = finish_ok_ = gone_ = false;
  on_gone_ = nullptr;
}

net::awaitable<bool> Session::Respond(const Request& req, Response& res, bool threw) {
  bool keep_alive = req.keep_alive() && !stopping_;
  if (header_written_) {
    if (!finished_) co_await Finish();
    keep_alive = keep_alive && chunked_ && finish_ok_;
  } else {
    keep_alive = PrepareAnswer(res, threw, req.version(), keep_alive);
    std::array<net::const_buffer, 2> buffers = {
        net::const_buffer(head_.data(), head_.size()),
        net::const_buffer(res.body().data(), res.body().size())};
    beast::error_code ec;
    // An answer on a kept-alive connection waits for the end of this turn of the event
    // loop (the handlers already queued run first): the answers of a turn then go out
    // back to back, and a client waiting on many connections (a proxy, a load balancer)
    // wakes once for them rather than once for each, and so does this thread's core. A
    // last answer goes at once: the connection closes after it.
    if (keep_alive) co_await net::post(socket_.get_executor(), net::use_awaitable);
    if (!TrySend(buffers, ec) && !ec) {
      Arm(state_->options.write_timeout);
      std::tie(ec, std::ignore) = co_await net::async_write(socket_, buffers, kNoThrow);
      ec = Disarm(ec);
    }
    if (!Wrote(ec)) keep_alive = false;
  }
  on_gone_ = nullptr;
  if (watching_) co_await StopWatch();
  co_return keep_alive && !gone_ && !stopping_;
}

bool Session::PrepareAnswer(Response& res, bool threw, unsigned version, bool keep_alive) {
  if (threw) {
    state_->handler_exceptions.fetch_add(1, std::memory_order_relaxed);
    res = JsonError(http::status::internal_server_error, "internal_error", "internal",
                    "internal server error");
  }
  keep_alive = keep_alive && res.keep_alive();
  res.version(version);
  res.keep_alive(keep_alive);
  head_.clear();
  if (NeedsOnlyContentLength(res)) {
    AppendHead(res, &head_);
    absl::StrAppend(&head_, "Content-Length: ", res.body().size(), "\r\n\r\n");
  } else {
    res.prepare_payload();
    AppendHead(res, &head_);
    head_.append("\r\n");
  }
  return keep_alive;
}

bool Session::TrySend(std::array<net::const_buffer, 2>& buffers, beast::error_code& ec) {
  size_t sent = socket_.write_some(buffers, ec);
  if (ec == net::error::would_block) ec = {};
  for (net::const_buffer& b : buffers) {
    const size_t n = std::min(sent, b.size());
    b += n;
    sent -= n;
  }
  return buffers[0].size() == 0 && buffers[1].size() == 0;
}

bool Session::Wrote(const beast::error_code& ec) {
  if (!ec) return true;
  if (ec == beast::error::timeout) state_->timeouts.fetch_add(1, std::memory_order_relaxed);
  MarkGone();
  return false;
}

void Session::MarkGone() {
  if (gone_) return;
  gone_ = true;
  if (on_gone_) {
    std::function<void()> callback = std::move(on_gone_);
    on_gone_ = nullptr;
    callback();
  }
}

net::awaitable<bool> Session::DoWriteHeader(http::status status, std::string_view content_type,
                                            HeaderList extra_headers) {
  if (header_written_) co_return false;
  header_written_ = true;
  http::response<http::empty_body> head{status, version_};
  head.set(http::field::content_type,
           boost::beast::string_view(content_type.data(), content_type.size()));
  for (auto& [name, value] : extra_headers) head.set(name, value);
  chunked_ = version_ >= 11;
  if (chunked_) {
    head.chunked(true);
  } else {
    head.keep_alive(false);  // the body ends when the connection does
  }
  if (stopping_) head.keep_alive(false);
  StartWatch();
  if (gone_) co_return false;
  http::response_serializer<http::empty_body> serializer{head};
  Arm(state_->options.write_timeout);
  auto [ec, n] = co_await http::async_write_header(socket_, serializer, kNoThrow);
  co_return Wrote(Disarm(ec));
}

net::awaitable<bool> Session::WriteChunk(std::string_view data) {
  if (!header_written_ || finished_ || gone_) co_return false;
  if (data.empty()) co_return true;
  Arm(state_->options.write_timeout);
  beast::error_code ec;
  if (chunked_) {
    std::tie(ec, std::ignore) = co_await net::async_write(
        socket_, http::make_chunk(net::const_buffer(data.data(), data.size())), kNoThrow);
  } else {
    std::tie(ec, std::ignore) =
        co_await net::async_write(socket_, net::const_buffer(data.data(), data.size()), kNoThrow);
  }
  co_return Wrote(Disarm(ec));
}

net::awaitable<bool> Session::Finish() {
  if (!header_written_) co_return false;
  if (finished_) co_return finish_ok_;
  finished_ = true;
  if (gone_) co_return false;
  if (chunked_) {
    Arm(state_->options.write_timeout);
    auto [ec, n] = co_await net::async_write(socket_, http::make_chunk_last(), kNoThrow);
    finish_ok_ = Wrote(Disarm(ec));
  } else {
    finish_ok_ = true;
  }
  co_return finish_ok_;
}

void Session::OnClientGone(std::function<void()> callback) {
  on_gone_ = std::move(callback);
  if (gone_) {
    std::function<void()> cb = std::move(on_gone_);
    on_gone_ = nullptr;
    if (cb) cb();
    return;
  }
  StartWatch();
}

void Session::StartWatch() {
  if (watching_ || gone_ || !socket_.is_open()) return;
  watching_ = true;
  watch_stop_ = false;
  socket_.async_read_some(
      buffer_.prepare(kReadSize),
      [self = shared_from_this()](const beast::error_code& ec, size_t n) {
        self->watching_ = false;
        if (!ec) {
          // The client sent more (a pipelined request): keep it for the next read.
          self->buffer_.commit(n);
          if (!self->watch_stop_ && self->buffer_.size() < kMaxWatchBuffer) {
            self->StartWatch();
            return;
          }
        } else if (!self->watch_stop_) {
          self->MarkGone();
        }
        self->watch_done_.cancel();
      });
}

net::awaitable<void> Session::StopWatch() {
  if (!watching_) co_return;
  watch_stop_ = true;
  beast::error_code ec;
  socket_.cancel(ec);
  watch_done_.expires_at(net::steady_timer::time_point::max());
  co_await watch_done_.async_wait(kNoThrow);
}

}  // namespace

void HttpServer::State::Worker::ForEachSession(void (Session::*fn)()) {
  // `fn` may end a session, which then leaves `sessions`.
  std::vector<std::shared_ptr<Session>> live;
  live.reserve(sessions.size());
  for (Session* s : sessions) live.push_back(s->shared_from_this());
  for (auto& s : live) ((*s).*fn)();
}

void HttpServer::State::ForEachSession(void (Session::*fn)()) {
  for (const auto& worker : workers) {
    net::post(worker->ioc, [w = worker.get(), fn] { w->ForEachSession(fn); });
  }
}

net::awaitable<void> HttpServer::State::Sweep(Worker* worker) {
  std::vector<std::shared_ptr<Session>> expired;
  while (!worker->drained) {
    worker->sweeper.expires_after(sweep_interval);
    co_await worker->sweeper.async_wait(kNoThrow);
    const Clock::time_point now = Clock::now();
    for (Session* s : worker->sessions) {
      if (s->deadline() <= now) expired.push_back(s->shared_from_this());
    }
    for (auto& s : expired) s->TimeOut();
    expired.clear();
  }
}

net::awaitable<void> HttpServer::State::Listen() {
  for (;;) {
    Worker* worker = workers[next_worker].get();
    next_worker = (next_worker + 1) % workers.size();
    auto [ec, socket] = co_await acceptor.async_accept(worker->ioc, kNoThrow);
    if (stopping.load() || ec == net::error::operation_aborted) break;
    if (ec) {
      // Out of file descriptors and the like: back off instead of spinning.
      spdlog::warn("accept failed: {}", ec.message());
      accept_backoff.expires_after(std::chrono::milliseconds(50));
      co_await accept_backoff.async_wait(kNoThrow);
      continue;
    }
    accepted.fetch_add(1, std::memory_order_relaxed);
    if (open.load() >= options.max_connections) {
      rejected.fetch_add(1, std::memory_order_relaxed);
      beast::error_code ignored;
      socket.close(ignored);
      continue;
    }
    beast::error_code ignored;
    socket.set_option(tcp::no_delay(true), ignored);
    open.fetch_add(1);
    auto session = std::make_shared<Session>(this, worker, std::move(socket));
    net::co_spawn(session->executor(), session->Run(session), [](std::exception_ptr e) {
      if (!e) return;
      try {
        std::rethrow_exception(e);
      } catch (const std::exception& ex) {
        spdlog::error("connection ended by exception: {}", ex.what());
      } catch (...) {
        spdlog::error("connection ended by exception");
      }
    });
  }
}

net::awaitable<void> HttpServer::State::Drain() {
  auto deadline = std::chrono::steady_clock::now() + options.shutdown_grace;
  while (open.load() > 0 && std::chrono::steady_clock::now() < deadline) {
    drain_timer.expires_after(std::chrono::milliseconds(20));
    co_await drain_timer.async_wait(kNoThrow);
  }
  if (open.load() > 0) ForEachSession(&Session::ForceClose);
  // Each thread then exits once its last session has ended.
  for (const auto& worker : workers) {
    net::post(worker->ioc, [w = worker.get()] {
      w->drained = true;
      w->sweeper.cancel();
    });
  }
}

absl::StatusOr<std::unique_ptr<HttpServer>> HttpServer::Start(const ServerOptions& options,
                                                              const Router* router) {
  auto state = std::make_shared<State>(options, router);
  beast::error_code ec;
  tcp::endpoint endpoint;
  net::ip::address address = net::ip::make_address(options.host, ec);
  if (!ec) {
    endpoint = tcp::endpoint(address, options.port);
  } else {
    tcp::resolver resolver(state->control());
    auto results = resolver.resolve(options.host, std::to_string(options.port), ec);
    if (ec || results.empty()) {
      return absl::InvalidArgumentError(
          absl::StrCat("cannot resolve listen host '", options.host, "': ", ec.message()));
    }
    endpoint = results.begin()->endpoint();
  }
  std::string where = FormatEndpoint(endpoint);
  tcp::acceptor& acceptor = state->acceptor;
  if (acceptor.open(endpoint.protocol(), ec); ec) {
    return absl::InternalError(absl::StrCat("cannot open socket for ", where, ": ", ec.message()));
  }
  acceptor.set_option(net::socket_base::reuse_address(true), ec);
  if (acceptor.bind(endpoint, ec); ec) {
    return absl::UnavailableError(absl::StrCat("cannot bind ", where, ": ", ec.message()));
  }
  if (acceptor.listen(net::socket_base::max_listen_connections, ec); ec) {
    return absl::UnavailableError(absl::StrCat("cannot listen on ", where, ": ", ec.message()));
  }
  uint16_t port = acceptor.local_endpoint(ec).port();

  net::co_spawn(state->control(), state->Listen(), net::detached);
  {
    std::lock_guard<std::mutex> lock(state->threads_mu);
    for (size_t i = 0; i < state->workers.size(); ++i) {
      State::Worker* const worker = state->workers[i].get();
      net::co_spawn(worker->ioc, state->Sweep(worker), net::detached);
      state->threads.emplace_back([w = worker, name = absl::StrCat("tollgate-http-", i)] {
        pthread_setname_np(pthread_self(), name.substr(0, 15).c_str());  // for top -H, perf
        for (;;) {
          try {
            w->ioc.run();
            return;
          } catch (const std::exception& e) {
            spdlog::error("io thread: uncaught exception: {}", e.what());
          }
        }
      });
    }
  }
  std::unique_ptr<HttpServer> server(new HttpServer(std::move(state)));
  server->port_ = port;
  return server;
}

HttpServer::HttpServer(std::shared_ptr<State> state) : state_(std::move(state)) {}

HttpServer::~HttpServer() {
  Stop();
  Wait();
}

void HttpServer::Stop() {
  if (state_->stopping.exchange(true)) return;
  State* s = state_.get();
  net::post(s->control(), [s] {
    beast::error_code ignored;
    s->acceptor.close(ignored);
    net::co_spawn(s->control(), s->Drain(), net::detached);
  });
  s->ForEachSession(&Session::BeginStop);
}

void HttpServer::Wait() {
  std::vector<std::thread> threads;
  {
    std::lock_guard<std::mutex> lock(state_->threads_mu);
    threads.swap(state_->threads);
  }
  for (std::thread& t : threads) t.join();
}

ServerStats HttpServer::stats() const {
  const State& s = *state_;
  return ServerStats{
      .accepted_connections = s.accepted.load(),
      .rejected_connections = s.rejected.load(),
      .open_connections = s.open.load(),
      .requests = s.requests.load(),
      .timeouts = s.timeouts.load(),
      .bodies_too_large = s.too_large.load(),
      .headers_too_large = s.headers_too_large.load(),
      .handler_exceptions = s.handler_exceptions.load(),
  };
}

}  // namespace tollgate::server
