#include "checkpoint_file.hpp"

#include "debug_hooks.hpp"
#include "error.hpp"
#include "fs.hpp"
#include "log.hpp"
#include "mpi_util.hpp"
#include "region.hpp"

#include <algorithm>
#include <cerrno>
#include <cstddef>
#include <cstring>
#include <fcntl.h>
#include <semaphore.h>
#include <sys/stat.h>
#include <unistd.h>

namespace ckpt::detail {
namespace {

constexpr const char *k_index = "index";
constexpr const char *k_hashes = "hashes";
constexpr const char *k_stored = "stored_blocks";
constexpr const char *k_data = "data";
constexpr const char *k_pieces = "pieces";
constexpr const char *k_blocks = "blocks";

void write_attr_i64(hid_t obj, const char *name, std::int64_t value) {
  H5Id space(check_h5(H5Screate(H5S_SCALAR), "H5Screate"));
  H5Id attr(check_h5(H5Acreate2(obj, name, H5T_STD_I64LE, space.get(), H5P_DEFAULT, H5P_DEFAULT),
                     std::string("cannot create attribute ") + name));
  check_h5_status(H5Awrite(attr.get(), H5T_NATIVE_INT64, &value),
                  std::string("cannot write attribute ") + name);
}

void write_attr_str(hid_t obj, const char *name, const std::string &value) {
  H5Id type(check_h5(H5Tcopy(H5T_C_S1), "H5Tcopy"));
  check_h5_status(H5Tset_size(type.get(), value.empty() ? 1 : value.size()), "H5Tset_size");
  check_h5_status(H5Tset_strpad(type.get(), H5T_STR_NULLPAD), "H5Tset_strpad");
  H5Id space(check_h5(H5Screate(H5S_SCALAR), "H5Screate"));
  H5Id attr(check_h5(H5Acreate2(obj, name, type.get(), space.get(), H5P_DEFAULT, H5P_DEFAULT),
                     std::string("cannot create attribute ") + name));
  const std::string padded = value.empty() ? std::string(1, '\0') : value;
  check_h5_status(H5Awrite(attr.get(), type.get(), padded.data()),
                  std::string("cannot write attribute ") + name);
}

std::int64_t read_attr_i64(hid_t obj, const char *name, const std::string &path) {
  H5Id attr(H5Aopen(obj, name, H5P_DEFAULT));
  if (!attr.valid()) throw_hdf5(path + ": attribute '" + name + "' is missing");
  std::int64_t value = 0;
  check_h5_status(H5Aread(attr.get(), H5T_NATIVE_INT64, &value),
                  path + ": cannot read attribute " + name);
  return value;
}

std::string read_attr_str(hid_t obj, const char *name, const std::string &path) {
  H5Id attr(H5Aopen(obj, name, H5P_DEFAULT));
  if (!attr.valid()) throw_hdf5(path + ": attribute '" + name + "' is missing");
  H5Id type(check_h5(H5Aget_type(attr.get()), "H5Aget_type"));
  if (H5Tget_class(type.get()) != H5T_STRING || H5Tis_variable_str(type.get()) > 0)
    throw FormatError(path + ": attribute '" + name + "' is not a fixed-length string");
  std::string value(H5Tget_size(type.get()), '\0');
  check_h5_status(H5Aread(attr.get(), type.get(), value.data()),
                  path + ": cannot read attribute " + name);
  value.resize(std::strlen(value.c_str()));
  return value;
}

// A file written by one process (a one-rank job, rank 0 assembling a
// nonblocking version) goes through HDF5's POSIX driver: MPI-IO would add
// nothing, and Open MPI's ompio opens a shared-file-pointer component for it
// whose named semaphore can block H5Fcreate for good.
H5Id file_access(MPI_Comm comm, bool serial) {
  H5Id fapl(check_h5(H5Pcreate(H5P_FILE_ACCESS), "H5Pcreate"));
  if (serial) {
    check_h5_status(H5Pset_fapl_sec2(fapl.get()), "H5Pset_fapl_sec2");
  } else {
    check_h5_status(H5Pset_fapl_mpio(fapl.get(), comm, MPI_INFO_NULL), "H5Pset_fapl_mpio");
    check_h5_status(H5Pset_all_coll_metadata_ops(fapl.get(), true), "H5Pset_all_coll_metadata_ops");
    check_h5_status(H5Pset_coll_metadata_write(fapl.get(), true), "H5Pset_coll_metadata_write");
  }
  // Large datasets start on 1 MiB boundaries (file-system stripes and pages).
  check_h5_status(H5Pset_alignment(fapl.get(), 1 << 20, 1 << 20), "H5Pset_alignment");
  return fapl;
}

H5Id make_dataset(hid_t file, const char *name, hid_t type, std::uint64_t n) {
  const hsize_t dims[1] = {n};
  H5Id space(check_h5(H5Screate_simple(1, dims, nullptr), "H5Screate_simple"));
  H5Id dcpl(check_h5(H5Pcreate(H5P_DATASET_CREATE), "H5Pcreate"));
  check_h5_status(H5Pset_layout(dcpl.get(), H5D_CONTIGUOUS), "H5Pset_layout");
  check_h5_status(H5Pset_alloc_time(dcpl.get(), H5D_ALLOC_TIME_EARLY), "H5Pset_alloc_time");
  check_h5_status(H5Pset_fill_time(dcpl.get(), H5D_FILL_TIME_NEVER), "H5Pset_fill_time");
  return H5Id(
      check_h5(H5Dcreate2(file, name, type, space.get(), H5P_DEFAULT, dcpl.get(), H5P_DEFAULT),
               std::string("cannot create dataset /") + name));
}

H5Id transfer_list(H5FD_mpio_xfer_t mode, bool serial) {
  H5Id dxpl(check_h5(H5Pcreate(H5P_DATASET_XFER), "H5Pcreate"));
  if (!serial) check_h5_status(H5Pset_dxpl_mpio(dxpl.get(), mode), "H5Pset_dxpl_mpio");
  return dxpl;
}

} // namespace

H5Id index_row_type() {
  H5Id t(check_h5(H5Tcreate(H5T_COMPOUND, sizeof(IndexRow)), "H5Tcreate"));
  H5Id name(check_h5(H5Tcopy(H5T_C_S1), "H5Tcopy"));
  check_h5_status(H5Tset_size(name.get(), sizeof(IndexRow::name)), "H5Tset_size");
  auto add = [&](const char *field, std::size_t offset, hid_t type) {
    check_h5_status(H5Tinsert(t.get(), field, offset, type), std::string("H5Tinsert ") + field);
  };
  add("rank", offsetof(IndexRow, rank), H5T_NATIVE_INT32);
  add("region_id", offsetof(IndexRow, region_id), H5T_NATIVE_INT32);
  add("name", offsetof(IndexRow, name), name.get());
  add("type", offsetof(IndexRow, type), H5T_NATIVE_INT32);
  add("reserved", offsetof(IndexRow, reserved), H5T_NATIVE_INT32);
  add("elem_size", offsetof(IndexRow, elem_size), H5T_NATIVE_UINT64);
  add("count", offsetof(IndexRow, count), H5T_NATIVE_UINT64);
  add("bytes", offsetof(IndexRow, bytes), H5T_NATIVE_UINT64);
  add("nblocks", offsetof(IndexRow, nblocks), H5T_NATIVE_UINT64);
  add("hash_offset", offsetof(IndexRow, hash_offset), H5T_NATIVE_UINT64);
  add("nstored", offsetof(IndexRow, nstored), H5T_NATIVE_UINT64);
  add("stored_offset", offsetof(IndexRow, stored_offset), H5T_NATIVE_UINT64);
  add("data_offset", offsetof(IndexRow, data_offset), H5T_NATIVE_UINT64);
  add("data_bytes", offsetof(IndexRow, data_bytes), H5T_NATIVE_UINT64);
  return t;
}

hid_t file_type_of(ckpt_type type) noexcept {
  switch (type) {
  case CKPT_CHAR: return H5T_STD_I8LE;
  case CKPT_INT32: return H5T_STD_I32LE;
  case CKPT_UINT32: return H5T_STD_U32LE;
  case CKPT_INT64: return H5T_STD_I64LE;
  case CKPT_UINT64: return H5T_STD_U64LE;
  case CKPT_FLOAT: return H5T_IEEE_F32LE;
  case CKPT_DOUBLE: return H5T_IEEE_F64LE;
  case CKPT_BYTE: break;
  }
  return H5T_STD_U8LE;
}

H5Id piece_row_type() {
  H5Id t(check_h5(H5Tcreate(H5T_COMPOUND, sizeof(PieceRow)), "H5Tcreate"));
  H5Id name(check_h5(H5Tcopy(H5T_C_S1), "H5Tcopy"));
  check_h5_status(H5Tset_size(name.get(), sizeof(PieceRow::name)), "H5Tset_size");
  const hsize_t three[1] = {k_max_global_dims};
  H5Id dims(check_h5(H5Tarray_create2(H5T_NATIVE_UINT64, 1, three), "H5Tarray_create2"));
  auto add = [&](const char *field, std::size_t offset, hid_t type) {
    check_h5_status(H5Tinsert(t.get(), field, offset, type), std::string("H5Tinsert ") + field);
  };
  add("rank", offsetof(PieceRow, rank), H5T_NATIVE_INT32);
  add("region_id", offsetof(PieceRow, region_id), H5T_NATIVE_INT32);
  add("name", offsetof(PieceRow, name), name.get());
  add("type", offsetof(PieceRow, type), H5T_NATIVE_INT32);
  add("ndims", offsetof(PieceRow, ndims), H5T_NATIVE_INT32);
  add("global_dims", offsetof(PieceRow, global_dims), dims.get());
  add("offset", offsetof(PieceRow, offset), dims.get());
  add("dims", offsetof(PieceRow, dims), dims.get());
  return t;
}

void CheckpointFile::write_pieces(const std::vector<PieceRow> &rows, bool writer) {
  H5Id type = piece_row_type();
  H5Id d = make_dataset(m_file.get(), k_pieces, type.get(), rows.size());
  if (rows.empty()) return;
  const hsize_t n[1] = {rows.size()};
  H5Id space(check_h5(H5Dget_space(d.get()), m_path + ": H5Dget_space"));
  H5Id mem(check_h5(H5Screate_simple(1, n, nullptr), "H5Screate_simple"));
  if (!writer) {
    H5Sselect_none(space.get());
    H5Sselect_none(mem.get());
  }
  check_h5_status(
      H5Dwrite(d.get(), type.get(), mem.get(), space.get(), m_dxpl_collective.get(), rows.data()),
      "cannot write /pieces of " + m_path);
}

std::vector<PieceRow> CheckpointFile::read_pieces(std::uint64_t limit) {
  if (m_header.format_version < 2) return {};
  H5Id d(H5Dopen2(m_file.get(), k_pieces, H5P_DEFAULT));
  if (!d.valid()) throw_hdf5(m_path + ": dataset /pieces is missing");
  H5Id space(check_h5(H5Dget_space(d.get()), m_path + ": H5Dget_space"));
  hsize_t dims[1] = {0};
  if (H5Sget_simple_extent_ndims(space.get()) != 1)
    throw FormatError(m_path + ": /pieces is not one-dimensional");
  H5Sget_simple_extent_dims(space.get(), dims, nullptr);
  if (dims[0] > limit)
    throw FormatError(m_path + ": /pieces claims " + std::to_string(dims[0]) +
                      " rows, more than the file can hold");
  std::vector<PieceRow> rows(static_cast<std::size_t>(dims[0]));
  if (rows.empty()) return rows;
  H5Id type = piece_row_type();
  check_h5_status(
      H5Dread(d.get(), type.get(), H5S_ALL, H5S_ALL, m_dxpl_independent.get(), rows.data()),
      "cannot read /pieces of " + m_path);
  for (PieceRow &p : rows)
    p.name[sizeof p.name - 1] = '\0';
  return rows;
}

namespace {

/// Rank 0 before creating `path`: a regular file of that name is the
/// leftover of an attempt that crashed before its commit, and is removed
/// (unlink removes the entry itself); anything else there (a symbolic link,
/// FIFO, directory) is refused: a checkpoint is never written through it.
// Open MPI 4's ompio opens a shared-file-pointer component with every
// MPI-IO file; on one node that is a named semaphore "/OMPIO_<file name>"
// which it holds while it sets the file up and unlinks at close. A process
// killed in between (a job killed during a checkpoint) leaves it behind, and
// when it was killed holding it, the next job that creates a file of that
// name waits on it for ever. No process of this job uses the name yet (the
// file is about to be created exclusively), so every rank removes it first.
void remove_stale_ompio_semaphore(const std::string &path) {
  const std::string name = "/OMPIO_" + path.substr(path.find_last_of('/') + 1);
  if (name.size() < 255) static_cast<void>(sem_unlink(name.c_str()));
}

void remove_stale_data_file(const std::string &path) {
  struct stat st {};
  if (::lstat(path.c_str(), &st) != 0) {
    if (errno == ENOENT) return;
    throw_errno(errno, "cannot stat " + path);
  }
  if (!S_ISREG(st.st_mode))
    throw IoError(CKPT_ERR_IO, "cannot create checkpoint file " + path +
                                   ": the name is taken by something that is not a regular "
                                   "file (libckpt never writes through a symbolic link); "
                                   "remove it");
  remove_file(path);
  log_debug("removed " + path + ", left by an earlier attempt that did not commit");
}

} // namespace

CheckpointFile CheckpointFile::create(const std::string &path, MPI_Comm comm,
                                      const FileHeader &header, const Sizes &sizes) {
  silence_hdf5_errors();
  const int rank = comm_rank(comm);
  // Each step is agreed before the next collective one, so that a failure on
  // one rank never leaves the others waiting.
  // 1. Rank 0 clears the way: a regular file of a crashed attempt goes; a
  //    link or anything else at that name is refused. Every rank removes a
  //    semaphore a killed Open MPI process may have left for that name.
  agree(comm, capture([&] {
          remove_stale_ompio_semaphore(path);
          if (rank == 0) remove_stale_data_file(path);
        }));
  // 2. The file is new (H5F_ACC_EXCL, like O_EXCL): nothing existing is opened.
  CheckpointFile f;
  f.m_path = path;
  f.m_serial = comm_size(comm) == 1;
  agree(comm, capture([&] {
          H5Id fapl = file_access(comm, f.m_serial);
          f.m_file = H5Id(H5Fcreate(path.c_str(), H5F_ACC_EXCL, H5P_DEFAULT, fapl.get()));
          if (!f.m_file.valid()) throw_hdf5("cannot create checkpoint file " + path);
        }));
  // 3. The definition is a sequence of collective HDF5 calls: a failure shows
  //    when it returns (and is injected there); rank 0 then checks that what
  //    was created is a regular file. Agreed; on failure every rank abandons.
  const std::exception_ptr defined = capture([&] {
    f.m_header = header;
    f.define(header, sizes);
    debug_fail_point("checkpoint_define", rank);
    if (rank == 0) {
      try {
        require_regular_file(path);
      } catch (const Error &e) {
        throw IoError(CKPT_ERR_IO, std::string("checkpoint file just created: ") + e.what());
      }
    }
  });
  try {
    agree(comm, defined);
  } catch (...) {
    f.abandon(comm, rank == 0);
    throw;
  }
  return f;
}

void CheckpointFile::define(const FileHeader &header, const Sizes &sizes) {
  const hid_t root = m_file.get();
  write_attr_str(root, "format", k_format_name);
  write_attr_i64(root, "format_version", header.format_version);
  write_attr_i64(root, "version", header.version);
  write_attr_i64(root, "step", header.step);
  write_attr_str(root, "kind", header.base ? "base" : "delta");
  write_attr_i64(root, "base_version", header.base_version);
  write_attr_i64(root, "parent_version", header.parent_version);
  write_attr_i64(root, "nranks", header.nranks);
  write_attr_i64(root, "block_size", static_cast<std::int64_t>(header.block_size));
  write_attr_str(root, "hash", "xxh3-64");
  write_attr_str(root, "byte_order", "little-endian");
  write_attr_i64(root, "created_unix", header.created_unix);
  write_attr_str(root, "library", header.library_version);
  write_attr_str(root, "topology", header.topology);
  write_attr_str(root, "config", header.config);
  H5Id row = index_row_type();
  m_index = make_dataset(root, k_index, row.get(), sizes.rows);
  m_sizes = sizes;
  m_hashes = make_dataset(root, k_hashes, H5T_STD_U64LE, sizes.hashes);
  m_stored = make_dataset(root, k_stored, H5T_STD_U64LE, sizes.stored);
  m_data = make_dataset(root, k_data, H5T_STD_U8LE, sizes.data);
  // Format 2: one typed block store per global region, after /data.
  if (!sizes.stores.empty()) {
    H5Id group(check_h5(H5Gcreate2(root, k_blocks, H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT),
                        "cannot create group /blocks"));
    for (const BlockStore &st : sizes.stores) {
      const auto type = static_cast<ckpt_type>(st.type);
      m_stores[st.region_id] = make_dataset(group.get(), st.name.c_str(), file_type_of(type),
                                            st.bytes / type_size(type));
    }
  }
  m_dxpl_collective = transfer_list(H5FD_MPIO_COLLECTIVE, m_serial);
  m_dxpl_independent = transfer_list(H5FD_MPIO_INDEPENDENT, m_serial);
}

CheckpointFile CheckpointFile::open_serial(const std::string &path) {
  H5Id fapl(check_h5(H5Pcreate(H5P_FILE_ACCESS), "H5Pcreate"));
  check_h5_status(H5Pset_fapl_sec2(fapl.get()), "H5Pset_fapl_sec2");
  CheckpointFile f = open_with(path, fapl.get());
  f.m_dxpl_collective = H5Id(check_h5(H5Pcreate(H5P_DATASET_XFER), "H5Pcreate"));
  f.m_dxpl_independent = H5Id(check_h5(H5Pcreate(H5P_DATASET_XFER), "H5Pcreate"));
  return f;
}

CheckpointFile CheckpointFile::open_with(const std::string &path, hid_t fapl) {
  silence_hdf5_errors();
  CheckpointFile f;
  f.m_path = path;
  f.m_file = H5Id(H5Fopen(path.c_str(), H5F_ACC_RDONLY, fapl));
  if (!f.m_file.valid()) throw_hdf5("cannot open checkpoint file " + path);
  const hid_t root = f.m_file.get();
  if (H5Aexists(root, "format") <= 0 || read_attr_str(root, "format", path) != k_format_name)
    throw FormatError(path + " is not a libckpt checkpoint file (attribute format != libckpt)");
  FileHeader &h = f.m_header;
  h.format_version = static_cast<std::int32_t>(read_attr_i64(root, "format_version", path));
  if (h.format_version > k_format_version)
    throw FormatError(path + " has format_version " + std::to_string(h.format_version) +
                      "; this libckpt reads up to " + std::to_string(k_format_version));
  if (read_attr_str(root, "hash", path) != "xxh3-64" ||
      read_attr_str(root, "byte_order", path) != "little-endian")
    throw FormatError(path + " uses a hash or byte order this libckpt does not read");
  h.version = read_attr_i64(root, "version", path);
  h.step = read_attr_i64(root, "step", path);
  h.base = read_attr_str(root, "kind", path) == "base";
  h.base_version = read_attr_i64(root, "base_version", path);
  h.parent_version = read_attr_i64(root, "parent_version", path);
  h.nranks = static_cast<std::int32_t>(read_attr_i64(root, "nranks", path));
  h.block_size = static_cast<std::uint64_t>(read_attr_i64(root, "block_size", path));
  h.created_unix = read_attr_i64(root, "created_unix", path);
  h.library_version = read_attr_str(root, "library", path);
  h.topology = read_attr_str(root, "topology", path);
  if (H5Aexists(root, "config") > 0) h.config = read_attr_str(root, "config", path);
  if (h.block_size == 0 || h.nranks <= 0)
    throw FormatError(path + " has a bad block_size or nranks attribute");
  auto open_ds = [&](const char *name) {
    H5Id d(H5Dopen2(root, name, H5P_DEFAULT));
    if (!d.valid()) throw_hdf5(path + ": dataset /" + std::string(name) + " is missing");
    return d;
  };
  f.m_index = open_ds(k_index);
  f.m_hashes = open_ds(k_hashes);
  f.m_stored = open_ds(k_stored);
  f.m_data = open_ds(k_data);
  f.m_sizes = f.read_sizes();
  return f;
}

std::uint64_t CheckpointFile::data_address() const {
  if (m_sizes.data == 0) return 0;
  H5Id dcpl(check_h5(H5Dget_create_plist(m_data.get()), m_path + ": H5Dget_create_plist"));
  const haddr_t address = H5Dget_offset(m_data.get());
  H5Id type(check_h5(H5Dget_type(m_data.get()), m_path + ": H5Dget_type"));
  if (H5Pget_layout(dcpl.get()) != H5D_CONTIGUOUS || H5Pget_nfilters(dcpl.get()) != 0 ||
      address == HADDR_UNDEF || H5Tget_size(type.get()) != 1 ||
      H5Dget_storage_size(m_data.get()) != m_sizes.data) {
    H5Eclear2(H5E_DEFAULT);
    throw FormatError(m_path + ": /data is not one contiguous, unfiltered byte array");
  }
  return static_cast<std::uint64_t>(address);
}

H5Id &CheckpointFile::dataset(const char *name) {
  if (std::strcmp(name, k_hashes) == 0) return m_hashes;
  if (std::strcmp(name, k_stored) == 0) return m_stored;
  if (std::strcmp(name, k_data) == 0) return m_data;
  return m_index;
}

CheckpointFile::Sizes CheckpointFile::read_sizes() const {
  auto extent = [&](const H5Id &d) {
    H5Id space(check_h5(H5Dget_space(d.get()), m_path + ": H5Dget_space"));
    hsize_t dims[1] = {0};
    if (H5Sget_simple_extent_ndims(space.get()) != 1)
      throw FormatError(m_path + ": a dataset is not one-dimensional");
    H5Sget_simple_extent_dims(space.get(), dims, nullptr);
    return static_cast<std::uint64_t>(dims[0]);
  };
  return Sizes{extent(m_index), extent(m_hashes), extent(m_stored), extent(m_data), {}};
}

void CheckpointFile::transfer(const char *name, hid_t mem_type, bool write, void *memory,
                              std::uint64_t offset, std::uint64_t count, bool collective) {
  const std::uint64_t extent = std::strcmp(name, k_index) == 0    ? m_sizes.rows
                               : std::strcmp(name, k_hashes) == 0 ? m_sizes.hashes
                               : std::strcmp(name, k_stored) == 0 ? m_sizes.stored
                                                                  : m_sizes.data;
  transfer_on(dataset(name), extent, name, mem_type, write, memory, offset, count, collective);
}

void CheckpointFile::transfer_on(H5Id &d, std::uint64_t extent, const std::string &name,
                                 hid_t mem_type, bool write, void *memory, std::uint64_t offset,
                                 std::uint64_t count, bool collective) {
  // An empty dataset has no storage; every rank knows the sizes, so every
  // rank skips the (collective) call alike.
  if (extent == 0) return;
  if (offset + count > extent) throw FormatError(m_path + ": access beyond the end of /" + name);
  H5Id file_space(check_h5(H5Dget_space(d.get()), m_path + ": H5Dget_space"));
  const hsize_t mem_dims[1] = {count > 0 ? count : 1};
  H5Id mem_space(check_h5(H5Screate_simple(1, mem_dims, nullptr), "H5Screate_simple"));
  if (count > 0) {
    const hsize_t start[1] = {offset}, n[1] = {count};
    check_h5_status(
        H5Sselect_hyperslab(file_space.get(), H5S_SELECT_SET, start, nullptr, n, nullptr),
        m_path + ": H5Sselect_hyperslab");
  } else {
    check_h5_status(H5Sselect_none(file_space.get()), "H5Sselect_none");
    check_h5_status(H5Sselect_none(mem_space.get()), "H5Sselect_none");
  }
  static unsigned char dummy[8];
  void *buf = count > 0 ? memory : dummy;
  const hid_t dxpl = collective ? m_dxpl_collective.get() : m_dxpl_independent.get();
  const herr_t rc = write
                        ? H5Dwrite(d.get(), mem_type, mem_space.get(), file_space.get(), dxpl, buf)
                        : H5Dread(d.get(), mem_type, mem_space.get(), file_space.get(), dxpl, buf);
  if (rc < 0)
    throw_hdf5(std::string(write ? "cannot write " : "cannot read ") + std::to_string(count) +
               " elements at offset " + std::to_string(offset) + " of /" + name + " in " + m_path);
}

void CheckpointFile::flush_metadata() {
  check_h5_status(H5Fflush(m_file.get(), H5F_SCOPE_LOCAL),
                  "cannot flush the metadata of " + m_path);
}

std::uint64_t CheckpointFile::allocated_bytes() const {
  // The end of the last dataset (the MPI-IO driver cannot tell its EOF
  // while the file is open for collective writes).
  std::uint64_t end = 0;
  std::vector<const H5Id *> all = {&m_index, &m_hashes, &m_stored, &m_data};
  for (const auto &[id, d] : m_stores)
    all.push_back(&d);
  for (const H5Id *d : all) {
    const haddr_t offset = H5Dget_offset(d->get());
    if (offset == HADDR_UNDEF) continue; // empty dataset: no storage
    end = std::max<std::uint64_t>(end, offset + H5Dget_storage_size(d->get()));
  }
  H5Eclear2(H5E_DEFAULT);
  return end;
}

void CheckpointFile::write_index(const std::vector<IndexRow> &rows, bool writer) {
  H5Id type = index_row_type();
  transfer(k_index, type.get(), true, const_cast<IndexRow *>(rows.data()), 0,
           writer ? rows.size() : 0, true);
}

std::vector<IndexRow> CheckpointFile::read_index() {
  const std::uint64_t n = m_sizes.rows;
  std::vector<IndexRow> rows(n);
  H5Id type = index_row_type();
  transfer(k_index, type.get(), false, rows.data(), 0, n, true);
  for (auto &r : rows)
    r.name[sizeof r.name - 1] = '\0';
  return rows;
}

void CheckpointFile::write_u64(const char *name, std::uint64_t offset,
                               const std::vector<std::uint64_t> &values) {
  transfer(name, H5T_NATIVE_UINT64, true, const_cast<std::uint64_t *>(values.data()), offset,
           values.size(), true);
}

std::vector<std::uint64_t> CheckpointFile::read_u64(const char *name, std::uint64_t offset,
                                                    std::uint64_t count, bool collective) {
  std::vector<std::uint64_t> values(count);
  transfer(name, H5T_NATIVE_UINT64, false, values.data(), offset, count, collective);
  return values;
}

void CheckpointFile::write_data(const DataOp &op) {
  transfer(k_data, H5T_NATIVE_UCHAR, true, op.memory, op.file_offset, op.bytes, true);
}

void CheckpointFile::write_store(int id, const DataOp &op) {
  const auto it = m_stores.find(id);
  const auto st = std::find_if(m_sizes.stores.begin(), m_sizes.stores.end(),
                               [&](const BlockStore &s) { return s.region_id == id; });
  if (it == m_stores.end() || st == m_sizes.stores.end())
    throw FormatError(m_path + ": no block store for global region " + std::to_string(id));
  const auto type = static_cast<ckpt_type>(st->type);
  const std::uint64_t es = type_size(type);
  if (op.file_offset % es != 0 || op.bytes % es != 0)
    throw FormatError(m_path + ": a transfer that is not whole elements of /blocks/" + st->name);
  // The memory holds the file's little-endian elements: no conversion.
  transfer_on(it->second, st->bytes / es, "blocks/" + st->name, file_type_of(type), true, op.memory,
              op.file_offset / es, op.bytes / es, true);
}

std::pair<std::uint64_t, std::uint64_t>
CheckpointFile::store_extent(const std::string &name, std::uint64_t elem_size) const {
  const std::string where = m_path + ": /blocks/" + name;
  H5Id d(H5Dopen2(m_file.get(), ("/blocks/" + name).c_str(), H5P_DEFAULT));
  if (!d.valid()) throw_hdf5(where + " is missing");
  H5Id space(check_h5(H5Dget_space(d.get()), where + ": H5Dget_space"));
  hsize_t dims[1] = {0};
  if (H5Sget_simple_extent_ndims(space.get()) != 1)
    throw FormatError(where + " is not one-dimensional");
  H5Sget_simple_extent_dims(space.get(), dims, nullptr);
  H5Id type(check_h5(H5Dget_type(d.get()), where + ": H5Dget_type"));
  if (H5Tget_size(type.get()) != elem_size)
    throw FormatError(where + " does not hold elements of " + std::to_string(elem_size) + " bytes");
  if (dims[0] == 0) return {0, 0};
  H5Id dcpl(check_h5(H5Dget_create_plist(d.get()), where + ": H5Dget_create_plist"));
  const haddr_t address = H5Dget_offset(d.get());
  const std::uint64_t bytes = dims[0] * elem_size;
  if (H5Pget_layout(dcpl.get()) != H5D_CONTIGUOUS || H5Pget_nfilters(dcpl.get()) != 0 ||
      address == HADDR_UNDEF || H5Dget_storage_size(d.get()) != bytes) {
    H5Eclear2(H5E_DEFAULT);
    throw FormatError(where + " is not one contiguous, unfiltered array");
  }
  return {static_cast<std::uint64_t>(address), bytes};
}

void CheckpointFile::close() {
  m_stores.clear();
  m_index.reset();
  m_hashes.reset();
  m_stored.reset();
  m_data.reset();
  m_dxpl_collective.reset();
  m_dxpl_independent.reset();
  if (!m_file.valid()) return;
  // HDF5 cannot close a file twice, whatever the first close reported: the
  // handle is given up either way, so that every rank ends in the same state.
  const hid_t id = m_file.release();
  if (H5Fclose(id) < 0) throw_hdf5("cannot close " + m_path);
}

void CheckpointFile::abandon(MPI_Comm comm, bool truncater) noexcept {
  m_stores.clear();
  m_index.reset();
  m_hashes.reset();
  m_stored.reset();
  m_data.reset();
  if (!m_file.valid()) return;
  if (truncater) {
    // Never through a symbolic link.
    const int fd = ::open(m_path.c_str(), O_WRONLY | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC);
    if (fd >= 0) {
      if (::ftruncate(fd, 0) != 0) {
      }
      ::close(fd);
    }
  }
  MPI_Barrier(comm);
  // With its space freed, the metadata flush of the close succeeds. A close
  // that fails leaves HDF5 unable to close the file again, so it is tried
  // only once.
  if (H5Fclose(m_file.get()) < 0) H5Eclear2(H5E_DEFAULT);
  m_file.release();
}

} // namespace ckpt::detail
