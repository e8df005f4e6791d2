#include "upstream/client.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>
#include <poll.h>
#include <stdlib.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/ssl/context.hpp>
#include <boost/asio/ssl/stream.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/strand.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/asio/use_future.hpp>
#include <boost/asio/write.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/http/parser.hpp>
#include <boost/beast/http/read.hpp>
#include <chrono>
#include <filesystem>
#include <fstream>
#include <functional>
#include <future>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

namespace tollgate::upstream {
namespace {

namespace net = boost::asio;
namespace ssl = net::ssl;
namespace beast = boost::beast;
namespace http = beast::http;
using tcp = net::ip::tcp;
using ::testing::HasSubstr;
using namespace std::chrono_literals;
using Request = http::request<http::string_body>;

// ---------------------------------------------------------------------------------------
// Test certificates, made with the OpenSSL API at test time.

using Key = std::unique_ptr<EVP_PKEY, void (*)(EVP_PKEY*)>;
using Cert = std::unique_ptr<X509, void (*)(X509*)>;

Key NewKey() { return Key(EVP_EC_gen("P-256"), EVP_PKEY_free); }

void AddExtension(X509* cert, X509* issuer, int nid, const char* value) {
  X509V3_CTX ctx;
  X509V3_set_ctx_nodb(&ctx);
  X509V3_set_ctx(&ctx, issuer, cert, nullptr, nullptr, 0);
  X509_EXTENSION* ext = X509V3_EXT_conf_nid(nullptr, &ctx, nid, value);
  ASSERT_NE(ext, nullptr) << value;
  X509_add_ext(cert, ext, -1);
  X509_EXTENSION_free(ext);
}

// A CA certificate when `issuer` is null (self-signed), else a server certificate for
// `san` (e.g. "DNS:localhost,IP:127.0.0.1") signed by `issuer`.
Cert MakeCert(EVP_PKEY* key, const std::string& cn, X509* issuer, EVP_PKEY* issuer_key,
              const char* san) {
  static std::atomic<long> serial{1};
  Cert cert(X509_new(), X509_free);
  X509_set_version(cert.get(), 2);
  ASN1_INTEGER_set(X509_get_serialNumber(cert.get()), serial++);
  X509_gmtime_adj(X509_getm_notBefore(cert.get()), -3600);
  X509_gmtime_adj(X509_getm_notAfter(cert.get()), 24 * 3600);
  X509_set_pubkey(cert.get(), key);
  X509_NAME* name = X509_get_subject_name(cert.get());
  X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_ASC,
                             reinterpret_cast<const unsigned char*>(cn.c_str()), -1, -1, 0);
  X509* signer = issuer ? issuer : cert.get();
  X509_set_issuer_name(cert.get(), X509_get_subject_name(signer));
  if (issuer == nullptr) {
    AddExtension(cert.get(), signer, NID_basic_constraints, "critical,CA:TRUE");
    AddExtension(cert.get(), signer, NID_key_usage, "critical,keyCertSign,cRLSign");
    AddExtension(cert.get(), signer, NID_subject_key_identifier, "hash");
  } else {
    AddExtension(cert.get(), signer, NID_basic_constraints, "critical,CA:FALSE");
    AddExtension(cert.get(), signer, NID_subject_alt_name, san);
    AddExtension(cert.get(), signer, NID_ext_key_usage, "serverAuth");
    AddExtension(cert.get(), signer, NID_authority_key_identifier, "keyid");
  }
  X509_sign(cert.get(), issuer_key ? issuer_key : key, EVP_sha256());
  return cert;
}

std::string Pem(X509* cert) {
  BIO* bio = BIO_new(BIO_s_mem());
  PEM_write_bio_X509(bio, cert);
  char* data = nullptr;
  long n = BIO_get_mem_data(bio, &data);
  std::string pem(data, static_cast<size_t>(n));
  BIO_free(bio);
  return pem;
}

std::string Pem(EVP_PKEY* key) {
  BIO* bio = BIO_new(BIO_s_mem());
  PEM_write_bio_PrivateKey(bio, key, nullptr, nullptr, 0, nullptr, nullptr);
  char* data = nullptr;
  long n = BIO_get_mem_data(bio, &data);
  std::string pem(data, static_cast<size_t>(n));
  BIO_free(bio);
  return pem;
}

struct TestCa {
  explicit TestCa(const std::string& name)
      : key(NewKey()), cert(MakeCert(key.get(), name, nullptr, nullptr, nullptr)) {}

  // A TLS server context with a certificate for `san` issued by this CA.
  std::shared_ptr<ssl::context> ServerContext(const char* san) const {
    Key leaf_key = NewKey();
    Cert leaf = MakeCert(leaf_key.get(), "test server", cert.get(), key.get(), san);
    auto ctx = std::make_shared<ssl::context>(ssl::context::tls_server);
    std::string cert_pem = Pem(leaf.get());
    std::string key_pem = Pem(leaf_key.get());
    ctx->use_certificate_chain(net::buffer(cert_pem));
    ctx->use_private_key(net::buffer(key_pem), ssl::context::pem);
    return ctx;
  }

  Key key;
  Cert cert;
};

// ---------------------------------------------------------------------------------------
// A scripted test server: blocking I/O, one thread per accepted connection, so a test
// says in order what the upstream does (read a request, write bytes, wait, close).

// One accepted connection, plain or TLS.
class Peer {
 public:
  Peer(tcp::socket socket, ssl::context* tls) : socket_(std::move(socket)) {
    if (tls) tls_ = std::make_unique<ssl::stream<tcp::socket&>>(socket_, *tls);
  }

