#include "catalog.hpp"

#include "error.hpp"
#include "fs.hpp"

#include <algorithm>
#include <cstdio>
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
  const std::string head = prefix + ".v";
  for (const std::string &name : list_directory(dir)) {
    if (name.rfind(head, 0) != 0) continue;
    const auto dot = name.find('.', head.size());
    if (dot == std::string::npos) continue;
    const std::string digits = name.substr(head.size(), dot - head.size());
    const std::string ext = name.substr(dot);
    // At most 18 digits: std::stoll below cannot overflow (found by fuzz_catalog).
    if (digits.empty() || digits.size() > 18 ||
        !std::all_of(digits.begin(), digits.end(), ::isdigit))
      continue;
    if (ext != ".h5" && ext != ".commit") continue;
    const std::int64_t v = std::stoll(digits);
    auto &e = c.m_entries[v];
    e.version = v;
    (ext == ".h5" ? e.has_data_file : e.has_commit_record) = true;
  }
  for (auto &[v, e] : c.m_entries) {
    if (!e.has_commit_record) {
      e.state = VersionState::Incomplete;
      e.problem = "no commit record (checkpoint never completed)";
      continue;
    }
    try {
      e.record = CommitRecord::parse(read_file(c.commit_path(v)), c.commit_path(v));
      if (e.record->version != v)
        throw FormatError("commit record " + c.commit_path(v) + " names version " +
                          std::to_string(e.record->version));
      if (!e.has_data_file) {
        e.state = VersionState::Corrupt;
        e.problem = "data file " + c.data_path(v) + " is missing";
      } else if (file_size(c.data_path(v)) != e.record->file_bytes) {
        e.state = VersionState::Corrupt;
        e.problem = "data file " + c.data_path(v) + " has " +
                    std::to_string(file_size(c.data_path(v))) + " bytes, the commit record says " +
                    std::to_string(e.record->file_bytes);
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
