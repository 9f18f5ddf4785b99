#include "config.hpp"
#include "error.hpp"

#include <gtest/gtest.h>

#include <cstdlib>
#include <fstream>

using namespace ckpt::detail;

namespace {
std::string write_ini(const std::string &name, const std::string &text) {
  std::ofstream(name) << text;
  return name;
}
template <class F> std::string config_error(F &&fn) {
  try {
    fn();
  } catch (const ConfigError &e) {
    return e.what();
  }
  return "";
}
} // namespace

TEST(Config, DefaultsComeFromTheTable) {
  Config c;
  for (const auto &spec : option_table()) {
    EXPECT_EQ(c.get(spec.key), spec.default_value);
    EXPECT_EQ(c.entry(spec.key).source, ValueSource::Default);
    validate_option(spec, spec.default_value, "default"); // every default is valid
  }
  EXPECT_EQ(c.block_size(), 64u * 1024u);
}

TEST(Config, SizesAcceptBinaryUnits) {
  EXPECT_EQ(parse_size("512"), 512u);
  EXPECT_EQ(parse_size("64KiB"), 65536u);
  EXPECT_EQ(parse_size("64K"), 65536u);
  EXPECT_EQ(parse_size("1MiB"), 1048576u);
  EXPECT_EQ(parse_size("2GiB"), 2147483648u);
  EXPECT_THROW(parse_size("12XB"), ConfigError);
  EXPECT_THROW(parse_size("KiB"), ConfigError);
  EXPECT_THROW(parse_size(""), ConfigError);
}

TEST(Config, PrecedenceIsFlagThenEnvironmentThenFileThenDefault) {
  const auto ini =
      write_ini("precedence.ini", "dir = from-file\nkeep = 5\n[ckpt]\nbase_every = 4\n");
  setenv("CKPT_KEEP", "6", 1);
  setenv("CKPT_DIR", "from-env", 1);
  Config c = Config::resolve(ini, {{"dir", "from-flag"}});
  unsetenv("CKPT_KEEP");
  unsetenv("CKPT_DIR");
  EXPECT_EQ(c.dir(), "from-flag");
  EXPECT_EQ(c.entry("dir").source, ValueSource::Flag);
  EXPECT_EQ(c.keep(), 6);
  EXPECT_EQ(c.entry("keep").origin, "CKPT_KEEP");
  EXPECT_EQ(c.base_every(), 4);
  EXPECT_EQ(c.entry("base_every").source, ValueSource::File);
  EXPECT_EQ(c.entry("base_every").origin, ini);
  EXPECT_EQ(c.entry("verify").source, ValueSource::Default);
}

TEST(Config, UnknownKeysAndBadValuesNameTheKey) {
  const auto unknown = write_ini("unknown.ini", "blok_size = 4096\n");
  std::string m = config_error([&] { Config::resolve(unknown, {}); });
  EXPECT_NE(m.find("blok_size"), std::string::npos) << m;
  EXPECT_NE(m.find("unknown.ini"), std::string::npos) << m;
  m = config_error([&] { Config::resolve("", {{"block_size", "100"}}); });
  EXPECT_NE(m.find("block_size"), std::string::npos) << m; // below the minimum
  m = config_error([&] { Config::resolve("", {{"verify", "maybe"}}); });
  EXPECT_NE(m.find("verify"), std::string::npos) << m;
  m = config_error([&] { Config::resolve("", {{"signal", "KILL"}}); });
  EXPECT_NE(m.find("signal"), std::string::npos) << m;
  m = config_error([&] { Config::resolve("", {{"base_every", "3x"}}); });
  EXPECT_NE(m.find("base_every"), std::string::npos) << m;
  m = config_error([&] { Config::resolve("", {{"nonsense", "1"}}); });
  EXPECT_NE(m.find("nonsense"), std::string::npos) << m;
  m = config_error([&] { Config::resolve("does-not-exist.ini", {}); });
  EXPECT_NE(m.find("does-not-exist.ini"), std::string::npos) << m;
}

TEST(Config, TypedAccessors) {
  Config c = Config::resolve(
      "",
      {{"signal", "TERM"}, {"verify", "off"}, {"log_level", "debug"}, {"staging_size", "1MiB"}});
  EXPECT_EQ(c.signal_number(), 15);
  EXPECT_FALSE(c.verify());
  EXPECT_EQ(c.log_level(), LogLevel::Debug);
  EXPECT_EQ(c.staging_bytes(), 1u << 20);
  EXPECT_EQ(Config::resolve("", {{"signal", "none"}}).signal_number(), 0);
}

TEST(Config, PrefixIsAFileNameNotAPath) {
  for (const char *bad :
       {"../x", "a/b", "/abs", "..", ".hidden", "-dash", "a..b", "sp ace", "tab\tx"}) {
    const std::string m = config_error([&] { Config::resolve("", {{"prefix", bad}}, false); });
    EXPECT_NE(m.find("'prefix'"), std::string::npos) << bad << ": " << m;
  }
  EXPECT_NE(config_error([&] {
              Config::resolve("", {{"prefix", ""}}, false);
            }).find("prefix"),
            std::string::npos);
  EXPECT_NE(config_error([&] {
              Config::resolve("", {{"prefix", std::string(129, 'p')}}, false);
            }).find("128"),
            std::string::npos);
  for (const char *good : {"ckpt", "heat.run-2", "a_b+c", "Run7"})
    EXPECT_EQ(Config::resolve("", {{"prefix", good}}, false).prefix(), good);
}

TEST(Config, ConfigurationFileMustBeARegularFile) {
  std::system("rm -rf config-dir.ini && mkdir config-dir.ini");
  std::string m = config_error([] { Config::resolve("config-dir.ini", {}, false); });
  EXPECT_NE(m.find("config-dir.ini"), std::string::npos) << m;
  EXPECT_NE(m.find("directory"), std::string::npos) << m;
  std::system("rm -f config-fifo.ini && mkfifo config-fifo.ini");
  m = config_error([] { Config::resolve("config-fifo.ini", {}, false); });
  EXPECT_NE(m.find("not a regular file"), std::string::npos) << m;
}
