#include "chain_restore.hpp"

#include "block_hasher.hpp"
#include "error.hpp"

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <exception>
#include <mutex>
#include <thread>

namespace ckpt::detail {
namespace {

/// Bytes of planned reads the kernel is asked to fetch ahead of the reader.
constexpr std::uint64_t k_prefetch_window = 64u << 20;

double seconds_since(std::chrono::steady_clock::time_point t0) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
}

} // namespace

ChainRestorer::ChainRestorer(const RankChain &chain) : m_chain(chain) {
  const auto t0 = std::chrono::steady_clock::now();
  for (const RankChain::File &f : chain.files) {
    ReadOnlyFile file(f.path);
    if (file.size() != f.file_bytes)
      throw FormatError(f.path + " is " + std::to_string(file.size()) + " bytes long; it was " +
                        std::to_string(f.file_bytes) + " bytes when the chain was validated");
    file.advise_random();
    m_files.push_back(std::move(file));
  }
  m_bridge = m_files.empty() ? 0 : device_bridge_bytes(m_files.front());
  m_open_seconds = seconds_since(t0);
}

void ChainRestorer::read_chunk(const ReadChunk &chunk,
                               const std::map<int, RestoreTarget> &targets) const {
  const std::uint64_t bs = m_chain.block_size;
  std::vector<struct iovec> iov;
  iov.reserve(chunk.runs.size());
  for (const ReadChunk::Run &run : chunk.runs) {
    const RestoreTarget &t = targets.at(run.region);
    const std::uint64_t at = run.first_block * bs;
    if (at > t.bytes || run.bytes > t.bytes - at)
      throw FormatError(m_files[chunk.file].path() + ": a read for region " +
                        std::to_string(run.region) + " falls outside the region");
    iov.push_back(iovec{t.data + at, run.bytes});
  }
  m_files[chunk.file].read_exact(chunk.file_offset, iov.data(), static_cast<int>(iov.size()));
}

RestoreReport ChainRestorer::restore(const std::map<int, RestoreTarget> &targets,
                                     const RestoreOptions &opts) {
  RestoreReport report;
  const auto t0 = std::chrono::steady_clock::now();
  std::vector<int> ids;
  for (const auto &[id, target] : targets) {
    const RankRegion &r = m_chain.regions.at(id);
    if (target.bytes != r.row.bytes)
      throw MismatchError(region_text(r.row) + " is " + std::to_string(r.row.bytes) +
                          " bytes in the checkpoint; its memory is " +
                          std::to_string(target.bytes) + " bytes");
    ids.push_back(id);
  }
  ReadPlanOptions options;
  options.bridge_bytes = opts.bridge_bytes ? *opts.bridge_bytes : m_bridge;
  const std::vector<ReadChunk> plan = plan_reads(m_chain, ids, options);
  auto note = [&](const BlockDamage &d) {
    ++report.damaged;
    if (report.damage.size() < opts.max_report) report.damage.push_back(d);
  };
  // Blocks no file of the chain stores cannot be restored at all.
  for (int id : ids) {
    const auto sources = m_chain.block_sources(m_chain.regions.at(id));
    for (std::uint64_t b = 0; b < sources.size(); ++b)
      if (sources[b] < 0) note(BlockDamage{id, b, -1});
  }
  for (const ReadChunk &c : plan) {
    report.bytes_read += c.bytes;
    ++report.requests;
  }
  // The kernel reads exactly the planned ranges, a window ahead of the
  // reads, so that many requests are in flight (scattered blocks of a long
  // chain cost little more than a sequential read) and skipped bytes are
  // never read.
  std::size_t prefetched = 0;
  std::uint64_t ahead = 0;
  auto prefetch_window = [&](std::size_t next) {
    if (next > 0 && next <= plan.size()) ahead -= std::min(ahead, plan[next - 1].bytes);
    while (prefetched < plan.size() && (prefetched <= next || ahead < k_prefetch_window)) {
      const ReadChunk &c = plan[prefetched++];
      m_files[c.file].prefetch(c.file_offset, c.bytes);
      ahead += c.bytes;
    }
  };
  if (!opts.verify) {
    for (std::size_t i = 0; i < plan.size(); ++i) {
      prefetch_window(i);
      read_chunk(plan[i], targets);
    }
    report.read_seconds = seconds_since(t0);
    return report;
  }
  // A reader thread runs ahead; this thread hashes each chunk once it is in.
  std::mutex mutex;
  std::condition_variable ready;
  std::size_t done = 0;
  bool failed = false;
  std::exception_ptr error;
  std::atomic<bool> stop{false};
  std::thread reader([&] {
    for (std::size_t i = 0; i < plan.size() && !stop.load(std::memory_order_relaxed); ++i) {
      std::exception_ptr e;
      try {
        prefetch_window(i);
        read_chunk(plan[i], targets);
      } catch (...) {
        e = std::current_exception();
      }
      {
        std::lock_guard<std::mutex> lock(mutex);
        if (e) {
          error = e;
          failed = true;
        } else {
          done = i + 1;
        }
      }
      ready.notify_one();
      if (e) return;
    }
  });
  const std::uint64_t bs = m_chain.block_size;
  for (std::size_t i = 0; i < plan.size(); ++i) {
    {
      std::unique_lock<std::mutex> lock(mutex);
      ready.wait(lock, [&] { return done > i || failed; });
      if (done <= i) break;
    }
    const auto th = std::chrono::steady_clock::now();
    for (const auto &[id, b] : plan[i].verify) {
      const RankRegion &r = m_chain.regions.at(id);
      const std::uint64_t n = block_bytes(r.row.bytes, bs, b);
      ++report.blocks_verified;
      if (hash_bytes(targets.at(id).data + b * bs, n) != r.hashes[b])
        note(BlockDamage{id, b, static_cast<std::int32_t>(plan[i].file)});
    }
    report.verify_seconds += seconds_since(th);
    if (report.damaged > 0 && opts.stop_on_damage) {
      stop = true; // this version is rejected: no need to read the rest
      break;
    }
  }
  reader.join();
  if (error) std::rethrow_exception(error);
  report.read_seconds = seconds_since(t0);
  return report;
}

std::string ChainRestorer::describe(const BlockDamage &d) const {
  const RankRegion &r = m_chain.regions.at(d.region);
  const std::string what = "block " + std::to_string(d.block) + " of " + region_text(r.row);
  if (d.file < 0)
    return what + " is stored in no file of the chain of checkpoint version " +
           std::to_string(m_chain.version);
  return what + " in " + m_chain.files[static_cast<std::size_t>(d.file)].path +
         " does not match its stored hash (checkpoint version " + std::to_string(m_chain.version) +
         ")";
}

} // namespace ckpt::detail
