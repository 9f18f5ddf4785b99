// POSIX file-system helpers; every failure throws IoError naming the path.
#ifndef CKPT_DETAIL_FS_HPP
#define CKPT_DETAIL_FS_HPP

#include <cstdint>
#include <sys/stat.h>
#include <functional>
#include <string>
#include <vector>

namespace ckpt::detail {

std::string join_path(const std::string &dir, const std::string &name);
bool path_exists(const std::string &path) noexcept;
bool is_directory(const std::string &path) noexcept;
std::uint64_t file_size(const std::string &path);
/// mkdir -p.
void make_directories(const std::string &path);
/// Proves that files can be created in `dir` (creates and removes a probe).
void check_writable_directory(const std::string &dir);
/// False (with the reason in `why`) when files cannot be created in `dir`
/// because of its permissions or a read-only file system; throws IoError for
/// any other failure.
bool directory_is_writable(const std::string &dir, std::string &why);
/// Empty, or a warning when other users can create or replace files in `dir`
/// (group/other writable without the sticky bit, or owned by another user).
std::string shared_directory_warning(const std::string &dir);
std::vector<std::string> list_directory(const std::string &dir);

/// Bound of read_file() when the caller gives none.
constexpr std::uint64_t k_default_read_limit = std::uint64_t{1} << 20;
/// Reads a regular file of at most `max_bytes` bytes. The file is opened
/// without following a symbolic link and without blocking (a FIFO or device
/// is refused, not waited on); a larger file is refused before it is read.
/// Throws IoError naming the path.
std::string read_file(const std::string &path, std::uint64_t max_bytes = k_default_read_limit);
/// Reads a regular file (opened as by read_file) line by line, calling
/// `line(number, text)` for each line (1-based, without its newline) of at
/// most `max_line` bytes and `too_long(number)` for each longer one, which is
/// skipped without being kept in memory.
void read_lines(const std::string &path, std::size_t max_line,
                const std::function<void(std::size_t, const std::string &)> &line,
                const std::function<void(std::size_t)> &too_long);
/// Throws IoError unless `path` is a regular file itself (not a symbolic
/// link, FIFO, device, socket or directory). Call it before handing a path to
/// a library that opens it by name (H5Fopen).
void require_regular_file(const std::string &path);
/// Opens an existing regular file read-only: no symbolic link is followed, a
/// FIFO does not block the open, anything but a regular file is refused
/// (IoError naming the path and what it is). Returns the descriptor, which
/// the caller closes, and fills `st`.
int open_regular_readonly(const std::string &path, struct stat &st);
/// Writes `content` to `path` atomically: a new temporary file
/// `<path>.tmp.XXXXXX` (created exclusively, never through a symbolic link),
/// fsync, rename, fsync of the directory (the fsyncs only when `durable`).
void write_file_atomic(const std::string &path, const std::string &content, bool durable);
/// The same for content in pieces (written in order, without joining them).
struct ConstBytes {
  const void *data = nullptr;
  std::size_t size = 0;
};
void write_file_atomic(const std::string &path, const std::vector<ConstBytes> &pieces,
                       bool durable);
/// Appends `text` to `path` (created if missing) in one write, never through
/// a symbolic link; the file must be a regular file.
void append_to_file(const std::string &path, const std::string &text);
void fsync_file(const std::string &path);
void fsync_directory(const std::string &dir);
/// Reserves the blocks of bytes [0, size) of an existing file so that later
/// writes cannot fail for lack of space (fallocate; a no-op where the file
/// system cannot reserve: returns false then). Throws IoError
/// (CKPT_ERR_NO_SPACE) when the file system is full.
bool reserve_file_space(const std::string &path, std::uint64_t size);
/// Asks the kernel to drop the cached pages of a written and synced file
/// (checkpoint data is not read again by this job). Best effort.
void drop_cached_pages(const std::string &path) noexcept;
/// Bytes available to unprivileged writers on the file system of `path`.
std::uint64_t available_bytes(const std::string &path);
/// Removes a file; a missing file is not an error. Returns false if missing.
bool remove_file(const std::string &path);

/// An exclusive advisory lock on a checkpoint directory, held for the life of
/// the object: `<dir>/<prefix>.lock` (created if missing, never through a
/// symbolic link) locked with flock(LOCK_EX | LOCK_NB). The lock file holds
/// "pid <pid> host <host> since <unix time>" of the holder. Movable.
class DirectoryLock {
public:
  DirectoryLock() noexcept = default;
  /// Takes the lock. Throws IoError (CKPT_ERR_IO) naming the directory, and
  /// the holder when known, when another process holds it. On a file system
  /// without locks (flock: ENOSYS, EOPNOTSUPP, ENOLCK) returns an unlocked
  /// object whose `unsupported()` explains why.
  static DirectoryLock acquire(const std::string &dir, const std::string &prefix,
                               const std::string &purpose);
  ~DirectoryLock();
  DirectoryLock(DirectoryLock &&other) noexcept;
  DirectoryLock &operator=(DirectoryLock &&other) noexcept;
  DirectoryLock(const DirectoryLock &) = delete;
  DirectoryLock &operator=(const DirectoryLock &) = delete;

  [[nodiscard]] bool held() const noexcept { return m_fd >= 0; }
  [[nodiscard]] const std::string &path() const noexcept { return m_path; }
  /// Why no lock could be taken (empty when held or never acquired).
  [[nodiscard]] const std::string &unsupported() const noexcept { return m_unsupported; }
  /// Releases the lock now (closing the file); the file itself stays.
  void release() noexcept;

private:
  int m_fd = -1;
  std::string m_path;
  std::string m_unsupported;
};

std::string lock_file_name(const std::string &prefix); // "<prefix>.lock"

} // namespace ckpt::detail

#endif
