// libFuzzer harness: the PMPI layer's snapshot decoder (the bytes of the
// runtime-internal region restored from a checkpoint file). Any input must
// either decode or throw SnapshotFormatError; a snapshot that decodes must
// encode back to bytes that decode to the same snapshot.
#include "snapshot.hpp"

#include <cstddef>
#include <cstdint>
#include <cstdlib>

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t *data, std::size_t size) {
  using namespace ckpt::detail::pmpi;
  ChannelSnapshot s;
  try {
    s = decode_snapshot(data, size);
  } catch (const SnapshotFormatError &) {
    return 0;
  }
  const std::vector<unsigned char> bytes = encode_snapshot(s);
  const ChannelSnapshot again = decode_snapshot(bytes.data(), bytes.size());
  if (again.request_null != s.request_null || again.messages.size() != s.messages.size() ||
      again.requests.size() != s.requests.size() || again.comms.size() != s.comms.size() ||
      again.pending.size() != s.pending.size() || encode_snapshot(again) != bytes)
    std::abort();
  return 0;
}
