#include "chain_model.hpp"

#include "block_hasher.hpp"
#include "byte_stream.hpp"
#include "error.hpp"
#include "region.hpp"

#include <ckpt/ckpt.h>

#include <algorithm>
#include <cstring>
#include <limits>

namespace ckpt::detail {
namespace {

std::string file_label(const ChainFileMeta &f) {
  return f.path + " (version " + std::to_string(f.header.version) + ")";
}

bool valid_type(std::int32_t type) noexcept { return type >= CKPT_BYTE && type <= CKPT_DOUBLE; }

bool same_layout(const IndexRow &a, const IndexRow &b) noexcept {
  return a.bytes == b.bytes && a.elem_size == b.elem_size && a.type == b.type;
}

constexpr std::uint64_t k_plan_magic = 0x6e616c70746b6331ull; // "1cktplan"

} // namespace

// ---------------------------------------------------------------------------
// Validation

ChainModel::ChainModel(std::vector<CommitRecord> records, std::vector<ChainFileMeta> files)
    : m_records(std::move(records)), m_files(std::move(files)) {
  if (m_files.empty() || m_records.size() != m_files.size())
    throw FormatError("a delta chain needs one commit record per file (" +
                      std::to_string(m_records.size()) + " records, " +
                      std::to_string(m_files.size()) + " files)");
  m_by_region.resize(m_files.size());
  for (std::size_t fi = 0; fi < m_files.size(); ++fi) {
    check_file(fi);
    check_pieces(fi);
    check_rows(fi);
    check_piece_rows(fi);
  }
}

void ChainModel::check_piece_rows(std::size_t fi) const {
  const ChainFileMeta &f = m_files[fi];
  for (const PieceRow &p : f.pieces) {
    const auto it = m_by_region[fi].find({p.rank, p.region_id});
    const IndexRow *row = it == m_by_region[fi].end() ? nullptr : &f.rows[it->second];
    if (!row || row->type != p.type || row->count != p.box().count() ||
        std::strncmp(row->name, p.name, sizeof p.name) != 0)
      throw FormatError(file_label(f) + " /pieces: the piece of rank " + std::to_string(p.rank) +
                        " region " + std::to_string(p.region_id) + " " + p.box().text() +
                        " has no /index row of that name, type and element count");
  }
}

void ChainModel::check_pieces(std::size_t fi) {
  const ChainFileMeta &f = m_files[fi];
  if (f.header.format_version < 2 && !f.pieces.empty())
    throw FormatError(file_label(f) + " has format_version 1 but a /pieces table");
  const std::string where = file_label(f) + " /pieces";
  check_tiling(f.pieces, f.header.nranks, where);
  m_global.resize(m_files.size());
  for (const PieceRow &p : f.pieces) {
    m_global[fi].emplace(p.rank, p.region_id);
    const auto store = f.stores.find(p.region_id);
    if (store == f.stores.end() ||
        store->second.first > f.file_bytes - std::min(f.file_bytes, store->second.second))
      throw FormatError(where + ": the block store of global region " +
                        std::to_string(p.region_id) + " is missing or beyond the file's end");
  }
}

bool ChainModel::is_global(std::size_t fi, const IndexRow &row) const {
  return fi < m_global.size() && m_global[fi].count({row.rank, row.region_id}) > 0;
}

std::uint64_t ChainModel::data_position(std::size_t fi, const IndexRow &row) const {
  const ChainFileMeta &f = m_files[fi];
  return (is_global(fi, row) ? f.stores.at(row.region_id).first : f.data_address) + row.data_offset;
}

void ChainModel::check_file(std::size_t fi) const {
  const ChainFileMeta &f = m_files[fi];
  const FileHeader &h = f.header;
  const CommitRecord &rec = m_records[fi];
  const CommitRecord &newest = m_records.back();
  const std::string where = file_label(f);
  const auto &chain = newest.chain;
  if (chain.size() != m_files.size() || chain[fi] != rec.version)
    throw FormatError(where + ": the commit record of version " + std::to_string(newest.version) +
                      " lists another chain");
  if (h.version != rec.version)
    throw FormatError(where + " says it is version " + std::to_string(h.version));
  if (h.format_version < 1 || h.format_version > k_format_version)
    throw FormatError(where + " has format_version " + std::to_string(h.format_version) +
                      "; this libckpt reads 1 to " + std::to_string(k_format_version));
  if (h.block_size == 0 || h.block_size != rec.block_size || h.block_size != newest.block_size)
    throw FormatError(where + " has block size " + std::to_string(h.block_size) +
                      "; its commit record and chain use " + std::to_string(newest.block_size));
  if (h.nranks <= 0 || h.nranks != rec.nranks || h.nranks != newest.nranks)
    throw FormatError(where + " was written by " + std::to_string(h.nranks) +
                      " ranks; the commit record of version " + std::to_string(newest.version) +
                      " says " + std::to_string(newest.nranks));
  if (h.step != rec.step)
    throw FormatError(where + " holds step " + std::to_string(h.step) +
                      " but its commit record says step " + std::to_string(rec.step));
  const bool want_base = fi == 0;
  if (h.base != want_base || rec.base != want_base || h.base_version != chain.front() ||
      h.parent_version != (want_base ? 0 : chain[fi - 1]))
    throw FormatError(where + " does not belong to the delta chain of version " +
                      std::to_string(newest.version) + " (its header says " +
                      (h.base ? "base" : "delta of base " + std::to_string(h.base_version)) +
                      ", parent " + std::to_string(h.parent_version) + ")");
  // The datasets must fit in the file before anything is allocated for them.
  // (The local level keeps the tables in the rank's record, not the file.)
  const std::uint64_t limit = f.file_bytes;
  const std::uint64_t tables = f.record_bytes > 0 ? f.record_bytes : limit;
  if (f.sizes.rows > tables / sizeof(IndexRow) || f.sizes.hashes > tables / 8 ||
      f.sizes.stored > tables / 8 || f.sizes.data > limit ||
      f.data_address > limit - std::min(limit, f.sizes.data))
    throw FormatError(where + ": its datasets do not fit in its " + std::to_string(limit) +
                      " bytes");
  if (f.rows.size() != f.sizes.rows || f.stored.size() != f.sizes.stored ||
      (fi + 1 == m_files.size() && f.hashes.size() != f.sizes.hashes))
    throw FormatError(where + ": its tables were not read completely");
}

void ChainModel::check_rows(std::size_t fi) {
  const ChainFileMeta &f = m_files[fi];
  const std::uint64_t bs = f.header.block_size;
  const std::int32_t nranks = f.header.nranks;
  std::uint64_t hashes = 0, stored = 0, data = 0;
  std::map<int, std::uint64_t> store_data; // bytes so far per block store
  std::int32_t last_rank = 0;
  for (std::size_t i = 0; i < f.rows.size(); ++i) {
    const IndexRow &row = f.rows[i];
    const std::string where =
        f.path + ": /index row " + std::to_string(i) + " (" + region_text(row) + ")";
    if (row.rank < 0 || row.rank >= nranks || row.rank < last_rank)
      throw FormatError(where + " has a bad rank for a file of " + std::to_string(nranks) +
                        " ranks in rank order");
    last_rank = row.rank;
    if (std::memchr(row.name, '\0', sizeof row.name) == nullptr || !valid_type(row.type) ||
        row.elem_size == 0 || row.reserved != 0)
      throw FormatError(where + " has a bad name, type (" + std::to_string(row.type) +
                        ") or element size (" + std::to_string(row.elem_size) + ")");
    if (row.count > std::numeric_limits<std::uint64_t>::max() / row.elem_size ||
        row.bytes != row.count * row.elem_size || row.nblocks != block_count(row.bytes, bs) ||
        row.nstored > row.nblocks || row.data_bytes > row.bytes ||
        (f.header.base && row.nstored != row.nblocks))
      throw FormatError(where + " has inconsistent sizes (count " + std::to_string(row.count) +
                        ", element " + std::to_string(row.elem_size) + " bytes, " +
                        std::to_string(row.nblocks) + " blocks, " + std::to_string(row.nstored) +
                        " stored)");
    const bool global = is_global(fi, row);
    std::uint64_t &in = global ? store_data[row.region_id] : data;
    if (row.hash_offset != hashes || row.stored_offset != stored || row.data_offset != in)
      throw FormatError(where + " has offsets that do not follow the previous rows");
    hashes += row.nblocks;
    stored += row.nstored;
    in += row.data_bytes;
    if (hashes > f.sizes.hashes || stored > f.sizes.stored || data > f.sizes.data ||
        (global && (in > f.stores.at(row.region_id).second ||
                    row.elem_size != type_size(static_cast<ckpt_type>(row.type)) ||
                    f.header.block_size % row.elem_size != 0)))
      throw FormatError(where + " reaches beyond the end of the datasets");
    if (!m_by_region[fi].emplace(std::make_pair(row.rank, row.region_id), i).second)
      throw FormatError(where + " repeats a region");
    // Stored blocks: strictly increasing, in range, and adding up to data_bytes.
    std::uint64_t bytes = 0;
    for (std::uint64_t k = 0; k < row.nstored; ++k) {
      const std::uint64_t b = f.stored[row.stored_offset + k];
      if (b >= row.nblocks || (k > 0 && b <= f.stored[row.stored_offset + k - 1]))
        throw FormatError(f.path + ": /stored_blocks of " + region_text(row) +
                          " is damaged (entry " + std::to_string(k) + " = " + std::to_string(b) +
                          " for " + std::to_string(row.nblocks) + " blocks, or out of order)");
      bytes += block_bytes(row.bytes, bs, b);
    }
    if (bytes != row.data_bytes)
      throw FormatError(f.path + ": " + region_text(row) + " stores " + std::to_string(bytes) +
                        " bytes of blocks but /index says " + std::to_string(row.data_bytes));
  }
  // The commit record's totals describe this file (docs/FORMAT.md 3).
  const CommitRecord &rec = m_records[fi];
  std::uint64_t state = 0, written = 0;
  for (const IndexRow &row : f.rows) {
    state += row.bytes;
    written += row.data_bytes;
  }
  if (state != rec.state_bytes || hashes != rec.blocks || stored != rec.dirty_blocks ||
      written != rec.written_bytes)
    throw FormatError(
        f.path + " does not match its commit record (file: " + std::to_string(hashes) +
        " blocks of " + std::to_string(state) + " bytes, " + std::to_string(stored) +
        " stored of " + std::to_string(written) + " bytes; record: " + std::to_string(rec.blocks) +
        " of " + std::to_string(rec.state_bytes) + ", " + std::to_string(rec.dirty_blocks) +
        " of " + std::to_string(rec.written_bytes) + ")");
  for (const auto &[id, extent] : f.stores)
    if (store_data[id] != extent.second)
      throw FormatError(f.path + ": /index describes " + std::to_string(store_data[id]) +
                        " bytes of global region " + std::to_string(id) +
                        "; its block store holds " + std::to_string(extent.second));
  if (hashes != f.sizes.hashes || stored != f.sizes.stored || data != f.sizes.data)
    throw FormatError(f.path + ": /index describes " + std::to_string(hashes) + " hashes, " +
                      std::to_string(stored) + " stored blocks and " + std::to_string(data) +
                      " data bytes; the datasets hold " + std::to_string(f.sizes.hashes) + ", " +
                      std::to_string(f.sizes.stored) + " and " + std::to_string(f.sizes.data));
}

const IndexRow *ChainModel::applicable_row(std::size_t fi, const IndexRow &newest) const {
  const auto it = m_by_region[fi].find({newest.rank, newest.region_id});
  if (it == m_by_region[fi].end()) return nullptr;
  const IndexRow &row = m_files[fi].rows[it->second];
  return same_layout(row, newest) ? &row : nullptr;
}

std::vector<std::uint64_t> ChainModel::stored_blocks(std::size_t fi, const IndexRow &row) const {
  const auto &all = m_files[fi].stored;
  const auto begin = all.begin() + static_cast<std::ptrdiff_t>(row.stored_offset);
  return {begin, begin + static_cast<std::ptrdiff_t>(row.nstored)};
}

RankChain ChainModel::rank_view(std::int32_t rank) const {
  RankChain view;
  const CommitRecord &rec = record();
  view.version = rec.version;
  view.step = rec.step;
  view.base = rec.base;
  view.block_size = block_size();
  view.rank = rank;
  view.nranks = nranks();
  for (std::size_t fi = 0; fi < m_files.size(); ++fi) {
    const ChainFileMeta &f = m_files[fi];
    view.files.push_back(RankChain::File{f.header.version, f.path, f.file_bytes, f.data_address,
                                         f.sizes.data, m_records[fi].written_bytes});
  }
  const ChainFileMeta &newest_file = newest();
  for (const IndexRow &row : newest_file.rows) {
    if (row.rank != rank) continue;
    RankRegion &region = view.regions[row.region_id];
    region.row = row;
    const auto h = newest_file.hashes.begin() + static_cast<std::ptrdiff_t>(row.hash_offset);
    region.hashes.assign(h, h + static_cast<std::ptrdiff_t>(row.nblocks));
    for (std::size_t fi = 0; fi < m_files.size(); ++fi)
      if (const IndexRow *r = applicable_row(fi, row); r && r->nstored > 0)
        region.parts.push_back(RankRegion::Part{static_cast<std::uint32_t>(fi),
                                                data_position(fi, *r), stored_blocks(fi, *r)});
  }
  return view;
}

RankRegion slice_blocks(const RankRegion &region, std::uint64_t b0, std::uint64_t b1,
                        std::uint64_t block_size) {
  RankRegion out;
  out.row = region.row;
  const std::uint64_t end = std::min(b1 * block_size, region.row.bytes);
  out.row.bytes = end - b0 * block_size;
  out.row.count = out.row.bytes / out.row.elem_size;
  out.row.nblocks = b1 - b0;
  out.hashes.assign(region.hashes.begin() + static_cast<std::ptrdiff_t>(b0),
                    region.hashes.begin() + static_cast<std::ptrdiff_t>(b1));
  for (const RankRegion::Part &part : region.parts) {
    const auto first = std::lower_bound(part.stored.begin(), part.stored.end(), b0);
    const auto last = std::lower_bound(part.stored.begin(), part.stored.end(), b1);
    if (first == last) continue;
    RankRegion::Part p;
    p.file = part.file;
    // Every stored block before b0 is a whole block (only the last is short).
    p.data_offset =
        part.data_offset + static_cast<std::uint64_t>(first - part.stored.begin()) * block_size;
    for (auto it = first; it != last; ++it)
      p.stored.push_back(*it - b0);
    out.parts.push_back(std::move(p));
  }
  return out;
}

RankChain ChainModel::job_view(std::int32_t rank, std::int32_t job_ranks,
                               const std::vector<PieceRow> &pieces) const {
  const bool same_ranks = job_ranks == nranks();
  RankChain view = rank_view(same_ranks ? rank : 0);
  view.rank = rank;
  const std::uint64_t bs = block_size();
  const ChainFileMeta &f = newest();
  std::map<int, std::vector<const PieceRow *>> old_pieces;
  for (const PieceRow &p : f.pieces) {
    old_pieces[p.region_id].push_back(&p);
    if (p.rank == 0) view.globals[p.region_id] = p;
    if (same_ranks && p.rank == rank) view.own_boxes[p.region_id] = p.box();
  }
  // Per-rank regions on another number of ranks: rank 0's, when every old
  // rank had them with the same layout and the same block hashes.
  if (!same_ranks) {
    for (auto it = view.regions.begin(); it != view.regions.end();) {
      const RankRegion &r0 = it->second;
      std::string why;
      if (old_pieces.count(it->first)) {
        it = view.regions.erase(it);
        continue;
      }
      for (std::int32_t q = 1; q < nranks() && why.empty(); ++q) {
        const auto at = m_by_region.back().find({q, it->first});
        if (at == m_by_region.back().end()) {
          why = "rank " + std::to_string(q) + " did not have it";
          continue;
        }
        const IndexRow &row = f.rows[at->second];
        if (!same_layout(row, r0.row) ||
            !std::equal(r0.hashes.begin(), r0.hashes.end(),
                        f.hashes.begin() + static_cast<std::ptrdiff_t>(row.hash_offset)))
          why = "rank " + std::to_string(q) + " had other contents than rank 0";
      }
      if (why.empty()) {
        ++it;
      } else {
        view.unshared[it->first] = why;
        it = view.regions.erase(it);
      }
    }
  }
  // Global regions: restored directly when the piece did not move, else
  // from the blocks of every old piece that overlaps the new one.
  for (const PieceRow &mine : pieces) {
    const auto at = old_pieces.find(mine.region_id);
    if (at == old_pieces.end()) continue;
    const auto own = view.own_boxes.find(mine.region_id);
    if (own != view.own_boxes.end() && own->second == mine.box()) continue;
    view.regions.erase(mine.region_id);
    auto &sources = view.sources[mine.region_id];
    for (const PieceRow *old : at->second) {
      const Box common = intersect(old->box(), mine.box());
      if (old->ndims != mine.ndims || common.empty()) continue;
      const IndexRow &row = f.rows[m_by_region.back().at({old->rank, old->region_id})];
      RankRegion full;
      full.row = row;
      const auto h = f.hashes.begin() + static_cast<std::ptrdiff_t>(row.hash_offset);
      full.hashes.assign(h, h + static_cast<std::ptrdiff_t>(row.nblocks));
      for (std::size_t fi = 0; fi < m_files.size(); ++fi)
        if (const IndexRow *r = applicable_row(fi, row); r && r->nstored > 0)
          full.parts.push_back(RankRegion::Part{static_cast<std::uint32_t>(fi),
                                                data_position(fi, *r), stored_blocks(fi, *r)});
      const auto [first, last] = linear_range(old->box(), common);
      const std::uint64_t b0 = first * row.elem_size / bs;
      const std::uint64_t b1 = ((last + 1) * row.elem_size + bs - 1) / bs;
      sources.push_back(PieceSource{old->box(), b0, row.elem_size, slice_blocks(full, b0, b1, bs)});
    }
  }
  return view;
}

// ---------------------------------------------------------------------------
// RankChain

std::string RankChain::serialize() const {
  Writer w;
  w.put(k_plan_magic);
  w.put(version);
  w.put(step);
  w.put<std::uint8_t>(base ? 1 : 0);
  w.put(block_size);
  w.put(rank);
  w.put(nranks);
  w.put<std::uint64_t>(files.size());
  for (const File &f : files) {
    w.put(f.version);
    w.put_string(f.path);
    w.put(f.file_bytes);
    w.put(f.data_address);
    w.put(f.data_bytes);
    w.put(f.written_bytes);
  }
  auto put_region = [&](const RankRegion &r) {
    w.put(r.row);
    w.put_u64s(r.hashes);
    w.put<std::uint64_t>(r.parts.size());
    for (const RankRegion::Part &p : r.parts) {
      w.put(p.file);
      w.put(p.data_offset);
      w.put_u64s(p.stored);
    }
  };
  w.put<std::uint64_t>(regions.size());
  for (const auto &[id, r] : regions)
    put_region(r);
  w.put<std::uint64_t>(globals.size());
  for (const auto &[id, p] : globals)
    w.put(p);
  w.put<std::uint64_t>(own_boxes.size());
  for (const auto &[id, b] : own_boxes) {
    w.put(id);
    w.put(b);
  }
  w.put<std::uint64_t>(sources.size());
  for (const auto &[id, list] : sources) {
    w.put(id);
    w.put<std::uint64_t>(list.size());
    for (const PieceSource &src : list) {
      w.put(src.box);
      w.put(src.first_block);
      w.put(src.elem_size);
      put_region(src.slice);
    }
  }
  w.put<std::uint64_t>(unshared.size());
  for (const auto &[id, why] : unshared) {
    w.put(id);
    w.put_string(why);
  }
  return w.take();
}

RankChain RankChain::deserialize(const std::string &bytes, const std::string &origin) {
  Reader in(bytes, origin);
  if (in.get<std::uint64_t>() != k_plan_magic) in.fail("bad magic");
  RankChain c;
  c.version = in.get<std::int64_t>();
  c.step = in.get<std::int64_t>();
  c.base = in.get<std::uint8_t>() != 0;
  c.block_size = in.get<std::uint64_t>();
  c.rank = in.get<std::int32_t>();
  c.nranks = in.get<std::int32_t>();
  if (c.block_size == 0) in.fail("block size 0");
  const std::uint64_t nfiles = in.count(1);
  for (std::uint64_t i = 0; i < nfiles; ++i) {
    File f;
    f.version = in.get<std::int64_t>();
    f.path = in.get_string();
    f.file_bytes = in.get<std::uint64_t>();
    f.data_address = in.get<std::uint64_t>();
    f.data_bytes = in.get<std::uint64_t>();
    f.written_bytes = in.get<std::uint64_t>();
    if (f.data_bytes > f.file_bytes || f.data_address > f.file_bytes - f.data_bytes)
      in.fail("data beyond the end of " + f.path);
    c.files.push_back(std::move(f));
  }
  auto get_region = [&] {
    RankRegion r;
    r.row = in.get<IndexRow>();
    r.row.name[sizeof r.row.name - 1] = '\0';
    r.hashes = in.get_u64s();
    if (r.row.rank < 0 || r.row.rank >= c.nranks || r.row.elem_size == 0 ||
        r.row.nblocks != block_count(r.row.bytes, c.block_size) || r.hashes.size() != r.row.nblocks)
      in.fail(region_text(r.row) + " has inconsistent sizes");
    const std::uint64_t nparts = in.count(1);
    std::uint32_t last_file = 0;
    for (std::uint64_t k = 0; k < nparts; ++k) {
      RankRegion::Part p;
      p.file = in.get<std::uint32_t>();
      p.data_offset = in.get<std::uint64_t>();
      p.stored = in.get_u64s();
      if (p.file >= c.files.size() || (k > 0 && p.file <= last_file))
        in.fail(region_text(r.row) + " refers to a bad file");
      last_file = p.file;
      std::uint64_t prev = 0;
      for (std::size_t j = 0; j < p.stored.size(); ++j) {
        if (p.stored[j] >= r.row.nblocks || (j > 0 && p.stored[j] <= prev))
          in.fail(region_text(r.row) + " has a bad stored block");
        prev = p.stored[j];
      }
      const File &f = c.files[p.file];
      const std::uint64_t span = p.stored.empty() ? 0 : p.stored.size() * c.block_size;
      if (p.data_offset > f.file_bytes ||
          (span > f.file_bytes - p.data_offset &&
           (p.stored.size() - 1) * c.block_size +
                   block_bytes(r.row.bytes, c.block_size, p.stored.back()) >
               f.file_bytes - p.data_offset))
        in.fail(region_text(r.row) + " reads beyond the end of " + f.path);
      r.parts.push_back(std::move(p));
    }
    return r;
  };
  const std::uint64_t nregions = in.count(sizeof(IndexRow));
  for (std::uint64_t i = 0; i < nregions; ++i) {
    RankRegion r = get_region();
    if (!c.regions.emplace(r.row.region_id, std::move(r)).second) in.fail("a region repeats");
  }
  auto get_box = [&] {
    const Box b = in.get<Box>();
    if (b.ndims < 1 || b.ndims > k_max_global_dims) in.fail("a bad box");
    return b;
  };
  const std::uint64_t nglobals = in.count(sizeof(PieceRow));
  for (std::uint64_t i = 0; i < nglobals; ++i) {
    PieceRow p = in.get<PieceRow>();
    p.name[sizeof p.name - 1] = '\0';
    if (p.ndims < 1 || p.ndims > k_max_global_dims) in.fail("a bad global region");
    c.globals[p.region_id] = p;
  }
  const std::uint64_t nboxes = in.count(sizeof(Box));
  for (std::uint64_t i = 0; i < nboxes; ++i) {
    const int id = in.get<int>();
    c.own_boxes[id] = get_box();
  }
  const std::uint64_t nsources = in.count(sizeof(int));
  for (std::uint64_t i = 0; i < nsources; ++i) {
    const int id = in.get<int>();
    const std::uint64_t n = in.count(sizeof(Box));
    auto &list = c.sources[id];
    for (std::uint64_t k = 0; k < n; ++k) {
      PieceSource src;
      src.box = get_box();
      src.first_block = in.get<std::uint64_t>();
      src.elem_size = in.get<std::uint64_t>();
      src.slice = get_region();
      if (src.elem_size == 0 || src.slice.row.elem_size != src.elem_size)
        in.fail("a bad piece source");
      list.push_back(std::move(src));
    }
  }
  const std::uint64_t nunshared = in.count(sizeof(int));
  for (std::uint64_t i = 0; i < nunshared; ++i) {
    const int id = in.get<int>();
    c.unshared[id] = in.get_string();
  }
  if (!in.done()) in.fail("trailing bytes");
  return c;
}

std::vector<std::int32_t> RankChain::block_sources(const RankRegion &region) const {
  std::vector<std::int32_t> source(region.row.nblocks, -1);
  for (std::size_t k = region.parts.size(); k-- > 0;)
    for (std::uint64_t b : region.parts[k].stored)
      if (source[b] < 0) source[b] = static_cast<std::int32_t>(k);
  return source;
}

// ---------------------------------------------------------------------------
// Read plan

namespace {

/// Builds the chunks of one file, front to back.
class ChunkBuilder {
public:
  ChunkBuilder(std::uint32_t file, std::uint64_t address, const ReadPlanOptions &options,
               std::vector<ReadChunk> &out)
      : m_file(file), m_address(address), m_options(options), m_out(out) {}

