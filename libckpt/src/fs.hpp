// POSIX file-system helpers; every failure throws IoError naming the path.
#ifndef CKPT_DETAIL_FS_HPP
#define CKPT_DETAIL_FS_HPP

#include <cstdint>
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
std::vector<std::string> list_directory(const std::string &dir);
std::string read_file(const std::string &path);
/// Writes `content` to `path` atomically: temporary file, fsync, rename,
/// fsync of the directory (the fsyncs only when `durable`).
void write_file_atomic(const std::string &path, const std::string &content, bool durable);
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

} // namespace ckpt::detail

#endif
