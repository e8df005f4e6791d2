#pragma once

// A blocking HTTP/1.1 test client over a plain POSIX socket, for tests that talk to a
// real HttpServer. Every read has a timeout, so a broken server fails the test instead
// of hanging it. Not for production use.

#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <boost/asio/buffer.hpp>
#include <boost/beast/http/parser.hpp>
#include <boost/beast/http/string_body.hpp>
#include <chrono>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace tollgate::server::testing {

using TestResponse = boost::beast::http::response<boost::beast::http::string_body>;

class TestClient {
 public:
  explicit TestClient(uint16_t port) {
    fd_ = ::socket(AF_INET, SOCK_STREAM, 0);
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_port = htons(port);
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    connected_ = ::connect(fd_, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) == 0;
    int one = 1;
    ::setsockopt(fd_, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
  }
  ~TestClient() { Close(); }
  TestClient(const TestClient&) = delete;
  TestClient& operator=(const TestClient&) = delete;

  bool connected() const { return connected_; }

  void Close() {
    if (fd_ >= 0) ::close(fd_);
    fd_ = -1;
  }

  // Closes with a reset (SO_LINGER 0) instead of a FIN.
  void Reset() {
    linger l{1, 0};
    ::setsockopt(fd_, SOL_SOCKET, SO_LINGER, &l, sizeof(l));
    Close();
  }

  bool Send(std::string_view data) {
    while (!data.empty()) {
      ssize_t n = ::send(fd_, data.data(), data.size(), MSG_NOSIGNAL);
      if (n <= 0) return false;
      data.remove_prefix(static_cast<size_t>(n));
    }
    return true;
  }

  // Sends a request with `body` (Content-Length set when body is not empty).
  bool SendRequest(std::string_view method, std::string_view target, std::string_view body = "",
                   std::string_view extra_headers = "") {
    std::string req = std::string(method) + " " + std::string(target) +
                      " HTTP/1.1\r\nHost: test\r\n" + std::string(extra_headers);
    if (!body.empty() || method == "POST" || method == "PUT") {
      req += "Content-Length: " + std::to_string(body.size()) + "\r\n";
    }
    req += "\r\n";
    req += body;
    return Send(req);
  }

  // Reads one response; nullopt on timeout, EOF before a full response, or bad HTTP.
  std::optional<TestResponse> Read(std::chrono::milliseconds timeout = std::chrono::seconds(5),
                                   bool header_only = false) {
    boost::beast::http::response_parser<boost::beast::http::string_body> parser;
    parser.body_limit(256 * 1024 * 1024);
    parser.eager(true);
    auto deadline = std::chrono::steady_clock::now() + timeout;
    for (;;) {
      while (!pending_.empty()) {
        boost::beast::error_code ec;
        size_t n = parser.put(boost::asio::buffer(pending_), ec);
        pending_.erase(0, n);
        if (ec == boost::beast::http::error::need_more) break;
        if (ec) return std::nullopt;
        if (parser.is_done() || (header_only && parser.is_header_done())) break;
        if (n == 0) break;
      }
      if (parser.is_done() || (header_only && parser.is_header_done())) return parser.release();
      std::string chunk;
      int r = Recv(deadline, &chunk);
      if (r < 0) return std::nullopt;
      if (r == 0) {
        boost::beast::error_code ec;
        parser.put_eof(ec);
        if (!ec && parser.is_done()) return parser.release();
        return std::nullopt;
      }
      pending_ += chunk;
    }
  }

  // True when the server closes the connection (EOF or reset) within `timeout`; data
  // received before that is dropped.
  bool WaitClosed(std::chrono::milliseconds timeout = std::chrono::seconds(5)) {
    auto deadline = std::chrono::steady_clock::now() + timeout;
    for (;;) {
      std::string chunk;
      int r = Recv(deadline, &chunk);
      if (r == 0) return true;
      if (r == -2) return true;  // reset
      if (r < 0) return false;   // timeout
    }
  }

 private:
  // 1: data, 0: EOF, -1: timeout, -2: error (reset).
  int Recv(std::chrono::steady_clock::time_point deadline, std::string* out) {
    auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
        deadline - std::chrono::steady_clock::now());
    if (left.count() < 0) return -1;
    pollfd p{fd_, POLLIN, 0};
    int ready = ::poll(&p, 1, static_cast<int>(left.count()));
    if (ready <= 0) return -1;
    char buf[65536];
    ssize_t n = ::recv(fd_, buf, sizeof(buf), 0);
    if (n == 0) return 0;
    if (n < 0) return -2;
    out->assign(buf, static_cast<size_t>(n));
    return 1;
  }

  int fd_ = -1;
  bool connected_ = false;
  std::string pending_;
};

}  // namespace tollgate::server::testing
