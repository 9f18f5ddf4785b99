// libFuzzer harness: checkpoint file-name parsing, through Catalog::scan
// (the parser is not exposed separately). Each input line is a file name
// created (empty) in a fresh directory; the scan must classify them or throw
// a ckpt::Error, never anything else.
#include "catalog.hpp"
#include "error.hpp"

#include <sys/stat.h>
#include <unistd.h>

#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <string>
#include <vector>

namespace {
bool usable_name(const std::string &name) {
  return !name.empty() && name.size() < 200 && name != "." && name != ".." &&
         name.find('/') == std::string::npos && name.find('\0') == std::string::npos;
}
} // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t *data, std::size_t size) {
  static const std::string dir = "fuzz_catalog." + std::to_string(getpid());
  mkdir(dir.c_str(), 0700);
  std::vector<std::string> created;
  const std::string text(reinterpret_cast<const char *>(data), size);
  std::size_t start = 0;
  while (start <= text.size() && created.size() < 16) {
    std::size_t end = text.find('\n', start);
    if (end == std::string::npos) end = text.size();
    const std::string name = text.substr(start, end - start);
    start = end + 1;
    if (!usable_name(name)) continue;
    const std::string path = dir + "/" + name;
    if (std::FILE *f = std::fopen(path.c_str(), "wb")) {
      std::fclose(f);
      created.push_back(path);
    }
  }
  try {
    const auto catalog = ckpt::detail::Catalog::scan(dir, "ckpt");
    (void)catalog.newest_committed();
  } catch (const ckpt::Error &) {
  }
  for (const std::string &path : created)
    std::remove(path.c_str());
  return 0;
}