  // Reads one request; nullopt when the client closed the connection or sent garbage.
  std::optional<Request> ReadRequest() {
    http::request_parser<http::string_body> parser;
    beast::error_code ec;
    if (tls_) {
      http::read(*tls_, buffer_, parser, ec);
    } else {
      http::read(socket_, buffer_, parser, ec);
    }
    if (ec) return std::nullopt;
    return parser.release();
  }

  void Write(std::string_view bytes) {
    beast::error_code ec;
    if (tls_) {
      net::write(*tls_, net::buffer(bytes), ec);
    } else {
      net::write(socket_, net::buffer(bytes), ec);
    }
  }

  // Waits until the client closes the connection (true) or `timeout` passes (false).
  // Whatever the client sends meanwhile is dropped.
  bool WaitClosed(std::chrono::milliseconds timeout) {
    auto deadline = std::chrono::steady_clock::now() + timeout;
    char sink[4096];
    for (;;) {
      auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
          deadline - std::chrono::steady_clock::now());
      if (left <= 0ms) return false;
      pollfd p{socket_.native_handle(), POLLIN, 0};
      if (::poll(&p, 1, static_cast<int>(left.count())) == 0) return false;
      beast::error_code ec;
      if (tls_) {
        tls_->read_some(net::buffer(sink), ec);
      } else {
        socket_.read_some(net::buffer(sink), ec);
      }
      if (ec) return true;
    }
  }

  // Sends FIN (and stops reading); the descriptor stays open until the server ends, so
  // it is never reused while the server might still shut it down.
  void Close() { ::shutdown(socket_.native_handle(), SHUT_RDWR); }

  bool Handshake() {
    if (!tls_) return true;
    beast::error_code ec;
    tls_->handshake(ssl::stream_base::server, ec);
    return !ec;
  }

  int fd() { return socket_.native_handle(); }

 private:
  tcp::socket socket_;
  std::unique_ptr<ssl::stream<tcp::socket&>> tls_;
  beast::flat_buffer buffer_;
};

class TestServer {
 public:
  using Handler = std::function<void(Peer&, int index)>;  // index: 0 for the 1st connection

  explicit TestServer(Handler handler, std::shared_ptr<ssl::context> tls = nullptr)
      : handler_(std::move(handler)), tls_(std::move(tls)), acceptor_(ioc_) {
    tcp::endpoint ep(net::ip::make_address("127.0.0.1"), 0);
    acceptor_.open(ep.protocol());
    acceptor_.set_option(tcp::acceptor::reuse_address(true));
    acceptor_.bind(ep);
    acceptor_.listen();
    port_ = acceptor_.local_endpoint().port();
    accept_thread_ = std::thread([this] { AcceptLoop(); });
  }

  ~TestServer() {
    stopping_ = true;
    ::shutdown(acceptor_.native_handle(), SHUT_RDWR);  // wakes accept()
    accept_thread_.join();
    {
      std::lock_guard<std::mutex> lock(mu_);
      for (auto& peer : peers_) peer->Close();  // wakes blocked reads
    }
    for (auto& t : threads_) t.join();
  }

  uint16_t port() const { return port_; }
  int accepted() const { return accepted_; }
  int handshake_failures() const { return handshake_failures_; }
  // Requests read through Peer::ReadRequest by handlers that count them.
  std::atomic<int> requests{0};

 private:
  void AcceptLoop() {
    for (int index = 0;; ++index) {
      beast::error_code ec;
      tcp::socket socket(ioc_);
      acceptor_.accept(socket, ec);
      if (ec || stopping_) return;
      ++accepted_;
      std::lock_guard<std::mutex> lock(mu_);
      peers_.push_back(std::make_unique<Peer>(std::move(socket), tls_.get()));
      Peer* peer = peers_.back().get();
      threads_.emplace_back([this, peer, index] {
        if (!peer->Handshake()) {
          ++handshake_failures_;
          return;
        }
        handler_(*peer, index);
        peer->Close();
      });
    }
  }

  Handler handler_;
  std::shared_ptr<ssl::context> tls_;
  net::io_context ioc_;
  tcp::acceptor acceptor_;
  uint16_t port_ = 0;
  std::atomic<bool> stopping_{false};
  std::atomic<int> accepted_{0};
  std::atomic<int> handshake_failures_{0};
  std::thread accept_thread_;
  std::mutex mu_;
  std::vector<std::unique_ptr<Peer>> peers_;  // GUARDED_BY(mu_)
  std::vector<std::thread> threads_;          // GUARDED_BY(mu_) while accepting
};

std::string Ok(std::string_view body, std::string_view extra_headers = "") {
  return "HTTP/1.1 200 OK\r\nContent-Length: " + std::to_string(body.size()) + "\r\n" +
         std::string(extra_headers) + "\r\n" + std::string(body);
}

// Answers every request on the connection with "<method> <target> <body>".
void Echo(Peer& peer, TestServer* server) {
  while (auto req = peer.ReadRequest()) {
    ++server->requests;
    peer.Write(Ok(std::string(req->method_string()) + " " + std::string(req->target()) + " " +
                  req->body()));
  }
}

// ---------------------------------------------------------------------------------------
// Running the client.

template <class T>
T RunOn(net::io_context& ioc, net::awaitable<T> task) {
  std::future<T> result = net::co_spawn(ioc, std::move(task), net::use_future);
  ioc.restart();
  ioc.run();
  return result.get();
}