  /// Block `block` of `region` lies at `offset` of /data, `bytes` long;
  /// `wanted`: this file is its newest source (read and verified), else it is
  /// a superseded block read only to bridge a gap.
  void add(int region, std::uint64_t block, std::uint64_t offset, std::uint64_t bytes,
           bool wanted) {
    const bool contiguous = m_open && offset == m_end;
    if (!contiguous || m_chunk.bytes + bytes > m_options.max_chunk) {
      if (!contiguous && !wanted) return; // a gap never starts with a superseded block
      flush();
      start(offset);
    }
    ReadChunk::Run *run = m_chunk.runs.empty() ? nullptr : &m_chunk.runs.back();
    if (!run || run->region != region || run->first_block + run->nblocks != block) {
      if (m_chunk.runs.size() >= m_options.max_runs) {
        flush();
        start(offset);
      }
      m_chunk.runs.push_back(ReadChunk::Run{region, block, 0, 0});
      run = &m_chunk.runs.back();
    }
    ++run->nblocks;
    run->bytes += bytes;
    m_chunk.bytes += bytes;
    m_end = offset + bytes;
    if (wanted) {
      m_chunk.verify.emplace_back(region, block);
      m_last_wanted = m_chunk.bytes;
    }
  }
  /// Drops the superseded blocks read after the last wanted one.
  void flush() {
    if (!m_open) return;
    trim();
    if (!m_chunk.verify.empty()) m_out.push_back(std::move(m_chunk));
    m_chunk = ReadChunk{};
    m_open = false;
  }

private:
  void start(std::uint64_t offset) {
    m_chunk = ReadChunk{};
    m_chunk.file = m_file;
    m_chunk.file_offset = m_address + offset;
    m_open = true;
    m_end = offset;
    m_last_wanted = 0;
  }
  void trim() {
    std::uint64_t excess = m_chunk.bytes - m_last_wanted;
    m_chunk.bytes = m_last_wanted;
    while (excess > 0 && !m_chunk.runs.empty()) {
      ReadChunk::Run &run = m_chunk.runs.back();
      // Superseded blocks are whole blocks (a region's short last block is
      // always its last stored one, and never superseded inside a gap).
      const std::uint64_t per_block = run.bytes / run.nblocks;
      const std::uint64_t drop = std::min<std::uint64_t>(run.nblocks, excess / per_block);
      run.nblocks -= drop;
      run.bytes -= drop * per_block;
      excess -= drop * per_block;
      if (run.nblocks == 0) m_chunk.runs.pop_back();
      if (drop == 0) break;
    }
  }

