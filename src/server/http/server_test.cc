#include "server/http/server.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <atomic>
#include <boost/asio/as_tuple.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <chrono>
#include <future>
#include <memory>
#include <string>
#include <thread>

#include "server/http/await_callback.h"
#include "server/http/errors.h"
#include "server/http/test_client.h"

namespace tollgate::server {
namespace {

namespace net = boost::asio;
namespace http = boost::beast::http;
using ::testing::HasSubstr;
using testing::TestClient;
using namespace std::chrono_literals;

net::awaitable<Response> Text(std::string body) {
  Response res{http::status::ok, 11};
  res.set(http::field::content_type, "text/plain");
  res.body() = std::move(body);
  co_return res;
}

net::awaitable<void> Sleep(std::chrono::milliseconds d) {
  net::steady_timer timer(co_await net::this_coro::executor);
  timer.expires_after(d);
  co_await timer.async_wait(net::as_tuple(net::use_awaitable));
}

class HttpServerTest : public ::testing::Test {
 protected:
  // Waits up to 2 s for a server counter to reach `want`: the client can see its
  // connection closed before the server's thread has counted why.
  uint64_t Eventually(uint64_t ServerStats::*counter, uint64_t want) {
    for (int i = 0; i < 200 && server_->stats().*counter != want; ++i)
      std::this_thread::sleep_for(std::chrono::milliseconds(10));
    return server_->stats().*counter;
  }

  void SetUp() override {
    router_.Add(http::verb::get, "/hello",
                [](RequestContext&) -> net::awaitable<Response> { return Text("hello"); });
    router_.Add(http::verb::post, "/echo", [](RequestContext& ctx) -> net::awaitable<Response> {
      return Text(ctx.req.body());
    });
    router_.Add(http::verb::get, "/tenants/{id}",
                [](RequestContext& ctx) -> net::awaitable<Response> {
                  return Text(std::string(ctx.Param("id")) + "|" + ctx.Query("q").value_or("-"));
                });
    router_.Add(http::verb::get, "/slow", [](RequestContext&) -> net::awaitable<Response> {
      co_await Sleep(300ms);
      co_return co_await Text("slow");
    });
    router_.Add(http::verb::get, "/throw", [](RequestContext&) -> net::awaitable<Response> {
      throw std::runtime_error("boom");
      co_return Response{};
    });
  }

  void StartServer(ServerOptions options = {}) {
    options.port = 0;
    auto server = HttpServer::Start(options, &router_);
    ASSERT_TRUE(server.ok()) << server.status();
    server_ = std::move(*server);
    ASSERT_NE(server_->port(), 0);
  }

