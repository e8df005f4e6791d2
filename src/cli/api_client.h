#pragma once

// A small blocking HTTP client for the CLI commands that talk to a running server.

#include <string>

#include <boost/json.hpp>

#include "absl/status/statusor.h"

namespace tollgate::cli {

struct ApiTarget {
  std::string url = "http://127.0.0.1:8080";  // http://host:port
  std::string key;                             // bearer key
};

struct ApiAnswer {
  int status = 0;
  std::string body;
};

// Sends one request. `body` is sent as JSON when non-empty. Fails on connection errors;
// any HTTP status is an answer.
absl::StatusOr<ApiAnswer> CallApi(const ApiTarget& target, std::string_view method,
                                  std::string_view path, std::string_view body = {});

// As CallApi, but turns a non-2xx answer into an error carrying the server's message,
// and parses the body as JSON.
absl::StatusOr<boost::json::value> CallApiJson(const ApiTarget& target, std::string_view method,
                                               std::string_view path, std::string_view body = {});

}  // namespace tollgate::cli
