#include "fs.hpp"

#include "error.hpp"

#include <cerrno>
#include <dirent.h>
#include <fcntl.h>
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

} // namespace

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
  const std::string probe = join_path(dir, ".ckpt-probe-" + std::to_string(::getpid()));
  Fd fd(::open(probe.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644));
  if (fd.get() < 0) throw_errno(errno, "checkpoint directory " + dir + " is not writable");
  fd.close(probe);
  ::unlink(probe.c_str());
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

std::string read_file(const std::string &path) {
  Fd fd(::open(path.c_str(), O_RDONLY | O_CLOEXEC));
  if (fd.get() < 0) throw_errno(errno, "cannot open " + path);
  std::string content;
  char buf[8192];
  for (;;) {
    const ssize_t n = ::read(fd.get(), buf, sizeof buf);
    if (n < 0) {
      if (errno == EINTR) continue;
      throw_errno(errno, "cannot read " + path);
    }
    if (n == 0) break;
    content.append(buf, static_cast<std::size_t>(n));
  }
  return content;
}

void fsync_file(const std::string &path) {
  Fd fd(::open(path.c_str(), O_RDONLY | O_CLOEXEC));
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
  const std::string tmp = path + ".tmp";
  try {
    Fd fd(::open(tmp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644));
    if (fd.get() < 0) throw_errno(errno, "cannot create " + tmp);
    write_all(fd.get(), content.data(), content.size(), tmp);
    if (durable && ::fsync(fd.get()) != 0) throw_errno(errno, "cannot fsync " + tmp);
    fd.close(tmp);
    if (::rename(tmp.c_str(), path.c_str()) != 0)
      throw_errno(errno, "cannot rename " + tmp + " to " + path);
  } catch (...) {
    ::unlink(tmp.c_str());
    throw;
  }
  if (durable) {
    const auto slash = path.rfind('/');
    fsync_directory(slash == std::string::npos ? "." : path.substr(0, slash == 0 ? 1 : slash));
  }
}

bool reserve_file_space(const std::string &path, std::uint64_t size) {
  if (size == 0) return true;
  Fd fd(::open(path.c_str(), O_WRONLY | O_CLOEXEC));
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
  const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
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

} // namespace ckpt::detail
