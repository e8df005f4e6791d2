#include "cli/api_client.h"

#include <boost/asio/connect.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <boost/url.hpp>

#include "absl/strings/str_cat.h"

namespace tollgate::cli {

namespace beast = boost::beast;
namespace http = beast::http;
namespace asio = boost::asio;

absl::StatusOr<ApiAnswer> CallApi(const ApiTarget& target, std::string_view method,
                                  std::string_view path, std::string_view body) {
  boost::system::result<boost::urls::url_view> url = boost::urls::parse_uri(target.url);
  if (!url || url->scheme() != "http")
    return absl::InvalidArgumentError(absl::StrCat("--url must be http://host:port, not ", target.url));
  std::string host = url->host();
  std::string port = url->has_port() ? std::string(url->port()) : "80";
  asio::io_context ioc;
  asio::ip::tcp::resolver resolver(ioc);
  beast::tcp_stream stream(ioc);
  stream.expires_after(std::chrono::seconds(30));
  beast::error_code ec;
  auto endpoints = resolver.resolve(host, port, ec);
  if (ec) return absl::UnavailableError(absl::StrCat("cannot resolve ", host, ": ", ec.message()));
  stream.connect(endpoints, ec);
  if (ec) return absl::UnavailableError(absl::StrCat("cannot connect to ", target.url, ": ", ec.message()));
  http::request<http::string_body> req(http::string_to_verb(method), path, 11);
  req.set(http::field::host, host);
  if (!target.key.empty()) req.set(http::field::authorization, absl::StrCat("Bearer ", target.key));
  if (!body.empty()) {
    req.set(http::field::content_type, "application/json");
    req.body() = std::string(body);
  }
  req.prepare_payload();
  http::write(stream, req, ec);
  if (ec) return absl::UnavailableError(absl::StrCat("write failed: ", ec.message()));
  beast::flat_buffer buffer;
  http::response_parser<http::string_body> parser;
  parser.body_limit(1ULL << 30);
  http::read(stream, buffer, parser, ec);
  if (ec) return absl::UnavailableError(absl::StrCat("read failed: ", ec.message()));
  ApiAnswer answer;
  answer.status = parser.get().result_int();
  answer.body = std::move(parser.get().body());
  stream.socket().shutdown(asio::ip::tcp::socket::shutdown_both, ec);
  return answer;
}

absl::StatusOr<boost::json::value> CallApiJson(const ApiTarget& target, std::string_view method,
                                               std::string_view path, std::string_view body) {
  absl::StatusOr<ApiAnswer> answer = CallApi(target, method, path, body);
  if (!answer.ok()) return answer.status();
  boost::system::error_code ec;
  boost::json::value v = boost::json::parse(answer->body, ec);
  if (answer->status < 200 || answer->status >= 300) {
    std::string message = answer->body;
    if (!ec && v.is_object()) {
      if (const auto* err = v.as_object().if_contains("error"); err && err->is_object())
        if (const auto* m = err->as_object().if_contains("message"); m && m->is_string())
          message = std::string(m->as_string());
    }
    return absl::FailedPreconditionError(absl::StrCat("HTTP ", answer->status, ": ", message));
  }
  if (ec) return absl::InternalError("the server answered with invalid JSON");
  return v;
}

}  // namespace tollgate::cli