struct Answer {
  absl::Status status;
  unsigned code = 0;
  std::string body;
};

net::awaitable<Answer> Fetch(Client* client, Origin origin, Request request) {
  absl::StatusOr<std::unique_ptr<ResponseStream>> stream =
      co_await client->Send(origin, std::move(request));
  if (!stream.ok()) co_return Answer{stream.status(), 0, ""};
  absl::StatusOr<std::string> body = co_await (*stream)->ReadAll(1 << 20);
  if (!body.ok()) co_return Answer{body.status(), (*stream)->status(), ""};
  co_return Answer{absl::OkStatus(), (*stream)->status(), std::move(*body)};
}

net::awaitable<void> Sleep(std::chrono::milliseconds d) {
  net::steady_timer timer(co_await net::this_coro::executor);
  timer.expires_after(d);
  co_await timer.async_wait(net::as_tuple(net::use_awaitable));
}

Request Get(std::string target) { return Request(http::verb::get, target, 11); }

Request Post(std::string target, std::string body) {
  Request req(http::verb::post, target, 11);
  req.set(http::field::content_type, "application/json");
  req.body() = std::move(body);
  return req;
}

class ClientTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    ca_ = new TestCa("tollgate test CA");
    other_ca_ = new TestCa("some other CA");
    char dir_template[] = "/tmp/upstream_test_XXXXXX";
    ASSERT_NE(::mkdtemp(dir_template), nullptr);
    dir_ = new std::filesystem::path(dir_template);
    std::ofstream(*dir_ / "ca.pem") << Pem(ca_->cert.get());
  }
  static void TearDownTestSuite() {
    std::filesystem::remove_all(*dir_);
    delete dir_;
    delete other_ca_;
    delete ca_;
  }

  void MakeClient(ClientOptions options = {}) {
    if (options.ca_file.empty()) options.ca_file = (*dir_ / "ca.pem").string();
    client_ = std::make_unique<Client>(ioc_, options);
    ASSERT_TRUE(client_->init_status().ok()) << client_->init_status();
  }

  static Origin Local(const TestServer& server, std::string scheme = "http",
                      std::string host = "127.0.0.1") {
    absl::StatusOr<Origin> origin =
        ParseBaseUrl(scheme + "://" + host + ":" + std::to_string(server.port()) + "/v1");
    EXPECT_TRUE(origin.ok()) << origin.status();
    return *origin;
  }

  Answer Call(const Origin& origin, Request request) {
    return RunOn(ioc_, Fetch(client_.get(), origin, std::move(request)));
  }

  static TestCa* ca_;
  static TestCa* other_ca_;
  static std::filesystem::path* dir_;
  net::io_context ioc_;
  std::unique_ptr<Client> client_;
};

TestCa* ClientTest::ca_ = nullptr;
TestCa* ClientTest::other_ca_ = nullptr;
std::filesystem::path* ClientTest::dir_ = nullptr;

// Waits up to 2 s for `done`: server threads may lag behind the client.
bool Eventually(const std::function<bool()>& done) {
  for (int i = 0; i < 200 && !done(); ++i) std::this_thread::sleep_for(10ms);
  return done();
}

// ---------------------------------------------------------------------------------------
// ParseBaseUrl

TEST(ParseBaseUrlTest, AcceptsHttpAndHttpsWithDefaultsAndPaths) {
  absl::StatusOr<Origin> openai = ParseBaseUrl("https://api.openai.com/v1");
  ASSERT_TRUE(openai.ok()) << openai.status();
  EXPECT_TRUE(openai->tls);
  EXPECT_EQ(openai->host, "api.openai.com");
  EXPECT_EQ(openai->port, 443);
  EXPECT_EQ(openai->base_path, "/v1");
  EXPECT_EQ(openai->Key(), "https://api.openai.com:443");
  EXPECT_EQ(openai->HostHeader(), "api.openai.com");

  absl::StatusOr<Origin> local = ParseBaseUrl("http://127.0.0.1:9000");
  ASSERT_TRUE(local.ok()) << local.status();
  EXPECT_FALSE(local->tls);
  EXPECT_EQ(local->host, "127.0.0.1");
  EXPECT_EQ(local->port, 9000);
  EXPECT_EQ(local->base_path, "");
  EXPECT_EQ(local->HostHeader(), "127.0.0.1:9000");

  absl::StatusOr<Origin> upper = ParseBaseUrl("HTTPS://Generative.Example.COM:8443/v1beta/");
  ASSERT_TRUE(upper.ok()) << upper.status();
  EXPECT_EQ(upper->host, "generative.example.com");
  EXPECT_EQ(upper->port, 8443);
  EXPECT_EQ(upper->base_path, "/v1beta");

  absl::StatusOr<Origin> v6 = ParseBaseUrl("http://[::1]:8080/");
  ASSERT_TRUE(v6.ok()) << v6.status();
  EXPECT_EQ(v6->host, "::1");
  EXPECT_EQ(v6->base_path, "");
  EXPECT_EQ(v6->Key(), "http://[::1]:8080");
  EXPECT_EQ(v6->HostHeader(), "[::1]:8080");

  absl::StatusOr<Origin> plain = ParseBaseUrl("http://localhost");
  ASSERT_TRUE(plain.ok()) << plain.status();
  EXPECT_EQ(plain->port, 80);
}

