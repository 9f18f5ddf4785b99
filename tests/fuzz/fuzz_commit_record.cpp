// libFuzzer harness: the commit record parser (bytes read from
// ckpt.v<N>.commit). Any input must either parse or throw FormatError; a
// record that parses must survive serialize -> parse unchanged.
#include "commit_record.hpp"
#include "error.hpp"

#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string>

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t *data, std::size_t size) {
  using ckpt::detail::CommitRecord;
  const std::string text(reinterpret_cast<const char *>(data), size);
  CommitRecord r;
  try {
    r = CommitRecord::parse(text, "fuzz");
  } catch (const ckpt::Error &) {
    return 0;
  }
  const CommitRecord again = CommitRecord::parse(r.serialize(), "fuzz round trip");
  if (again.serialize() != r.serialize()) std::abort();
  return 0;
}
