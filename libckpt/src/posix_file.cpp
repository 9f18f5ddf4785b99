#include "posix_file.hpp"

#include "error.hpp"

#include <algorithm>
#include <cerrno>
#include <climits>
#include <fcntl.h>
#include <fstream>
#include <linux/magic.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <sys/sysmacros.h>
#include <unistd.h>

namespace ckpt::detail {

ReadOnlyFile::ReadOnlyFile(const std::string &path) : m_path(path) {
  m_fd = ::open(path.c_str(), O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC);
  if (m_fd < 0) {
    const int err = errno;
    if (err == ELOOP) throw IoError(CKPT_ERR_IO, path + " is a symbolic link; not followed");
    throw_errno(err, "cannot open " + path);
  }
  struct stat st {};
  if (::fstat(m_fd, &st) != 0) {
    const int err = errno;
    reset();
    throw_errno(err, "cannot stat " + path);
  }
  if (!S_ISREG(st.st_mode)) {
    reset();
    throw IoError(CKPT_ERR_IO, path + " is not a regular file");
  }
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

void ReadOnlyFile::advise_sequential() const noexcept {
  ::posix_fadvise(m_fd, 0, 0, POSIX_FADV_SEQUENTIAL);
}

namespace {

std::uint64_t read_sys_number(const std::string &path, std::uint64_t fallback) noexcept {
  std::ifstream in(path);
  std::uint64_t v = 0;
  return (in >> v) ? v : fallback;
}

} // namespace

std::uint64_t device_bridge_bytes(const ReadOnlyFile &file) noexcept {
  constexpr std::uint64_t k_mib = 1u << 20;
  struct statfs fs {};
  if (::fstatfs(file.fd(), &fs) == 0) {
    if (fs.f_type == TMPFS_MAGIC || fs.f_type == RAMFS_MAGIC) return 0;
    if (fs.f_type == NFS_SUPER_MAGIC) return k_mib;
  }
  const auto dev = static_cast<dev_t>(file.device());
  if (major(dev) == 0) return k_mib; // no block device: network or parallel file system
  const std::string base =
      "/sys/dev/block/" + std::to_string(major(dev)) + ":" + std::to_string(minor(dev));
  // A partition has no queue of its own: its disk's is one level up.
  std::string queue = base + "/queue/";
  if (!std::ifstream(queue + "rotational")) queue = base + "/../queue/";
  const std::uint64_t rotational = read_sys_number(queue + "rotational", 0);
  const std::uint64_t read_ahead = read_sys_number(queue + "read_ahead_kb", 128) * 1024;
  return rotational ? std::max(read_ahead, k_mib) : read_ahead;
}

} // namespace ckpt::detail
