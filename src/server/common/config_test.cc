#include "server/common/config.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <fstream>
#include <map>
#include <string>

namespace tollgate::server {
namespace {

using ::testing::HasSubstr;

std::string WriteFile(const std::string& name, const std::string& content) {
  std::string path = ::testing::TempDir() + "/" + name;
  std::ofstream(path) << content;
  return path;
}

std::string Message(const absl::Status& s) { return std::string(s.message()); }

TEST(ConfigTest, DefaultsWithoutFile) {
  auto config = LoadConfig("", {});
  ASSERT_TRUE(config.ok()) << config.status();
  EXPECT_EQ(config->server.listen, "127.0.0.1:8080");
  EXPECT_EQ(config->server.max_body_bytes, 8 * 1024 * 1024);
  EXPECT_EQ(config->server.threads, 2);
  EXPECT_EQ(config->storage.backend, "sqlite");
  EXPECT_EQ(config->StorePath(), "./var/tollgate.db");
  EXPECT_EQ(config->enforcement.mode, Mode::kEnforce);
  EXPECT_EQ(config->enforcement.fail_mode, FailMode::kClosed);
  EXPECT_EQ(config->metering.default_output_estimate, 1024);
  EXPECT_EQ(config->openai.base_url, "https://api.openai.com/v1");
  EXPECT_EQ(config->gemini.api_key_env, "GEMINI_API_KEY");
}

TEST(ConfigTest, FileThenEnvironmentOverride) {
  std::string path = WriteFile("override.toml", R"(
[server]
listen = "0.0.0.0:9000"
threads = 2
[storage]
path = "/data/t.db"
sync = "normal"
[enforcement]
mode = "shadow"
fail_mode = "closed"
[metering]
event_retention_days = 7
[providers.openai]
base_url = "http://127.0.0.1:9999/v1"
)");
  auto config = LoadConfig(path, {{"TOLLGATE_SERVER_THREADS", "4"},
                                  {"TOLLGATE_PROVIDERS_OPENAI_BASE_URL", "https://proxy/v1"},
                                  {"TOLLGATE_ADMIN_KEY", "secret"},
                                  {"HOME", "/root"}});
  ASSERT_TRUE(config.ok()) << config.status();
  EXPECT_EQ(config->server.listen, "0.0.0.0:9000");
  EXPECT_EQ(config->server.threads, 4);
  EXPECT_EQ(config->StorePath(), "/data/t.db");
  EXPECT_EQ(config->enforcement.mode, Mode::kShadow);
  EXPECT_EQ(config->enforcement.fail_mode, FailMode::kClosed);
  EXPECT_EQ(config->storage.sync, "normal");
  EXPECT_EQ(config->metering.event_retention_days, 7);
  EXPECT_EQ(config->openai.base_url, "https://proxy/v1");
  ServerOptions options = ServerOptionsFromConfig(*config);
  EXPECT_EQ(options.host, "0.0.0.0");
  EXPECT_EQ(options.port, 9000);
  EXPECT_EQ(options.threads, 4);
}

TEST(ConfigTest, UnknownKeyInFileIsNamed) {
  std::string path = WriteFile("unknown.toml", "[server]\nlisten = \"127.0.0.1:1\"\nthreds = 2\n");
  auto config = LoadConfig(path, {});
  ASSERT_FALSE(config.ok());
  EXPECT_THAT(Message(config.status()), HasSubstr("unknown config key 'server.threds'"));
}

TEST(ConfigTest, UnknownSectionIsNamed) {
  std::string path = WriteFile("section.toml", "[providers.mistral]\nbase_url = \"http://x\"\n");
  auto config = LoadConfig(path, {});
  ASSERT_FALSE(config.ok());
  EXPECT_THAT(Message(config.status()), HasSubstr("[providers.mistral]"));
}

TEST(ConfigTest, BadValuesAreNamed) {
  struct Case {
    std::string toml;
    std::string expected;
  };
  for (const Case& c : std::vector<Case>{
           {"[server]\nthreads = \"two\"\n", "'server.threads'"},
           {"[server]\nthreads = 0\n", "'server.threads'"},
           {"[server]\nmax_body_bytes = -5\n", "'server.max_body_bytes'"},
           {"[server]\nlisten = \"localhost\"\n", "'server.listen'"},
           {"[server]\nlisten = \"h:70000\"\n", "'server.listen'"},
           {"[enforcement]\nmode = \"loud\"\n", "'enforcement.mode'"},
           {"[enforcement]\nfail_mode = \"maybe\"\n", "'enforcement.fail_mode'"},
           {"[enforcement]\nfail_mode = \"open\"\n", "not built yet"},
           {"[storage]\nsync = \"sometimes\"\n", "'storage.sync'"},
           {"[providers.anthropic]\nbase_url = \"ftp://x\"\n", "'providers.anthropic.base_url'"},
           {"[providers.gemini]\napi_key_env = \"1BAD\"\n", "'providers.gemini.api_key_env'"},
           {"[metering]\nlease_s = 1.5\n", "'metering.lease_s'"},
       }) {
    std::string path = WriteFile("bad.toml", c.toml);
    auto config = LoadConfig(path, {});
    ASSERT_FALSE(config.ok()) << c.toml;
    EXPECT_THAT(Message(config.status()), HasSubstr(c.expected)) << c.toml;
  }
}

TEST(ConfigTest, PostgresIsRefusedClearly) {
  auto config = LoadConfig("", {{"TOLLGATE_STORAGE_BACKEND", "postgres"}});
  ASSERT_FALSE(config.ok());
  EXPECT_THAT(Message(config.status()), HasSubstr("not built yet"));
  EXPECT_THAT(Message(config.status()), HasSubstr("TOLLGATE_STORAGE_BACKEND"));
}

TEST(ConfigTest, UnknownTollgateEnvIsRefused) {
  auto config = LoadConfig("", {{"TOLLGATE_SERVER_THREDS", "2"}});
  ASSERT_FALSE(config.ok());
  EXPECT_THAT(Message(config.status()), HasSubstr("TOLLGATE_SERVER_THREDS"));
}

TEST(ConfigTest, BadEnvValueIsNamed) {
  auto config = LoadConfig("", {{"TOLLGATE_SERVER_MAX_BODY_BYTES", "lots"}});
  ASSERT_FALSE(config.ok());
  EXPECT_THAT(Message(config.status()), HasSubstr("TOLLGATE_SERVER_MAX_BODY_BYTES"));
  EXPECT_THAT(Message(config.status()), HasSubstr("server.max_body_bytes"));
}

TEST(ConfigTest, SyntaxErrorNamesLine) {
  std::string path = WriteFile("syntax.toml", "[server]\nlisten = \n");
  auto config = LoadConfig(path, {});
  ASSERT_FALSE(config.ok());
  EXPECT_THAT(Message(config.status()), HasSubstr("line 2"));
}

TEST(ConfigTest, MissingFileIsNotFound) {
  auto config = LoadConfig(::testing::TempDir() + "/does-not-exist.toml", {});
  ASSERT_FALSE(config.ok());
  EXPECT_EQ(config.status().code(), absl::StatusCode::kNotFound);
}

TEST(ConfigTest, DataDirDecidesStorePath) {
  auto config = LoadConfig("", {{"TOLLGATE_SERVER_DATA_DIR", "/srv/tg/"}});
  ASSERT_TRUE(config.ok()) << config.status();
  EXPECT_EQ(config->StorePath(), "/srv/tg/tollgate.db");
}

TEST(ParseListenTest, AcceptsHostPortAndBracketedIpv6) {
  auto a = ParseListen("127.0.0.1:0");
  ASSERT_TRUE(a.ok());
  EXPECT_EQ(a->host, "127.0.0.1");
  EXPECT_EQ(a->port, 0);
  auto b = ParseListen("[::1]:8080");
  ASSERT_TRUE(b.ok());
  EXPECT_EQ(b->host, "::1");
  EXPECT_EQ(b->port, 8080);
  EXPECT_FALSE(ParseListen("::1:8080").ok());
  EXPECT_FALSE(ParseListen(":80").ok());
  EXPECT_FALSE(ParseListen("h:").ok());
}

}  // namespace
}  // namespace tollgate::server