TEST(ParseBaseUrlTest, RejectsWhatIsNotAnHttpOrigin) {
  struct Case {
    const char* url;
    const char* why;
  };
  const Case cases[] = {
      {"ftp://example.com/v1", "scheme"},
      {"https://", "host"},
      {"https:///v1", "host"},
      {"http://example.com:99999", "port"},
      {"http://example.com:0", "port"},
      {"http://example.com:", "port"},
      {"http://example.com:80a", ""},
      {"https://user:secret@example.com/v1", "user info"},
      {"https://example.com/v1?key=x", "query"},
      {"https://example.com/v1#top", "fragment"},
      {"api.openai.com/v1", ""},
      {"", ""},
  };
  for (const Case& c : cases) {
    absl::StatusOr<Origin> origin = ParseBaseUrl(c.url);
    EXPECT_EQ(origin.status().code(), absl::StatusCode::kInvalidArgument) << c.url;
    EXPECT_THAT(std::string(origin.status().message()), HasSubstr(c.why)) << c.url;
  }
}

// ---------------------------------------------------------------------------------------
// Plain HTTP

TEST_F(ClientTest, GetReturnsStatusHeadersAndBody) {
  std::promise<Request> seen;
  TestServer server([&](Peer& peer, int) {
    auto req = peer.ReadRequest();
    if (!req) return;
    seen.set_value(*req);
    peer.Write(Ok("{\"data\":[]}", "Content-Type: application/json\r\nX-Request-Id: r1\r\n"));
  });
  MakeClient();
  Answer answer = Call(Local(server), Get("/v1/models"));
  ASSERT_TRUE(answer.status.ok()) << answer.status;
  EXPECT_EQ(answer.code, 200u);
  EXPECT_EQ(answer.body, "{\"data\":[]}");

  Request req = seen.get_future().get();
  EXPECT_EQ(req.method(), http::verb::get);
  EXPECT_EQ(req.target(), "/v1/models");
  EXPECT_EQ(req[http::field::host], "127.0.0.1:" + std::to_string(server.port()));
  EXPECT_EQ(req[http::field::user_agent], "tollgate/0.1");
  EXPECT_TRUE(req.keep_alive());
  EXPECT_EQ(req.find(http::field::content_length), req.end());
}

TEST_F(ClientTest, HeadersAreReadableFromTheStream) {
  TestServer server([&](Peer& peer, int) {
    if (!peer.ReadRequest()) return;
    peer.Write(Ok("x", "X-Request-Id: r1\r\n"));
  });
  MakeClient();
  auto task = [](Client* client, Origin origin) -> net::awaitable<std::string> {
    auto stream = co_await client->Send(origin, Get("/v1/x"));
    if (!stream.ok()) co_return stream.status().ToString();
    co_return std::string((*stream)->headers()["X-Request-Id"]);
  };
  EXPECT_EQ(RunOn(ioc_, task(client_.get(), Local(server))), "r1");
}

TEST_F(ClientTest, PostSendsBodyWithContentLength) {
  std::promise<Request> seen;
  TestServer server([&](Peer& peer, int) {
    auto req = peer.ReadRequest();
    if (!req) return;
    seen.set_value(*req);
    peer.Write(Ok(req->body()));
  });
  MakeClient();
  Request req = Post("/v1/chat/completions", "{\"model\":\"gpt-4o\"}");
  req.chunked(true);  // Send replaces it with Content-Length
  Answer answer = Call(Local(server), std::move(req));
  ASSERT_TRUE(answer.status.ok()) << answer.status;
  EXPECT_EQ(answer.body, "{\"model\":\"gpt-4o\"}");

  Request got = seen.get_future().get();
  EXPECT_EQ(got[http::field::content_length], "18");
  EXPECT_EQ(got.find(http::field::transfer_encoding), got.end());
  EXPECT_EQ(got[http::field::content_type], "application/json");
}

TEST_F(ClientTest, ChunkedBodyArrivesPieceByPiece) {
  std::promise<void> first_read;
  std::atomic<bool> second_sent{false};
  TestServer server([&](Peer& peer, int) {
    if (!peer.ReadRequest()) return;
    peer.Write("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nfirst\r\n");
    first_read.get_future().wait_for(5s);  // the client must see chunk 1 on its own
    second_sent = true;
    peer.Write("6\r\nsecond\r\n0\r\n\r\n");
    peer.WaitClosed(5s);
  });
  MakeClient();
  auto task = [](Client* client, Origin origin, std::promise<void>* first_read,
                 std::atomic<bool>* second_sent) -> net::awaitable<std::vector<std::string>> {
    std::vector<std::string> log;
    auto stream = co_await client->Send(origin, Post("/v1/chat/completions", "{}"));
    if (!stream.ok()) co_return std::vector<std::string>{stream.status().ToString()};
    auto piece = co_await (*stream)->Read();
    log.push_back(piece.ok() ? std::string(*piece) : piece.status().ToString());
    log.push_back(*second_sent ? "chunk 2 was sent before Read returned" : "ok");
    first_read->set_value();
    for (;;) {
      piece = co_await (*stream)->Read();
      if (!piece.ok() || piece->empty()) break;
      log.push_back(std::string(*piece));
    }
    log.push_back(piece.ok() ? "<end>" : piece.status().ToString());
    co_return log;
  };
  std::vector<std::string> log =
      RunOn(ioc_, task(client_.get(), Local(server), &first_read, &second_sent));
  EXPECT_THAT(log, ::testing::ElementsAre("first", "ok", "second", "<end>"));
}

