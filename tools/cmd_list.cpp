// ckpt list: the versions of a checkpoint directory and their state.
#include "commands.hpp"
#include "json_writer.hpp"
#include "text_format.hpp"
#include "tool_cli.hpp"

#include <iostream>
#include <set>

namespace ckpt::tool {
namespace {

struct Listed {
  const detail::VersionEntry *entry = nullptr;
  bool restorable = false;
  std::string problem; // why it cannot be restored
};

std::string chain_text(const std::vector<std::int64_t> &chain) {
  std::string out;
  for (std::int64_t v : chain)
    out += (out.empty() ? "" : " ") + std::to_string(v);
  return out;
}

std::string ranks_text(const std::vector<std::int32_t> &ranks) {
  std::string out;
  for (std::int32_t r : ranks)
    out += (out.empty() ? "" : ",") + std::to_string(r);
  return out;
}

/// "global", "global local(2)", "local(4) partner(2)": the levels that hold
/// the version (the local and partner levels as seen on this node).
std::string levels_text(bool global, std::int64_t version, const LocalHoldings &local) {
  std::string out = global ? "global" : "";
  auto add = [&](const char *name, const std::map<std::int64_t, std::vector<std::int32_t>> &m) {
    const auto it = m.find(version);
    if (it == m.end()) return;
    out += (out.empty() ? "" : " ") + std::string(name) + "(" + std::to_string(it->second.size()) +
           ")";
  };
  add("local", local.own);
  add("partner", local.partner);
  return out.empty() ? "-" : out;
}

/// The versions this node's local level holds (own files or partner copies).
std::set<std::int64_t> local_versions(const LocalHoldings &local) {
  std::set<std::int64_t> out;
  for (const auto &[v, ranks] : local.own)
    out.insert(v);
  for (const auto &[v, ranks] : local.partner)
    out.insert(v);
  return out;
}

void print_json(const detail::Catalog &catalog, const std::vector<Listed> &listed,
                const Location &location, const LocalHoldings &local) {
  JsonWriter json(std::cout);
  json.begin_object();
  json.field("dir", catalog.dir());
  json.field("prefix", catalog.prefix());
  json.field("newest_committed", catalog.newest_committed());
  json.key("versions");
  json.begin_array();
  for (const Listed &l : listed) {
    const detail::VersionEntry &e = *l.entry;
    json.begin_object();
    json.field("version", e.version);
    json.field("state", detail::to_string(e.state));
    json.field("restorable", l.restorable);
    json.key("problem");
    if (l.problem.empty())
      json.null();
    else
      json.value(l.problem);
    json.field("levels", levels_text(e.state == detail::VersionState::Committed && l.restorable,
                                     e.version, local));
    json.field("has_data_file", e.has_data_file);
    json.field("has_commit_record", e.has_commit_record);
    if (e.record) {
      const detail::CommitRecord &r = *e.record;
      json.field("step", r.step);
      json.field("kind", r.base ? "base" : "delta");
      json.field("base_version", r.base_version());
      json.field("parent_version", r.parent_version());
      json.field("chain", r.chain);
      json.field("nranks", r.nranks);
      json.field("block_size", r.block_size);
      json.field("file", r.file);
      json.field("file_bytes", r.file_bytes);
      json.field("state_bytes", r.state_bytes);
      json.field("written_bytes", r.written_bytes);
      json.field("blocks", r.blocks);
      json.field("dirty_blocks", r.dirty_blocks);
      json.key("dirty_ratio");
      if (r.blocks)
        json.value(double(r.dirty_blocks) / double(r.blocks));
      else
        json.null();
      json.field("seconds", r.seconds);
      json.field("time_unix", r.time_unix);
      json.field("time", utc_time(r.time_unix));
    }
    json.end_object();
  }
  json.end_array();
  json.field("local_dir", location.local_dir);
  json.key("local_level");
  json.begin_array();
  for (std::int64_t v : local_versions(local)) {
    json.begin_object();
    json.field("version", v);
    json.key("ranks");
    json.begin_array();
    if (local.own.count(v))
      for (std::int32_t r : local.own.at(v))
        json.value(static_cast<std::int64_t>(r));
    json.end_array();
    json.key("partner_copies_of");
    json.begin_array();
    if (local.partner.count(v))
      for (std::int32_t r : local.partner.at(v))
        json.value(static_cast<std::int64_t>(r));
    json.end_array();
    json.end_object();
  }
  json.end_array();
  json.key("ignored");
  json.begin_array();
  for (const detail::IgnoredName &n : catalog.ignored()) {
    json.begin_object();
    json.field("name", n.name);
    json.field("reason", n.reason);
    json.end_object();
  }
  json.end_array();
  json.end_object();
  json.finish();
}

void print_text(const detail::Catalog &catalog, const std::vector<Listed> &listed,
                const Location &location, const LocalHoldings &local) {
  const auto newest = catalog.newest_committed();
  std::cout << "checkpoint directory " << catalog.dir() << " (prefix " << catalog.prefix()
            << "): " << listed.size() << " version(s), newest committed: "
            << (newest ? std::to_string(*newest) : std::string("none")) << "\n\n";
  TextTable table({{"VERSION", true},
                   {"STATE"},
                   {"STEP", true},
                   {"KIND"},
                   {"CHAIN"},
                   {"RANKS", true},
                   {"STATE SIZE", true},
                   {"WRITTEN", true},
                   {"DIRTY", true},
                   {"TIME"},
                   {"LEVELS"},
                   {"NOTE"}});
  for (const Listed &l : listed) {
    const detail::VersionEntry &e = *l.entry;
    std::string state = detail::to_string(e.state);
    if (e.state == detail::VersionState::Committed && !l.restorable) state += " (unrestorable)";
    if (e.record) {
      const detail::CommitRecord &r = *e.record;
      table.add_row({std::to_string(e.version), state, std::to_string(r.step),
                     kind_text(r.base, r.base_version()), chain_text(r.chain),
                     std::to_string(r.nranks), human_bytes(double(r.state_bytes)),
                     human_bytes(double(r.written_bytes)), percent(r.dirty_blocks, r.blocks),
                     local_time(r.time_unix),
                     levels_text(e.state == detail::VersionState::Committed && l.restorable,
                                 e.version, local),
                     l.problem});
    } else {
      table.add_row({std::to_string(e.version), state, "-", "-", "-", "-", "-", "-", "-", "-",
                     levels_text(false, e.version, local), l.problem});
    }
  }
  table.print(std::cout);
  if (!local.own.empty() || !local.partner.empty()) {
    std::cout << "\nlocal level on this node (" << location.local_dir
              << "), whole chains per version:\n";
    for (std::int64_t v : local_versions(local)) {
      std::cout << "  version " << v << ":";
      if (local.own.count(v)) std::cout << " ranks " << ranks_text(local.own.at(v)) << " (own)";
      if (local.partner.count(v))
        std::cout << (local.own.count(v) ? ";" : "") << " copies of ranks "
                  << ranks_text(local.partner.at(v)) << " (partner)";
      std::cout << "\n";
    }
  }
  for (const std::string &p : local.problems)
    std::cout << "note: local level: " << p << "\n";
  if (!catalog.ignored().empty()) {
    std::cout << "\nnote: " << catalog.ignored().size()
              << " file(s) named like checkpoint files are not part of any version:\n";
    for (const detail::IgnoredName &n : catalog.ignored())
      std::cout << "  " << n.name << ": " << n.reason << "\n";
  }
}

} // namespace

int run_list(const Arguments &args) {
  CommandLine cli(
      "ckpt list [options] [DIR]",
      "Lists the checkpoint versions in DIR with their step, kind (a base, or a delta "
      "and its base), delta chain, ranks, state size, bytes written, dirty ratio, commit "
      "time and state: committed, incomplete (no commit record: the write never "
      "finished) or corrupt (damaged commit record, missing or resized data file). A "
      "committed version whose chain is broken is marked unrestorable. Reads only the "
      "commit records; `ckpt verify` checks the data. Files named like checkpoint files that "
      "are not (a version number out of range, a leftover temporary file) are listed in a "
      "note. LEVELS says which levels hold each version: global (committed in DIR), and the "
      "ranks whose local files or partner copies of a whole chain are on this node's "
      "local level (local_dir), which is also listed with the versions only it holds.");
  cli.add_location_options();
  cli.add_json_option();
  if (!cli.parse(args)) return k_exit_ok;
  const Location location = resolve_location(cli);
  const detail::Catalog catalog = open_catalog(location);
  const LocalHoldings local = scan_local_level(location);

  std::vector<Listed> listed;
  for (const auto &[v, e] : catalog.entries()) {
    Listed l;
    l.entry = &e;
    if (e.state == detail::VersionState::Committed) {
      std::string problem;
      l.restorable = catalog.chain_of(v, problem).has_value();
      if (!l.restorable) l.problem = problem;
    } else {
      l.problem = e.problem;
    }
    listed.push_back(std::move(l));
  }
  if (cli.json())
    print_json(catalog, listed, location, local);
  else
    print_text(catalog, listed, location, local);
  return k_exit_ok;
}

} // namespace ckpt::tool
