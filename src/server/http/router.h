#pragma once

#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/awaitable.hpp>
#include <boost/beast/http/verb.hpp>
#include <boost/url/url_view.hpp>
#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "server/http/message.h"
#include "server/http/response_writer.h"

namespace tollgate::server {

// Path parameters of the matched route, percent-decoded, in pattern order.
class PathParams {
 public:
  // The value of `{name}`, or "" when the pattern has no such parameter.
  std::string_view Get(std::string_view name) const;
  bool Has(std::string_view name) const;
  size_t size() const { return values_.size(); }
  const std::vector<std::pair<std::string_view, std::string>>& all() const { return values_; }

  void Add(std::string_view name, std::string value) {
    values_.emplace_back(name, std::move(value));
  }
  void Clear() { values_.clear(); }
  void Truncate(size_t n) { values_.resize(n); }

 private:
  // Names view the Router's patterns, which outlive every request.
  std::vector<std::pair<std::string_view, std::string>> values_;
};

// Everything a handler gets for one request. Valid only during the handler call; copy
// out what must live longer.
struct RequestContext {
  const Request& req;
  // The parsed request target (origin form): url.params() is the decoded query.
  boost::urls::url_view url;
  // The path as sent (still percent-encoded), without the query.
  std::string_view path;
  PathParams params;
  // "IP:port" of the peer.
  std::string remote_addr;
  // The connection's executor: where the handler runs and resumes.
  boost::asio::any_io_executor executor;
  // For handlers that stream their response; never null while the server runs a
  // handler.
  ResponseWriter* writer = nullptr;

  // Shorthand for params.Get(name).
  std::string_view Param(std::string_view name) const { return params.Get(name); }
  // The first value of query parameter `name`, decoded ("+" is a space); nullopt when
  // absent. A key without "=" yields "".
  std::optional<std::string> Query(std::string_view name) const;
  // Request header value or "" when absent.
  std::string_view Header(std::string_view name) const;
};

// A request handler. It must not throw (the server answers 500 to an exception and
// logs it, but exceptions are not how handlers report errors: return ErrorResponse).
// A handler that streamed with ctx.writer returns Streamed().
using Handler = std::function<boost::asio::awaitable<Response>(RequestContext&)>;

// What a streaming handler returns after writing through ctx.writer.
inline Response Streamed() { return Response{}; }

// Maps method + path to a handler.
//
// Patterns are absolute paths whose segments are literals or contain parameters:
//   "/api/admin/tenants/{id}"                    id = one whole segment
//   "/v1beta/models/{model}:generateContent"     a parameter with a literal suffix
//   "/api/admin/prices/{provider}:{model}"       several parameters in one segment
// A parameter matches one or more characters of a single (percent-decoded) segment;
// when a segment has several ways to match, the earlier parameter takes the shortest
// value ("openai:ft:gpt-4o" → provider "openai", model "ft:gpt-4o"). Literal-only
// patterns are looked up in a hash map; patterns with parameters are tried in the order
// added, so add the more specific one first when two overlap.
//
// Dispatch answers 404 (JSON error) when no pattern matches the path, 405 with an
// Allow header when patterns match the path but not the method, and 400 for a request
// target that is not a valid origin-form URL.
//
// Thread safety: Add and SetFallback before the server starts; Dispatch is then safe
// from any number of threads.
class Router {
 public:
  Router() = default;
  Router(const Router&) = delete;
  Router& operator=(const Router&) = delete;

  // REQUIRES: `pattern` starts with '/', parameter names are non-empty, no two
  // parameters are adjacent without a literal between them, and (method, pattern) was
  // not added before. Violations abort: they are programming errors.
  void Add(boost::beast::http::verb method, std::string_view pattern, Handler handler);

  // Called instead of the 404 answer when no pattern matches the path (e.g. to serve
  // the dashboard's files). ctx.params is empty.
  void SetFallback(Handler handler);

  // Routes one request: fills in ctx.url (left as it is, empty, for a target without a
  // query: pass a fresh context), ctx.path and ctx.params, and returns the awaitable of
  // the matched handler (or of the error answer).
  boost::asio::awaitable<Response> Dispatch(RequestContext& ctx) const;

 private:
  struct Token {
    bool is_param;
    std::string text;  // literal text, or the parameter name
  };
  struct Segment {
    std::vector<Token> tokens;
    bool literal() const { return tokens.size() == 1 && !tokens[0].is_param; }
  };
  struct Route {
    std::string pattern;
    std::vector<Segment> segments;
    std::vector<std::pair<boost::beast::http::verb, Handler>> methods;
  };

  static bool MatchSegment(const std::vector<Token>& tokens, size_t ti, std::string_view s,
                           PathParams* params);
  const Route* Find(std::string_view path, const std::vector<std::string>& segments,
                    PathParams* params) const;

  absl::flat_hash_map<std::string, Route> exact_;
  std::vector<Route> patterned_;
  Handler fallback_;
};

}  // namespace tollgate::server