TEST_F(ClientTest, CloseDelimitedBodyEndsWithTheConnection) {
  TestServer server([&](Peer& peer, int) {
    if (!peer.ReadRequest()) return;
    peer.Write("HTTP/1.1 200 OK\r\nConnection: close\r\n\r\nall of it");
  });  // the handler returns: the server closes
  MakeClient();
  Answer answer = Call(Local(server), Get("/v1/x"));
  ASSERT_TRUE(answer.status.ok()) << answer.status;
  EXPECT_EQ(answer.body, "all of it");
  answer = Call(Local(server), Get("/v1/x"));
  ASSERT_TRUE(answer.status.ok()) << answer.status;
  EXPECT_EQ(client_->stats().connections_opened, 2u);
  EXPECT_EQ(client_->stats().reuses, 0u);
}

TEST_F(ClientTest, HeadAnd204HaveNoBodyAndKeepTheConnection) {
  TestServer server([&](Peer& peer, int) {
    for (;;) {
      auto req = peer.ReadRequest();
      if (!req) return;
      if (req->method() == http::verb::head) {
        peer.Write("HTTP/1.1 200 OK\r\nContent-Length: 1234\r\n\r\n");
      } else {
        peer.Write("HTTP/1.1 204 No Content\r\n\r\n");
      }
    }
  });
  MakeClient();
  Answer head = Call(Local(server), Request(http::verb::head, "/v1/x", 11));
  ASSERT_TRUE(head.status.ok()) << head.status;
  EXPECT_EQ(head.body, "");
  Answer empty = Call(Local(server), Request(http::verb::delete_, "/v1/x", 11));
  ASSERT_TRUE(empty.status.ok()) << empty.status;
  EXPECT_EQ(empty.code, 204u);
  EXPECT_EQ(client_->stats().connections_opened, 1u);
  EXPECT_EQ(client_->stats().reuses, 1u);
}

TEST_F(ClientTest, InterimContinueIsSkipped) {
  TestServer server([&](Peer& peer, int) {
    if (!peer.ReadRequest()) return;
    peer.Write("HTTP/1.1 100 Continue\r\n\r\n" + Ok("done"));
  });
  MakeClient();
  Answer answer = Call(Local(server), Post("/v1/x", "{}"));
  ASSERT_TRUE(answer.status.ok()) << answer.status;
  EXPECT_EQ(answer.code, 200u);
  EXPECT_EQ(answer.body, "done");
}

// ---------------------------------------------------------------------------------------
// Pooling

TEST_F(ClientTest, SequentialRequestsReuseOneConnection) {
  TestServer* self = nullptr;
  TestServer server([&](Peer& peer, int) { Echo(peer, self); });
  self = &server;
  MakeClient();
  Answer first = Call(Local(server), Get("/v1/a"));
  Answer second = Call(Local(server), Post("/v1/b", "hi"));
  ASSERT_TRUE(first.status.ok()) << first.status;
  ASSERT_TRUE(second.status.ok()) << second.status;
  EXPECT_EQ(first.body, "GET /v1/a ");
  EXPECT_EQ(second.body, "POST /v1/b hi");
  EXPECT_EQ(client_->stats().connections_opened, 1u);
  EXPECT_EQ(client_->stats().requests, 2u);
  EXPECT_EQ(client_->stats().reuses, 1u);
  EXPECT_EQ(server.accepted(), 1);
}

TEST_F(ClientTest, ConnectionClosedByServerWhileIdleIsNotReused) {
  std::atomic<int> closed{0};
  TestServer server([&](Peer& peer, int) {
    if (!peer.ReadRequest()) return;
    peer.Write(Ok("one"));
    peer.Close();  // after one answer, without saying so
    ++closed;
  });
  MakeClient();
  ASSERT_TRUE(Call(Local(server), Get("/v1/a")).status.ok());
  ASSERT_TRUE(Eventually([&] { return closed == 1; }));
  std::this_thread::sleep_for(20ms);  // let the FIN arrive
  Answer second = Call(Local(server), Get("/v1/b"));
  ASSERT_TRUE(second.status.ok()) << second.status;
  EXPECT_EQ(second.body, "one");
  EXPECT_EQ(client_->stats().connections_opened, 2u);
  EXPECT_EQ(client_->stats().reuses, 0u);  // seen dead in the pool, not tried
}

TEST_F(ClientTest, StalePooledConnectionIsRetriedOnAFreshOne) {
  TestServer* self = nullptr;
  TestServer server([&](Peer& peer, int index) {
    if (index == 0) {
      auto req = peer.ReadRequest();
      if (!req) return;
      peer.Write(Ok("first"));
      req = peer.ReadRequest();  // the 2nd request arrives, and is dropped unanswered
      return;
    }
    Echo(peer, self);
  });
  self = &server;
  MakeClient();
  ASSERT_TRUE(Call(Local(server), Get("/v1/a")).status.ok());
  Answer second = Call(Local(server), Post("/v1/b", "again"));
  ASSERT_TRUE(second.status.ok()) << second.status;
  EXPECT_EQ(second.body, "POST /v1/b again");
  Client::Stats stats = client_->stats();
  EXPECT_EQ(stats.connections_opened, 2u);
  EXPECT_EQ(stats.reuses, 1u);
  EXPECT_EQ(stats.retries, 1u);
}

