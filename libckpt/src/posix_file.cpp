#include "posix_file.hpp"

#include "error.hpp"
#include "fs.hpp"

#include <algorithm>
#include <cerrno>
#include <climits>
#include <fcntl.h>
#include <chrono>
#include <cstdlib>
#include <map>
#include <mutex>
#include <vector>
#include <linux/magic.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <unistd.h>

namespace ckpt::detail {

void write_all(int fd, std::vector<struct iovec> iov, std::uint64_t offset,
               const std::string &path) {
  std::size_t first = 0;
  while (first < iov.size()) {
    const int n = static_cast<int>(std::min<std::size_t>(iov.size() - first, IOV_MAX));
    const ssize_t done = ::pwritev(fd, iov.data() + first, n, static_cast<off_t>(offset));
    if (done < 0) {
      if (errno == EINTR) continue;
      throw_errno(errno, "cannot write " + path);
    }
    offset += static_cast<std::uint64_t>(done);
    auto left = static_cast<std::size_t>(done);
    while (first < iov.size() && left >= iov[first].iov_len)
      left -= iov[first++].iov_len;
    if (first < iov.size()) {
      iov[first].iov_base = static_cast<char *>(iov[first].iov_base) + left;
      iov[first].iov_len -= left;
    }
  }
}

ReadOnlyFile::ReadOnlyFile(const std::string &path) : m_path(path) {
  struct stat st {};
  m_fd = open_regular_readonly(path, st);
  m_size = static_cast<std::uint64_t>(st.st_size);
  m_device = static_cast<std::uint64_t>(st.st_dev);
}

ReadOnlyFile::ReadOnlyFile(ReadOnlyFile &&other) noexcept
    : m_path(std::move(other.m_path)), m_fd(other.m_fd), m_size(other.m_size),
      m_device(other.m_device) {
  other.m_fd = -1;
}

ReadOnlyFile &ReadOnlyFile::operator=(ReadOnlyFile &&other) noexcept {
  if (this != &other) {
    reset();
    m_path = std::move(other.m_path);
    m_fd = other.m_fd;
    m_size = other.m_size;
    m_device = other.m_device;
    other.m_fd = -1;
  }
  return *this;
}

void ReadOnlyFile::reset() noexcept {
  if (m_fd >= 0) ::close(m_fd);
  m_fd = -1;
}

void ReadOnlyFile::read_exact(std::uint64_t offset, struct iovec *iov, int iovcnt) const {
  while (iovcnt > 0) {
    const ssize_t n = ::preadv(m_fd, iov, std::min(iovcnt, IOV_MAX), static_cast<off_t>(offset));
    if (n < 0) {
      if (errno == EINTR) continue;
      throw_errno(errno, "cannot read " + m_path + " at byte " + std::to_string(offset));
    }
    if (n == 0)
      throw IoError(CKPT_ERR_CORRUPT, m_path + " ends at byte " + std::to_string(offset) +
                                          ", before the data it should hold");
    offset += static_cast<std::uint64_t>(n);
    auto left = static_cast<std::size_t>(n);
    while (iovcnt > 0 && left >= iov->iov_len) {
      left -= iov->iov_len;
      ++iov;
      --iovcnt;
    }
    if (iovcnt > 0) {
      iov->iov_base = static_cast<char *>(iov->iov_base) + left;
      iov->iov_len -= left;
    }
  }
}

void ReadOnlyFile::advise_random() const noexcept {
  ::posix_fadvise(m_fd, 0, 0, POSIX_FADV_RANDOM);
}

void ReadOnlyFile::prefetch(std::uint64_t offset, std::uint64_t bytes) const noexcept {
  ::posix_fadvise(m_fd, static_cast<off_t>(offset), static_cast<off_t>(bytes), POSIX_FADV_WILLNEED);
}

namespace {

/// Median time of a few uncached 4 KiB reads at offsets spread over `file`
/// (O_DIRECT, so the page cache does not answer), in seconds; negative when
/// the file system does not allow direct reads (tmpfs) or the file is small.
double direct_read_latency(const ReadOnlyFile &file) noexcept {
  constexpr std::uint64_t k_page = 4096;
  constexpr int k_samples = 7;
  if (file.size() < 64 * k_page) return -1;
  const int fd = ::open(("/proc/self/fd/" + std::to_string(file.fd())).c_str(),
                        O_RDONLY | O_DIRECT | O_CLOEXEC);
  if (fd < 0) return -1;
  void *buffer = nullptr;
  if (::posix_memalign(&buffer, k_page, k_page) != 0) {
    ::close(fd);
    return -1;
  }
  std::vector<double> samples;
  const std::uint64_t pages = file.size() / k_page;
  for (int i = 0; i < k_samples; ++i) {
    // Far apart, and never in the same order as a sequential pass.
    const std::uint64_t page = (pages - 1) * static_cast<std::uint64_t>((i * 5) % k_samples) /
                               static_cast<std::uint64_t>(k_samples - 1);
    const auto t0 = std::chrono::steady_clock::now();
    if (::pread(fd, buffer, k_page, static_cast<off_t>(page * k_page)) < 0) break;
    samples.push_back(std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count());
  }
  std::free(buffer);
  ::close(fd);
  if (samples.size() < static_cast<std::size_t>(k_samples)) return -1;
  std::sort(samples.begin(), samples.end());
  return samples[samples.size() / 2];
}

} // namespace

std::uint64_t device_bridge_bytes(const ReadOnlyFile &file) noexcept {
  // A gap is worth reading only when reading it takes less time than the
  // request that skipping it adds. With the reader's prefetch keeping many
  // requests in flight, a request costs little on flash, in memory and on
  // parallel file systems; it costs a seek (milliseconds) on a spinning
  // disk. The request's cost is measured on the device itself, once per
  // device, and turned into bytes at a spinning disk's streaming rate.
  constexpr double k_stream_bytes_per_second = 200e6;
  constexpr double k_seek_seconds = 1e-3; // below this, no seek worth avoiding
  constexpr std::uint64_t k_max_bridge = 4u << 20;
  static std::mutex mutex;
  static std::map<std::uint64_t, std::uint64_t> by_device;
  std::lock_guard<std::mutex> lock(mutex);
  const auto known = by_device.find(file.device());
  if (known != by_device.end()) return known->second;
  std::uint64_t bridge = 0;
  struct statfs fs {};
  const bool in_memory =
      ::fstatfs(file.fd(), &fs) == 0 && (fs.f_type == TMPFS_MAGIC || fs.f_type == RAMFS_MAGIC);
  if (!in_memory) {
    const double latency = direct_read_latency(file);
    // (Not measurable, latency < 0: skipping is never much worse with prefetch.)
    if (latency >= k_seek_seconds)
      bridge =
          std::min(k_max_bridge, static_cast<std::uint64_t>(latency * k_stream_bytes_per_second));
  }
  by_device[file.device()] = bridge;
  return bridge;
}

} // namespace ckpt::detail
