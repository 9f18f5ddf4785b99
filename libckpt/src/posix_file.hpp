// Read-only POSIX files that are what they claim to be: opened without
// following a symbolic link and without blocking on a FIFO, and checked to be
// regular files. Used for every byte restart reads directly.
#ifndef CKPT_DETAIL_POSIX_FILE_HPP
#define CKPT_DETAIL_POSIX_FILE_HPP

#include <cstdint>
#include <string>
#include <vector>
#include <sys/uio.h>

namespace ckpt::detail {

/// An open, read-only, regular file. Move-only; closes itself.
/// Writes all of `iov` at `offset` of `fd` (pwritev, resumed after short
/// writes and EINTR, IOV_MAX vectors at a time). Throws IoError naming `path`
/// (CKPT_ERR_NO_SPACE for ENOSPC).
void write_all(int fd, std::vector<struct iovec> iov, std::uint64_t offset,
               const std::string &path);

class ReadOnlyFile {
public:
  ReadOnlyFile() noexcept = default;
  /// Throws IoError naming `path` when it cannot be opened, is a symbolic
  /// link, or is not a regular file.
  explicit ReadOnlyFile(const std::string &path);
  ~ReadOnlyFile() { reset(); }
  ReadOnlyFile(ReadOnlyFile &&other) noexcept;
  ReadOnlyFile &operator=(ReadOnlyFile &&other) noexcept;
  ReadOnlyFile(const ReadOnlyFile &) = delete;
  ReadOnlyFile &operator=(const ReadOnlyFile &) = delete;

  [[nodiscard]] const std::string &path() const noexcept { return m_path; }
  [[nodiscard]] std::uint64_t size() const noexcept { return m_size; }
  [[nodiscard]] std::uint64_t device() const noexcept { return m_device; }
  [[nodiscard]] int fd() const noexcept { return m_fd; }
  /// Reads exactly the bytes of `iov` from `offset` on (retrying short reads);
  /// throws IoError naming the file at end of file or on error.
  void read_exact(std::uint64_t offset, struct iovec *iov, int iovcnt) const;
  /// Tells the kernel not to read ahead on its own: the reader says exactly
  /// which ranges it needs (prefetch), so bytes it skips are not read.
  void advise_random() const noexcept;
  /// Starts reading [offset, offset + bytes) into the page cache without
  /// waiting for it (POSIX_FADV_WILLNEED).
  void prefetch(std::uint64_t offset, std::uint64_t bytes) const noexcept;
  void reset() noexcept;

private:
  std::string m_path;
  int m_fd = -1;
  std::uint64_t m_size = 0;
  std::uint64_t m_device = 0;
};

/// How many superseded bytes between two wanted ranges of a file are worth
/// reading rather than skipping, for the device that holds `file`: 0 in
/// memory (tmpfs) and wherever an uncached read costs less than a
/// millisecond (flash, virtual and parallel file systems, where the
/// reader's prefetch keeps many requests in flight); on a device where it
/// costs a seek, the bytes a disk streams in that time (capped at 4 MiB).
/// Measured once per device with a few direct (uncached) 4 KiB reads.
std::uint64_t device_bridge_bytes(const ReadOnlyFile &file) noexcept;

} // namespace ckpt::detail

#endif