TEST_F(ClientTest, FreshConnectionClosedBeforeAnswerIsNotRetried) {
  TestServer server([&](Peer& peer, int) { peer.ReadRequest(); });
  MakeClient();
  Answer answer = Call(Local(server), Get("/v1/a"));
  EXPECT_EQ(answer.status.code(), absl::StatusCode::kUnavailable) << answer.status;
  EXPECT_EQ(client_->stats().retries, 0u);
  EXPECT_EQ(server.accepted(), 1);
}

TEST_F(ClientTest, ConcurrentSendsFromSeveralThreads) {
  TestServer* self = nullptr;
  TestServer server([&](Peer& peer, int) { Echo(peer, self); });
  self = &server;
  net::io_context ioc;
  Client client(ioc, ClientOptions{});
  auto guard = net::make_work_guard(ioc);
  std::thread t1([&] { ioc.run(); });
  std::thread t2([&] { ioc.run(); });
  std::vector<std::future<Answer>> answers;
  const Origin origin = Local(server);
  for (int i = 0; i < 20; ++i) {
    answers.push_back(net::co_spawn(net::make_strand(ioc),
                                    Fetch(&client, origin, Get("/v1/" + std::to_string(i))),
                                    net::use_future));
  }
  for (int i = 0; i < 20; ++i) {
    Answer answer = answers[i].get();
    EXPECT_TRUE(answer.status.ok()) << answer.status;
    EXPECT_EQ(answer.body, "GET /v1/" + std::to_string(i) + " ");
  }
  guard.reset();
  t1.join();
  t2.join();
  Client::Stats stats = client.stats();
  EXPECT_EQ(stats.requests, 20u);
  EXPECT_EQ(stats.connections_opened + stats.reuses, 20u);
}

// ---------------------------------------------------------------------------------------
// Timeouts, cancellation, broken upstreams

TEST_F(ClientTest, SilentServerTimesOutWaitingForHeaders) {
  TestServer server([&](Peer& peer, int) {
    peer.ReadRequest();
    peer.WaitClosed(10s);
  });
  ClientOptions options;
  options.read_timeout = 300ms;
  MakeClient(options);
  auto start = std::chrono::steady_clock::now();
  Answer answer = Call(Local(server), Get("/v1/a"));
  auto elapsed = std::chrono::steady_clock::now() - start;
  EXPECT_EQ(answer.status.code(), absl::StatusCode::kDeadlineExceeded) << answer.status;
  EXPECT_GE(elapsed, 290ms);
  EXPECT_LT(elapsed, 3s);
}

TEST_F(ClientTest, StallMidBodyTimesOutInRead) {
  TestServer server([&](Peer& peer, int) {
    if (!peer.ReadRequest()) return;
    peer.Write("HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\n12345");
    peer.WaitClosed(10s);
  });
  ClientOptions options;
  options.read_timeout = 300ms;
  MakeClient(options);
  auto task = [](Client* client, Origin origin) -> net::awaitable<std::vector<std::string>> {
    std::vector<std::string> log;
    auto stream = co_await client->Send(origin, Get("/v1/a"));
    if (!stream.ok()) co_return std::vector<std::string>{stream.status().ToString()};
    auto piece = co_await (*stream)->Read();
    log.push_back(piece.ok() ? std::string(*piece) : piece.status().ToString());
    auto start = std::chrono::steady_clock::now();
    piece = co_await (*stream)->Read();
    auto elapsed = std::chrono::steady_clock::now() - start;
    log.push_back(absl::StatusCodeToString(piece.status().code()));
    log.push_back(elapsed >= 290ms && elapsed < 3s ? "on time" : "wrong time");
    piece = co_await (*stream)->Read();  // errors are sticky
    log.push_back(absl::StatusCodeToString(piece.status().code()));
    co_return log;
  };
  EXPECT_THAT(RunOn(ioc_, task(client_.get(), Local(server))),
              ::testing::ElementsAre("12345", "DEADLINE_EXCEEDED", "on time", "DEADLINE_EXCEEDED"));
}

net::awaitable<void> CancelLater(ResponseStream* stream, std::chrono::milliseconds after) {
  co_await Sleep(after);
  stream->Cancel();
  stream->Cancel();  // idempotent
}

TEST_F(ClientTest, CancelEndsPendingReadAndDropsTheConnection) {
  std::atomic<bool> client_closed{false};
  TestServer* self = nullptr;
  TestServer server([&](Peer& peer, int index) {
    if (index > 0) return Echo(peer, self);
    if (!peer.ReadRequest()) return;
    peer.Write("HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\npartial");
    client_closed = peer.WaitClosed(10s);
  });
  self = &server;
  MakeClient();
  auto task = [](Client* client, Origin origin) -> net::awaitable<std::vector<std::string>> {
    std::vector<std::string> log;
    auto stream = co_await client->Send(origin, Get("/v1/a"));
    if (!stream.ok()) co_return std::vector<std::string>{stream.status().ToString()};
    auto piece = co_await (*stream)->Read();
    log.push_back(piece.ok() ? std::string(*piece) : piece.status().ToString());
    auto executor = co_await net::this_coro::executor;
    net::co_spawn(executor, CancelLater(stream->get(), 100ms), net::detached);
    piece = co_await (*stream)->Read();  // pending until Cancel
    log.push_back(absl::StatusCodeToString(piece.status().code()));
    piece = co_await (*stream)->Read();
    log.push_back(absl::StatusCodeToString(piece.status().code()));
    co_return log;
  };
  EXPECT_THAT(RunOn(ioc_, task(client_.get(), Local(server))),
              ::testing::ElementsAre("partial", "CANCELLED", "CANCELLED"));
  EXPECT_TRUE(Eventually([&] { return client_closed.load(); }));

  Answer next = Call(Local(server), Get("/v1/b"));
  ASSERT_TRUE(next.status.ok()) << next.status;
  EXPECT_EQ(client_->stats().connections_opened, 2u);
  EXPECT_EQ(client_->stats().reuses, 0u);
}

