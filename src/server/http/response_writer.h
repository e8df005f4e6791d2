#pragma once

#include <boost/asio/awaitable.hpp>
#include <boost/beast/http/status.hpp>
#include <functional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace tollgate::server {

// Extra response headers for ResponseWriter::WriteHeader, e.g.
// {{"Cache-Control", "no-cache"}}. Build the list in a variable before the co_await:
// GCC 12 rejects a braced list of pairs inside a co_await expression.
using HeaderList = std::vector<std::pair<std::string, std::string>>;

// Lets a handler write its response itself, piece by piece, as data arrives (CSV/JSONL
// export, SSE proxying). The body goes out with Transfer-Encoding: chunked (HTTP/1.0
// clients get the raw bytes and the connection is closed at the end).
//
// Use: co_await WriteHeader(...); any number of co_await WriteChunk(...); co_await
// Finish(); then return any Response (Streamed() reads best): once WriteHeader has been
// called the returned Response is ignored. A handler that forgets Finish() is finished
// for it when it returns.
//
// Every call returns false once the client is gone (reset, closed, or a write timed
// out); the handler should then stop producing and clean up (e.g. charge for what was
// generated). OnClientGone() reports a disconnect even while the handler is not writing.
//
// Thread safety: not thread-safe; call only from the handler's coroutine (its executor).
// Each call must complete (be co_awaited) before the next one starts.
class ResponseWriter {
 public:
  virtual ~ResponseWriter() = default;

  // Sends the status line and headers: Content-Type `content_type` (e.g.
  // "text/event-stream"), then `extra_headers`. REQUIRES: not called before for this
  // request.
  boost::asio::awaitable<bool> WriteHeader(boost::beast::http::status status,
                                           std::string_view content_type,
                                           HeaderList extra_headers = {}) {
    return DoWriteHeader(status, content_type, std::move(extra_headers));
  }

  // Sends `data` as one chunk. Empty data is a no-op. `data` must stay valid until the
  // call completes. REQUIRES: WriteHeader was called, Finish was not.
  virtual boost::asio::awaitable<bool> WriteChunk(std::string_view data) = 0;

  // Ends the body (the terminating chunk). Further calls are no-ops returning the same
  // answer. REQUIRES: WriteHeader was called.
  virtual boost::asio::awaitable<bool> Finish() = 0;

  // True once WriteHeader was called.
  virtual bool header_written() const = 0;

  // True once the client is known to be gone.
  virtual bool client_gone() const = 0;

  // Runs `callback` once, on the handler's executor, as soon as the client disconnects
  // (from now on the connection is watched for EOF/reset even while the handler only
  // waits, e.g. on an upstream); at once if it is already gone. Replaces an earlier
  // callback. The callback must not outlive what it captures: the writer drops it when
  // the request ends.
  virtual void OnClientGone(std::function<void()> callback) = 0;

 protected:
  virtual boost::asio::awaitable<bool> DoWriteHeader(boost::beast::http::status status,
                                                     std::string_view content_type,
                                                     HeaderList extra_headers) = 0;
};

// A ResponseWriter that records what was written, for unit tests of streaming handlers.
// Set `fail_after_chunks` to make writes fail (client gone) after that many chunks.
class BufferResponseWriter : public ResponseWriter {
 public:
  boost::asio::awaitable<bool> WriteChunk(std::string_view data) override;
  boost::asio::awaitable<bool> Finish() override;
  bool header_written() const override { return header_written_; }
  bool client_gone() const override { return gone_; }
  void OnClientGone(std::function<void()> callback) override;

  // Simulates the client going away: later writes fail and the callback runs now.
  void Disconnect();

  int fail_after_chunks = -1;  // -1: never
  boost::beast::http::status status{};
  std::string content_type;
  HeaderList headers;
  std::vector<std::string> chunks;
  bool finished = false;

  std::string Body() const;

 protected:
  boost::asio::awaitable<bool> DoWriteHeader(boost::beast::http::status status,
                                             std::string_view content_type,
                                             HeaderList extra_headers) override;

 private:
  bool header_written_ = false;
  bool gone_ = false;
  std::function<void()> on_gone_;
};

}  // namespace tollgate::server
