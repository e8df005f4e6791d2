// Origin and ParseBaseUrl (declared in client.h).

#include <boost/url/parse.hpp>
#include <boost/url/url_view.hpp>
#include <cctype>
#include <string>

#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "upstream/client.h"

namespace tollgate::upstream {
namespace urls = boost::urls;

namespace {

absl::Status Bad(std::string_view url, std::string_view why) {
  return absl::InvalidArgumentError(
      absl::StrCat("invalid upstream base URL \"", std::string(url), "\": ", std::string(why)));
}

// Letters, digits, '-', '_' and '.': what a DNS name may hold.
bool IsDnsName(std::string_view host) {
  if (host.empty() || host.size() > 253) return false;
  for (char c : host) {
    if (!std::isalnum(static_cast<unsigned char>(c)) && c != '-' && c != '_' && c != '.')
      return false;
  }
  return true;
}

std::string BracketedHost(const std::string& host) {
  return host.find(':') == std::string::npos ? host : absl::StrCat("[", host, "]");
}

}  // namespace

std::string Origin::Key() const {
  return absl::StrCat(tls ? "https://" : "http://", BracketedHost(host), ":", port);
}

std::string Origin::HostHeader() const {
  if (port == (tls ? 443 : 80)) return BracketedHost(host);
  return absl::StrCat(BracketedHost(host), ":", port);
}

absl::StatusOr<Origin> ParseBaseUrl(std::string_view url) {
  boost::system::result<urls::url_view> parsed =
      urls::parse_uri(urls::string_view(url.data(), url.size()));
  if (!parsed) return Bad(url, parsed.error().message());
  const urls::url_view& u = *parsed;

  Origin origin;
  if (u.scheme_id() == urls::scheme::https) {
    origin.tls = true;
    origin.port = 443;
  } else if (u.scheme_id() == urls::scheme::http) {
    origin.tls = false;
    origin.port = 80;
  } else {
    return Bad(url, "the scheme must be http or https");
  }
  if (!u.has_authority() || u.encoded_host().empty()) return Bad(url, "no host");
  if (u.has_userinfo()) return Bad(url, "user info (user:password@) is not allowed");
  if (u.has_query()) return Bad(url, "a query is not allowed");
  if (u.has_fragment()) return Bad(url, "a fragment is not allowed");

  switch (u.host_type()) {
    case urls::host_type::ipv4:
    case urls::host_type::ipv6:
      origin.host = u.host_address();
      break;
    case urls::host_type::name:
      origin.host = absl::AsciiStrToLower(std::string(u.host_name()));
      if (!IsDnsName(origin.host)) return Bad(url, "the host is not a valid DNS name");
      break;
    default:
      return Bad(url, "unsupported host");
  }

  if (u.has_port()) {
    std::string_view port(u.port().data(), u.port().size());
    if (port.empty() || port.size() > 5) return Bad(url, "bad port");
    uint32_t value = 0;
    for (char c : port) {
      if (!std::isdigit(static_cast<unsigned char>(c))) return Bad(url, "bad port");
      value = value * 10 + static_cast<uint32_t>(c - '0');
    }
    if (value == 0 || value > 65535) return Bad(url, "the port must be 1..65535");
    origin.port = static_cast<uint16_t>(value);
  }

  std::string path(u.encoded_path().data(), u.encoded_path().size());
  // Boost.URL 1.81 reads "host:80a" as port "80" and path "a".
  if (!path.empty() && path[0] != '/') return Bad(url, "bad port or path");
  while (!path.empty() && path.back() == '/') path.pop_back();
  origin.base_path = std::move(path);
  return origin;
}

}  // namespace tollgate::upstream