net::awaitable<void> CancelCallLater(Cancellation* cancellation, std::chrono::milliseconds after) {
  co_await Sleep(after);
  cancellation->Cancel();
}

net::awaitable<absl::Status> SendCancelledAfter(Client* client, Origin origin,
                                                std::chrono::milliseconds after) {
  Cancellation cancellation;
  auto executor = co_await net::this_coro::executor;
  net::co_spawn(executor, CancelCallLater(&cancellation, after), net::detached);
  auto stream = co_await client->Send(origin, Post("/v1/chat/completions", "{}"), &cancellation);
  co_return stream.status();
}

TEST_F(ClientTest, CancellationAbortsSendWaitingForHeadersWithoutRetry) {
  std::atomic<bool> client_closed{false};
  TestServer server([&](Peer& peer, int) {
    if (!peer.ReadRequest()) return;
    peer.Write(Ok("first"));
    if (!peer.ReadRequest()) return;  // the 2nd request, on the pooled connection
    client_closed = peer.WaitClosed(10s);
  });
  MakeClient();  // read_timeout: 10 minutes
  ASSERT_TRUE(Call(Local(server), Get("/v1/a")).status.ok());
  auto start = std::chrono::steady_clock::now();
  absl::Status status = RunOn(ioc_, SendCancelledAfter(client_.get(), Local(server), 100ms));
  EXPECT_EQ(status.code(), absl::StatusCode::kCancelled) << status;
  EXPECT_LT(std::chrono::steady_clock::now() - start, 5s);
  EXPECT_TRUE(Eventually([&] { return client_closed.load(); }));
  EXPECT_EQ(client_->stats().reuses, 1u);
  EXPECT_EQ(client_->stats().retries, 0u);
  EXPECT_EQ(server.accepted(), 1);
}

TEST_F(ClientTest, CancelledBeforeSendSendsNothing) {
  TestServer server([&](Peer& peer, int) { peer.ReadRequest(); });
  MakeClient();
  Cancellation cancellation;
  cancellation.Cancel();
  auto task = [](Client* client, Origin origin,
                 Cancellation* cancellation) -> net::awaitable<absl::Status> {
    auto stream = co_await client->Send(origin, Get("/v1/a"), cancellation);
    co_return stream.status();
  };
  absl::Status status = RunOn(ioc_, task(client_.get(), Local(server), &cancellation));
  EXPECT_EQ(status.code(), absl::StatusCode::kCancelled) << status;
  EXPECT_EQ(client_->stats().connections_opened, 0u);
}

TEST_F(ClientTest, ConnectionLostMidBodyIsUnavailable) {
  TestServer server([&](Peer& peer, int) {
    if (!peer.ReadRequest()) return;
    peer.Write("HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\nonly this");
  });
  MakeClient();
  Answer answer = Call(Local(server), Get("/v1/a"));
  EXPECT_EQ(answer.status.code(), absl::StatusCode::kUnavailable) << answer.status;
  EXPECT_THAT(std::string(answer.status.message()), HasSubstr("mid-body"));
}

TEST_F(ClientTest, BadChunkFramingIsInvalidArgument) {
  TestServer server([&](Peer& peer, int) {
    if (!peer.ReadRequest()) return;
    peer.Write("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\nnot hex\r\n");
    peer.WaitClosed(5s);
  });
  MakeClient();
  Answer answer = Call(Local(server), Get("/v1/a"));
  EXPECT_EQ(answer.status.code(), absl::StatusCode::kInvalidArgument) << answer.status;
}

TEST_F(ClientTest, ReadAllStopsAtTheLimit) {
  TestServer server([&](Peer& peer, int) {
    if (!peer.ReadRequest()) return;
    peer.Write(Ok(std::string(5000, 'x')));
    peer.WaitClosed(5s);
  });
  MakeClient();
  auto task = [](Client* client, Origin origin) -> net::awaitable<absl::Status> {
    auto stream = co_await client->Send(origin, Get("/v1/a"));
    if (!stream.ok()) co_return stream.status();
    auto body = co_await (*stream)->ReadAll(4096);
    co_return body.status();
  };
  absl::Status status = RunOn(ioc_, task(client_.get(), Local(server)));
  EXPECT_EQ(status.code(), absl::StatusCode::kResourceExhausted) << status;
}

TEST_F(ClientTest, OversizedHeadersAreResourceExhausted) {
  TestServer server([&](Peer& peer, int) {
    if (!peer.ReadRequest()) return;
    peer.Write("HTTP/1.1 200 OK\r\nX-Big: " + std::string(8000, 'a') +
               "\r\nContent-Length: 0\r\n\r\n");
    peer.WaitClosed(5s);
  });
  ClientOptions options;
  options.max_header_bytes = 4096;
  MakeClient(options);
  Answer answer = Call(Local(server), Get("/v1/a"));
  EXPECT_EQ(answer.status.code(), absl::StatusCode::kResourceExhausted) << answer.status;
}

