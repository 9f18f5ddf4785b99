#include "nonblocking_commit.hpp"

#include "block_hasher.hpp"
#include "catalog.hpp"
#include "debug_hooks.hpp"
#include "checkpoint_file.hpp"
#include "error.hpp"
#include "fs.hpp"
#include "log.hpp"
#include "rank_snapshot.hpp"

#include <mpi.h>

#include <algorithm>
#include <iterator>
#include <cstring>
#include <ctime>

#ifndef CKPT_VERSION_STRING
#define CKPT_VERSION_STRING "unknown"
#endif

namespace ckpt::detail {

namespace {
/// Region ids and names of the PMPI layer's channel snapshot
/// (channel_participant.hpp) and epoch log (epoch_layer.cpp), in the order
/// of the channel file.
struct LayerRegion {
  int id;
  const char *name;
};
constexpr LayerRegion k_layer_regions[] = {{-301, "ckpt.pmpi.channels"},
                                           {-302, "ckpt.pmpi.epoch_log"}};
/// Largest local checkpoint file read back: a rank's state is bounded by memory.
constexpr std::uint64_t k_max_rank_file = std::uint64_t{1} << 40;
} // namespace

CommitRecord assemble_version(const AssemblyInput &in) {
  const double t0 = MPI_Wtime();
  std::vector<std::string> contents(static_cast<std::size_t>(in.nranks));
  std::vector<std::vector<std::string>> channels(static_cast<std::size_t>(in.nranks));
  std::vector<RankSnapshot> snaps(static_cast<std::size_t>(in.nranks));
  std::vector<std::string> files;
  for (int r = 0; r < in.nranks; ++r) {
    const auto i = static_cast<std::size_t>(r);
    const std::string regions = join_path(in.dir, rank_regions_file(in.prefix, in.version, r));
    const std::string chan = join_path(in.dir, rank_channels_file(in.prefix, in.version, r));
    files.push_back(regions);
    files.push_back(chan);
    contents[i] = read_file(regions, k_max_rank_file);
    snaps[i] = decode_rank_snapshot(contents[i], regions);
    if (snaps[i].version != in.version || snaps[i].rank != r)
      throw FormatError(regions + ": holds version " + std::to_string(snaps[i].version) +
                        " of rank " + std::to_string(snaps[i].rank) + ", expected version " +
                        std::to_string(in.version) + " of rank " + std::to_string(r));
    channels[i] = decode_channel_regions(read_file(chan, k_max_rank_file), chan);
    if (channels[i].size() > std::size(k_layer_regions))
      throw FormatError(chan + ": " + std::to_string(channels[i].size()) + " regions, at most " +
                        std::to_string(std::size(k_layer_regions)));
    for (std::size_t k = 0; k < channels[i].size(); ++k) {
      SnapshotRegion c;
      c.id = k_layer_regions[k].id;
      c.type = CKPT_BYTE;
      c.elem_size = 1;
      c.count = channels[i][k].size();
      c.name = k_layer_regions[k].name;
      c.data = reinterpret_cast<const unsigned char *>(channels[i][k].data());
      snaps[i].regions.push_back(c);
    }
    std::sort(snaps[i].regions.begin(), snaps[i].regions.end(),
              [](const SnapshotRegion &a, const SnapshotRegion &b) { return a.id < b.id; });
  }

  // Rows in rank, then region order; every block stored (a base).
  std::vector<IndexRow> rows;
  std::vector<std::uint64_t> hashes, stored;
  std::vector<const SnapshotRegion *> order;
  std::uint64_t state_bytes = 0;
  for (int r = 0; r < in.nranks; ++r)
    for (const SnapshotRegion &g : snaps[static_cast<std::size_t>(r)].regions) {
      IndexRow row;
      row.rank = r;
      row.region_id = g.id;
      std::strncpy(row.name, g.name.c_str(), sizeof row.name - 1);
      row.type = g.type;
      row.elem_size = g.elem_size;
      row.count = g.count;
      row.bytes = g.bytes();
      row.nblocks = block_count(g.bytes(), in.block_size);
      row.nstored = row.nblocks;
      row.data_bytes = g.bytes();
      const std::size_t first = hashes.size();
      hashes.resize(first + row.nblocks);
      hash_blocks(g.data, g.bytes(), in.block_size, hashes.data() + first);
      for (std::uint64_t b = 0; b < row.nblocks; ++b)
        stored.push_back(b);
      state_bytes += g.bytes();
      rows.push_back(row);
      order.push_back(&g);
    }
  const CheckpointFile::Sizes sizes = assign_offsets(rows);

  FileHeader header;
  header.version = in.version;
  header.step = in.step;
  header.base = true;
  header.base_version = in.version;
  header.nranks = in.nranks;
  header.block_size = in.block_size;
  header.created_unix = static_cast<std::int64_t>(std::time(nullptr));
  header.library_version = std::string("libckpt ") + CKPT_VERSION_STRING;
  header.topology = in.topology;
  header.config = in.header_config;
  const std::string file_name = data_file_name(in.prefix, in.version);
  const std::string path = join_path(in.dir, file_name);
  CheckpointFile file = CheckpointFile::create(path, MPI_COMM_SELF, header, sizes);
  file.write_index(rows, true);
  file.write_pieces({}, true); // format 2; nonblocking mode refuses global regions
  file.write_u64("hashes", 0, hashes);
  file.write_u64("stored_blocks", 0, stored);
  for (std::size_t i = 0; i < rows.size(); ++i) {
    DataOp op;
    op.memory = const_cast<unsigned char *>(order[i]->data);
    op.bytes = rows[i].data_bytes;
    op.file_offset = rows[i].data_offset;
    file.write_data(op);
  }
  file.close();
  if (in.fsync) fsync_file(path);

  debug_kill_point("nb_commit", in.version, 0);
  CommitRecord rec;
  rec.version = in.version;
  rec.step = in.step;
  rec.base = true;
  rec.chain = {in.version};
  rec.nranks = in.nranks;
  rec.block_size = in.block_size;
  rec.file = file_name;
  rec.file_bytes = file_size(path);
  rec.state_bytes = state_bytes;
  rec.written_bytes = state_bytes;
  rec.blocks = hashes.size();
  rec.dirty_blocks = hashes.size();
  rec.seconds = MPI_Wtime() - t0;
  rec.time_unix = static_cast<std::int64_t>(std::time(nullptr));
  write_file_atomic(join_path(in.dir, commit_file_name(in.prefix, in.version)), rec.serialize(),
                    in.fsync);

  // After the commit: the local checkpoint files of this version and of
  // older ones (left by a run killed before their commit), and old versions.
  for (const std::string &name : list_directory(in.dir))
    if (is_stale_rank_file(name, in.prefix, in.version)) files.push_back(join_path(in.dir, name));
  for (const std::string &f : files) {
    try {
      remove_file(f);
    } catch (const std::exception &e) {
      log_warn(std::string("could not remove ") + f + ": " + e.what());
    }
  }
  try {
    const Catalog catalog = Catalog::scan(in.dir, in.prefix);
    for (std::int64_t old : catalog.retention_plan(in.keep))
      catalog.remove_version(old, in.fsync);
  } catch (const std::exception &e) {
    log_warn(std::string("could not remove old checkpoints: ") + e.what());
  }
  return rec;
}

} // namespace ckpt::detail
