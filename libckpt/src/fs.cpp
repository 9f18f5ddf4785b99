#include "fs.hpp"

#include "error.hpp"

#include <cerrno>
#include <climits>
#include <cstring>
#include <ctime>
#include <dirent.h>
#include <fcntl.h>
#include <random>
#include <sys/file.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <unistd.h>

#include <memory>

namespace ckpt::detail {
namespace {

class Fd {
public:
  explicit Fd(int fd) noexcept : m_fd(fd) {}
  ~Fd() {
    if (m_fd >= 0) ::close(m_fd);
  }
  Fd(const Fd &) = delete;
  Fd &operator=(const Fd &) = delete;
  Fd(Fd &&other) noexcept : m_fd(other.m_fd) { other.m_fd = -1; }
  Fd &operator=(Fd &&) = delete;
  [[nodiscard]] int release() noexcept {
    const int fd = m_fd;
    m_fd = -1;
    return fd;
  }
  [[nodiscard]] int get() const noexcept { return m_fd; }
  /// Closes now, reporting errors (close can report a deferred write error).
  void close(const std::string &path) {
    const int fd = m_fd;
    m_fd = -1;
    if (::close(fd) != 0) throw_errno(errno, "cannot close " + path);
  }

private:
  int m_fd;
};

void write_all(int fd, const char *data, std::size_t size, const std::string &path) {
  while (size > 0) {
    const ssize_t n = ::write(fd, data, size);
    if (n < 0) {
      if (errno == EINTR) continue;
      throw_errno(errno, "cannot write " + path);
    }
    data += n;
    size -= static_cast<std::size_t>(n);
  }
}

const char *file_kind(mode_t mode) noexcept {
  if (S_ISREG(mode)) return "regular file";
  if (S_ISLNK(mode)) return "symbolic link";
  if (S_ISDIR(mode)) return "directory";
  if (S_ISFIFO(mode)) return "FIFO";
  if (S_ISSOCK(mode)) return "socket";
  if (S_ISCHR(mode)) return "character device";
  if (S_ISBLK(mode)) return "block device";
  return "special file";
}

[[noreturn]] void throw_not_regular(const std::string &path, mode_t mode) {
  throw IoError(CKPT_ERR_IO, path + " is a " + file_kind(mode) + ", not a regular file");
}

Fd open_regular_for_reading(const std::string &path, std::uint64_t &size) {
  struct stat st {};
  Fd fd(open_regular_readonly(path, st));
  size = static_cast<std::uint64_t>(st.st_size);
  return fd;
}

/// read(2) that retries on EINTR; returns 0 at the end of the file.
std::size_t read_some(int fd, char *buf, std::size_t size, const std::string &path) {
  for (;;) {
    const ssize_t n = ::read(fd, buf, size);
    if (n >= 0) return static_cast<std::size_t>(n);
    if (errno != EINTR) throw_errno(errno, "cannot read " + path);
  }
}

std::string parent_directory(const std::string &path) {
  const auto slash = path.rfind('/');
  return slash == std::string::npos ? "." : path.substr(0, slash == 0 ? 1 : slash);
}

/// Six random characters for a temporary file name (the name only needs to
/// be unlikely to collide: O_EXCL makes creation safe).
std::string random_suffix() {
  static const char k_chars[] = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789";
  thread_local std::mt19937_64 engine(std::random_device{}() ^
                                      (static_cast<std::uint64_t>(::getpid()) << 32) ^
                                      static_cast<std::uint64_t>(std::time(nullptr)));
  std::uniform_int_distribution<std::size_t> pick(0, sizeof k_chars - 2);
  std::string out(6, 'x');
  for (char &c : out)
    c = k_chars[pick(engine)];
  return out;
}

/// Creates a new file `<base>XXXXXX` exclusively (O_CREAT | O_EXCL |
/// O_NOFOLLOW): an existing file or symbolic link of that name is never
/// opened. Returns the descriptor; `name` receives the path created.
Fd create_unique(const std::string &base, std::string &name) {
  for (int attempt = 0; attempt < 100; ++attempt) {
    name = base + random_suffix();
    Fd fd(::open(name.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0644));
    if (fd.get() >= 0) return fd;
    if (errno != EEXIST) throw_errno(errno, "cannot create " + name);
  }
  throw IoError(CKPT_ERR_IO,
                "cannot create a new file " + base + "XXXXXX: every name tried exists");
}

} // namespace

int open_regular_readonly(const std::string &path, struct stat &st) {
  Fd fd(::open(path.c_str(), O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC | O_NOCTTY));
  if (fd.get() < 0) {
    const int err = errno;
    if (err == ELOOP && ::lstat(path.c_str(), &st) == 0) throw_not_regular(path, st.st_mode);
    throw_errno(err, "cannot open " + path);
  }
  if (::fstat(fd.get(), &st) != 0) throw_errno(errno, "cannot stat " + path);
  if (!S_ISREG(st.st_mode)) throw_not_regular(path, st.st_mode);
  // Regular files never block; reads should not see O_NONBLOCK's EAGAIN.
  const int flags = ::fcntl(fd.get(), F_GETFL);
  if (flags >= 0) ::fcntl(fd.get(), F_SETFL, flags & ~O_NONBLOCK);
  return fd.release();
}

std::string join_path(const std::string &dir, const std::string &name) {
  if (dir.empty()) return name;
  return dir.back() == '/' ? dir + name : dir + "/" + name;
}

bool path_exists(const std::string &path) noexcept {
  struct stat st {};
  return ::stat(path.c_str(), &st) == 0;
}

bool is_directory(const std::string &path) noexcept {
  struct stat st {};
  return ::stat(path.c_str(), &st) == 0 && S_ISDIR(st.st_mode);
}

std::uint64_t file_size(const std::string &path) {
  struct stat st {};
  if (::stat(path.c_str(), &st) != 0) throw_errno(errno, "cannot stat " + path);
  return static_cast<std::uint64_t>(st.st_size);
}

void make_directories(const std::string &path) {
  if (path.empty()) throw IoError(CKPT_ERR_IO, "empty checkpoint directory name");
  std::string partial;
  std::size_t pos = 0;
  while (pos != std::string::npos) {
    pos = path.find('/', pos + 1);
    partial = path.substr(0, pos);
    if (partial.empty() || is_directory(partial)) continue;
    if (::mkdir(partial.c_str(), 0777) != 0 && errno != EEXIST)
      throw_errno(errno, "cannot create checkpoint directory " + partial);
  }
  if (!is_directory(path)) throw IoError(CKPT_ERR_IO, path + " exists but is not a directory");
}

void check_writable_directory(const std::string &dir) {
  std::string why;
  if (!directory_is_writable(dir, why))
    throw IoError(CKPT_ERR_IO, "checkpoint directory " + dir + " is not writable: " + why);
}

bool directory_is_writable(const std::string &dir, std::string &why) {
  const std::string probe =
      join_path(dir, ".ckpt-probe-" + std::to_string(::getpid()) + "-" + random_suffix());
  // O_EXCL | O_NOFOLLOW: an existing file or symbolic link is never opened.
  const int fd = ::open(probe.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
  if (fd < 0) {
    const int err = errno;
    if (err == EACCES || err == EPERM || err == EROFS) {
      why = std::strerror(err);
      return false;
    }
    throw_errno(err, "checkpoint directory " + dir + " is not writable (creating " + probe + ")");
  }
  ::close(fd);
  ::unlink(probe.c_str());
  return true;
}

std::string shared_directory_warning(const std::string &dir) {
  struct stat st {};
  if (::stat(dir.c_str(), &st) != 0) return {};
  if (st.st_uid != ::geteuid())
    return "checkpoint directory " + dir + " is owned by user id " + std::to_string(st.st_uid) +
           ", not by this user (" + std::to_string(::geteuid()) +
           "): its owner can replace checkpoint files";
  if ((st.st_mode & (S_IWGRP | S_IWOTH)) != 0 && (st.st_mode & S_ISVTX) == 0) {
    char mode[8];
    std::snprintf(mode, sizeof mode, "%04o", static_cast<unsigned>(st.st_mode & 07777));
    return "checkpoint directory " + dir + " (mode " + mode +
           ") is writable by other users without the sticky bit: they can replace checkpoint "
           "files; chmod go-w it";
  }
  return {};
}

std::vector<std::string> list_directory(const std::string &dir) {
  std::unique_ptr<DIR, int (*)(DIR *)> d(::opendir(dir.c_str()), ::closedir);
  if (!d) throw_errno(errno, "cannot read checkpoint directory " + dir);
  std::vector<std::string> names;
  while (const dirent *e = ::readdir(d.get())) {
    std::string name = e->d_name;
    if (name != "." && name != "..") names.push_back(std::move(name));
  }
  return names;
}

std::string read_file(const std::string &path, std::uint64_t max_bytes) {
  std::uint64_t size = 0;
  Fd fd = open_regular_for_reading(path, size);
  if (size > max_bytes)
    throw IoError(CKPT_ERR_IO, path + " has " + std::to_string(size) + " bytes, more than the " +
                                   std::to_string(max_bytes) + " such a file may have");
  std::string content;
  content.reserve(static_cast<std::size_t>(size));
  char buf[8192];
  // The file may grow while it is read: the bound holds for what is read too.
  while (const std::size_t n = read_some(fd.get(), buf, sizeof buf, path)) {
    if (content.size() + n > max_bytes)
      throw IoError(CKPT_ERR_IO, path + " grew beyond the " + std::to_string(max_bytes) +
                                     " bytes such a file may have while it was read");
    content.append(buf, n);
  }
  return content;
}

void read_lines(const std::string &path, std::size_t max_line,
                const std::function<void(std::size_t, const std::string &)> &line,
                const std::function<void(std::size_t)> &too_long) {
  std::uint64_t size = 0;
  Fd fd = open_regular_for_reading(path, size);
  std::string current;
  bool overflow = false;
  std::size_t number = 1;
  char buf[8192];
  while (const std::size_t n = read_some(fd.get(), buf, sizeof buf, path)) {
    for (std::size_t i = 0; i < n; ++i) {
      if (buf[i] == '\n') {
        if (overflow)
          too_long(number);
        else
          line(number, current);
        current.clear();
        overflow = false;
        ++number;
      } else if (!overflow) {
        if (current.size() >= max_line) {
          overflow = true;
          current.clear();
          current.shrink_to_fit();
        } else {
          current.push_back(buf[i]);
        }
      }
    }
  }
  if (overflow)
    too_long(number);
  else if (!current.empty())
    line(number, current);
}

void require_regular_file(const std::string &path) {
  struct stat st {};
  if (::lstat(path.c_str(), &st) != 0) throw_errno(errno, "cannot stat " + path);
  if (!S_ISREG(st.st_mode)) throw_not_regular(path, st.st_mode);
}

void fsync_file(const std::string &path) {
  Fd fd(::open(path.c_str(), O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC));
  if (fd.get() < 0) throw_errno(errno, "cannot open " + path + " to sync it");
  if (::fsync(fd.get()) != 0) throw_errno(errno, "cannot fsync " + path);
  fd.close(path);
}

void fsync_directory(const std::string &dir) {
  Fd fd(::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
  if (fd.get() < 0) throw_errno(errno, "cannot open directory " + dir + " to sync it");
  if (::fsync(fd.get()) != 0 && errno != EINVAL)
    throw_errno(errno, "cannot fsync directory " + dir);
  fd.close(dir);
}

void write_file_atomic(const std::string &path, const std::string &content, bool durable) {
  write_file_atomic(path, std::vector<ConstBytes>{{content.data(), content.size()}}, durable);
}

void write_file_atomic(const std::string &path, const std::vector<ConstBytes> &pieces,
                       bool durable) {
  std::string tmp;
  try {
    Fd fd = create_unique(path + ".tmp.", tmp);
    for (const ConstBytes &p : pieces)
      write_all(fd.get(), static_cast<const char *>(p.data), p.size, tmp);
    if (durable && ::fsync(fd.get()) != 0) throw_errno(errno, "cannot fsync " + tmp);
    fd.close(tmp);
    // rename replaces whatever has the name `path`, a symbolic link itself
    // included, and never writes through it.
    if (::rename(tmp.c_str(), path.c_str()) != 0)
      throw_errno(errno, "cannot rename " + tmp + " to " + path);
  } catch (...) {
    if (!tmp.empty()) ::unlink(tmp.c_str());
    throw;
  }
  if (durable) fsync_directory(parent_directory(path));
}

void append_to_file(const std::string &path, const std::string &text) {
  Fd fd(::open(path.c_str(),
               O_WRONLY | O_APPEND | O_CREAT | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC | O_NOCTTY,
               0644));
  if (fd.get() < 0) {
    const int err = errno;
    struct stat st {};
    if (err == ELOOP && ::lstat(path.c_str(), &st) == 0) throw_not_regular(path, st.st_mode);
    throw_errno(err, "cannot open " + path + " to append to it");
  }
  struct stat st {};
  if (::fstat(fd.get(), &st) != 0) throw_errno(errno, "cannot stat " + path);
  if (!S_ISREG(st.st_mode)) throw_not_regular(path, st.st_mode);
  write_all(fd.get(), text.data(), text.size(), path);
  fd.close(path);
}

bool reserve_file_space(const std::string &path, std::uint64_t size) {
  if (size == 0) return true;
  Fd fd(::open(path.c_str(), O_WRONLY | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC));
  if (fd.get() < 0) throw_errno(errno, "cannot open " + path + " to reserve its space");
  bool reserved = true;
  if (::fallocate(fd.get(), 0, 0, static_cast<off_t>(size)) != 0) {
    if (errno != EOPNOTSUPP && errno != ENOSYS)
      throw_errno(errno, "cannot reserve " + std::to_string(size) + " bytes for " + path);
    reserved = false;
  }
  fd.close(path);
  return reserved;
}

void drop_cached_pages(const std::string &path) noexcept {
  const int fd = ::open(path.c_str(), O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC);
  if (fd < 0) return;
  ::posix_fadvise(fd, 0, 0, POSIX_FADV_DONTNEED);
  ::close(fd);
}

std::uint64_t available_bytes(const std::string &path) {
  struct statvfs st {};
  if (::statvfs(path.c_str(), &st) != 0) throw_errno(errno, "cannot statvfs " + path);
  return static_cast<std::uint64_t>(st.f_bavail) * st.f_frsize;
}

bool remove_file(const std::string &path) {
  if (::unlink(path.c_str()) == 0) return true;
  if (errno == ENOENT) return false;
  throw_errno(errno, "cannot remove " + path);
}

// ---------------------------------------------------------------------------

std::string lock_file_name(const std::string &prefix) { return prefix + ".lock"; }

DirectoryLock DirectoryLock::acquire(const std::string &dir, const std::string &prefix,
                                     const std::string &purpose) {
  DirectoryLock lock;
  lock.m_path = join_path(dir, lock_file_name(prefix));
  const std::string &path = lock.m_path;
  Fd fd(::open(path.c_str(), O_RDWR | O_CREAT | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC | O_NOCTTY,
               0644));
  if (fd.get() < 0) {
    const int err = errno;
    struct stat st {};
    if (err == ELOOP && ::lstat(path.c_str(), &st) == 0) throw_not_regular(path, st.st_mode);
    throw_errno(err, "cannot open the lock file " + path + " of checkpoint directory " + dir);
  }
  struct stat st {};
  if (::fstat(fd.get(), &st) != 0) throw_errno(errno, "cannot stat " + path);
  if (!S_ISREG(st.st_mode)) throw_not_regular(path, st.st_mode);
  while (::flock(fd.get(), LOCK_EX | LOCK_NB) != 0) {
    const int err = errno;
    if (err == EINTR) continue;
    if (err == EWOULDBLOCK) {
      std::string holder;
      char buf[256];
      const ssize_t n = ::pread(fd.get(), buf, sizeof buf - 1, 0);
      if (n > 0) {
        holder.assign(buf, static_cast<std::size_t>(n));
        while (!holder.empty() && (holder.back() == '\n' || holder.back() == '\0'))
          holder.pop_back();
        for (char &c : holder)
          if (static_cast<unsigned char>(c) < 0x20 || c == 0x7f) c = ' ';
      }
      throw IoError(CKPT_ERR_IO, "checkpoint directory " + dir +
                                     " is in use by another job (lock " + path + " held" +
                                     (holder.empty() ? std::string() : " by " + holder) +
                                     "): two jobs must not write checkpoints of prefix '" + prefix +
                                     "' into one directory");
    }
    if (err == ENOSYS || err == EOPNOTSUPP || err == ENOLCK) {
      lock.m_unsupported = "the file system of " + dir + " does not support locks (" +
                           std::strerror(err) + "): a second job on " + dir +
                           " would not be detected";
      return lock;
    }
    throw_errno(err, "cannot lock " + path);
  }
  char host[HOST_NAME_MAX + 1] = {};
  if (::gethostname(host, sizeof host - 1) != 0) std::strcpy(host, "?");
  const std::string who = "pid " + std::to_string(::getpid()) + " on host " + host + " (" +
                          purpose + ") since " +
                          std::to_string(static_cast<long long>(std::time(nullptr))) + "\n";
  // Best effort: the lock is what matters, the text only explains it.
  if (::ftruncate(fd.get(), 0) == 0) {
    const ssize_t n = ::pwrite(fd.get(), who.data(), who.size(), 0);
    (void)n;
  }
  lock.m_fd = fd.release();
  return lock;
}

DirectoryLock::~DirectoryLock() { release(); }

DirectoryLock::DirectoryLock(DirectoryLock &&other) noexcept
    : m_fd(other.m_fd), m_path(std::move(other.m_path)),
      m_unsupported(std::move(other.m_unsupported)) {
  other.m_fd = -1;
}

DirectoryLock &DirectoryLock::operator=(DirectoryLock &&other) noexcept {
  if (this != &other) {
    release();
    m_fd = other.m_fd;
    other.m_fd = -1;
    m_path = std::move(other.m_path);
    m_unsupported = std::move(other.m_unsupported);
  }
  return *this;
}

void DirectoryLock::release() noexcept {
  if (m_fd < 0) return;
  // Cleared while still locked (nobody else can hold it now): the text only
  // ever describes a live holder, or one that died holding the lock.
  if (::ftruncate(m_fd, 0) != 0) {
  }
  ::close(m_fd);
  m_fd = -1;
}

} // namespace ckpt::detail
