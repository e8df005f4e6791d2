#include "server/http/router.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/use_future.hpp>
#include <thread>

#include "server/http/await_callback.h"
#include "server/http/errors.h"

namespace tollgate::server {
namespace {

namespace net = boost::asio;
namespace http = boost::beast::http;
using ::testing::HasSubstr;

// Echoes the route name and its params: "name a=1 b=2".
Handler Echo(std::string name) {
  return [name](RequestContext& ctx) -> net::awaitable<Response> {
    std::string out = name;
    for (const auto& [k, v] : ctx.params.all()) out.append(" ").append(k).append("=").append(v);
    Response res{http::status::ok, 11};
    res.body() = out;
    co_return res;
  };
}

Response Dispatch(const Router& router, http::verb verb, std::string target) {
  net::io_context ioc;
  Request req{verb, target, 11};
  RequestContext ctx{.req = req,
                     .url = {},
                     .path = {},
                     .params = {},
                     .remote_addr = "127.0.0.1:1",
                     .executor = ioc.get_executor(),
                     .writer = nullptr};
  auto future = net::co_spawn(ioc, router.Dispatch(ctx), net::use_future);
  ioc.run();
  return future.get();
}

class RouterTest : public ::testing::Test {
 protected:
  RouterTest() {
    router_.Add(http::verb::get, "/api/admin/tenants", Echo("list"));
    router_.Add(http::verb::post, "/api/admin/tenants", Echo("create"));
    router_.Add(http::verb::get, "/api/admin/tenants/{id}", Echo("get"));
    router_.Add(http::verb::delete_, "/api/admin/tenants/{id}", Echo("delete"));
    router_.Add(http::verb::post, "/v1beta/models/{model}:generateContent", Echo("generate"));
    router_.Add(http::verb::post, "/v1beta/models/{model}:streamGenerateContent", Echo("stream"));
    router_.Add(http::verb::put, "/api/admin/prices/{provider}:{model}", Echo("price"));
    router_.Add(http::verb::get, "/", Echo("root"));
  }
  Router router_;
};

TEST_F(RouterTest, MatchesLiteralPath) {
  EXPECT_EQ(Dispatch(router_, http::verb::get, "/api/admin/tenants").body(), "list");
  EXPECT_EQ(Dispatch(router_, http::verb::post, "/api/admin/tenants").body(), "create");
  EXPECT_EQ(Dispatch(router_, http::verb::get, "/").body(), "root");
}

TEST_F(RouterTest, ExtractsWholeSegmentParam) {
  EXPECT_EQ(Dispatch(router_, http::verb::get, "/api/admin/tenants/acme").body(), "get id=acme");
}

TEST_F(RouterTest, DecodesParams) {
  EXPECT_EQ(Dispatch(router_, http::verb::get, "/api/admin/tenants/a%2Fb%20c").body(),
            "get id=a/b c");
}

TEST_F(RouterTest, MatchesParamWithLiteralSuffix) {
  EXPECT_EQ(
      Dispatch(router_, http::verb::post, "/v1beta/models/gemini-1.5-pro:generateContent").body(),
      "generate model=gemini-1.5-pro");
  EXPECT_EQ(Dispatch(router_, http::verb::post, "/v1beta/models/g:streamGenerateContent").body(),
            "stream model=g");
  EXPECT_EQ(Dispatch(router_, http::verb::post, "/v1beta/models/a:b:generateContent").body(),
            "generate model=a:b");
}

TEST_F(RouterTest, SplitsTwoParamsInOneSegmentAtFirstSeparator) {
  EXPECT_EQ(Dispatch(router_, http::verb::put, "/api/admin/prices/openai:ft:gpt-4o:acme").body(),
            "price provider=openai model=ft:gpt-4o:acme");
}

TEST_F(RouterTest, EmptyParamDoesNotMatch) {
  EXPECT_EQ(Dispatch(router_, http::verb::post, "/v1beta/models/:generateContent").result(),
            http::status::not_found);
  EXPECT_EQ(Dispatch(router_, http::verb::get, "/api/admin/tenants/").result(),
            http::status::not_found);
}

TEST_F(RouterTest, UnknownPathIs404Json) {
  Response res = Dispatch(router_, http::verb::get, "/api/nope");
  EXPECT_EQ(res.result(), http::status::not_found);
  EXPECT_THAT(res.body(), HasSubstr(R"("type":"not_found_error")"));
  EXPECT_EQ(Dispatch(router_, http::verb::get, "/api/admin/tenants/x/y").result(),
            http::status::not_found);
}

TEST_F(RouterTest, WrongMethodIs405WithAllow) {
  Response res = Dispatch(router_, http::verb::put, "/api/admin/tenants/acme");
  EXPECT_EQ(res.result(), http::status::method_not_allowed);
  EXPECT_EQ(res[http::field::allow], "GET, DELETE");
  res = Dispatch(router_, http::verb::delete_, "/api/admin/tenants");
  EXPECT_EQ(res.result(), http::status::method_not_allowed);
  EXPECT_EQ(res[http::field::allow], "GET, POST");
}

TEST_F(RouterTest, BadTargetIs400) {
  EXPECT_EQ(Dispatch(router_, http::verb::get, "http://example.com/x").result(),
            http::status::bad_request);
  EXPECT_EQ(Dispatch(router_, http::verb::get, "/a%zz").result(), http::status::bad_request);
}

TEST_F(RouterTest, QueryIsDecoded) {
  Router router;
  router.Add(http::verb::get, "/q", [](RequestContext& ctx) -> net::awaitable<Response> {
    Response res{http::status::ok, 11};
    res.body() = ctx.Query("a").value_or("none") + "|" + ctx.Query("b").value_or("none") + "|" +
                 ctx.Query("c").value_or("none");
    co_return res;
  });
  EXPECT_EQ(Dispatch(router, http::verb::get, "/q?a=x%20y+z&b").body(), "x y z||none");
}

TEST_F(RouterTest, AnExactRouteSeesTheSamePathAndQueryWhateverTheTargetsForm) {
  Router router;
  router.Add(http::verb::get, "/q/r", [](RequestContext& ctx) -> net::awaitable<Response> {
    Response res{http::status::ok, 11};
    res.body() = std::string(ctx.path) + "|" + ctx.Query("a").value_or("none");
    co_return res;
  });
  EXPECT_EQ(Dispatch(router, http::verb::get, "/q/r").body(), "/q/r|none");
  EXPECT_EQ(Dispatch(router, http::verb::get, "/q/r?a=1").body(), "/q/r|1");
  EXPECT_EQ(Dispatch(router, http::verb::get, "/q/%72").body(), "/q/%72|none");
  EXPECT_EQ(Dispatch(router, http::verb::get, "/q/r/").result(), http::status::not_found);
  EXPECT_EQ(Dispatch(router, http::verb::get, "/q/r#x").result(), http::status::bad_request);
  EXPECT_EQ(Dispatch(router, http::verb::get, "/q/r x").result(), http::status::bad_request);
}

TEST_F(RouterTest, FallbackReplaces404) {
  router_.SetFallback(Echo("fallback"));
  EXPECT_EQ(Dispatch(router_, http::verb::get, "/assets/app.js").body(), "fallback");
}

TEST(ErrorsTest, MapStatusPassesClientMessagesAndHidesServerOnes) {
  MappedError e = MapStatus(absl::InvalidArgumentError("field 'x' is required"));
  EXPECT_EQ(e.status, http::status::bad_request);
  EXPECT_EQ(e.message, "field 'x' is required");
  EXPECT_EQ(MapStatus(absl::UnauthenticatedError("")).status, http::status::unauthorized);
  EXPECT_EQ(MapStatus(absl::PermissionDeniedError("")).status, http::status::forbidden);
  EXPECT_EQ(MapStatus(absl::NotFoundError("")).status, http::status::not_found);
  EXPECT_EQ(MapStatus(absl::AlreadyExistsError("")).status, http::status::conflict);
  EXPECT_EQ(MapStatus(absl::FailedPreconditionError("")).status, http::status::conflict);
  EXPECT_EQ(MapStatus(absl::ResourceExhaustedError("")).status, http::status::too_many_requests);
  e = MapStatus(absl::UnavailableError("db at /var/x locked"));
  EXPECT_EQ(e.status, http::status::service_unavailable);
  EXPECT_THAT(e.message, ::testing::Not(HasSubstr("/var/x")));
  e = MapStatus(absl::InternalError("SELECT failed"));
  EXPECT_EQ(e.status, http::status::internal_server_error);
  EXPECT_EQ(e.message, "internal server error");
}

TEST(ErrorsTest, JsonErrorHasSpecShapeAndEscapes) {
  Response res =
      JsonError(http::status::bad_request, "invalid_request_error", "bad", "quote \" here");
  EXPECT_EQ(res.result(), http::status::bad_request);
  EXPECT_EQ(res[http::field::content_type], "application/json");
  EXPECT_EQ(res.body(),
            R"({"error":{"type":"invalid_request_error","code":"bad","message":"quote \" here"}})");
}

