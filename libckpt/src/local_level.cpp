#include "local_level.hpp"

#include "block_hasher.hpp"
#include "byte_stream.hpp"
#include "catalog.hpp"
#include "error.hpp"
#include "fs.hpp"
#include "log.hpp"
#include "posix_file.hpp"
#include "region.hpp"

#include <algorithm>
#include <cerrno>
#include <climits>
#include <iterator>
#include <cstdlib>
#include <cstdio>
#include <fcntl.h>
#include <set>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/uio.h>
#include <unistd.h>

namespace ckpt::detail {
namespace {

constexpr std::uint64_t k_local_magic = 0x6c61636f6c6b6331ull; // "1cklocal"
constexpr int k_local_format_version = 1;
/// A rank's record holds its hashes: bounded by what a rank can protect.
constexpr std::uint64_t k_max_local_record_bytes = std::uint64_t{1} << 31;

/// Writes `iov` to a new file `path` (a regular file of that name, the
/// leftover of an attempt that did not commit, is replaced; O_EXCL |
/// O_NOFOLLOW: never through a link), synced when `durable`. On failure
/// the file is removed.
void write_new_file(const std::string &path, std::vector<struct iovec> iov, bool durable) {
  struct stat st {};
  if (::lstat(path.c_str(), &st) == 0) {
    if (!S_ISREG(st.st_mode))
      throw IoError(CKPT_ERR_IO, "cannot create " + path +
                                     ": the name is taken by something that is not a regular file");
    remove_file(path);
  }
  const int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
  if (fd < 0) throw_errno(errno, "cannot create local checkpoint file " + path);
  try {
    write_all(fd, std::move(iov), 0, path);
    if (durable && ::fdatasync(fd) != 0) throw_errno(errno, "cannot sync " + path);
  } catch (...) {
    ::close(fd);
    remove_file(path);
    throw;
  }
  if (::close(fd) != 0) throw_errno(errno, "cannot close " + path);
}

/// "<stem>.data" / "<stem>.commit" of this prefix: the version and rank.
bool parse_local_name(const std::string &prefix, const std::string &name, std::int64_t &version,
                      std::int32_t &rank, std::string &suffix) {
  if (name.compare(0, prefix.size() + 2, prefix + ".v") != 0) return false;
  long long v = 0;
  int r = 0, used = 0;
  char rest[32] = {};
  if (std::sscanf(name.c_str() + prefix.size(), ".v%9lld.r%6d.%31s%n", &v, &r, rest, &used) != 3)
    return false;
  if (prefix.size() + static_cast<std::size_t>(used) != name.size() || v < 1 || v > k_max_version ||
      r < 0)
    return false;
  version = v;
  rank = r;
  suffix = rest;
  return true;
}

} // namespace

std::string local_stem(const std::string &prefix, std::int64_t version, std::int32_t rank) {
  char buf[24];
  std::snprintf(buf, sizeof buf, ".r%06d", static_cast<int>(rank));
  return version_stem(prefix, version) + buf;
}

std::string resolve_local_dir(const std::string &setting, const std::string &dir,
                              const std::string &prefix) {
  if (setting == "none") return {};
  const std::string parent = setting == "auto" ? "/dev/shm" : setting;
  if (setting == "auto" && !is_directory(parent)) return {};
  // The same for every run of a job in the same directory, another for
  // another job (several jobs may share a node and its local_dir).
  char *real = ::realpath(dir.c_str(), nullptr);
  const std::string key = (real ? std::string(real) : dir) + "/" + prefix;
  std::free(real);
  char name[96];
  std::snprintf(name, sizeof name, "libckpt-%u-%016llx", static_cast<unsigned>(::getuid()),
                static_cast<unsigned long long>(hash_bytes(key.data(), key.size())));
  return join_path(parent, name);
}

std::vector<std::int32_t> partner_ranks(const std::vector<std::string> &node_of_rank) {
  std::map<std::string, std::vector<std::int32_t>> nodes; // in name order
  for (std::size_t r = 0; r < node_of_rank.size(); ++r)
    nodes[node_of_rank[r]].push_back(static_cast<std::int32_t>(r));
  std::vector<std::int32_t> partner(node_of_rank.size(), -1);
  if (nodes.size() < 2) return partner;
  for (auto it = nodes.begin(); it != nodes.end(); ++it) {
    auto next = std::next(it);
    if (next == nodes.end()) next = nodes.begin();
    const std::vector<std::int32_t> &mine = it->second, &theirs = next->second;
    for (std::size_t k = 0; k < mine.size(); ++k)
      partner[static_cast<std::size_t>(mine[k])] = theirs[k % theirs.size()];
  }
  return partner;
}

// ---------------------------------------------------------------------------
// LocalVersion

std::string LocalVersion::serialize() const {
  Writer w;
  w.put(k_local_magic);
  w.put<std::int32_t>(k_local_format_version);
  w.put_string(record.serialize());
  const FileHeader &h = meta.header;
  w.put(h.version);
  w.put(h.step);
  w.put<std::int32_t>(h.base ? 1 : 0);
  w.put(h.base_version);
  w.put(h.parent_version);
  w.put(h.nranks);
  w.put(h.block_size);
  w.put(h.created_unix);
  w.put(meta.file_bytes);
  w.put<std::uint64_t>(meta.rows.size());
  for (const IndexRow &row : meta.rows)
    w.put(row);
  w.put_u64s(meta.stored);
  w.put_u64s(meta.hashes);
  std::string bytes = w.take();
  const std::uint64_t sum = hash_bytes(bytes.data(), bytes.size());
  bytes.append(reinterpret_cast<const char *>(&sum), sizeof sum);
  return bytes;
}

LocalVersion LocalVersion::parse(const std::string &bytes, const std::string &origin) {
  if (bytes.size() < 8 || [&] {
        std::uint64_t sum = 0;
        std::memcpy(&sum, bytes.data() + bytes.size() - 8, 8);
        return sum != hash_bytes(bytes.data(), bytes.size() - 8);
      }())
    throw FormatError(origin + ": damaged local commit record (checksum)");
  const std::string body = bytes.substr(0, bytes.size() - 8);
  Reader in(body, origin, "local commit record");
  if (in.get<std::uint64_t>() != k_local_magic) in.fail("not a libckpt local commit record");
  if (in.get<std::int32_t>() != k_local_format_version) in.fail("unknown format version");
  LocalVersion v;
  v.record = CommitRecord::parse(in.get_string(), origin);
  FileHeader &h = v.meta.header;
  h.version = in.get<std::int64_t>();
  h.step = in.get<std::int64_t>();
  h.base = in.get<std::int32_t>() != 0;
  h.base_version = in.get<std::int64_t>();
  h.parent_version = in.get<std::int64_t>();
  h.nranks = in.get<std::int32_t>();
  h.block_size = in.get<std::uint64_t>();
  h.created_unix = in.get<std::int64_t>();
  v.meta.file_bytes = in.get<std::uint64_t>();
  const std::uint64_t nrows = in.count(sizeof(IndexRow));
  for (std::uint64_t i = 0; i < nrows; ++i) {
    IndexRow row = in.get<IndexRow>();
    row.name[sizeof row.name - 1] = '\0';
    v.meta.rows.push_back(row);
  }
  v.meta.stored = in.get_u64s();
  v.meta.hashes = in.get_u64s();
  if (!in.done()) in.fail("trailing bytes");
  FileSizes &s = v.meta.sizes;
  s.rows = v.meta.rows.size();
  s.stored = v.meta.stored.size();
  s.hashes = v.meta.hashes.size();
  for (const IndexRow &row : v.meta.rows)
    s.data += row.data_bytes;
  v.meta.data_address = 0;
  if (h.version != v.record.version || v.record.file_bytes != v.meta.file_bytes ||
      s.data != v.meta.file_bytes)
    throw FormatError(origin + ": its record, header and data size disagree");
  return v;
}

// ---------------------------------------------------------------------------
// MappedFile

MappedFile::MappedFile(const std::string &path) {
  struct stat st {};
  const int fd = open_regular_readonly(path, st);
  m_size = static_cast<std::uint64_t>(st.st_size);
  if (m_size > 0) {
    void *p = ::mmap(nullptr, m_size, PROT_READ, MAP_SHARED, fd, 0);
    const int err = errno;
    ::close(fd);
    if (p == MAP_FAILED) throw_errno(err, "cannot map " + path);
    m_data = static_cast<unsigned char *>(p);
  } else {
    ::close(fd);
  }
}

MappedFile::~MappedFile() {
  if (m_data) ::munmap(m_data, m_size);
}

// ---------------------------------------------------------------------------
// LocalLevel

LocalLevel::LocalLevel(std::string dir, std::string prefix, std::int32_t rank, std::int32_t nranks,
                       bool fsync)
    : m_dir(std::move(dir)), m_prefix(std::move(prefix)), m_rank(rank), m_nranks(nranks),
      m_fsync(fsync) {}

std::string LocalLevel::data_path(std::int64_t version) const {
  return join_path(m_dir, local_stem(m_prefix, version, m_rank) + ".data");
}
std::string LocalLevel::commit_path(std::int64_t version) const {
  return join_path(m_dir, local_stem(m_prefix, version, m_rank) + ".commit");
}

std::uint64_t LocalLevel::write_data(const VersionPlan &plan, std::uint64_t bs) {
  std::vector<struct iovec> iov;
  std::uint64_t bytes = 0;
  for (std::size_t i = 0; i < plan.regions.size(); ++i) {
    auto *data = static_cast<unsigned char *>(plan.regions[i].region->data);
    const std::uint64_t region_bytes = plan.regions[i].region->bytes();
    for (const BlockRun &run : block_runs(plan.stored[i])) {
      const std::uint64_t at = run.first * bs;
      const std::uint64_t n = std::min(region_bytes - at, run.count * bs);
      iov.push_back(iovec{data + at, n});
      bytes += n;
    }
  }
  write_new_file(data_path(plan.version), std::move(iov), m_fsync);
  return bytes;
}

void LocalLevel::commit(const VersionPlan &plan, const FileHeader &header, std::uint64_t bs,
                        std::uint64_t data_bytes) {
  LocalVersion v;
  CommitRecord &rec = v.record;
  rec.version = plan.version;
  rec.step = plan.step;
  rec.base = plan.base;
  rec.chain = plan.chain;
  rec.nranks = m_nranks;
  rec.block_size = bs;
  rec.file = local_stem(m_prefix, plan.version, m_rank) + ".data";
  rec.file_bytes = data_bytes;
  // This rank's share (the chain model checks the record against the file).
  rec.written_bytes = data_bytes;
  for (std::size_t i = 0; i < plan.regions.size(); ++i) {
    rec.state_bytes += plan.regions[i].region->bytes();
    rec.blocks += plan.regions[i].hashes.size();
    rec.dirty_blocks += plan.stored[i].size();
  }
  rec.time_unix = header.created_unix;
  v.meta.header = header;
  v.meta.file_bytes = data_bytes;
  v.meta.rows = index_rows(m_rank, plan, bs);
  assign_offsets(v.meta.rows);
  for (std::size_t i = 0; i < plan.regions.size(); ++i) {
    v.meta.hashes.insert(v.meta.hashes.end(), plan.regions[i].hashes.begin(),
                         plan.regions[i].hashes.end());
    v.meta.stored.insert(v.meta.stored.end(), plan.stored[i].begin(), plan.stored[i].end());
  }
  write_file_atomic(commit_path(plan.version), v.serialize(), m_fsync);
}

std::map<std::int64_t, LocalVersion> LocalLevel::scan(std::vector<std::string> &problems) const {
  return scan_files(m_rank, "", problems);
}

std::map<std::int32_t, std::map<std::int64_t, LocalVersion>>
LocalLevel::scan_partner_copies(std::vector<std::string> &problems) const {
  std::map<std::int32_t, std::map<std::int64_t, LocalVersion>> out;
  std::set<std::int32_t> owners;
  if (!is_directory(m_dir)) return out;
  for (const std::string &name : list_directory(m_dir)) {
    std::int64_t version = 0;
    std::int32_t rank = 0;
    std::string suffix;
    if (parse_local_name(m_prefix, name, version, rank, suffix) && suffix == "partner.commit")
      owners.insert(rank);
  }
  for (std::int32_t owner : owners)
    out[owner] = scan_files(owner, "partner.", problems);
  return out;
}

std::map<std::int64_t, LocalVersion>
LocalLevel::scan_files(std::int32_t owner, const std::string &kind,
                       std::vector<std::string> &problems) const {
  std::map<std::int64_t, LocalVersion> out;
  if (!is_directory(m_dir)) return out;
  for (const std::string &name : list_directory(m_dir)) {
    std::int64_t version = 0;
    std::int32_t rank = 0;
    std::string suffix;
    if (!parse_local_name(m_prefix, name, version, rank, suffix) || rank != owner ||
        suffix != kind + "commit")
      continue;
    const std::string path = join_path(m_dir, name);
    try {
      const std::string bytes = read_file(path, k_max_local_record_bytes);
      LocalVersion v = LocalVersion::parse(bytes, path);
      v.meta.record_bytes = bytes.size();
      v.meta.path = join_path(m_dir, local_stem(m_prefix, version, owner) + "." + kind + "data");
      if (v.record.version != version || v.record.nranks != m_nranks)
        throw FormatError(path + ": written for version " + std::to_string(v.record.version) +
                          " by " + std::to_string(v.record.nranks) + " ranks");
      const std::uint64_t size = file_size(v.meta.path);
      if (size != v.meta.file_bytes)
        throw FormatError(v.meta.path + " is " + std::to_string(size) + " bytes; its record says " +
                          std::to_string(v.meta.file_bytes));
      out.emplace(version, std::move(v));
    } catch (const Error &e) {
      problems.emplace_back(e.what());
    }
  }
  return out;
}

std::string LocalLevel::partner_data_path(std::int32_t owner, std::int64_t version) const {
  return join_path(m_dir, local_stem(m_prefix, version, owner) + ".partner.data");
}
std::string LocalLevel::partner_commit_path(std::int32_t owner, std::int64_t version) const {
  return join_path(m_dir, local_stem(m_prefix, version, owner) + ".partner.commit");
}

void LocalLevel::store_copy(std::int32_t owner, std::int64_t version, const std::string &record,
                            const unsigned char *data, std::uint64_t bytes, bool as_own) const {
  const std::string data_file = as_own ? data_path(version) : partner_data_path(owner, version);
  const std::string record_file =
      as_own ? commit_path(version) : partner_commit_path(owner, version);
  LocalVersion::parse(record, record_file); // never store what does not parse
  make_directories(m_dir);
  std::vector<struct iovec> iov;
  if (bytes > 0) iov.push_back(iovec{const_cast<unsigned char *>(data), bytes});
  write_new_file(data_file, std::move(iov), m_fsync);
  write_file_atomic(record_file, record, m_fsync);
}

std::vector<std::int64_t>
LocalLevel::restorable(const std::map<std::int64_t, LocalVersion> &scanned) {
  std::vector<std::int64_t> out;
  for (const auto &[version, v] : scanned) {
    bool complete = true;
    for (std::int64_t link : v.record.chain)
      complete = complete && scanned.count(link) > 0;
    if (complete) out.push_back(version);
  }
  return out;
}

RankChain LocalLevel::chain_of(const std::map<std::int64_t, LocalVersion> &scanned,
                               std::int64_t version) {
  const LocalVersion &newest = scanned.at(version);
  std::vector<CommitRecord> records;
  std::vector<ChainFileMeta> files;
  for (std::int64_t link : newest.record.chain) {
    const auto it = scanned.find(link);
    if (it == scanned.end())
      throw FormatError("version " + std::to_string(link) + " of the chain of version " +
                        std::to_string(version) + " is not on the local level");
    records.push_back(it->second.record);
    files.push_back(it->second.meta);
    if (link != version) files.back().hashes.clear();
  }
  const ChainModel model(std::move(records), std::move(files));
  return model.rank_view(model.newest().rows.empty() ? 0 : model.newest().rows.front().rank);
}

void LocalLevel::retain(const std::vector<std::int64_t> &keep) const {
  remove_files(m_rank, "", keep, false);
}

void LocalLevel::retain_partner(std::int32_t owner, const std::vector<std::int64_t> &keep) const {
  remove_files(owner, "partner.", keep, false);
}

void LocalLevel::clear() const {
  remove_files(m_rank, "", {}, false);
  remove_files(0, "partner.", {}, true);
  // The job's directory goes with its last file (the other ranks of the
  // node may still have theirs).
  ::rmdir(m_dir.c_str());
}

/// Removes the files of `kind` ("" or "partner.") of `owner` (of any owner)
/// whose version is not in `keep`: the records first (a version without
/// its record is not on the level), then data files and leftovers.
void LocalLevel::remove_files(std::int32_t owner, const std::string &kind,
                              const std::vector<std::int64_t> &keep, bool any_owner) const {
  if (!is_directory(m_dir)) return;
  const std::set<std::int64_t> kept(keep.begin(), keep.end());
  // A version newer than those kept is being written (the background job
  // retains while the next checkpoint runs): never removed here.
  const std::int64_t newest_kept = kept.empty() ? k_max_version : *kept.rbegin();
  for (const bool records : {true, false})
    for (const std::string &name : list_directory(m_dir)) {
      std::int64_t version = 0;
      std::int32_t rank = 0;
      std::string suffix;
      if (!parse_local_name(m_prefix, name, version, rank, suffix) ||
          (!any_owner && rank != owner) || kept.count(version) || version > newest_kept)
        continue;
      const bool partner = suffix.compare(0, 8, "partner.") == 0;
      if (partner != !kind.empty()) continue;
      if (records && suffix != kind + "commit") continue;
      remove_file(join_path(m_dir, name));
    }
}

} // namespace ckpt::detail