TEST_F(ClientTest, GarbageResponseIsInvalidArgument) {
  TestServer server([&](Peer& peer, int) {
    if (!peer.ReadRequest()) return;
    peer.Write("SSH-2.0-OpenSSH_9.2\r\n\r\n");
    peer.WaitClosed(5s);
  });
  MakeClient();
  Answer answer = Call(Local(server), Get("/v1/a"));
  EXPECT_EQ(answer.status.code(), absl::StatusCode::kInvalidArgument) << answer.status;
}

TEST_F(ClientTest, RefusedConnectionIsUnavailable) {
  uint16_t port;
  {
    TestServer server([](Peer&, int) {});
    port = server.port();
  }  // closed: nothing listens there now
  MakeClient();
  absl::StatusOr<Origin> origin = ParseBaseUrl("http://127.0.0.1:" + std::to_string(port));
  ASSERT_TRUE(origin.ok());
  Answer answer = Call(*origin, Get("/v1/a"));
  EXPECT_EQ(answer.status.code(), absl::StatusCode::kUnavailable) << answer.status;
  EXPECT_THAT(std::string(answer.status.message()), HasSubstr("connect"));
}

// ---------------------------------------------------------------------------------------
// TLS

TEST_F(ClientTest, TlsWithTheTestCaWorksAndPools) {
  TestServer* self = nullptr;
  TestServer server([&](Peer& peer, int) { Echo(peer, self); },
                    ca_->ServerContext("DNS:localhost,IP:127.0.0.1"));
  self = &server;
  MakeClient();
  Answer by_ip = Call(Local(server, "https"), Post("/v1/messages", "{}"));
  ASSERT_TRUE(by_ip.status.ok()) << by_ip.status;
  EXPECT_EQ(by_ip.body, "POST /v1/messages {}");
  Answer again = Call(Local(server, "https"), Get("/v1/models"));
  ASSERT_TRUE(again.status.ok()) << again.status;
  EXPECT_EQ(client_->stats().connections_opened, 1u);
  EXPECT_EQ(client_->stats().reuses, 1u);

  Answer by_name = Call(Local(server, "https", "localhost"), Get("/v1/models"));
  ASSERT_TRUE(by_name.status.ok()) << by_name.status;
  EXPECT_EQ(by_name.body, "GET /v1/models ");
}

TEST_F(ClientTest, TlsCertificateFromAnotherCaIsRefusedBeforeSending) {
  TestServer* self = nullptr;
  TestServer server([&](Peer& peer, int) { Echo(peer, self); },
                    other_ca_->ServerContext("DNS:localhost,IP:127.0.0.1"));
  self = &server;
  MakeClient();
  Answer answer = Call(Local(server, "https"), Post("/v1/messages", "{\"secret\":1}"));
  EXPECT_EQ(answer.status.code(), absl::StatusCode::kUnavailable) << answer.status;
  EXPECT_THAT(std::string(answer.status.message()),
              HasSubstr("upstream TLS: certificate verify failed"));
  EXPECT_TRUE(Eventually([&] { return server.handshake_failures() == 1; }));
  EXPECT_EQ(server.requests, 0);
}

TEST_F(ClientTest, TlsHostNameMismatchIsRefused) {
  TestServer* self = nullptr;
  TestServer server([&](Peer& peer, int) { Echo(peer, self); },
                    ca_->ServerContext("DNS:other.example"));
  self = &server;
  MakeClient();
  Answer by_ip = Call(Local(server, "https"), Get("/v1/models"));
  EXPECT_EQ(by_ip.status.code(), absl::StatusCode::kUnavailable) << by_ip.status;
  EXPECT_THAT(std::string(by_ip.status.message()), HasSubstr("certificate verify failed"));
  EXPECT_THAT(std::string(by_ip.status.message()), HasSubstr("hostname mismatch"));
  Answer by_name = Call(Local(server, "https", "localhost"), Get("/v1/models"));
  EXPECT_EQ(by_name.status.code(), absl::StatusCode::kUnavailable) << by_name.status;
  EXPECT_THAT(std::string(by_name.status.message()), HasSubstr("hostname mismatch"));
  EXPECT_TRUE(Eventually([&] { return server.handshake_failures() == 2; }));
  EXPECT_EQ(server.requests, 0);
}

TEST_F(ClientTest, PlainHttpServerBehindAnHttpsUrlFailsTheHandshake) {
  TestServer server([&](Peer& peer, int) {
    peer.WaitClosed(5s);  // a TLS ClientHello is not HTTP: never answer
  });
  ClientOptions options;
  options.connect_timeout = 300ms;
  MakeClient(options);
  Answer answer = Call(Local(server, "https"), Get("/v1/models"));
  EXPECT_EQ(answer.status.code(), absl::StatusCode::kDeadlineExceeded) << answer.status;
  EXPECT_THAT(std::string(answer.status.message()), HasSubstr("TLS handshake"));
}

TEST_F(ClientTest, UnreadableCaFileFailsEverySend) {
  ClientOptions options;
  options.ca_file = "/nonexistent/ca.pem";
  Client client(ioc_, options);
  EXPECT_EQ(client.init_status().code(), absl::StatusCode::kFailedPrecondition);
  absl::StatusOr<Origin> origin = ParseBaseUrl("https://127.0.0.1:1");
  ASSERT_TRUE(origin.ok());
  Answer answer = RunOn(ioc_, Fetch(&client, *origin, Get("/")));
  EXPECT_EQ(answer.status.code(), absl::StatusCode::kFailedPrecondition);
}

}  // namespace
}  // namespace tollgate::upstream
