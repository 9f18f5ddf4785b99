#include "chain_reader.hpp"

#include "block_hasher.hpp"
#include "tool_cli.hpp"

#include <ckpt/ckpt.hpp>

#include <algorithm>

namespace ckpt::tool {
namespace {

/// Largest single read of /data (MPI-IO counts are ints).
constexpr std::uint64_t k_max_read = std::uint64_t(1) << 28;

std::string base_name(const std::string &path) {
  const auto slash = path.rfind('/');
  return slash == std::string::npos ? path : path.substr(slash + 1);
}

std::string region_text(const detail::IndexRow &row) {
  return "rank " + std::to_string(row.rank) + " region " + std::to_string(row.region_id) + " '" +
         row.name + "'";
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

ChainReader::ChainReader(const detail::Catalog &catalog, const std::vector<std::int64_t> &chain) {
  if (chain.empty()) throw damage_found("empty delta chain");
  const detail::VersionEntry *newest = catalog.find(chain.back());
  if (!newest || !newest->record)
    throw damage_found("version " + std::to_string(chain.back()) + " has no commit record");
  const detail::CommitRecord &record = *newest->record;
  m_block_size = record.block_size;
  for (std::size_t fi = 0; fi < chain.size(); ++fi) {
    const std::int64_t v = chain[fi];
    const detail::VersionEntry *entry = catalog.find(v);
    if (!entry || !entry->record)
      throw damage_found("version " + std::to_string(v) + " of the chain has no commit record");
    ChainFile f;
    f.file = open_checkpoint_file(catalog.data_path(v));
    const detail::FileHeader &h = f.header();
    const std::string where = f.path() + " (version " + std::to_string(v) + ")";
    if (h.version != v)
      throw damage_found(where + " says it is version " + std::to_string(h.version));
    if (h.block_size != entry->record->block_size || h.block_size != m_block_size)
      throw damage_found(where + " has block size " + std::to_string(h.block_size) +
                         "; its chain uses " + std::to_string(m_block_size));
    if (h.nranks != record.nranks || h.nranks != entry->record->nranks)
      throw damage_found(where + " was written by " + std::to_string(h.nranks) +
                         " ranks; the commit record of version " + std::to_string(record.version) +
                         " says " + std::to_string(record.nranks));
    const bool want_base = fi == 0;
    if (h.base != want_base || h.base_version != chain.front() ||
        h.parent_version != (want_base ? 0 : chain[fi - 1]))
      throw damage_found(where + " does not belong to the delta chain of version " +
                         std::to_string(chain.back()) + " (its header says " +
                         kind_text(h.base, h.base_version) + ", parent " +
                         std::to_string(h.parent_version) + ")");
    try {
      f.rows = f.file.read_index();
    } catch (const Error &e) {
      throw damage_found(one_line(e.what()));
    }
    check_index(f, record.nranks);
    m_files.push_back(std::move(f));
  }
}

void ChainReader::check_index(ChainFile &f, int nranks) const {
  const auto &sizes = f.file.sizes();
  std::uint64_t hashes = 0, stored = 0, data = 0;
  int last_rank = 0;
  for (std::size_t i = 0; i < f.rows.size(); ++i) {
    const detail::IndexRow &row = f.rows[i];
    const std::string where =
        f.path() + ": /index row " + std::to_string(i) + " (" + region_text(row) + ")";
    if (row.rank < 0 || row.rank >= nranks || row.rank < last_rank)
      throw damage_found(where + " has a bad rank for a file of " + std::to_string(nranks) +
                         " ranks in rank order");
    last_rank = row.rank;
    if (row.bytes != row.count * row.elem_size ||
        row.nblocks != detail::block_count(row.bytes, m_block_size) || row.nstored > row.nblocks ||
        row.data_bytes > row.bytes)
      throw damage_found(where + " has inconsistent sizes (count " + std::to_string(row.count) +
                         ", element " + std::to_string(row.elem_size) + " bytes, " +
                         std::to_string(row.nblocks) + " blocks, " + std::to_string(row.nstored) +
                         " stored)");
    if (row.hash_offset != hashes || row.stored_offset != stored || row.data_offset != data)
      throw damage_found(where + " has offsets that do not follow the previous rows");
    hashes += row.nblocks;
    stored += row.nstored;
    data += row.data_bytes;
    if (!f.by_region.emplace(std::make_pair(row.rank, row.region_id), i).second)
      throw damage_found(where + " repeats a region");
  }
  if (hashes != sizes.hashes || stored != sizes.stored || data != sizes.data)
    throw damage_found(f.path() + ": /index describes " + std::to_string(hashes) + " hashes, " +
                       std::to_string(stored) + " stored blocks and " + std::to_string(data) +
                       " data bytes; the datasets hold " + std::to_string(sizes.hashes) + ", " +
                       std::to_string(sizes.stored) + " and " + std::to_string(sizes.data));
}

const detail::IndexRow *ChainReader::applicable_row(std::size_t fi,
                                                    const detail::IndexRow &newest) const {
  const ChainFile &f = m_files[fi];
  const auto it = f.by_region.find({newest.rank, newest.region_id});
  if (it == f.by_region.end()) return nullptr;
  const detail::IndexRow &row = f.rows[it->second];
  if (row.bytes != newest.bytes || row.elem_size != newest.elem_size || row.type != newest.type)
    return nullptr;
  return &row;
}

Damage ChainReader::damage_at(std::size_t fi, const detail::IndexRow &row, std::int64_t block,
                              const std::string &problem) const {
  Damage d;
  d.file = m_files[fi].path();
  d.file_version = m_files[fi].header().version;
  d.rank = row.rank;
  d.region_id = row.region_id;
  d.region = row.name;
  d.block = block;
  d.problem = problem;
  return d;
}

std::vector<std::uint64_t> ChainReader::stored_blocks(std::size_t fi, const detail::IndexRow &row) {
  ChainFile &f = m_files[fi];
  std::vector<std::uint64_t> blocks;
  try {
    blocks = f.file.read_u64("stored_blocks", row.stored_offset, row.nstored, false);
  } catch (const Error &e) {
    throw damage_found(one_line(e.what()));
  }
  std::uint64_t bytes = 0;
  for (std::size_t i = 0; i < blocks.size(); ++i) {
    if (blocks[i] >= row.nblocks || (i > 0 && blocks[i] <= blocks[i - 1]))
      throw damage_found(f.path() + ": /stored_blocks of " + region_text(row) +
                         " is damaged (entry " + std::to_string(i) + " = " +
                         std::to_string(blocks[i]) + " for " + std::to_string(row.nblocks) +
                         " blocks, or out of order)");
    bytes += detail::block_bytes(row.bytes, m_block_size, blocks[i]);
  }
  if (bytes != row.data_bytes)
    throw damage_found(f.path() + ": " + region_text(row) + " stores " + std::to_string(bytes) +
                       " bytes of blocks but /index says " + std::to_string(row.data_bytes));
  return blocks;
}

std::vector<std::uint64_t> ChainReader::recorded_hashes(const detail::IndexRow &row) {
  try {
    return m_files.back().file.read_u64("hashes", row.hash_offset, row.nblocks, false);
  } catch (const Error &e) {
    throw damage_found(one_line(e.what()));
  }
}

std::vector<int> ChainReader::rebuild(const detail::IndexRow &row,
                                      std::vector<unsigned char> &out) {
  out.assign(row.bytes, 0);
  std::vector<int> source(row.nblocks, -1);
  const std::uint64_t bs = m_block_size;
  for (std::size_t fi = 0; fi < m_files.size(); ++fi) {
    const detail::IndexRow *r = applicable_row(fi, row);
    if (!r || r->nstored == 0) continue;
    const std::vector<std::uint64_t> blocks = stored_blocks(fi, *r);
    std::uint64_t file_offset = r->data_offset;
    for (const detail::BlockRun &run : detail::block_runs(blocks)) {
      const std::uint64_t begin = run.first * bs;
      const std::uint64_t end = std::min(row.bytes, (run.first + run.count) * bs);
      for (std::uint64_t at = begin; at < end; at += k_max_read) {
        detail::DataOp op;
        op.memory = out.data() + at;
        op.bytes = std::min(k_max_read, end - at);
        op.file_offset = file_offset + (at - begin);
        try {
          m_files[fi].file.read_data(op, false);
        } catch (const Error &e) {
          throw damage_found(one_line(e.what()));
        }
      }
      file_offset += end - begin;
      for (std::uint64_t b = run.first; b < run.first + run.count; ++b)
        source[b] = static_cast<int>(fi);
    }
  }
  return source;
}

std::uint64_t ChainReader::verify(const detail::IndexRow &row, std::vector<unsigned char> &out,
                                  std::vector<Damage> &damage, std::size_t max_reported) {
  const std::size_t newest = m_files.size() - 1;
  std::vector<int> source;
  std::vector<std::uint64_t> recorded;
  try {
    recorded = recorded_hashes(row);
    source = rebuild(row, out);
  } catch (const ToolError &e) {
    Damage d = damage_at(newest, row, -1, e.what());
    d.file.clear(); // the message names the file
    damage.push_back(std::move(d));
    return 1;
  }
  std::vector<std::uint64_t> actual(row.nblocks);
  detail::hash_blocks(out.data(), out.size(), m_block_size, actual.data());
  std::uint64_t bad = 0;
  for (std::uint64_t b = 0; b < row.nblocks; ++b) {
    if (actual[b] == recorded[b]) continue;
    ++bad;
    if (damage.size() >= max_reported) continue;
    const int fi = source[b];
    const auto block = static_cast<std::int64_t>(b);
    if (fi < 0) {
      damage.push_back(damage_at(0, row, block,
                                 "never stored in any file of the chain (the base must store "
                                 "every block)"));
      continue;
    }
    const auto sfi = static_cast<std::size_t>(fi);
    const std::string from = "version " + std::to_string(file_version(sfi));
    if (sfi == newest) {
      damage.push_back(damage_at(sfi, row, block,
                                 "the stored bytes do not match the hash recorded in the same "
                                 "file (" +
                                     from + ")"));
      continue;
    }
    // The block came from an older file: tell damaged bytes there from a
    // damaged hash table in the newest file.
    std::uint64_t own = 0;
    bool own_known = false;
    if (const detail::IndexRow *r = applicable_row(sfi, row)) {
      try {
        own = m_files[sfi].file.read_u64("hashes", r->hash_offset + b, 1, false).front();
        own_known = true;
      } catch (const Error &) {
      }
    }
    if (own_known && own == actual[b])
      damage.push_back(damage_at(
          newest, row, block,
          "the bytes stored in " + base_name(file_path(sfi)) + " (" + from +
              ") match that file's hash but not the hash recorded for version " +
              std::to_string(file_version(newest)) +
              ": /hashes of this file is damaged, or a delta failed to store a changed block"));
    else
      damage.push_back(damage_at(sfi, row, block,
                                 "the stored bytes (" + from +
                                     ") do not match their hash (recorded in version " +
                                     std::to_string(file_version(newest)) + ")"));
  }
  return bad;
}

} // namespace ckpt::tool
