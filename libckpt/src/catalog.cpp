#include "catalog.hpp"

#include "error.hpp"
#include "fs.hpp"

#include <algorithm>
#include <cstdio>
#include <optional>
#include <set>

namespace ckpt::detail {

std::string version_stem(const std::string &prefix, std::int64_t version) {
  char buf[32];
  std::snprintf(buf, sizeof buf, ".v%06lld", static_cast<long long>(version));
  return prefix + buf;
}
std::string data_file_name(const std::string &prefix, std::int64_t version) {
  return version_stem(prefix, version) + ".h5";
}
std::string commit_file_name(const std::string &prefix, std::int64_t version) {
  return version_stem(prefix, version) + ".commit";
}

std::optional<ParsedFileName> parse_file_name(const std::string &prefix, const std::string &name,
                                              std::string &reason) {
  reason.clear();
  const std::string head = prefix + ".v";
  if (name.size() <= head.size() || name.compare(0, head.size(), head) != 0) return std::nullopt;
  std::size_t end = head.size();
  while (end < name.size() && name[end] >= '0' && name[end] <= '9')
    ++end;
  const std::size_t ndigits = end - head.size();
  const std::string rest = name.substr(end);
  ParsedFileName parsed;
  if (rest == ".h5")
    parsed.role = FileRole::DataFile;
  else if (rest == ".commit")
    parsed.role = FileRole::CommitRecord;
  else if (rest.rfind(".commit.tmp", 0) == 0)
    parsed.role = FileRole::CommitTemporary;
  else {
    reason = "not a checkpoint file name (expected " + prefix + ".v<NNNNNN>.h5 or .commit)";
    return std::nullopt;
  }
  if (ndigits < 6 || ndigits > 9) {
    reason = "version number of " + std::to_string(ndigits) +
             " digits (checkpoint files have 6 to 9 digits, versions 1 to " +
             std::to_string(k_max_version) + ")";
    return std::nullopt;
  }
  std::int64_t v = 0;
  for (std::size_t i = head.size(); i < end; ++i)
    v = v * 10 + (name[i] - '0');
  if (v < 1) {
    reason = "version 0 (versions start at 1)";
    return std::nullopt;
  }
  if (ndigits > 6 && name[head.size()] == '0') {
    reason = "version number with extra leading zeros (libckpt pads to 6 digits only)";
    return std::nullopt;
  }
  parsed.version = v;
  if (parsed.role == FileRole::CommitTemporary)
    reason = "temporary file of a commit that did not complete (safe to delete)";
  return parsed;
}

const char *to_string(VersionState state) noexcept {
  switch (state) {
  case VersionState::Committed: return "committed";
  case VersionState::Incomplete: return "incomplete";
  case VersionState::Corrupt: return "corrupt";
  }
  return "?";
}

std::string Catalog::data_path(std::int64_t version) const {
  return join_path(m_dir, data_file_name(m_prefix, version));
}
std::string Catalog::commit_path(std::int64_t version) const {
  return join_path(m_dir, commit_file_name(m_prefix, version));
}

Catalog Catalog::scan(const std::string &dir, const std::string &prefix) {
  Catalog c;
  c.m_dir = dir;
  c.m_prefix = prefix;
  for (const std::string &name : list_directory(dir)) {
    std::string reason;
    const auto parsed = parse_file_name(prefix, name, reason);
    if (!parsed || parsed->role == FileRole::CommitTemporary) {
      if (!reason.empty()) c.m_ignored.push_back(IgnoredName{name, reason});
      continue;
    }
    auto &e = c.m_entries[parsed->version];
    e.version = parsed->version;
    (parsed->role == FileRole::DataFile ? e.has_data_file : e.has_commit_record) = true;
  }
  std::sort(c.m_ignored.begin(), c.m_ignored.end(),
            [](const IgnoredName &a, const IgnoredName &b) { return a.name < b.name; });
  for (auto &[v, e] : c.m_entries) {
    if (!e.has_commit_record) {
      e.state = VersionState::Incomplete;
      e.problem = "no commit record (checkpoint never completed)";
      continue;
    }
    try {
      e.record = CommitRecord::parse(read_file(c.commit_path(v), k_max_commit_record_bytes),
                                     c.commit_path(v));
      if (e.record->version != v)
        throw FormatError("commit record " + c.commit_path(v) + " names version " +
                          std::to_string(e.record->version));
      if (!e.has_data_file) {
        e.state = VersionState::Corrupt;
        e.problem = "data file " + c.data_path(v) + " is missing";
        continue;
      }
      require_regular_file(c.data_path(v)); // never a symbolic link, FIFO or device
      const std::uint64_t bytes = file_size(c.data_path(v));
      if (bytes != e.record->file_bytes) {
        e.state = VersionState::Corrupt;
        e.problem = "data file " + c.data_path(v) + " has " + std::to_string(bytes) +
                    " bytes, the commit record says " + std::to_string(e.record->file_bytes);
      } else {
        e.state = VersionState::Committed;
      }
    } catch (const Error &err) {
      e.state = VersionState::Corrupt;
      e.problem = err.what();
    }
  }
  return c;
}

const VersionEntry *Catalog::find(std::int64_t version) const noexcept {
  auto it = m_entries.find(version);
  return it == m_entries.end() ? nullptr : &it->second;
}

std::vector<std::int64_t> Catalog::committed_newest_first() const {
  std::vector<std::int64_t> out;
  for (auto it = m_entries.rbegin(); it != m_entries.rend(); ++it)
    if (it->second.state == VersionState::Committed) out.push_back(it->first);
  return out;
}

std::optional<std::int64_t> Catalog::newest_committed() const {
  auto c = committed_newest_first();
  if (c.empty()) return std::nullopt;
  return c.front();
}

std::int64_t Catalog::max_version() const noexcept {
  return m_entries.empty() ? 0 : m_entries.rbegin()->first;
}

std::optional<std::vector<std::int64_t>> Catalog::chain_of(std::int64_t version,
                                                           std::string &problem) const {
  const VersionEntry *e = find(version);
  if (!e || e->state != VersionState::Committed) {
    problem = "version " + std::to_string(version) + " is not committed" +
              (e && !e->problem.empty() ? " (" + e->problem + ")" : "");
    return std::nullopt;
  }
  const auto &chain = e->record->chain;
  for (std::size_t i = 0; i + 1 < chain.size(); ++i) {
    const VersionEntry *link = find(chain[i]);
    if (!link || link->state != VersionState::Committed) {
      problem = "version " + std::to_string(version) + " needs version " +
                std::to_string(chain[i]) + ", which is " +
                (link ? to_string(link->state) + std::string(": ") + link->problem : "missing");
      return std::nullopt;
    }
    const auto &sub = link->record->chain;
    if (sub.size() != i + 1 || !std::equal(sub.begin(), sub.end(), chain.begin())) {
      problem = "version " + std::to_string(chain[i]) +
                " does not belong to the chain of version " + std::to_string(version);
      return std::nullopt;
    }
  }
  return chain;
}

std::vector<std::int64_t> Catalog::retention_plan(int keep) const {
  const auto committed = committed_newest_first();
  if (committed.empty()) return {};
  std::set<std::int64_t> needed;
  int kept = 0;
  for (std::int64_t v : committed) {
    if (kept >= keep) break;
    std::string problem;
    auto chain = chain_of(v, problem);
    if (!chain) continue; // a broken version does not count as kept
    needed.insert(chain->begin(), chain->end());
    ++kept;
  }
  if (kept == 0) return {}; // nothing restartable: delete nothing
  std::vector<std::int64_t> remove;
  const std::int64_t newest = committed.front();
  for (const auto &[v, e] : m_entries)
    if (v < newest && !needed.count(v)) remove.push_back(v);
  return remove;
}

void Catalog::remove_version(std::int64_t version, bool durable) const {
  if (remove_file(commit_path(version)) && durable) fsync_directory(m_dir);
  remove_file(data_path(version));
}

} // namespace ckpt::detail
