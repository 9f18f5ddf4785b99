#include "bench_io.hpp"

#include "bench_common.hpp"

#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <stdexcept>
#include <system_error>

namespace ckpt::bench {

void check_h5(herr_t rc, const char *call) {
  if (rc < 0) throw std::runtime_error(std::string(call) + " failed (see the HDF5 error stack)");
}

H5Id::H5Id(hid_t id, Closer closer, const char *what) : m_id(id), m_closer(closer) {
  if (id < 0) throw std::runtime_error(std::string(what) + " failed (see the HDF5 error stack)");
}

H5Id::~H5Id() {
  if (m_id >= 0 && m_closer != nullptr) m_closer(m_id);
}

H5Id::H5Id(H5Id &&other) noexcept
    : m_id(std::exchange(other.m_id, H5I_INVALID_HID)), m_closer(other.m_closer) {}

H5Id &H5Id::operator=(H5Id &&other) noexcept {
  if (this != &other) {
    if (m_id >= 0 && m_closer != nullptr) m_closer(m_id);
    m_id = std::exchange(other.m_id, H5I_INVALID_HID);
    m_closer = other.m_closer;
  }
  return *this;
}

void H5Id::close() {
  if (m_id < 0) return;
  const hid_t id = std::exchange(m_id, H5I_INVALID_HID);
  check_h5(m_closer(id), "H5?close");
}

namespace {

std::system_error errno_error(const std::string &what) {
  return std::system_error(errno, std::generic_category(), what);
}

/// A POSIX file descriptor, closed on destruction.
class Fd {
public:
  Fd(const std::string &path, int flags, mode_t mode = 0644)
      : m_fd(::open(path.c_str(), flags, mode)) {
    if (m_fd < 0) throw errno_error("open " + path);
  }
  ~Fd() {
    if (m_fd >= 0) ::close(m_fd);
  }
  Fd(const Fd &) = delete;
  Fd &operator=(const Fd &) = delete;
  [[nodiscard]] int get() const noexcept { return m_fd; }
  void close(const std::string &path) {
    const int fd = std::exchange(m_fd, -1);
    if (::close(fd) != 0) throw errno_error("close " + path);
  }

private:
  int m_fd;
};

/// A communicator of the ranks sharing this node, freed on destruction.
class NodeComm {
public:
  explicit NodeComm(MPI_Comm comm) {
    check_mpi(MPI_Comm_split_type(comm, MPI_COMM_TYPE_SHARED, 0, MPI_INFO_NULL, &m_comm),
              "MPI_Comm_split_type");
    MPI_Comm_rank(m_comm, &m_rank);
  }
  ~NodeComm() {
    int finalized = 0;
    MPI_Finalized(&finalized);
    if (finalized == 0) MPI_Comm_free(&m_comm);
  }
  NodeComm(const NodeComm &) = delete;
  NodeComm &operator=(const NodeComm &) = delete;
  [[nodiscard]] bool leader() const noexcept { return m_rank == 0; }

private:
  MPI_Comm m_comm = MPI_COMM_NULL;
  int m_rank = 0;
};

struct Slab {
  std::uint64_t offset = 0; ///< first byte of this rank's slab in the dataset
  std::uint64_t total = 0;  ///< bytes of all ranks
  std::uint64_t pieces = 0; ///< collective calls needed (same on every rank)
};

Slab slab_of(MPI_Comm comm, std::uint64_t local_bytes) {
  Slab slab;
  int rank = 0;
  MPI_Comm_rank(comm, &rank);
  check_mpi(MPI_Exscan(&local_bytes, &slab.offset, 1, MPI_UINT64_T, MPI_SUM, comm), "MPI_Exscan");
  if (rank == 0) slab.offset = 0;
  check_mpi(MPI_Allreduce(&local_bytes, &slab.total, 1, MPI_UINT64_T, MPI_SUM, comm),
            "MPI_Allreduce");
  const std::uint64_t mine = (local_bytes + max_h5_piece - 1) / max_h5_piece;
  check_mpi(MPI_Allreduce(&mine, &slab.pieces, 1, MPI_UINT64_T, MPI_MAX, comm), "MPI_Allreduce");
  return slab;
}

H5Id mpio_file_access(MPI_Comm comm) {
  H5Id fapl(H5Pcreate(H5P_FILE_ACCESS), H5Pclose, "H5Pcreate(H5P_FILE_ACCESS)");
  check_h5(H5Pset_fapl_mpio(fapl.get(), comm, MPI_INFO_NULL), "H5Pset_fapl_mpio");
  return fapl;
}

H5Id collective_transfer() {
  H5Id dxpl(H5Pcreate(H5P_DATASET_XFER), H5Pclose, "H5Pcreate(H5P_DATASET_XFER)");
  check_h5(H5Pset_dxpl_mpio(dxpl.get(), H5FD_MPIO_COLLECTIVE), "H5Pset_dxpl_mpio");
  return dxpl;
}

/// Runs the collective H5Dwrite/H5Dread calls of one rank's slab.
template <class Transfer>
void transfer_slab(hid_t dataset, const Slab &slab, std::uint64_t local_bytes, Transfer &&call) {
  const H5Id dxpl = collective_transfer();
  for (std::uint64_t piece = 0; piece < slab.pieces; ++piece) {
    const std::uint64_t begin = piece * max_h5_piece;
    const std::uint64_t count =
        begin < local_bytes ? std::min(max_h5_piece, local_bytes - begin) : 0;
    const hsize_t mem_dims = std::max<hsize_t>(count, 1);
    H5Id mem_space(H5Screate_simple(1, &mem_dims, nullptr), H5Sclose, "H5Screate_simple");
    H5Id file_space(H5Dget_space(dataset), H5Sclose, "H5Dget_space");
    if (count == 0) {
      check_h5(H5Sselect_none(mem_space.get()), "H5Sselect_none");
      check_h5(H5Sselect_none(file_space.get()), "H5Sselect_none");
    } else {
      const hsize_t start = slab.offset + begin;
      const hsize_t n = count;
      check_h5(H5Sselect_hyperslab(file_space.get(), H5S_SELECT_SET, &start, nullptr, &n, nullptr),
               "H5Sselect_hyperslab");
    }
    call(mem_space.get(), file_space.get(), dxpl.get(), begin);
  }
}

} // namespace

void h5_write_slabs(MPI_Comm comm, const std::string &path, const void *data,
                    std::uint64_t local_bytes) {
  static const unsigned char nothing = 0;
  const auto *bytes = local_bytes > 0 ? static_cast<const unsigned char *>(data) : &nothing;
  const Slab slab = slab_of(comm, local_bytes);
  const H5Id fapl = mpio_file_access(comm);
  H5Id file(H5Fcreate(path.c_str(), H5F_ACC_TRUNC, H5P_DEFAULT, fapl.get()), H5Fclose, "H5Fcreate");
  const hsize_t dims = slab.total;
  const H5Id space(H5Screate_simple(1, &dims, nullptr), H5Sclose, "H5Screate_simple");
  // Parallel HDF5 allocates datasets at creation and, by default, writes
  // fill values into them: every byte would be written twice. A plain but
  // competent writer turns that off, and so does libckpt.
  const H5Id dcpl(H5Pcreate(H5P_DATASET_CREATE), H5Pclose, "H5Pcreate(H5P_DATASET_CREATE)");
  check_h5(H5Pset_fill_time(dcpl.get(), H5D_FILL_TIME_NEVER), "H5Pset_fill_time");
  H5Id dataset(H5Dcreate2(file.get(), "data", H5T_NATIVE_UCHAR, space.get(), H5P_DEFAULT,
                          dcpl.get(), H5P_DEFAULT),
               H5Dclose, "H5Dcreate2");
  transfer_slab(dataset.get(), slab, local_bytes,
                [&](hid_t mem, hid_t file_space, hid_t dxpl, std::uint64_t begin) {
                  check_h5(H5Dwrite(dataset.get(), H5T_NATIVE_UCHAR, mem, file_space, dxpl,
                                    bytes + (local_bytes > 0 ? begin : 0)),
                           "H5Dwrite");
                });
  dataset.close();
  file.close();
  fsync_path(path);
  // Done when every rank's fsync is: the file is durable, and no rank can
  // remove it while another still syncs it.
  check_mpi(MPI_Barrier(comm), "MPI_Barrier");
}

void h5_read_slabs(MPI_Comm comm, const std::string &path, void *data, std::uint64_t local_bytes) {
  static unsigned char nothing = 0;
  auto *bytes = local_bytes > 0 ? static_cast<unsigned char *>(data) : &nothing;
  const Slab slab = slab_of(comm, local_bytes);
  const H5Id fapl = mpio_file_access(comm);
  H5Id file(H5Fopen(path.c_str(), H5F_ACC_RDONLY, fapl.get()), H5Fclose, "H5Fopen");
  H5Id dataset(H5Dopen2(file.get(), "data", H5P_DEFAULT), H5Dclose, "H5Dopen2");
  {
    const H5Id space(H5Dget_space(dataset.get()), H5Sclose, "H5Dget_space");
    hsize_t dims = 0;
    if (H5Sget_simple_extent_ndims(space.get()) != 1 ||
        H5Sget_simple_extent_dims(space.get(), &dims, nullptr) != 1 || dims != slab.total)
      throw std::runtime_error(path + ": dataset 'data' does not hold " +
                               std::to_string(slab.total) + " bytes");
  }
  transfer_slab(dataset.get(), slab, local_bytes,
                [&](hid_t mem, hid_t file_space, hid_t dxpl, std::uint64_t begin) {
                  check_h5(H5Dread(dataset.get(), H5T_NATIVE_UCHAR, mem, file_space, dxpl,
                                   bytes + (local_bytes > 0 ? begin : 0)),
                           "H5Dread");
                });
  dataset.close();
  file.close();
}

namespace {

/// Moves `bytes` through `op` (read or write) in calls of at most 1 GiB,
/// retrying on EINTR; `what` names the call and the file in errors.
template <class Op>
void transfer_all(Op op, unsigned char *p, std::uint64_t bytes, const std::string &what) {
  std::uint64_t done = 0;
  while (done < bytes) {
    const std::size_t chunk =
        static_cast<std::size_t>(std::min<std::uint64_t>(bytes - done, 1ULL << 30));
    const ssize_t n = op(p + done, chunk);
    if (n < 0) {
      if (errno == EINTR) continue;
      throw errno_error(what);
    }
    if (n == 0) throw std::runtime_error(what + ": the file is shorter than expected");
    done += static_cast<std::uint64_t>(n);
  }
}

} // namespace

void posix_write_fsync(const std::string &path, const void *data, std::uint64_t bytes) {
  Fd fd(path, O_WRONLY | O_CREAT | O_TRUNC);
  transfer_all([&](unsigned char *p, std::size_t n) { return ::write(fd.get(), p, n); },
               const_cast<unsigned char *>(static_cast<const unsigned char *>(data)), bytes,
               "write " + path);
  if (::fsync(fd.get()) != 0) throw errno_error("fsync " + path);
  fd.close(path);
}

void posix_read(const std::string &path, void *data, std::uint64_t bytes) {
  Fd fd(path, O_RDONLY);
  transfer_all([&](unsigned char *p, std::size_t n) { return ::read(fd.get(), p, n); },
               static_cast<unsigned char *>(data), bytes, "read " + path);
  fd.close(path);
}

void fsync_path(const std::string &path) {
  Fd fd(path, O_RDONLY);
  if (::fsync(fd.get()) != 0) throw errno_error("fsync " + path);
  fd.close(path);
}

void remove_tree(const std::string &path) {
  std::error_code ec;
  std::filesystem::remove_all(path, ec);
  if (ec) throw std::system_error(ec, "remove " + path);
}

std::vector<std::string> files_under(const std::string &path) {
  namespace fs = std::filesystem;
  std::vector<std::string> files;
  if (fs::is_regular_file(path)) {
    files.push_back(path);
  } else if (fs::is_directory(path)) {
    for (const auto &entry : fs::recursive_directory_iterator(path))
      if (entry.is_regular_file()) files.push_back(entry.path().string());
  }
  std::sort(files.begin(), files.end());
  return files;
}

const char *to_string(CacheMode mode) noexcept {
  switch (mode) {
  case CacheMode::Warm: return "warm";
  case CacheMode::Fadvise: return "cold (posix_fadvise DONTNEED)";
  case CacheMode::DropCaches: return "cold (drop_caches)";
  }
  return "?";
}

bool can_drop_caches() { return ::access("/proc/sys/vm/drop_caches", W_OK) == 0; }

CacheMode parse_cache_mode(const std::string &text) {
  if (text == "auto") return can_drop_caches() ? CacheMode::DropCaches : CacheMode::Fadvise;
  if (text == "drop") return CacheMode::DropCaches;
  if (text == "fadvise") return CacheMode::Fadvise;
  if (text == "warm") return CacheMode::Warm;
  throw std::invalid_argument("--cache must be auto, drop, fadvise or warm, got '" + text + "'");
}

namespace {

void read_whole(const std::string &path) {
  Fd fd(path, O_RDONLY);
  std::vector<char> buffer(std::size_t(1) << 20);
  for (;;) {
    const ssize_t n = ::read(fd.get(), buffer.data(), buffer.size());
    if (n == 0) break;
    if (n < 0) {
      if (errno == EINTR) continue;
      throw errno_error("read " + path);
    }
  }
}

void evict(const std::string &path) {
  Fd fd(path, O_RDONLY);
  // Dirty pages cannot be dropped: write them back first.
  if (::fdatasync(fd.get()) != 0) throw errno_error("fdatasync " + path);
  const int rc = ::posix_fadvise(fd.get(), 0, 0, POSIX_FADV_DONTNEED);
  if (rc != 0) throw std::system_error(rc, std::generic_category(), "posix_fadvise " + path);
}

void drop_caches() {
  ::sync();
  std::ofstream out("/proc/sys/vm/drop_caches");
  out << "3\n";
  out.flush();
  if (!out)
    throw std::runtime_error("cannot write /proc/sys/vm/drop_caches (not root?): use --cache "
                             "fadvise");
}

} // namespace

void prepare_cache(MPI_Comm comm, CacheMode mode, const std::vector<std::string> &paths) {
  const NodeComm node(comm);
  if (node.leader()) {
    std::vector<std::string> files;
    for (const auto &p : paths)
      for (auto &f : files_under(p))
        files.push_back(std::move(f));
    switch (mode) {
    case CacheMode::Warm:
      for (const auto &f : files)
        read_whole(f);
      break;
    case CacheMode::Fadvise:
      for (const auto &f : files)
        evict(f);
      break;
    case CacheMode::DropCaches: drop_caches(); break;
    }
  }
  check_mpi(MPI_Barrier(comm), "MPI_Barrier");
}

double resident_fraction(const std::vector<std::string> &paths) {
  const auto page = static_cast<std::uint64_t>(::sysconf(_SC_PAGESIZE));
  std::uint64_t pages = 0;
  std::uint64_t resident = 0;
  for (const auto &p : paths) {
    for (const auto &f : files_under(p)) {
      const int fd = ::open(f.c_str(), O_RDONLY);
      if (fd < 0) return -1.0;
      struct stat st {};
      if (::fstat(fd, &st) != 0 || st.st_size == 0) {
        ::close(fd);
        continue;
      }
      const auto size = static_cast<std::size_t>(st.st_size);
      void *map = ::mmap(nullptr, size, PROT_READ, MAP_SHARED, fd, 0);
      ::close(fd);
      if (map == MAP_FAILED) return -1.0;
      std::vector<unsigned char> flags((size + page - 1) / page);
      const int rc = ::mincore(map, size, flags.data());
      ::munmap(map, size);
      if (rc != 0) return -1.0;
      pages += flags.size();
      for (const unsigned char flag : flags)
        resident += flag & 1U;
    }
  }
  return pages == 0 ? 0.0 : static_cast<double>(resident) / static_cast<double>(pages);
}

} // namespace ckpt::bench
