#include "server/http/router.h"

#include <spdlog/spdlog.h>

#include <boost/url/parse.hpp>
#include <boost/url/rfc/pchars.hpp>
#include <cstdlib>
#include <string>

#include "server/http/errors.h"

namespace tollgate::server {
namespace http = boost::beast::http;
namespace {

[[noreturn]] void BadPattern(std::string_view pattern, std::string_view why) {
  spdlog::critical("Router: bad pattern '{}': {}", pattern, why);
  std::abort();
}

std::string AllowHeader(const std::vector<std::pair<http::verb, Handler>>& methods) {
  std::string allow;
  for (const auto& [verb, handler] : methods) {
    if (!allow.empty()) allow += ", ";
    allow += std::string_view(http::to_string(verb));
  }
  return allow;
}

boost::asio::awaitable<Response> Ready(Response res) { co_return res; }

// True for "/" followed by path characters only (RFC 3986 pchar without escapes, and
// "/"): a valid origin-form target with no query, which is its own encoded path.
bool IsPlainPath(std::string_view target) {
  if (target.empty() || target[0] != '/') return false;
  for (char c : target) {
    if (c != '/' && !boost::urls::pchars(c)) return false;
  }
  return true;
}

}  // namespace

std::string_view PathParams::Get(std::string_view name) const {
  for (const auto& [n, v] : values_) {
    if (n == name) return v;
  }
  return {};
}

bool PathParams::Has(std::string_view name) const {
  for (const auto& [n, v] : values_) {
    if (n == name) return true;
  }
  return false;
}

std::optional<std::string> RequestContext::Query(std::string_view name) const {
  for (const auto& param : url.params()) {
    if (param.key == name) return param.has_value ? param.value : std::string();
  }
  return std::nullopt;
}

std::string_view RequestContext::Header(std::string_view name) const {
  auto it = req.find(boost::beast::string_view(name.data(), name.size()));
  if (it == req.end()) return {};
  return std::string_view(it->value().data(), it->value().size());
}

void Router::Add(http::verb method, std::string_view pattern, Handler handler) {
  if (pattern.empty() || pattern[0] != '/') BadPattern(pattern, "must start with '/'");
  Route route;
  route.pattern = std::string(pattern);
  bool has_params = false;
  std::string_view rest = pattern.substr(1);
  // "/" has no segments; otherwise every '/' starts one (a trailing '/' an empty one).
  while (!pattern.empty() && pattern != "/") {
    size_t slash = rest.find('/');
    std::string_view seg = rest.substr(0, slash);
    Segment segment;
    size_t i = 0;
    while (i < seg.size()) {
      if (seg[i] == '{') {
        size_t close = seg.find('}', i);
        if (close == std::string_view::npos) BadPattern(pattern, "unclosed '{'");
        std::string name(seg.substr(i + 1, close - i - 1));
        if (name.empty()) BadPattern(pattern, "empty parameter name");
        if (!segment.tokens.empty() && segment.tokens.back().is_param) {
          BadPattern(pattern, "two parameters need a literal between them");
        }
        segment.tokens.push_back({true, std::move(name)});
        has_params = true;
        i = close + 1;
      } else {
        size_t next = seg.find('{', i);
        if (next == std::string_view::npos) next = seg.size();
        segment.tokens.push_back({false, std::string(seg.substr(i, next - i))});
        i = next;
      }
    }
    if (segment.tokens.empty()) segment.tokens.push_back({false, ""});
    route.segments.push_back(std::move(segment));
    if (slash == std::string_view::npos) break;
    rest = rest.substr(slash + 1);
  }

  Route* target = nullptr;
  if (!has_params) {
    target = &exact_[route.pattern];
    if (target->pattern.empty()) *target = std::move(route);
  } else {
    for (Route& r : patterned_) {
      if (r.pattern == route.pattern) target = &r;
    }
    if (target == nullptr) target = &patterned_.emplace_back(std::move(route));
  }
  for (const auto& [verb, h] : target->methods) {
    if (verb == method) BadPattern(pattern, "method added twice");
  }
  target->methods.emplace_back(method, std::move(handler));
}

void Router::SetFallback(Handler handler) { fallback_ = std::move(handler); }

bool Router::MatchSegment(const std::vector<Token>& tokens, size_t ti, std::string_view s,
                          PathParams* params) {
  if (ti == tokens.size()) return s.empty();
  const Token& token = tokens[ti];
  if (!token.is_param) {
    if (s.substr(0, token.text.size()) != token.text) return false;
    return MatchSegment(tokens, ti + 1, s.substr(token.text.size()), params);
  }
  // A parameter takes 1..n characters, shortest first; the last token takes the rest.
  if (ti + 1 == tokens.size()) {
    if (s.empty()) return false;
    params->Add(token.text, std::string(s));
    return true;
  }
  for (size_t n = 1; n <= s.size(); ++n) {
    size_t mark = params->size();
    params->Add(token.text, std::string(s.substr(0, n)));
    if (MatchSegment(tokens, ti + 1, s.substr(n), params)) return true;
    params->Truncate(mark);  // undo this attempt and whatever the recursion added
  }
  return false;
}

const Router::Route* Router::Find(std::string_view path, const std::vector<std::string>& segments,
                                  PathParams* params) const {
  for (const Route& route : patterned_) {
    if (route.segments.size() != segments.size()) continue;
    params->Clear();
    bool ok = true;
    for (size_t i = 0; i < segments.size() && ok; ++i) {
      ok = MatchSegment(route.segments[i].tokens, 0, segments[i], params);
    }
    if (ok) return &route;
  }
  params->Clear();
  return nullptr;
}

// Not a coroutine: it returns the handler's own awaitable, so that routing costs no
// coroutine frame of its own.
boost::asio::awaitable<Response> Router::Dispatch(RequestContext& ctx) const {
  std::string_view target(ctx.req.target().data(), ctx.req.target().size());
  ctx.params.Clear();
  const Route* route = nullptr;
  // Most requests name an exact route by a plain path: one table lookup, and the target
  // is parsed only when that fails or it has a query or escapes.
  const bool plain = IsPlainPath(target);
  if (plain) {
    auto it = exact_.find(absl::string_view(target.data(), target.size()));
    if (it != exact_.end()) {
      route = &it->second;
      ctx.path = target;  // ctx.url stays empty, as the caller made it: no query
    }
  }
  if (route == nullptr) {
    auto parsed = boost::urls::parse_origin_form(target);
    if (!parsed) {
      return Ready(JsonError(http::status::bad_request, "invalid_request_error", "bad_target",
                             "the request target is not a valid path"));
    }
    ctx.url = *parsed;
    ctx.path = std::string_view(ctx.url.encoded_path().data(), ctx.url.encoded_path().size());
    if (!plain && ctx.path.find('%') == std::string_view::npos) {  // a plain one missed above
      auto it = exact_.find(absl::string_view(ctx.path.data(), ctx.path.size()));
      if (it != exact_.end()) route = &it->second;
    }
  }
  if (route == nullptr) {
    std::vector<std::string> segments;
    std::string joined;
    bool slash_inside = false;
    for (std::string segment : ctx.url.segments()) {
      slash_inside |= segment.find('/') != std::string::npos;
      joined += '/';
      joined += segment;
      segments.push_back(std::move(segment));
    }
    if (segments.empty()) joined = "/";
    if (!slash_inside && ctx.path.find('%') != std::string_view::npos) {
      auto it = exact_.find(joined);
      if (it != exact_.end()) route = &it->second;
    }
    if (route == nullptr) route = Find(ctx.path, segments, &ctx.params);
  }

  if (route == nullptr) {
    if (fallback_) return fallback_(ctx);
    return Ready(JsonError(http::status::not_found, "not_found_error", "unknown_route",
                           "no route for " + std::string(ctx.path)));
  }
  for (const auto& [verb, handler] : route->methods) {
    if (verb == ctx.req.method()) return handler(ctx);
  }
  Response res =
      JsonError(http::status::method_not_allowed, "invalid_request_error", "method_not_allowed",
                "method " + std::string(std::string_view(ctx.req.method_string())) +
                    " is not allowed on " + std::string(ctx.path));
  res.set(http::field::allow, AllowHeader(route->methods));
  return Ready(std::move(res));
}

}  // namespace tollgate::server
