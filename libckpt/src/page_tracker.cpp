#include "page_tracker.hpp"

#include "block_hasher.hpp"
#include "log.hpp"

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cstdlib>
#include <cstring>
#include <fcntl.h>
#include <filesystem>
#include <fstream>
#include <linux/userfaultfd.h>
#include <sstream>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <unistd.h>

// Kernel ABI newer than some distributions' headers (Debian 12 ships 6.1):
// the values below are those of include/uapi/linux/{userfaultfd,fs}.h.
#ifndef UFFD_FEATURE_WP_UNPOPULATED
#define UFFD_FEATURE_WP_UNPOPULATED (1 << 13)
#endif
#ifndef UFFD_FEATURE_WP_ASYNC
#define UFFD_FEATURE_WP_ASYNC (1 << 15)
#endif
#ifndef UFFD_USER_MODE_ONLY
#define UFFD_USER_MODE_ONLY 1
#endif
#ifndef PAGEMAP_SCAN
#define CKPT_DEFINE_PAGEMAP_SCAN 1
#endif

namespace ckpt::detail {

namespace {

#ifdef CKPT_DEFINE_PAGEMAP_SCAN
constexpr unsigned long long k_page_is_written = 1ULL << 1;
constexpr unsigned long long k_scan_wp_matching = 1ULL << 0;
constexpr unsigned long long k_scan_check_wpasync = 1ULL << 1;
struct ScanRegion {
  std::uint64_t start, end, categories;
};
struct ScanArg {
  std::uint64_t size, flags, start, end, walk_end, vec, vec_len, max_pages, category_inverted,
      category_mask, category_anyof_mask, return_mask;
};
const unsigned long k_pagemap_scan = _IOWR('f', 16, ScanArg);
#else
constexpr unsigned long long k_page_is_written = PAGE_IS_WRITTEN;
constexpr unsigned long long k_scan_wp_matching = PM_SCAN_WP_MATCHING;
constexpr unsigned long long k_scan_check_wpasync = PM_SCAN_CHECK_WPASYNC;
using ScanRegion = struct page_region;
using ScanArg = struct pm_scan_arg;
const unsigned long k_pagemap_scan = PAGEMAP_SCAN;
#endif

std::uintptr_t page_size() noexcept {
  static const auto size = static_cast<std::uintptr_t>(::sysconf(_SC_PAGESIZE));
  return size;
}

std::string errno_text(const char *call, int err) {
  return std::string(call) + ": " + std::strerror(err);
}

/// A userfaultfd with asynchronous write-protection, or -1 and the reason.
int open_userfaultfd(std::string &why) {
  int fd = -1;
  // Unprivileged processes may only catch user-mode faults
  // (vm.unprivileged_userfaultfd = 0); asynchronous write-protection resolves
  // kernel-mode faults without the handler either way (support() checks it).
  for (int flags : {O_CLOEXEC | O_NONBLOCK, O_CLOEXEC | O_NONBLOCK | UFFD_USER_MODE_ONLY}) {
    fd = static_cast<int>(::syscall(SYS_userfaultfd, flags));
    if (fd >= 0) break;
  }
  if (fd < 0) {
    why = errno_text("userfaultfd", errno);
    return -1;
  }
  uffdio_api api{};
  api.api = UFFD_API;
  api.features = UFFD_FEATURE_WP_ASYNC | UFFD_FEATURE_WP_UNPOPULATED;
  if (::ioctl(fd, UFFDIO_API, &api) != 0) {
    why = errno_text("UFFDIO_API with WP_ASYNC (needs Linux >= 6.7)", errno);
    ::close(fd);
    return -1;
  }
  return fd;
}

bool uffd_register(int uffd, std::uintptr_t begin, std::uintptr_t end, std::string &why) {
  uffdio_register reg{};
  reg.range.start = begin;
  reg.range.len = end - begin;
  reg.mode = UFFDIO_REGISTER_MODE_WP;
  if (::ioctl(uffd, UFFDIO_REGISTER, &reg) != 0) {
    why = errno_text("UFFDIO_REGISTER", errno);
    return false;
  }
  uffdio_writeprotect wp{};
  wp.range = reg.range;
  wp.mode = UFFDIO_WRITEPROTECT_MODE_WP;
  if (::ioctl(uffd, UFFDIO_WRITEPROTECT, &wp) != 0) {
    why = errno_text("UFFDIO_WRITEPROTECT", errno);
    uffdio_range range = reg.range;
    (void)::ioctl(uffd, UFFDIO_UNREGISTER, &range);
    return false;
  }
  return true;
}

/// Written pages of [begin, end) as absolute address ranges; protects them
/// again. False with errno set when the scan failed (EPERM: a mapping in the
/// range is no longer registered).
bool scan_written(int pagemap, std::uintptr_t begin, std::uintptr_t end,
                  std::vector<ByteRange> &out) {
  ScanRegion vec[256];
  std::uintptr_t start = begin;
  while (start < end) {
    ScanArg arg{};
    arg.size = sizeof arg;
    arg.flags = k_scan_wp_matching | k_scan_check_wpasync;
    arg.start = start;
    arg.end = end;
    arg.vec = reinterpret_cast<std::uintptr_t>(vec);
    arg.vec_len = sizeof vec / sizeof vec[0];
    arg.category_mask = k_page_is_written;
    arg.return_mask = k_page_is_written;
    const int n = ::ioctl(pagemap, k_pagemap_scan, &arg);
    if (n < 0) return false;
    for (int i = 0; i < n; ++i)
      out.push_back(ByteRange{vec[i].start, vec[i].end});
    if (arg.walk_end <= start || arg.walk_end >= end) break;
    start = static_cast<std::uintptr_t>(arg.walk_end);
  }
  return true;
}

std::string read_self_maps() {
  std::ifstream in("/proc/self/maps");
  std::stringstream text;
  text << in.rdbuf();
  return text.str();
}

TrackerSupport probe_support() {
  TrackerSupport s;
  s.mechanism = "none";
  std::string why;
  const int uffd = open_userfaultfd(why);
  if (uffd < 0) {
    s.why_not = why;
    return s;
  }
  const int pagemap = ::open("/proc/self/pagemap", O_RDONLY | O_CLOEXEC);
  constexpr std::size_t pages = 256;
  const std::uintptr_t ps = page_size();
  void *mem =
      ::mmap(nullptr, pages * ps, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  int pipe_fds[2] = {-1, -1};
  const auto done = [&](const std::string &reason) {
    s.why_not = reason;
    s.available = reason.empty();
    if (s.available) s.mechanism = "uffd-wp-async";
    if (mem != MAP_FAILED) ::munmap(mem, pages * ps);
    for (int fd : {uffd, pagemap, pipe_fds[0], pipe_fds[1]})
      if (fd >= 0) ::close(fd);
    return s;
  };
  if (pagemap < 0) return done(errno_text("open /proc/self/pagemap", errno));
  if (mem == MAP_FAILED) return done(errno_text("mmap", errno));
  // Single pages, as a checkpointed array that is written sparsely ends up.
  (void)::madvise(mem, pages * ps, MADV_NOHUGEPAGE);
  auto *bytes = static_cast<unsigned char *>(mem);
  std::memset(bytes, 1, pages * ps);
  const auto begin = reinterpret_cast<std::uintptr_t>(mem);
  const std::uintptr_t end = begin + pages * ps;
  if (!uffd_register(uffd, begin, end, why)) return done(why);
  std::vector<ByteRange> written;
  if (!scan_written(pagemap, begin, end, written))
    return done(errno_text("PAGEMAP_SCAN (needs Linux >= 6.7)", errno));
  if (!written.empty()) return done("PAGEMAP_SCAN reports unwritten pages as written");

  using Clock = std::chrono::steady_clock;
  const auto t0 = Clock::now();
  for (std::size_t i = 0; i < pages; ++i)
    bytes[i * ps] = 2;
  const auto t1 = Clock::now();
  static volatile std::uint64_t sink = 0;
  for (int rep = 0; rep < 4; ++rep)
    sink = sink + hash_bytes(bytes, pages * ps);
  const auto t2 = Clock::now();
  s.fault_ns_per_page = std::chrono::duration<double, std::nano>(t1 - t0).count() / pages;
  s.hash_ns_per_page = std::chrono::duration<double, std::nano>(t2 - t1).count() / (4.0 * pages);
  if (!scan_written(pagemap, begin, end, written)) return done(errno_text("PAGEMAP_SCAN", errno));
  if (written.size() != 1 || written[0].begin != begin || written[0].end != end)
    return done("PAGEMAP_SCAN missed written pages");

  // A write by the kernel on our behalf must succeed and be seen.
  if (::pipe2(pipe_fds, O_CLOEXEC) != 0) return done(errno_text("pipe2", errno));
  const char msg[] = "kernel write";
  if (::write(pipe_fds[1], msg, sizeof msg) != static_cast<ssize_t>(sizeof msg))
    return done(errno_text("write", errno));
  written.clear();
  if (::read(pipe_fds[0], bytes + 5 * ps + 100, sizeof msg) != static_cast<ssize_t>(sizeof msg))
    return done(errno_text("read(2) into a write-protected page", errno));
  if (!scan_written(pagemap, begin, end, written)) return done(errno_text("PAGEMAP_SCAN", errno));
  if (written.size() != 1 || written[0].begin != begin + 5 * ps || written[0].end != begin + 6 * ps)
    return done("a write by read(2) was not reported");
  return done("");
}

} // namespace

std::string devices_writing_unseen(const std::string &root) {
  std::string found;
  const auto note = [&](const std::string &what) { found += (found.empty() ? "" : ", ") + what; };
  std::error_code ec;
  for (const char *dir : {"sys/class/infiniband", "dev/infiniband"})
    if (std::filesystem::is_directory(root + dir, ec) && !std::filesystem::is_empty(root + dir, ec))
      note(std::string("RDMA (/") + dir + ")");
  for (const char *dev : {"dev/cxi0", "dev/xpmem", "dev/knem"})
    if (std::filesystem::exists(root + dev, ec)) note(std::string("/") + dev);
  return found;
}

const TrackerSupport &PageTracker::support() {
  static const TrackerSupport s = [] {
    TrackerSupport probed = probe_support();
    probed.unseen_writers = devices_writing_unseen("/");
    return probed;
  }();
  return s;
}

PageTracker::~PageTracker() {
  // Closing the userfaultfd unregisters and unprotects every range.
  if (m_uffd >= 0) ::close(m_uffd);
  if (m_pagemap >= 0) ::close(m_pagemap);
}

bool PageTracker::open_descriptors(std::string &why) {
  if (m_uffd >= 0) return true;
  if (!support().available) {
    why = support().why_not;
    return false;
  }
  if (m_pagemap < 0) m_pagemap = ::open("/proc/self/pagemap", O_RDONLY | O_CLOEXEC);
  if (m_pagemap < 0) {
    why = errno_text("open /proc/self/pagemap", errno);
    return false;
  }
  m_uffd = open_userfaultfd(why);
  return m_uffd >= 0;
}

std::string PageTracker::arm(int id, void *data, std::uint64_t bytes) {
  disarm(id);
  const std::uintptr_t ps = page_size();
  Range r;
  r.data = reinterpret_cast<std::uintptr_t>(data);
  r.bytes = bytes;
  r.begin = (r.data + ps - 1) / ps * ps;
  r.end = (r.data + bytes) / ps * ps;
  if (r.end <= r.begin) {
    r.begin = r.end = r.data; // nothing to protect: collect() reports it all
    m_ranges[id] = r;
    return "";
  }
  for (const auto &[other_id, o] : m_ranges)
    if (o.begin < r.end && r.begin < o.end)
      return "its pages overlap those of region " + std::to_string(other_id);
  std::string why;
  if (!open_descriptors(why)) return why;
  why = untrackable_mapping(read_self_maps(), r.begin, r.end);
  if (!why.empty()) return why;
  if (!uffd_register(m_uffd, r.begin, r.end, why)) return why;
  m_ranges[id] = r;
  return "";
}

std::optional<std::vector<ByteRange>> PageTracker::collect(int id) {
  auto it = m_ranges.find(id);
  if (it == m_ranges.end()) return std::nullopt;
  const Range r = it->second;
  std::vector<ByteRange> written;
  if (r.begin < r.end && !scan_written(m_pagemap, r.begin, r.end, written)) {
    const int err = errno;
    log_debug("region " + std::to_string(id) + ": page tracking lost (" +
              errno_text("PAGEMAP_SCAN", err) + "); hashing all of it");
    disarm(id);
    return std::nullopt;
  }
  std::vector<ByteRange> out;
  out.reserve(written.size() + 2);
  if (r.begin > r.data) out.push_back(ByteRange{0, r.begin - r.data});
  for (const ByteRange &w : written) {
    const ByteRange rel{w.begin - r.data, w.end - r.data};
    if (!out.empty() && out.back().end >= rel.begin)
      out.back().end = std::max(out.back().end, rel.end);
    else
      out.push_back(rel);
  }
  const std::uint64_t tail = r.end - r.data;
  if (tail < r.bytes) {
    if (!out.empty() && out.back().end >= tail)
      out.back().end = r.bytes;
    else
      out.push_back(ByteRange{tail, r.bytes});
  }
  return out;
}

void PageTracker::disarm(int id) noexcept {
  auto it = m_ranges.find(id);
  if (it == m_ranges.end()) return;
  const Range &r = it->second;
  if (r.begin < r.end && m_uffd >= 0) {
    uffdio_range range{};
    range.start = r.begin;
    range.len = r.end - r.begin;
    // Fails harmlessly when the memory was unmapped meanwhile.
    (void)::ioctl(m_uffd, UFFDIO_UNREGISTER, &range);
  }
  m_ranges.erase(it);
}

void PageTracker::disarm_all() noexcept {
  while (!m_ranges.empty())
    disarm(m_ranges.begin()->first);
}

std::vector<std::uint64_t> blocks_touching(const std::vector<ByteRange> &ranges,
                                           std::uint64_t bytes, std::uint64_t block_size) {
  std::vector<std::uint64_t> blocks;
  for (const ByteRange &r : ranges) {
    const std::uint64_t end = std::min(r.end, bytes);
    if (r.begin >= end) continue;
    std::uint64_t b = r.begin / block_size;
    if (!blocks.empty() && blocks.back() >= b) b = blocks.back() + 1;
    for (const std::uint64_t last = (end - 1) / block_size; b <= last; ++b)
      blocks.push_back(b);
  }
  return blocks;
}

std::string untrackable_mapping(const std::string &maps, std::uintptr_t begin, std::uintptr_t end) {
  std::istringstream in(maps);
  std::string line;
  std::uintptr_t covered = begin;
  while (std::getline(in, line) && covered < end) {
    std::istringstream fields(line);
    std::string span, perms, offset, device, path;
    unsigned long long inode = 0;
    fields >> span >> perms >> offset >> device >> inode;
    std::getline(fields >> std::ws, path);
    const std::size_t dash = span.find('-');
    if (dash == std::string::npos || perms.size() < 4) continue;
    const auto lo = static_cast<std::uintptr_t>(std::strtoull(span.c_str(), nullptr, 16));
    const auto hi =
        static_cast<std::uintptr_t>(std::strtoull(span.c_str() + dash + 1, nullptr, 16));
    if (hi <= covered || lo >= end) continue;
    if (lo > covered) break; // a hole
    const std::string what = path.empty() ? "anonymous memory" : path;
    if (perms[3] != 'p')
      return "it lies in a shared mapping (" + what + ") that other processes can write unseen";
    if (inode != 0 || (!path.empty() && path[0] != '['))
      return "it lies in a file mapping (" + what + ")";
    covered = hi;
  }
  if (covered < end) return "part of it is not mapped";
  return "";
}

} // namespace ckpt::detail
