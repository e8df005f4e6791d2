#include "fakeprovider/request_log.h"

#include <boost/json/array.hpp>
#include <boost/json/object.hpp>
#include <boost/json/serialize.hpp>

#include "absl/strings/ascii.h"

namespace tollgate::fakeprovider {
namespace json = boost::json;
namespace {

std::string ToString(boost::beast::string_view s) { return std::string(s.data(), s.size()); }

}  // namespace

void RequestLog::Add(const server::Request& req) {
  Entry e;
  e.method = ToString(req.method_string());
  e.target = ToString(req.target());
  e.headers.reserve(8);
  for (const auto& field : req) {
    e.headers.emplace_back(absl::AsciiStrToLower(ToString(field.name_string())),
                           ToString(field.value()));
  }
  const std::string& body = req.body();
  e.truncated = body.size() > kMaxBodyBytes;
  e.body = e.truncated ? body.substr(0, kMaxBodyBytes) : body;
  absl::MutexLock lock(&mu_);
  if (entries_.size() >= capacity_) entries_.pop_front();
  entries_.push_back(std::move(e));
}

std::string RequestLog::Json() const {
  json::array out;
  {
    absl::MutexLock lock(&mu_);
    out.reserve(entries_.size());
    for (const Entry& e : entries_) {
      json::object headers;
      for (const auto& [name, value] : e.headers) {
        json::value& slot = headers[name];
        if (json::string* s = slot.if_string()) {
          s->append(", ");
          s->append(value);
        } else {
          slot = value;
        }
      }
      json::object o{{"method", e.method},
                     {"target", e.target},
                     {"headers", std::move(headers)},
                     {"body", e.body}};
      if (e.truncated) o["body_truncated"] = true;
      out.push_back(std::move(o));
    }
  }
  return json::serialize(out);
}

void RequestLog::Clear() {
  absl::MutexLock lock(&mu_);
  entries_.clear();
}

size_t RequestLog::size() const {
  absl::MutexLock lock(&mu_);
  return entries_.size();
}

}  // namespace tollgate::fakeprovider
