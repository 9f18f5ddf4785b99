// Fuzzes the chain model (libckpt/src/chain_model.hpp): the validation of
// the /index, /hashes and /stored_blocks tables of a chain's files against
// their commit records, a rank's share and its deserialisation, and the read
// plan. Input: one mode byte, then either a serialised share (mode even) or
// a compact description of a chain whose tables come from the fuzzer.
#include "chain_model.hpp"
#include "error.hpp"

#include <cstddef>
#include <cstdint>
#include <cstring>
#include <string>
#include <vector>

using namespace ckpt::detail;

namespace {

class Bytes {
public:
  Bytes(const std::uint8_t *data, std::size_t size) : m_data(data), m_size(size) {}
  template <class T> T get() {
    T v{};
    const std::size_t n = std::min(sizeof v, m_size - m_pos);
    std::memcpy(&v, m_data + m_pos, n);
    m_pos += n;
    return v;
  }
  [[nodiscard]] bool empty() const { return m_pos >= m_size; }

private:
  const std::uint8_t *m_data;
  std::size_t m_size;
  std::size_t m_pos = 0;
};

void exercise(const RankChain &share) {
  std::vector<int> ids;
  for (const auto &[id, region] : share.regions)
    ids.push_back(id);
  for (std::uint64_t bridge : {std::uint64_t{0}, share.block_size * 2}) {
    ReadPlanOptions options;
    options.bridge_bytes = bridge;
    options.max_chunk = share.block_size * 3;
    (void)plan_reads(share, ids, options);
  }
  for (const auto &[id, region] : share.regions)
    (void)share.block_sources(region);
}

void fuzz_share(const std::uint8_t *data, std::size_t size) {
  try {
    const RankChain share =
        RankChain::deserialize(std::string(reinterpret_cast<const char *>(data), size), "fuzz");
    if (share.block_size > (1u << 20)) return; // plans over absurd blocks only cost time
    exercise(share);
  } catch (const ckpt::Error &) {
  }
}

void fuzz_model(Bytes in) {
  const std::size_t nfiles = 1 + in.get<std::uint8_t>() % 3;
  const std::uint64_t block_size = 1 + in.get<std::uint16_t>() % 4096;
  const std::int32_t nranks = 1 + in.get<std::uint8_t>() % 3;
  std::vector<CommitRecord> records;
  std::vector<ChainFileMeta> files;
  std::vector<std::int64_t> chain;
  for (std::size_t f = 0; f < nfiles; ++f) {
    const auto v = static_cast<std::int64_t>(f + 1);
    chain.push_back(v);
    CommitRecord rec;
    rec.version = v;
    rec.step = in.get<std::int8_t>();
    rec.base = f == 0;
    rec.chain = chain;
    rec.nranks = nranks;
    rec.block_size = block_size;
    records.push_back(rec);
    ChainFileMeta m;
    m.path = "f" + std::to_string(f);
    m.header.version = v;
    m.header.step = rec.step;
    m.header.base = f == 0;
    m.header.base_version = 1;
    m.header.parent_version = f == 0 ? 0 : v - 1;
    m.header.nranks = nranks;
    m.header.block_size = block_size;
    const std::size_t nrows = in.get<std::uint8_t>() % 5;
    for (std::size_t r = 0; r < nrows; ++r) {
      IndexRow row;
      row.rank = in.get<std::int8_t>();
      row.region_id = in.get<std::int8_t>();
      row.name[0] = 'r';
      row.type = in.get<std::int8_t>();
      row.elem_size = in.get<std::uint8_t>();
      row.count = in.get<std::uint16_t>();
      row.bytes = row.count * row.elem_size;
      row.nblocks = (row.bytes + block_size - 1) / block_size;
      row.nstored = in.get<std::uint8_t>() % (row.nblocks + 2);
      row.data_bytes = in.get<std::uint16_t>() % (row.bytes + 2);
      if (in.get<std::uint8_t>() % 8 == 0) row.bytes = in.get<std::uint64_t>(); // off-rule
      m.rows.push_back(row);
    }
    m.sizes = assign_offsets(m.rows);
    for (const IndexRow &row : m.rows) { // a record that agrees, so validation goes deeper
      records.back().state_bytes += row.bytes;
      records.back().written_bytes += row.data_bytes;
    }
    records.back().blocks = m.sizes.hashes;
    records.back().dirty_blocks = m.sizes.stored;
    if (in.get<std::uint8_t>() % 8 == 0) m.sizes.data = in.get<std::uint32_t>();
    for (std::uint64_t i = 0; i < std::min<std::uint64_t>(m.sizes.stored, 4096); ++i)
      m.stored.push_back(in.get<std::uint8_t>() % 64);
    if (f + 1 == nfiles) m.hashes.assign(std::min<std::uint64_t>(m.sizes.hashes, 1u << 16), 1);
    m.data_address = in.get<std::uint16_t>();
    m.file_bytes = m.data_address + m.sizes.data + in.get<std::uint16_t>();
    files.push_back(std::move(m));
  }
  try {
    const ChainModel model(records, files);
    for (std::int32_t rank = 0; rank < model.nranks(); ++rank) {
      const RankChain share = model.rank_view(rank);
      const RankChain back = RankChain::deserialize(share.serialize(), "round trip");
      if (back.serialize() != share.serialize()) __builtin_trap();
      exercise(back);
    }
  } catch (const ckpt::Error &) {
  }
}

} // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t *data, std::size_t size) {
  if (size == 0) return 0;
  if (data[0] % 2 == 0)
    fuzz_share(data + 1, size - 1);
  else
    fuzz_model(Bytes(data + 1, size - 1));
  return 0;
}
