// The fake provider behind a real HttpServer on an ephemeral port.
#include "fakeprovider/fake_provider.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <boost/json/parse.hpp>
#include <chrono>
#include <memory>
#include <string>
#include <thread>

#include "absl/strings/match.h"
#include "server/http/server.h"
#include "server/http/test_client.h"

namespace tollgate::fakeprovider {
namespace {

namespace http = boost::beast::http;
namespace json = boost::json;
using namespace std::chrono_literals;
using server::testing::TestClient;
using ::testing::HasSubstr;

constexpr std::string_view kKey = "sk-fake-test";

class FakeProviderTest : public ::testing::Test {
 protected:
  void Start(FakeProviderOptions options = {}) {
    options.api_key = std::string(kKey);
    fake_ = std::make_unique<FakeProvider>(options);
    fake_->AddRoutes(router_);
    server::ServerOptions server_options;
    server_options.port = 0;
    server_options.shutdown_grace = 200ms;
    auto s = server::HttpServer::Start(server_options, &router_);
    ASSERT_TRUE(s.ok()) << s.status();
    server_ = std::move(*s);
  }

  void TearDown() override {
    if (server_) {
      server_->Stop();
      server_->Wait();
    }
  }

  static std::string Chat(std::string_view text, bool stream = false) {
    return std::string(R"({"model":"gpt-4o","stream":)") + (stream ? "true" : "false") +
           R"(,"messages":[{"role":"user","content":")" + std::string(text) + R"("}]})";
  }

  std::optional<server::testing::TestResponse> Post(std::string_view target, std::string_view body,
                                                    std::string_view headers) {
    TestClient client(server_->port());
    if (!client.SendRequest("POST", target, body, headers)) return std::nullopt;
    return client.Read();
  }

