#include "dirty_tracking.hpp"

#include "block_hasher.hpp"
#include "error.hpp"
#include "log.hpp"

#include <unistd.h>

namespace ckpt::detail {

namespace {

std::uint64_t page_bytes() noexcept {
  static const auto size = static_cast<std::uint64_t>(::sysconf(_SC_PAGESIZE));
  return size;
}

} // namespace

const char *tracking_mode_name(TrackingMode mode) noexcept {
  switch (mode) {
  case TrackingMode::Automatic: return "auto";
  case TrackingMode::Hash: return "hash";
  case TrackingMode::Pages: return "pages";
  }
  return "?";
}

TrackingMode tracking_mode_from_name(const std::string &name) {
  if (name == "auto") return TrackingMode::Automatic;
  if (name == "hash") return TrackingMode::Hash;
  if (name == "pages") return TrackingMode::Pages;
  throw ArgumentError("unknown dirty tracking mode '" + name + "' (expected auto, hash or pages)");
}

bool auto_prefers_pages(std::uint64_t blocks, std::uint64_t changed, std::uint64_t pages_per_block,
                        double fault_ns, double hash_ns) noexcept {
  const double hash_all = double(blocks) * double(pages_per_block) * hash_ns;
  const double pages = double(changed) * (fault_ns + double(pages_per_block) * hash_ns);
  return pages < 0.5 * hash_all;
}

bool auto_keeps_pages(std::uint64_t blocks, std::uint64_t pages_written,
                      std::uint64_t blocks_hashed, std::uint64_t pages_per_block, double fault_ns,
                      double hash_ns) noexcept {
  const double hash_all = double(blocks) * double(pages_per_block) * hash_ns;
  const double pages =
      double(pages_written) * fault_ns + double(blocks_hashed) * double(pages_per_block) * hash_ns;
  return pages < hash_all;
}

void DirtyTracking::configure(TrackingMode default_mode, bool verbose) noexcept {
  m_default = default_mode;
  m_verbose = verbose;
}

void DirtyTracking::set_mode(int id, TrackingMode mode) {
  if (id < 0)
    throw ArgumentError("region " + std::to_string(id) +
                        ": the runtime's own regions are always hashed");
  State &s = m_states[id];
  if (s.mode != mode) s.logged_pages = s.logged_hash = false;
  s.mode = mode;
  s.refused = false;
}

TrackingMode DirtyTracking::mode(int id) const noexcept {
  if (id < 0) return TrackingMode::Hash;
  auto it = m_states.find(id);
  return it != m_states.end() && it->second.mode ? *it->second.mode : m_default;
}

std::uint64_t DirtyTracking::blocks_hashed(int id) const noexcept {
  auto it = m_states.find(id);
  return it == m_states.end() ? 0 : it->second.blocks_hashed;
}

void DirtyTracking::announce(const Region &r, bool &logged, const std::string &what,
                             bool important) {
  if (logged) return;
  logged = true;
  const std::string line = "region " + std::to_string(r.id) + " '" + r.name + "' (" +
                           human_bytes(double(r.bytes())) + "): " + what;
  if (important && m_verbose)
    log_info(line);
  else
    log_debug(line);
}

std::vector<std::uint64_t> DirtyTracking::hash_all(const Region &r, std::uint64_t block_size,
                                                   State &s) {
  std::vector<std::uint64_t> out(block_count(r.bytes(), block_size));
  hash_blocks(r.data, r.bytes(), block_size, out.data());
  s.blocks_hashed = out.size();
  s.pages_written = 0;
  s.armed_now = false;
  return out;
}

std::vector<std::uint64_t> DirtyTracking::block_hashes(const Region &r, std::uint64_t block_size) {
  State &s = m_states[r.id];
  if (s.data != r.data || s.bytes != r.bytes() || s.block_size != block_size) {
    // Another buffer (or size): what was tracked says nothing about it.
    m_tracker.disarm(r.id);
    s.hashes.clear();
    s.refused = false;
    s.data = r.data;
    s.bytes = r.bytes();
    s.block_size = block_size;
  }
  const TrackingMode m = mode(r.id);
  const bool want_pages =
      m == TrackingMode::Pages || (m == TrackingMode::Automatic && s.auto_pages);
  if (!want_pages || s.refused) {
    if (m_tracker.armed(r.id)) {
      m_tracker.disarm(r.id);
      s.hashes.clear();
    }
    return hash_all(r, block_size, s);
  }
  m_probed = true;
  try {
    return tracked_hashes(r, block_size, m, s);
  } catch (const std::exception &e) {
    // Page tracking must never cost a checkpoint: hash, and stop tracking.
    m_tracker.disarm(r.id);
    s.refused = true;
    s.hashes.clear();
    log_warn("region " + std::to_string(r.id) + " '" + r.name + "': page tracking failed (" +
             e.what() + "); hashing every block");
    return hash_all(r, block_size, s);
  }
}

std::vector<std::uint64_t> DirtyTracking::tracked_hashes(const Region &r, std::uint64_t block_size,
                                                         TrackingMode m, State &s) {
  const std::uint64_t nblocks = block_count(r.bytes(), block_size);
  if (m_tracker.armed(r.id) && s.hashes.size() == nblocks) {
    if (auto ranges = m_tracker.collect(r.id)) {
      const std::vector<std::uint64_t> blocks = blocks_touching(*ranges, r.bytes(), block_size);
      const auto *p = static_cast<const unsigned char *>(r.data);
      for (std::uint64_t b : blocks)
        s.hashes[b] = hash_bytes(p + b * block_size, block_bytes(r.bytes(), block_size, b));
      s.pages_written = 0;
      for (const ByteRange &w : *ranges)
        s.pages_written += (w.end - w.begin + page_bytes() - 1) / page_bytes();
      s.blocks_hashed = blocks.size();
      return s.hashes;
    }
    // Tracking was lost (the mapping changed): arm again and hash it all.
  }
  // Arm first, then hash: a write from here on is seen by the next collect().
  const std::string why = m_tracker.arm(r.id, r.data, r.bytes());
  if (!why.empty()) {
    s.refused = true;
    s.hashes.clear();
    const std::string line = "region " + std::to_string(r.id) + " '" + r.name +
                             "': dirty tracking by pages is not possible (" + why +
                             "); hashing every block";
    if (m == TrackingMode::Pages && m_verbose)
      log_warn(line);
    else
      log_debug(line);
    return hash_all(r, block_size, s);
  }
  if (m == TrackingMode::Pages && !PageTracker::support().unseen_writers.empty() &&
      !s.logged_pages && m_verbose)
    log_warn("region " + std::to_string(r.id) + " '" + r.name +
             "': tracked by pages on a node with " + PageTracker::support().unseen_writers +
             ": a write by these devices (an RDMA or XPMEM receive into this region) is not "
             "seen; use dirty_tracking=hash for regions they write");
  if (m_tracker.protected_bytes(r.id) == 0)
    announce(r, s.logged_pages, "holds no whole page: hashed whole at every checkpoint", false);
  else
    announce(r, s.logged_pages,
             std::string("dirty tracking by pages (") + PageTracker::support().mechanism +
                 (m == TrackingMode::Automatic ? ", chosen by auto)" : ")"),
             true);
  s.hashes = hash_all(r, block_size, s);
  s.armed_now = true;
  return s.hashes;
}

void DirtyTracking::observe(const Region &r, const std::vector<std::uint64_t> &hashes) {
  if (r.id < 0 || mode(r.id) != TrackingMode::Automatic) return;
  State &s = m_states[r.id];
  if (r.committed_hashes.size() != hashes.size() || hashes.empty()) return; // no baseline
  const std::uint64_t bs = s.block_size;
  const std::uint64_t ppb = bs >= page_bytes() ? bs / page_bytes() : 1;
  if (r.bytes() < k_auto_min_bytes) {
    announce(r, s.logged_hash,
             "auto keeps hashing (smaller than " + human_bytes(double(k_auto_min_bytes)) + ")",
             false);
    return;
  }
  m_probed = true;
  const TrackerSupport &support = PageTracker::support();
  if (!support.available) {
    announce(r, s.logged_hash,
             "auto keeps hashing (page tracking unavailable: " + support.why_not + ")", false);
    return;
  }
  if (!support.unseen_writers.empty()) {
    announce(r, s.logged_hash,
             "auto keeps hashing (this node has devices that write memory unseen by page "
             "tracking: " +
                 support.unseen_writers +
                 "; set dirty_tracking=pages for regions they never write)",
             false);
    return;
  }
  std::uint64_t changed = 0;
  for (std::size_t i = 0; i < hashes.size(); ++i)
    changed += hashes[i] != r.committed_hashes[i] ? 1 : 0;
  if (!s.auto_pages) {
    if (s.refused) return;
    s.auto_pages = auto_prefers_pages(hashes.size(), changed, ppb, support.fault_ns_per_page,
                                      support.hash_ns_per_page);
    if (!s.auto_pages)
      announce(r, s.logged_hash,
               "auto keeps hashing (" + std::to_string(changed) + " of " +
                   std::to_string(hashes.size()) + " blocks changed)",
               false);
  } else if (m_tracker.armed(r.id) && !s.armed_now &&
             !auto_keeps_pages(hashes.size(), s.pages_written, s.blocks_hashed, ppb,
                               support.fault_ns_per_page, support.hash_ns_per_page)) {
    s.auto_pages = false;
    log_debug("region " + std::to_string(r.id) + " '" + r.name + "': auto returns to hashing (" +
              std::to_string(s.pages_written) + " pages written)");
  }
}

std::string DirtyTracking::mechanism() const {
  if (!m_probed) return "unused";
  const TrackerSupport &support = PageTracker::support();
  return support.available ? support.mechanism : "none (" + support.why_not + ")";
}

void DirtyTracking::forget(int id) noexcept {
  m_tracker.disarm(id);
  m_states.erase(id);
}

void DirtyTracking::clear() noexcept {
  m_tracker.disarm_all();
  m_states.clear();
}

} // namespace ckpt::detail