  Router router_;
  std::unique_ptr<HttpServer> server_;
};

TEST_F(HttpServerTest, ServesRouteOnEphemeralPort) {
  StartServer();
  TestClient client(server_->port());
  ASSERT_TRUE(client.SendRequest("GET", "/hello"));
  auto res = client.Read();
  ASSERT_TRUE(res);
  EXPECT_EQ(res->result(), http::status::ok);
  EXPECT_EQ(res->body(), "hello");
}

TEST_F(HttpServerTest, PassesDecodedParamsAndQuery) {
  StartServer();
  TestClient client(server_->port());
  ASSERT_TRUE(client.SendRequest("GET", "/tenants/a%20b?q=x+y"));
  auto res = client.Read();
  ASSERT_TRUE(res);
  EXPECT_EQ(res->body(), "a b|x y");
}

TEST_F(HttpServerTest, UnknownPathIs404AndWrongMethodIs405) {
  StartServer();
  TestClient client(server_->port());
  ASSERT_TRUE(client.SendRequest("GET", "/nope"));
  auto res = client.Read();
  ASSERT_TRUE(res);
  EXPECT_EQ(res->result(), http::status::not_found);
  EXPECT_THAT(res->body(), HasSubstr("\"error\""));
  ASSERT_TRUE(client.SendRequest("DELETE", "/hello"));
  res = client.Read();
  ASSERT_TRUE(res);
  EXPECT_EQ(res->result(), http::status::method_not_allowed);
  EXPECT_EQ((*res)[http::field::allow], "GET");
  EXPECT_EQ((*res)[http::field::content_type], "application/json");
}

TEST_F(HttpServerTest, KeepAliveServesManyRequestsOnOneConnection) {
  StartServer();
  TestClient client(server_->port());
  for (int i = 0; i < 5; ++i) {
    std::string body = "body" + std::to_string(i);
    ASSERT_TRUE(client.SendRequest("POST", "/echo", body));
    auto res = client.Read();
    ASSERT_TRUE(res) << i;
    EXPECT_EQ(res->body(), body);
    EXPECT_TRUE(res->keep_alive());
  }
  EXPECT_EQ(server_->stats().accepted_connections, 1u);
  EXPECT_EQ(server_->stats().requests, 5u);
}

TEST_F(HttpServerTest, AnswersPipelinedRequestsInOrder) {
  StartServer();
  TestClient client(server_->port());
  ASSERT_TRUE(client.Send(
      "GET /tenants/1 HTTP/1.1\r\nHost: t\r\n\r\nGET /tenants/2 HTTP/1.1\r\nHost: t\r\n\r\n"));
  auto first = client.Read();
  auto second = client.Read();
  ASSERT_TRUE(first && second);
  EXPECT_EQ(first->body(), "1|-");
  EXPECT_EQ(second->body(), "2|-");
}

TEST_F(HttpServerTest, ConnectionCloseIsHonoured) {
  StartServer();
  TestClient client(server_->port());
  ASSERT_TRUE(client.SendRequest("GET", "/hello", "", "Connection: close\r\n"));
  auto res = client.Read();
  ASSERT_TRUE(res);
  EXPECT_FALSE(res->keep_alive());
  EXPECT_TRUE(client.WaitClosed());
}

TEST_F(HttpServerTest, OversizedDeclaredBodyIs413AndConnectionClosed) {
  StartServer();  // default limit: 8 MiB
  TestClient client(server_->port());
  std::string body(10 * 1024 * 1024, 'x');
  // The client sends everything, as naive clients do; the server must answer and
  // close without buffering the body.
  std::thread sender([&] { client.SendRequest("POST", "/echo", body); });
  auto res = client.Read(10s);
  sender.join();
  ASSERT_TRUE(res);
  EXPECT_EQ(res->result(), http::status::payload_too_large);
  EXPECT_THAT(res->body(), HasSubstr("body_too_large"));
  EXPECT_FALSE(res->keep_alive());
  EXPECT_TRUE(client.WaitClosed());
  EXPECT_EQ(Eventually(&ServerStats::bodies_too_large, 1), 1u);
}

TEST_F(HttpServerTest, OversizedDeclaredBodyIsRefusedBeforeItIsSent) {
  StartServer();
  TestClient client(server_->port());
  ASSERT_TRUE(
      client.Send("POST /echo HTTP/1.1\r\nHost: t\r\nContent-Length: 10485760\r\n"
                  "Expect: 100-continue\r\n\r\n"));
  auto res = client.Read();
  ASSERT_TRUE(res);
  EXPECT_EQ(res->result(), http::status::payload_too_large);
  EXPECT_TRUE(client.WaitClosed());
}

TEST_F(HttpServerTest, OversizedChunkedBodyIs413) {
  ServerOptions options;
  options.max_body_bytes = 1024;
  StartServer(options);
  TestClient client(server_->port());
  std::string chunk(4096, 'y');
  ASSERT_TRUE(
      client.Send("POST /echo HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: chunked\r\n\r\n"
                  "1000\r\n" +
                  chunk + "\r\n0\r\n\r\n"));
  auto res = client.Read();
  ASSERT_TRUE(res);
  EXPECT_EQ(res->result(), http::status::payload_too_large);
  EXPECT_TRUE(client.WaitClosed());
}

TEST_F(HttpServerTest, BodyAtTheLimitIsAccepted) {
  ServerOptions options;
  options.max_body_bytes = 1024;
  StartServer(options);
  TestClient client(server_->port());
  std::string body(1024, 'z');
  ASSERT_TRUE(client.SendRequest("POST", "/echo", body));
  auto res = client.Read();
  ASSERT_TRUE(res);
  EXPECT_EQ(res->result(), http::status::ok);
  EXPECT_EQ(res->body().size(), 1024u);
}

TEST_F(HttpServerTest, OversizedHeadersAre431) {
  ServerOptions options;
  options.max_header_bytes = 4096;
  StartServer(options);
  TestClient client(server_->port());
  ASSERT_TRUE(client.SendRequest("GET", "/hello", "", "X-Big: " + std::string(8192, 'h') + "\r\n"));
  auto res = client.Read();
  ASSERT_TRUE(res);
  EXPECT_EQ(res->result(), http::status::request_header_fields_too_large);
  EXPECT_TRUE(client.WaitClosed());
}

TEST_F(HttpServerTest, MalformedRequestIs400) {
  StartServer();
  TestClient client(server_->port());
  ASSERT_TRUE(client.Send("GARBAGE\r\n\r\n"));
  auto res = client.Read();
  ASSERT_TRUE(res);
  EXPECT_EQ(res->result(), http::status::bad_request);
}

TEST_F(HttpServerTest, SlowClientTimesOut) {
  ServerOptions options;
  options.read_timeout = 200ms;
  StartServer(options);
  TestClient client(server_->port());
  ASSERT_TRUE(client.Send("GET /hello HTTP/1.1\r\nHost: t\r\n"));  // never finished
  auto start = std::chrono::steady_clock::now();
  EXPECT_TRUE(client.WaitClosed(3s));
  EXPECT_LT(std::chrono::steady_clock::now() - start, 2s);
  EXPECT_EQ(Eventually(&ServerStats::timeouts, 1), 1u);
}

TEST_F(HttpServerTest, SlowBodyTimesOut) {
  ServerOptions options;
  options.read_timeout = 200ms;
  StartServer(options);
  TestClient client(server_->port());
  ASSERT_TRUE(client.Send("POST /echo HTTP/1.1\r\nHost: t\r\nContent-Length: 100\r\n\r\nabc"));
  EXPECT_TRUE(client.WaitClosed(3s));
  EXPECT_EQ(Eventually(&ServerStats::timeouts, 1), 1u);
}

TEST_F(HttpServerTest, IdleKeepAliveConnectionIsClosed) {
  ServerOptions options;
  options.idle_timeout = 200ms;
  StartServer(options);
  TestClient client(server_->port());
  ASSERT_TRUE(client.SendRequest("GET", "/hello"));
  ASSERT_TRUE(client.Read());
  auto start = std::chrono::steady_clock::now();
  EXPECT_TRUE(client.WaitClosed(3s));
  EXPECT_GE(std::chrono::steady_clock::now() - start, 150ms);
}

TEST_F(HttpServerTest, HandlerExceptionIs500AndConnectionSurvives) {
  StartServer();
  TestClient client(server_->port());
  ASSERT_TRUE(client.SendRequest("GET", "/throw"));
  auto res = client.Read();
  ASSERT_TRUE(res);
  EXPECT_EQ(res->result(), http::status::internal_server_error);
  EXPECT_THAT(res->body(), ::testing::Not(HasSubstr("boom")));
  ASSERT_TRUE(client.SendRequest("GET", "/hello"));
  res = client.Read();
  ASSERT_TRUE(res);
  EXPECT_EQ(res->body(), "hello");
}

TEST_F(HttpServerTest, ConnectionsOverTheCapAreClosed) {
  ServerOptions options;
  options.max_connections = 2;
  StartServer(options);
  TestClient a(server_->port());
  TestClient b(server_->port());
  ASSERT_TRUE(a.SendRequest("GET", "/hello") && a.Read());
  ASSERT_TRUE(b.SendRequest("GET", "/hello") && b.Read());
  TestClient c(server_->port());
  EXPECT_TRUE(c.WaitClosed());
  EXPECT_EQ(Eventually(&ServerStats::rejected_connections, 1), 1u);
  a.Close();
  // Once a slot is free, new connections are served again.
  for (int i = 0; i < 100 && server_->stats().open_connections > 1; ++i) {
    std::this_thread::sleep_for(10ms);
  }
  TestClient d(server_->port());
  ASSERT_TRUE(d.SendRequest("GET", "/hello"));
  auto res = d.Read();
  ASSERT_TRUE(res);
  EXPECT_EQ(res->body(), "hello");
}

TEST_F(HttpServerTest, StopLetsRequestInProgressFinish) {
  StartServer();
  TestClient busy(server_->port());
  TestClient idle(server_->port());
  ASSERT_TRUE(idle.SendRequest("GET", "/hello") && idle.Read());
  ASSERT_TRUE(busy.SendRequest("GET", "/slow"));
  std::this_thread::sleep_for(50ms);
  server_->Stop();
  auto res = busy.Read();
  ASSERT_TRUE(res);
  EXPECT_EQ(res->body(), "slow");
  EXPECT_FALSE(res->keep_alive());
  EXPECT_TRUE(idle.WaitClosed());
  server_->Wait();
  TestClient late(server_->port());
  EXPECT_FALSE(late.connected() && late.SendRequest("GET", "/hello") && late.Read(500ms));
}

TEST_F(HttpServerTest, StopClosesStuckRequestsAfterGrace) {
  router_.Add(http::verb::get, "/stuck", [](RequestContext& ctx) -> net::awaitable<Response> {
    net::steady_timer upstream(ctx.executor);
    upstream.expires_after(60s);
    ctx.writer->OnClientGone([&upstream] { upstream.cancel(); });
    co_await upstream.async_wait(net::as_tuple(net::use_awaitable));
    co_return co_await Text("late");
  });
  ServerOptions options;
  options.shutdown_grace = 100ms;
  StartServer(options);
  TestClient client(server_->port());
  ASSERT_TRUE(client.SendRequest("GET", "/stuck"));
  std::this_thread::sleep_for(50ms);
  auto start = std::chrono::steady_clock::now();
  server_->Stop();
  EXPECT_TRUE(client.WaitClosed(3s));
  server_->Wait();  // the handler was told its client is gone and returned
  EXPECT_LT(std::chrono::steady_clock::now() - start, 2s);
}

TEST_F(HttpServerTest, TwoThreadsServeConcurrentClients) {
  ServerOptions options;
  options.threads = 2;
  StartServer(options);
  std::vector<std::thread> threads;
  std::atomic<int> ok{0};
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([&] {
      TestClient client(server_->port());
      for (int i = 0; i < 50; ++i) {
        if (client.SendRequest("POST", "/echo", "x") && client.Read()) ++ok;
      }
    });
  }
  for (auto& t : threads) t.join();
  EXPECT_EQ(ok.load(), 200);
}

TEST_F(HttpServerTest, BindFailureIsAnError) {
  StartServer();
  ServerOptions options;
  options.port = server_->port();
  auto second = HttpServer::Start(options, &router_);
  EXPECT_FALSE(second.ok());
}

// --- Streaming -----------------------------------------------------------------------

TEST_F(HttpServerTest, StreamsChunkedResponse) {
  router_.Add(http::verb::get, "/export", [](RequestContext& ctx) -> net::awaitable<Response> {
    co_await ctx.writer->WriteHeader(http::status::ok, "text/csv");
    for (int i = 0; i < 3; ++i) {
      co_await ctx.writer->WriteChunk("row" + std::to_string(i) + "\n");
    }
    co_await ctx.writer->Finish();
    co_return Streamed();
  });
  StartServer();
  TestClient client(server_->port());
  for (int round = 0; round < 2; ++round) {  // the connection stays usable
    ASSERT_TRUE(client.SendRequest("GET", "/export"));
    auto res = client.Read();
    ASSERT_TRUE(res);
    EXPECT_EQ(res->result(), http::status::ok);
    EXPECT_TRUE(res->chunked());
    EXPECT_EQ((*res)[http::field::content_type], "text/csv");
    EXPECT_EQ(res->body(), "row0\nrow1\nrow2\n");
  }
}

TEST_F(HttpServerTest, StreamIsFinishedWhenHandlerForgets) {
  router_.Add(http::verb::get, "/sse", [](RequestContext& ctx) -> net::awaitable<Response> {
    co_await ctx.writer->WriteHeader(http::status::ok, "text/event-stream");
    co_await ctx.writer->WriteChunk("data: 1\n\n");
    co_return Streamed();
  });
  StartServer();
  TestClient client(server_->port());
  ASSERT_TRUE(client.SendRequest("GET", "/sse"));
  auto res = client.Read();
  ASSERT_TRUE(res);
  EXPECT_EQ(res->body(), "data: 1\n\n");
}

TEST_F(HttpServerTest, StreamingWriterDetectsDisconnectedClient) {
  std::promise<int> written;
  router_.Add(http::verb::get, "/forever", [&](RequestContext& ctx) -> net::awaitable<Response> {
    int chunks = 0;
    if (co_await ctx.writer->WriteHeader(http::status::ok, "text/plain")) {
      while (chunks < 100000 && co_await ctx.writer->WriteChunk(std::string(1024, 'a'))) {
        ++chunks;
        co_await Sleep(1ms);
      }
    }
    written.set_value(ctx.writer->client_gone() ? chunks : -1);
    co_return Streamed();
  });
  StartServer();
  TestClient client(server_->port());
  ASSERT_TRUE(client.SendRequest("GET", "/forever"));
  ASSERT_TRUE(client.Read(5s, /*header_only=*/true));
  client.Reset();
  auto future = written.get_future();
  ASSERT_EQ(future.wait_for(5s), std::future_status::ready);
  int chunks = future.get();
  EXPECT_GE(chunks, 0);
  EXPECT_LT(chunks, 100000);
}

TEST_F(HttpServerTest, OnClientGoneFiresWhileHandlerWaits) {
  std::promise<bool> gone;
  router_.Add(http::verb::get, "/wait", [&](RequestContext& ctx) -> net::awaitable<Response> {
    net::steady_timer upstream(ctx.executor);
    upstream.expires_after(10s);  // an upstream that would answer much later
    ctx.writer->OnClientGone([&upstream] { upstream.cancel(); });
    co_await ctx.writer->WriteHeader(http::status::ok, "text/event-stream");
    co_await upstream.async_wait(net::as_tuple(net::use_awaitable));
    gone.set_value(ctx.writer->client_gone());
    co_return Streamed();
  });
  StartServer();
  TestClient client(server_->port());
  ASSERT_TRUE(client.SendRequest("GET", "/wait"));
  ASSERT_TRUE(client.Read(5s, /*header_only=*/true));
  client.Close();  // a plain FIN, no reset
  auto future = gone.get_future();
  ASSERT_EQ(future.wait_for(3s), std::future_status::ready);
  EXPECT_TRUE(future.get());
}

TEST_F(HttpServerTest, WatchingForDisconnectKeepsPipelinedRequest) {
  router_.Add(http::verb::get, "/watched", [](RequestContext& ctx) -> net::awaitable<Response> {
    ctx.writer->OnClientGone([] {});
    co_await Sleep(100ms);
    co_return co_await Text("watched");
  });
  StartServer();
  TestClient client(server_->port());
  ASSERT_TRUE(client.Send("GET /watched HTTP/1.1\r\nHost: t\r\n\r\n"));
  std::this_thread::sleep_for(30ms);
  ASSERT_TRUE(client.SendRequest("GET", "/hello"));
  auto first = client.Read();
  auto second = client.Read();
  ASSERT_TRUE(first && second);
  EXPECT_EQ(first->body(), "watched");
  EXPECT_EQ(second->body(), "hello");
}

TEST_F(HttpServerTest, Http10StreamIsRawAndClosed) {
  router_.Add(http::verb::get, "/export", [](RequestContext& ctx) -> net::awaitable<Response> {
    co_await ctx.writer->WriteHeader(http::status::ok, "text/csv");
    co_await ctx.writer->WriteChunk("a,b\n");
    co_await ctx.writer->Finish();
    co_return Streamed();
  });
  StartServer();
  TestClient client(server_->port());
  ASSERT_TRUE(client.Send("GET /export HTTP/1.0\r\n\r\n"));
  auto res = client.Read();
  ASSERT_TRUE(res);
  EXPECT_EQ(res->body(), "a,b\n");
  EXPECT_FALSE(res->chunked());
}

// --- AwaitCallback ---------------------------------------------------------------------

TEST_F(HttpServerTest, AwaitCallbackCompletedFromAnotherThread) {
  router_.Add(http::verb::post, "/commit", [](RequestContext& ctx) -> net::awaitable<Response> {
    std::thread::id io_thread = std::this_thread::get_id();
    std::thread::id worker_thread;
    absl::Status status = co_await AwaitCallback<absl::Status>(
        [&worker_thread](std::function<void(absl::Status)> done) {
          std::thread([done, &worker_thread] {
            worker_thread = std::this_thread::get_id();
            std::this_thread::sleep_for(50ms);
            done(absl::UnavailableError("disk gone"));
          }).detach();
        });
    if (std::this_thread::get_id() != io_thread || worker_thread == io_thread) {
      co_return co_await Text("wrong thread");
    }
    co_return ErrorResponse(status);
  });
  StartServer();
  TestClient client(server_->port());
  ASSERT_TRUE(client.SendRequest("POST", "/commit", "{}"));
  auto res = client.Read();
  ASSERT_TRUE(res);
  EXPECT_EQ(res->result(), http::status::service_unavailable);
  EXPECT_THAT(res->body(), ::testing::Not(HasSubstr("disk gone")));
}

TEST_F(HttpServerTest, AwaitCallbackDoesNotBlockOtherConnections) {
  std::promise<std::function<void(int)>> pending;
  router_.Add(http::verb::get, "/wait", [&](RequestContext&) -> net::awaitable<Response> {
    int v = co_await AwaitCallback<int>(
        [&](std::function<void(int)> done) { pending.set_value(std::move(done)); });
    co_return co_await Text(std::to_string(v));
  });
  StartServer();  // one thread
  TestClient waiting(server_->port());
  ASSERT_TRUE(waiting.SendRequest("GET", "/wait"));
  auto done = pending.get_future().get();
  TestClient other(server_->port());
  ASSERT_TRUE(other.SendRequest("GET", "/hello"));
  auto res = other.Read();
  ASSERT_TRUE(res);
  EXPECT_EQ(res->body(), "hello");
  std::thread([done] { done(42); }).join();
  res = waiting.Read();
  ASSERT_TRUE(res);
  EXPECT_EQ(res->body(), "42");
}

}  // namespace
}  // namespace tollgate::server