  std::uint32_t m_file;
  std::uint64_t m_address;
  const ReadPlanOptions &m_options;
  std::vector<ReadChunk> &m_out;
  ReadChunk m_chunk;
  bool m_open = false;
  std::uint64_t m_end = 0;
  std::uint64_t m_last_wanted = 0;
};

} // namespace

std::vector<ReadChunk> plan_reads(const RankChain &chain, const std::vector<int> &regions,
                                  const ReadPlanOptions &options) {
  const std::uint64_t bs = chain.block_size;
  std::vector<std::vector<std::int32_t>> sources;
  std::vector<const RankRegion *> wanted;
  for (int id : regions) {
    const RankRegion &r = chain.regions.at(id);
    wanted.push_back(&r);
    sources.push_back(chain.block_sources(r));
  }
  std::vector<ReadChunk> out;
  for (std::uint32_t fi = 0; fi < chain.files.size(); ++fi) {
    ChunkBuilder builder(fi, 0, options, out); // parts hold absolute offsets
    for (std::size_t ri = 0; ri < wanted.size(); ++ri) {
      const RankRegion &r = *wanted[ri];
      const auto part = std::find_if(r.parts.begin(), r.parts.end(),
                                     [&](const RankRegion::Part &p) { return p.file == fi; });
      if (part == r.parts.end()) continue;
      const auto k_part = static_cast<std::int32_t>(part - r.parts.begin());
      // Superseded blocks between two wanted ones are read when the gap is
      // short; a longer gap ends the chunk.
      std::size_t pending_from = 0;
      bool in_gap = false;
      std::uint64_t gap_bytes = 0;
      for (std::size_t k = 0; k < part->stored.size(); ++k) {
        const std::uint64_t b = part->stored[k];
        const bool is_wanted = sources[ri][b] == k_part;
        const std::uint64_t bytes = block_bytes(r.row.bytes, bs, b);
        if (!is_wanted) {
          if (!in_gap) {
            in_gap = true;
            pending_from = k;
            gap_bytes = 0;
          }
          gap_bytes += bytes;
          continue;
        }
        if (in_gap && gap_bytes <= options.bridge_bytes)
          for (std::size_t j = pending_from; j < k; ++j)
            builder.add(r.row.region_id, part->stored[j], part->data_offset + j * bs,
                        block_bytes(r.row.bytes, bs, part->stored[j]), false);
        in_gap = false;
        builder.add(r.row.region_id, b, part->data_offset + k * bs, bytes, true);
      }
    }
    builder.flush();
  }
  return out;
}

} // namespace ckpt::detail
