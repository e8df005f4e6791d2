#pragma once

#include <boost/beast/http/message.hpp>
#include <boost/beast/http/string_body.hpp>

namespace tollgate::server {

// A request as read by the server: headers and the whole body (at most
// ServerOptions::max_body_bytes bytes).
using Request = boost::beast::http::request<boost::beast::http::string_body>;

// A buffered response. The server sets Content-Length, the HTTP version and keep-alive;
// handlers set the status, headers and body.
using Response = boost::beast::http::response<boost::beast::http::string_body>;

}  // namespace tollgate::server