TEST(ErrorsTest, WithErrorCodeSetsCode) {
  Response res = ErrorResponse(
      WithErrorCode(absl::ResourceExhaustedError("daily limit reached"), "quota_exceeded"));
  EXPECT_EQ(res.result(), http::status::too_many_requests);
  EXPECT_THAT(res.body(), HasSubstr(R"("code":"quota_exceeded")"));
  EXPECT_THAT(res.body(), HasSubstr("daily limit reached"));
}

TEST(AwaitCallbackTest, ResumesOnOwnExecutorWithValueFromOtherThread) {
  net::io_context ioc;
  std::thread::id io_thread;
  std::thread::id resumed_on;
  std::thread worker;
  // A named lambda: the coroutine reads its captures through it, so it must outlive run().
  auto body = [&]() -> net::awaitable<int> {
    io_thread = std::this_thread::get_id();
    int v = co_await AwaitCallback<int>([&](std::function<void(int)> done) {
      worker = std::thread([done] {
        std::this_thread::sleep_for(std::chrono::milliseconds(20));
        done(7);
        done(8);  // ignored
      });
    });
    resumed_on = std::this_thread::get_id();
    co_return v;
  };
  auto future = net::co_spawn(ioc, body(), net::use_future);
  ioc.run();  // returns only after the callback: the pending call counts as work
  worker.join();
  EXPECT_EQ(future.get(), 7);
  EXPECT_EQ(resumed_on, io_thread);
}

}  // namespace
}  // namespace tollgate::server
