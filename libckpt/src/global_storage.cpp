#include "global_storage.hpp"

#include "catalog.hpp"
#include "chain_loader.hpp"
#include "error.hpp"
#include "fs.hpp"
#include "h5.hpp"
#include "mpi_util.hpp"
#include "region.hpp"

#include <hdf5.h>

#include <algorithm>
#include <climits>
#include <cstring>
#include <map>

namespace ckpt::detail {

std::vector<ViewFile> view_chain_files(const std::string &dir, const std::string &prefix,
                                       const std::vector<std::int64_t> &chain,
                                       const std::vector<IndexRow> &rows,
                                       const std::vector<std::uint64_t> &stored,
                                       const std::vector<PieceRow> &pieces) {
  std::vector<ViewFile> files;
  for (std::size_t i = 0; i + 1 < chain.size(); ++i) {
    const std::string name = data_file_name(prefix, chain[i]);
    ChainFileMeta meta = read_file_meta(join_path(dir, name), false);
    files.push_back(
        ViewFile{name, std::move(meta.rows), std::move(meta.stored), std::move(meta.pieces)});
  }
  files.push_back(ViewFile{data_file_name(prefix, chain.back()), rows, stored, pieces});
  return files;
}

std::vector<ViewRun> view_runs(const std::vector<ViewFile> &chain, int region_id,
                               std::uint64_t block_size) {
  std::vector<ViewRun> runs;
  const ViewFile &newest = chain.back();
  auto row_of = [&](const ViewFile &f, std::int32_t rank) -> const IndexRow * {
    for (const IndexRow &row : f.rows)
      if (row.rank == rank && row.region_id == region_id) return &row;
    return nullptr;
  };
  auto global_in = [&](const ViewFile &f, std::int32_t rank) {
    return std::any_of(f.pieces.begin(), f.pieces.end(), [&](const PieceRow &p) {
      return p.rank == rank && p.region_id == region_id;
    });
  };
  for (const PieceRow &piece : newest.pieces) {
    if (piece.region_id != region_id || piece.box().empty()) continue;
    const IndexRow *cur = row_of(newest, piece.rank);
    if (!cur) continue;
    const std::uint64_t es = cur->elem_size;
    // The newest source of every block: (file, position among its stored).
    std::vector<std::pair<std::int64_t, std::uint64_t>> source(cur->nblocks, {-1, 0});
    std::vector<const IndexRow *> rows(chain.size(), nullptr);
    for (std::size_t j = chain.size(); j-- > 0;) {
      const IndexRow *row = row_of(chain[j], piece.rank);
      if (!row || row->bytes != cur->bytes || row->elem_size != es || row->type != cur->type ||
          !global_in(chain[j], piece.rank))
        break; // a region restarts from the version that changed its layout
      rows[j] = row;
      for (std::uint64_t k = 0; k < row->nstored; ++k) {
        const std::uint64_t b = chain[j].stored[row->stored_offset + k];
        if (b < source.size() && source[b].first < 0) source[b] = {static_cast<std::int64_t>(j), k};
      }
    }
    for (std::uint64_t b = 0; b < source.size();) {
      if (source[b].first < 0) {
        ++b;
        continue;
      }
      const auto j = static_cast<std::size_t>(source[b].first);
      std::uint64_t e = b + 1;
      while (e < source.size() && source[e].first == source[b].first &&
             source[e].second == source[b].second + (e - b))
        ++e;
      const std::uint64_t first_byte = b * block_size;
      const std::uint64_t end_byte = std::min(e * block_size, cur->bytes);
      ViewRun run;
      run.rank = piece.rank;
      run.file = static_cast<std::uint32_t>(j);
      run.first = first_byte / es;
      run.count = (end_byte - first_byte) / es;
      run.source_offset = (rows[j]->data_offset + source[b].second * block_size) / es;
      runs.push_back(run);
      b = e;
    }
  }
  return runs;
}

void add_region_views(const std::string &path, const std::vector<ViewFile> &chain,
                      std::uint64_t block_size) {
  const ViewFile &newest = chain.back();
  std::map<int, const PieceRow *> regions;
  for (const PieceRow &p : newest.pieces)
    regions.emplace(p.region_id, &p);
  if (regions.empty()) return;
  H5Id file(H5Fopen(path.c_str(), H5F_ACC_RDWR, H5P_DEFAULT));
  if (!file.valid()) throw_hdf5("cannot open " + path + " to add its region views");
  H5Id group(check_h5(H5Gcreate2(file.get(), "regions", H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT),
                      "cannot create group /regions in " + path));
  for (const auto &[id, shape] : regions) {
    const std::string name(shape->name, strnlen(shape->name, sizeof shape->name));
    const std::string where = path + ": /regions/" + name;
    hsize_t dims[k_max_global_dims];
    for (int d = 0; d < shape->ndims; ++d)
      dims[d] = shape->global_dims[d];
    H5Id vspace(check_h5(H5Screate_simple(shape->ndims, dims, nullptr), "H5Screate_simple"));
    H5Id dcpl(check_h5(H5Pcreate(H5P_DATASET_CREATE), "H5Pcreate"));
    const std::string source_dataset = "/blocks/" + name;
    for (const ViewRun &run : view_runs(chain, id, block_size)) {
      const PieceRow *piece = nullptr;
      for (const PieceRow &p : newest.pieces)
        if (p.region_id == id && p.rank == run.rank) piece = &p;
      const Box box = piece->box();
      check_h5_status(H5Sselect_none(vspace.get()), "H5Sselect_none");
      for (const Box &part : boxes_of_range(box, run.first, run.first + run.count)) {
        hsize_t start[k_max_global_dims], count[k_max_global_dims];
        for (int d = 0; d < part.ndims; ++d) {
          start[d] = part.offset[d];
          count[d] = part.dims[d];
        }
        check_h5_status(
            H5Sselect_hyperslab(vspace.get(), H5S_SELECT_OR, start, nullptr, count, nullptr),
            where + ": H5Sselect_hyperslab");
      }
      // The source: elements of the block store of that file (sizes from
      // its row: the store holds at least source_offset + count elements).
      const hsize_t whole[1] = {run.source_offset + run.count};
      H5Id sspace(check_h5(H5Screate_simple(1, whole, nullptr), "H5Screate_simple"));
      const hsize_t sstart[1] = {run.source_offset}, scount[1] = {run.count};
      check_h5_status(
          H5Sselect_hyperslab(sspace.get(), H5S_SELECT_SET, sstart, nullptr, scount, nullptr),
          where + ": H5Sselect_hyperslab");
      const std::string source_file = run.file + 1 == chain.size() ? "." : chain[run.file].name;
      check_h5_status(H5Pset_virtual(dcpl.get(), vspace.get(), source_file.c_str(),
                                     source_dataset.c_str(), sspace.get()),
                      where + ": H5Pset_virtual");
    }
    H5Id full(check_h5(H5Screate_simple(shape->ndims, dims, nullptr), "H5Screate_simple"));
    H5Id d(check_h5(H5Dcreate2(group.get(), name.c_str(),
                               file_type_of(static_cast<ckpt_type>(shape->type)), full.get(),
                               H5P_DEFAULT, dcpl.get(), H5P_DEFAULT),
                    "cannot create " + where));
  }
  group.reset();
  const hid_t id = file.release();
  if (H5Fclose(id) < 0) throw_hdf5("cannot close " + path + " after adding its region views");
}

std::vector<std::uint64_t> gather_u64_at_root(MPI_Comm comm,
                                              const std::vector<std::uint64_t> &mine) {
  int rank = 0, size = 0;
  check_mpi(MPI_Comm_rank(comm, &rank), "MPI_Comm_rank");
  check_mpi(MPI_Comm_size(comm, &size), "MPI_Comm_size");
  const int n = static_cast<int>(mine.size());
  std::vector<int> counts(rank == 0 ? static_cast<std::size_t>(size) : 0), displs(counts.size());
  check_mpi(MPI_Gather(&n, 1, MPI_INT, counts.data(), 1, MPI_INT, 0, comm), "MPI_Gather");
  long long total = 0;
  for (std::size_t r = 0; r < counts.size(); ++r) {
    displs[r] = static_cast<int>(total);
    total += counts[r];
  }
  if (total > INT_MAX) throw ArgumentError("more than 2^31 stored blocks in one checkpoint");
  std::vector<std::uint64_t> all(static_cast<std::size_t>(total));
  check_mpi(MPI_Gatherv(mine.data(), n, MPI_UINT64_T, all.data(), counts.data(), displs.data(),
                        MPI_UINT64_T, 0, comm),
            "MPI_Gatherv");
  return all;
}

} // namespace ckpt::detail
