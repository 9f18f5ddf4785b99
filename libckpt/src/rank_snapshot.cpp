#include "rank_snapshot.hpp"

#include "error.hpp"

#include <cstring>

namespace ckpt::detail {

namespace {
constexpr char k_magic[8] = {'C', 'K', 'P', 'T', 'N', 'B', 'R', '1'};
constexpr std::size_t k_name_bytes = 64;

template <class T> void put(std::string &out, T value) {
  out.append(reinterpret_cast<const char *>(&value), sizeof value);
}

class Reader {
public:
  Reader(const std::string &bytes, const std::string &origin) : m_bytes(bytes), m_origin(origin) {}
  template <class T> T get() {
    T value{};
    std::memcpy(&value, take(sizeof value), sizeof value);
    return value;
  }
  const char *take(std::uint64_t n) {
    if (n > m_bytes.size() - m_pos)
      throw FormatError(m_origin + ": truncated local checkpoint (" +
                        std::to_string(m_bytes.size()) + " bytes)");
    const char *p = m_bytes.data() + m_pos;
    m_pos += n;
    return p;
  }
  [[nodiscard]] bool at_end() const noexcept { return m_pos == m_bytes.size(); }

private:
  const std::string &m_bytes;
  const std::string &m_origin;
  std::size_t m_pos = 0;
};
} // namespace

std::vector<ConstBytes> rank_snapshot_pieces(const RankSnapshot &snap,
                                             std::vector<std::string> &headers) {
  headers.clear();
  headers.reserve(snap.regions.size() + 1); // no reallocation: pieces point into them
  std::vector<ConstBytes> pieces;
  std::string head(k_magic, sizeof k_magic);
  put(head, snap.version);
  put(head, snap.step);
  put(head, static_cast<std::uint32_t>(snap.rank));
  put(head, static_cast<std::uint32_t>(snap.regions.size()));
  for (const SnapshotRegion &r : snap.regions) {
    put(head, static_cast<std::int32_t>(r.id));
    put(head, static_cast<std::int32_t>(r.type));
    put(head, r.elem_size);
    put(head, r.count);
    char name[k_name_bytes] = {};
    std::strncpy(name, r.name.c_str(), k_name_bytes - 1);
    head.append(name, k_name_bytes);
    headers.push_back(std::move(head));
    head.clear();
    pieces.push_back({headers.back().data(), headers.back().size()});
    if (r.bytes()) pieces.push_back({r.data, r.bytes()});
  }
  if (snap.regions.empty()) {
    headers.push_back(std::move(head));
    pieces.push_back({headers.back().data(), headers.back().size()});
  }
  return pieces;
}

std::string encode_rank_snapshot(const RankSnapshot &snap) {
  std::vector<std::string> headers;
  std::string out;
  for (const ConstBytes &p : rank_snapshot_pieces(snap, headers))
    out.append(static_cast<const char *>(p.data), p.size);
  return out;
}

RankSnapshot decode_rank_snapshot(const std::string &bytes, const std::string &origin) {
  Reader in(bytes, origin);
  if (std::memcmp(in.take(sizeof k_magic), k_magic, sizeof k_magic) != 0)
    throw FormatError(origin + ": not a libckpt local checkpoint (bad magic)");
  RankSnapshot snap;
  snap.version = in.get<std::int64_t>();
  snap.step = in.get<std::int64_t>();
  snap.rank = static_cast<int>(in.get<std::uint32_t>());
  const auto n = in.get<std::uint32_t>();
  // Each region takes at least its fixed fields: bound the count by the size.
  if (n > bytes.size() / (24 + k_name_bytes))
    throw FormatError(origin + ": " + std::to_string(n) + " regions cannot fit in " +
                      std::to_string(bytes.size()) + " bytes");
  for (std::uint32_t i = 0; i < n; ++i) {
    SnapshotRegion r;
    r.id = in.get<std::int32_t>();
    r.type = in.get<std::int32_t>();
    r.elem_size = in.get<std::uint64_t>();
    r.count = in.get<std::uint64_t>();
    const char *name = in.take(k_name_bytes);
    r.name.assign(name, strnlen(name, k_name_bytes - 1));
    if (r.elem_size == 0 || r.count > bytes.size() / r.elem_size)
      throw FormatError(origin + ": region " + std::to_string(r.id) + " is larger than the file");
    r.data = reinterpret_cast<const unsigned char *>(in.take(r.bytes()));
    snap.regions.push_back(r);
  }
  if (!in.at_end()) throw FormatError(origin + ": trailing bytes after the last region");
  return snap;
}

std::string encode_channel_regions(const std::vector<std::vector<unsigned char>> &blobs) {
  std::string out;
  for (const auto &b : blobs) {
    put(out, static_cast<std::uint64_t>(b.size()));
    out.append(reinterpret_cast<const char *>(b.data()), b.size());
  }
  return out;
}

std::vector<std::string> decode_channel_regions(const std::string &bytes,
                                                const std::string &origin) {
  std::vector<std::string> out;
  Reader in(bytes, origin);
  while (!in.at_end()) {
    const auto n = in.get<std::uint64_t>();
    const char *p = in.take(n);
    out.emplace_back(p, n);
  }
  return out;
}

std::string rank_regions_file(const std::string &prefix, std::int64_t version, int rank) {
  return prefix + ".v" + std::to_string(version) + ".r" + std::to_string(rank) + ".nbregions";
}

std::string rank_channels_file(const std::string &prefix, std::int64_t version, int rank) {
  return prefix + ".v" + std::to_string(version) + ".r" + std::to_string(rank) + ".nbchannels";
}

bool is_stale_rank_file(const std::string &name, const std::string &prefix, std::int64_t version) {
  const std::string head = prefix + ".v";
  if (name.compare(0, head.size(), head) != 0) return false;
  const bool regions = name.size() > 10 && name.compare(name.size() - 10, 10, ".nbregions") == 0;
  const bool channels = name.size() > 11 && name.compare(name.size() - 11, 11, ".nbchannels") == 0;
  if (!regions && !channels) return false;
  std::size_t pos = head.size();
  std::int64_t v = 0;
  std::size_t digits = 0;
  while (pos < name.size() && name[pos] >= '0' && name[pos] <= '9' && digits < 10) {
    v = v * 10 + (name[pos++] - '0');
    ++digits;
  }
  return digits > 0 && pos + 2 < name.size() && name[pos] == '.' && name[pos + 1] == 'r' &&
         v <= version;
}

} // namespace ckpt::detail
