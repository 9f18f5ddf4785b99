// libFuzzer harness: the configuration file (INI) parser, through
// Config::resolve on a file holding the input (the parser is not exposed
// separately). Any input must either resolve or throw ConfigError (a
// ckpt::Error); the environment is not consulted.
#include "config.hpp"
#include "error.hpp"

#include <unistd.h>

#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <string>

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t *data, std::size_t size) {
  static const std::string path = "fuzz_config." + std::to_string(getpid()) + ".ini";
  std::FILE *f = std::fopen(path.c_str(), "wb");
  if (!f) return 0;
  std::fwrite(data, 1, size, f);
  std::fclose(f);
  try {
    const ckpt::detail::Config c = ckpt::detail::Config::resolve(path, {}, false);
    (void)c.block_size();
  } catch (const ckpt::Error &) {
  }
  std::remove(path.c_str());
  return 0;
}