  server::Router router_;
  std::unique_ptr<FakeProvider> fake_;
  std::unique_ptr<server::HttpServer> server_;
};

const std::string kBearer = "Authorization: Bearer " + std::string(kKey) + "\r\n";

TEST_F(FakeProviderTest, AnswersAChatCompletion) {
  Start();
  auto res = Post("/v1/chat/completions", Chat("hi [fake input=11 output=3]"), kBearer);
  ASSERT_TRUE(res);
  EXPECT_EQ(res->result(), http::status::ok);
  EXPECT_EQ((*res)[http::field::content_type], "application/json");
  json::value v = json::parse(res->body());
  EXPECT_EQ(v.at("choices").at(0).at("message").at("content"), "lorem ipsum dolor");
  EXPECT_EQ(v.at("usage").at("prompt_tokens"), 11);
}

TEST_F(FakeProviderTest, WrongKeyIsA401InEachProvidersFormat) {
  Start();
  auto openai = Post("/v1/chat/completions", Chat("hi"), "Authorization: Bearer nope\r\n");
  ASSERT_TRUE(openai);
  EXPECT_EQ(openai->result(), http::status::unauthorized);
  EXPECT_EQ(json::parse(openai->body()).at("error").at("code"), "invalid_api_key");

  std::string messages = R"({"model":"claude","messages":[{"role":"user","content":"hi"}]})";
  auto anthropic = Post("/v1/messages", messages, "");
  ASSERT_TRUE(anthropic);
  EXPECT_EQ(anthropic->result(), http::status::unauthorized);
  EXPECT_EQ(json::parse(anthropic->body()).at("error").at("type"), "authentication_error");
  auto anthropic_ok = Post("/v1/messages", messages, "x-api-key: " + std::string(kKey) + "\r\n");
  ASSERT_TRUE(anthropic_ok);
  EXPECT_EQ(anthropic_ok->result(), http::status::ok);

  std::string contents = R"({"contents":[{"parts":[{"text":"hi"}]}]})";
  auto gemini = Post("/v1beta/models/gemini-2.0-flash:generateContent", contents, kBearer);
  ASSERT_TRUE(gemini);
  EXPECT_EQ(gemini->result(), http::status::unauthorized);
  EXPECT_EQ(json::parse(gemini->body()).at("error").at("status"), "UNAUTHENTICATED");
  auto by_query = Post("/v1beta/models/gemini-2.0-flash:generateContent?key=" + std::string(kKey),
                       contents, "");
  ASSERT_TRUE(by_query);
  EXPECT_EQ(by_query->result(), http::status::ok);
}

TEST_F(FakeProviderTest, MalformedJsonIsA400) {
  Start();
  auto res = Post("/v1/messages", "{nope", "x-api-key: " + std::string(kKey) + "\r\n");
  ASSERT_TRUE(res);
  EXPECT_EQ(res->result(), http::status::bad_request);
  EXPECT_EQ(json::parse(res->body()).at("error").at("type"), "invalid_request_error");
}

TEST_F(FakeProviderTest, BadDirectiveIsA400NamingIt) {
  Start();
  auto res = Post("/v1/chat/completions", Chat("[fake bogus=1]"), kBearer);
  ASSERT_TRUE(res);
  EXPECT_EQ(res->result(), http::status::bad_request);
  EXPECT_THAT(res->body(), HasSubstr("bogus=1"));
}

TEST_F(FakeProviderTest, StatusDirectiveAnswersThatStatus) {
  Start();
  auto res = Post("/v1/chat/completions", Chat("[fake status=429]"), kBearer);
  ASSERT_TRUE(res);
  EXPECT_EQ(res->result(), http::status::too_many_requests);
  EXPECT_EQ((*res)[http::field::retry_after], "1");
  EXPECT_EQ(json::parse(res->body()).at("error").at("code"), "rate_limit_exceeded");
}

TEST_F(FakeProviderTest, StreamsServerSentEvents) {
  Start();
  auto res = Post("/v1/chat/completions", Chat("[fake output=9]", true), kBearer);
  ASSERT_TRUE(res);
  EXPECT_TRUE(res->chunked());
  EXPECT_THAT(std::string((*res)[http::field::content_type]), HasSubstr("text/event-stream"));
  EXPECT_TRUE(absl::EndsWith(res->body(), "data: [DONE]\n\n"));
}

TEST_F(FakeProviderTest, DelayHoldsTheAnswer) {
  Start();
  auto start = std::chrono::steady_clock::now();
  auto res = Post("/v1/chat/completions", Chat("[fake delay_ms=150]"), kBearer);
  ASSERT_TRUE(res);
  EXPECT_EQ(res->result(), http::status::ok);
  EXPECT_GE(std::chrono::steady_clock::now() - start, 150ms);
}

TEST_F(FakeProviderTest, StallHoldsUntilTheClientLeavesWithoutBlockingTheThread) {
  Start();  // one server thread
  TestClient stalled(server_->port());
  ASSERT_TRUE(stalled.SendRequest("POST", "/v1/chat/completions", Chat("[fake stall]"), kBearer));
  EXPECT_FALSE(stalled.Read(200ms));
  // The one thread still serves others.
  auto other = Post("/v1/chat/completions", Chat("hi"), kBearer);
  ASSERT_TRUE(other);
  EXPECT_EQ(other->result(), http::status::ok);
  stalled.Close();
  // The stalled handler ends and its connection closes.
  auto deadline = std::chrono::steady_clock::now() + 2s;
  while (server_->stats().open_connections > 0 && std::chrono::steady_clock::now() < deadline) {
    std::this_thread::sleep_for(10ms);
  }
  EXPECT_EQ(server_->stats().open_connections, 0u);
}

TEST_F(FakeProviderTest, StallAfterStreamsSomeChunksThenHangs) {
  Start();
  TestClient client(server_->port());
  ASSERT_TRUE(client.SendRequest("POST", "/v1/chat/completions",
                                 Chat("[fake stall_after=1 output=12]", true), kBearer));
  auto head = client.Read(2s, /*header_only=*/true);
  ASSERT_TRUE(head);
  EXPECT_EQ(head->result(), http::status::ok);
  EXPECT_FALSE(client.Read(200ms));  // never completes
}

TEST_F(FakeProviderTest, RecordsRequestsNewestLast) {
  Start();
  ASSERT_TRUE(Post("/v1/chat/completions", Chat("one"), kBearer));
  ASSERT_TRUE(Post("/v1/chat/completions", Chat("two"), "Authorization: Bearer other\r\n"));
  TestClient client(server_->port());
  ASSERT_TRUE(client.SendRequest("GET", "/_fake/requests"));
  auto res = client.Read();
  ASSERT_TRUE(res);
  json::value v = json::parse(res->body());
  ASSERT_EQ(v.as_array().size(), 2u);
  EXPECT_EQ(v.at(0).at("method"), "POST");
  EXPECT_EQ(v.at(0).at("target"), "/v1/chat/completions");
  EXPECT_EQ(v.at(0).at("headers").at("authorization").as_string(), "Bearer " + std::string(kKey));
  EXPECT_EQ(v.at(1).at("headers").at("authorization"), "Bearer other");
  EXPECT_THAT(std::string(v.at(1).at("body").as_string()), HasSubstr("two"));

  ASSERT_TRUE(client.SendRequest("DELETE", "/_fake/requests"));
  ASSERT_TRUE(client.Read());
  EXPECT_EQ(fake_->requests().size(), 0u);
}

TEST(RequestLogTest, KeepsTheLastEntries) {
  RequestLog log(2);
  for (int i = 0; i < 3; ++i) {
    server::Request req{http::verb::post, "/r" + std::to_string(i), 11};
    log.Add(req);
  }
  json::value v = json::parse(log.Json());
  ASSERT_EQ(v.as_array().size(), 2u);
  EXPECT_EQ(v.at(0).at("target"), "/r1");
  EXPECT_EQ(v.at(1).at("target"), "/r2");
}

}  // namespace
}  // namespace tollgate::fakeprovider
