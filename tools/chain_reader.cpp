#include "chain_reader.hpp"

#include "block_hasher.hpp"
#include "chain_loader.hpp"
#include "checkpoint_file.hpp"
#include "tool_cli.hpp"

#include <ckpt/ckpt.hpp>

#include <cerrno>
#include <cstring>
#include <unistd.h>

namespace ckpt::tool {
namespace {

std::string base_name(const std::string &path) {
  const auto slash = path.rfind('/');
  return slash == std::string::npos ? path : path.substr(slash + 1);
}

} // namespace

std::string Damage::describe() const {
  std::string out = file.empty() ? std::string() : base_name(file) + ": ";
  if (rank >= 0) {
    out += "rank " + std::to_string(rank) + " region " + std::to_string(region_id) + " '" + region +
           "'";
    if (block >= 0) out += " block " + std::to_string(block);
    out += ": ";
  }
  return out + problem;
}

struct ChainReader::RankFiles {
  explicit RankFiles(detail::RankChain share) : chain(std::move(share)), restorer(chain) {}
  detail::RankChain chain;
  detail::ChainRestorer restorer;
};

ChainReader::ChainReader(const detail::Catalog &catalog, const std::vector<std::int64_t> &chain) {
  if (chain.empty()) throw damage_found("empty delta chain");
  for (std::int64_t v : chain) {
    const std::string path = catalog.data_path(v);
    if (::access(path.c_str(), R_OK) != 0) {
      const int err = errno;
      if (err != ENOENT) throw bad_input("cannot read " + path + ": " + std::strerror(err));
    }
  }
  try {
    m_model = std::make_unique<detail::ChainModel>(detail::load_chain(catalog, chain.back()));
  } catch (const Error &e) {
    throw damage_found(one_line(e.what()));
  }
  if (m_model->record().chain != chain)
    throw damage_found("version " + std::to_string(chain.back()) + " has another chain");
}

ChainReader::~ChainReader() = default;

ChainReader::RankFiles &ChainReader::rank_files(int rank) {
  // One rank's files open at a time: the tool walks the regions rank by rank.
  if (!m_current || m_current->chain.rank != rank) {
    m_current.reset();
    try {
      m_current = std::make_unique<RankFiles>(m_model->rank_view(rank));
    } catch (const Error &e) {
      throw damage_found(one_line(e.what()));
    }
  }
  return *m_current;
}

std::vector<std::uint64_t> ChainReader::recorded_hashes(const detail::IndexRow &row) const {
  const auto &all = m_model->newest().hashes;
  const auto begin = all.begin() + static_cast<std::ptrdiff_t>(row.hash_offset);
  return {begin, begin + static_cast<std::ptrdiff_t>(row.nblocks)};
}

detail::RestoreReport ChainReader::restore(const detail::IndexRow &row,
                                           std::vector<unsigned char> &out,
                                           const detail::RestoreOptions &options) {
  RankFiles &rf = rank_files(row.rank);
  out.assign(row.bytes, 0);
  try {
    return rf.restorer.restore({{row.region_id, detail::RestoreTarget{out.data(), out.size()}}},
                               options);
  } catch (const Error &e) {
    throw damage_found(one_line(e.what()));
  }
}

std::vector<int> ChainReader::rebuild(const detail::IndexRow &row,
                                      std::vector<unsigned char> &out) {
  detail::RestoreOptions options;
  options.verify = false;
  options.stop_on_damage = false;
  restore(row, out, options);
  const RankFiles &rf = rank_files(row.rank);
  const detail::RankRegion &region = rf.chain.regions.at(row.region_id);
  std::vector<int> source;
  for (std::int32_t part : rf.chain.block_sources(region))
    source.push_back(
        part < 0 ? -1 : static_cast<int>(region.parts[static_cast<std::size_t>(part)].file));
  return source;
}

Damage ChainReader::damage_at(std::size_t fi, const detail::IndexRow &row, std::int64_t block,
                              const std::string &problem) const {
  Damage d;
  d.file = file_path(fi);
  d.file_version = file_version(fi);
  d.rank = row.rank;
  d.region_id = row.region_id;
  d.region = row.name;
  d.block = block;
  d.problem = problem;
  return d;
}

Damage ChainReader::classify(const detail::IndexRow &row, std::uint64_t block, std::size_t fi,
                             std::uint64_t actual) {
  const std::size_t newest = file_count() - 1;
  const auto at = static_cast<std::int64_t>(block);
  const std::string from = "version " + std::to_string(file_version(fi));
  if (fi == newest)
    return damage_at(fi, row, at,
                     "the stored bytes do not match the hash recorded in the same file (" + from +
                         ")");
  // The block came from an older file: tell damaged bytes there from a
  // damaged hash table in the newest file.
  if (const detail::IndexRow *r = m_model->applicable_row(fi, row)) {
    try {
      detail::CheckpointFile f = detail::CheckpointFile::open_serial(file_path(fi));
      const std::uint64_t own = f.read_u64("hashes", r->hash_offset + block, 1, false).front();
      if (own == actual)
        return damage_at(
            newest, row, at,
            "the bytes stored in " + base_name(file_path(fi)) + " (" + from +
                ") match that file's hash but not the hash recorded for version " +
                std::to_string(file_version(newest)) +
                ": /hashes of this file is damaged, or a delta failed to store a changed block");
    } catch (const Error &) {
    }
  }
  return damage_at(fi, row, at,
                   "the stored bytes (" + from + ") do not match their hash (recorded in version " +
                       std::to_string(file_version(newest)) + ")");
}

std::uint64_t ChainReader::verify(const detail::IndexRow &row, std::vector<unsigned char> &out,
                                  std::vector<Damage> &damage, std::size_t max_reported) {
  const std::size_t newest = file_count() - 1;
  detail::RestoreOptions options;
  options.max_report = max_reported > damage.size() ? max_reported - damage.size() : 0;
  options.stop_on_damage = false;
  detail::RestoreReport report;
  try {
    report = restore(row, out, options);
  } catch (const ToolError &e) {
    Damage d = damage_at(newest, row, -1, e.what());
    d.file.clear(); // the message names the file
    damage.push_back(std::move(d));
    return 1;
  }
  const RankFiles &rf = rank_files(row.rank);
  for (const detail::BlockDamage &bd : report.damage) {
    const auto block = static_cast<std::int64_t>(bd.block);
    if (bd.file < 0) {
      damage.push_back(damage_at(0, row, block,
                                 "never stored in any file of the chain (the base must store "
                                 "every block)"));
      continue;
    }
    const auto fi = static_cast<std::size_t>(bd.file);
    const std::uint64_t bs = rf.chain.block_size;
    const std::uint64_t actual = detail::hash_bytes(out.data() + bd.block * bs,
                                                    detail::block_bytes(row.bytes, bs, bd.block));
    damage.push_back(classify(row, bd.block, fi, actual));
  }
  return report.damaged;
}

} // namespace ckpt::tool
