// ckpt verify: rebuilds every region of a version from its delta chain, as
// restart does, and checks every block against the hashes recorded in the
// newest file of the chain; on the global level (DIR) or, with --level, on
// this node's local level or the partner copies kept there.
#include "chain_reader.hpp"
#include "chain_restore.hpp"
#include "commands.hpp"
#include "json_writer.hpp"
#include "local_level.hpp"
#include "text_format.hpp"
#include "tool_cli.hpp"

#include <iostream>
#include <map>
#include <optional>

namespace ckpt::tool {
namespace {

struct VersionResult {
  std::int64_t version = 0;
  std::string state;
  std::vector<std::int64_t> chain;
  std::optional<detail::CommitRecord> record;
  bool ok = false;
  std::uint64_t regions = 0, blocks = 0, bytes = 0, damaged_blocks = 0;
  std::string problem;        // why the version as a whole fails
  std::vector<Damage> damage; // the damaged blocks reported
};

VersionResult verify_version(const detail::Catalog &catalog, std::int64_t version,
                             std::size_t max_reported) {
  VersionResult out;
  out.version = version;
  const detail::VersionEntry &e = require_version(catalog, version);
  out.state = detail::to_string(e.state);
  out.record = e.record;
  if (e.record) out.chain = e.record->chain;
  if (e.state != detail::VersionState::Committed) {
    out.problem = "version " + std::to_string(version) + " is " + out.state + ": " + e.problem;
    return out;
  }
  std::string problem;
  const auto chain = catalog.chain_of(version, problem);
  if (!chain) {
    out.problem = problem;
    return out;
  }
  try {
    ChainReader reader(catalog, *chain);
    std::vector<unsigned char> buffer;
    for (const detail::IndexRow &row : reader.regions()) {
      ++out.regions;
      out.blocks += row.nblocks;
      out.bytes += row.bytes;
      out.damaged_blocks += reader.verify(row, buffer, out.damage, max_reported);
    }
  } catch (const ToolError &err) {
    if (err.exit_status() == k_exit_usage) throw; // cannot read a file: not damage
    out.problem = err.what();
  }
  out.ok = out.problem.empty() && out.damaged_blocks == 0;
  return out;
}

/// The local or partner level of this node: every rank's chain of `version`
/// held here (its own files, or the partner copies), restored in memory one
/// region at a time and checked block by block (docs/FORMAT.md, section 7).
VersionResult verify_local_version(const Location &location, const LocalHoldings &holdings,
                                   bool partner, std::int64_t version, std::size_t max_reported) {
  VersionResult out;
  out.version = version;
  out.state = partner ? "on the partner level" : "on the local level";
  const auto &held = partner ? holdings.partner : holdings.own;
  const auto it = held.find(version);
  if (it == held.end()) {
    out.problem =
        "version " + std::to_string(version) + " is not " + out.state + " in " + location.local_dir;
    return out;
  }
  for (const std::int32_t rank : it->second) {
    try {
      std::vector<std::string> problems;
      const detail::LocalLevel level(location.local_dir, location.prefix, rank, holdings.nranks,
                                     false);
      const std::map<std::int64_t, detail::LocalVersion> scanned =
          partner ? level.scan_partner_copies(problems)[rank] : level.scan(problems);
      const detail::RankChain chain = detail::LocalLevel::chain_of(scanned, version);
      if (!out.record) {
        out.record = scanned.at(version).record;
        out.chain = out.record->chain;
      }
      detail::ChainRestorer restorer(chain);
      for (const auto &[id, region] : chain.regions) {
        std::vector<unsigned char> buffer(region.row.bytes);
        detail::RestoreOptions options;
        options.max_report = max_reported;
        options.stop_on_damage = false;
        const detail::RestoreReport report =
            restorer.restore({{id, detail::RestoreTarget{buffer.data(), buffer.size()}}}, options);
        ++out.regions;
        out.blocks += region.row.nblocks;
        out.bytes += region.row.bytes;
        out.damaged_blocks += report.damaged;
        for (const detail::BlockDamage &d : report.damage)
          if (out.damage.size() < max_reported) {
            Damage damage;
            damage.file = d.file >= 0 ? chain.files[static_cast<std::size_t>(d.file)].path : "";
            damage.rank = rank;
            damage.region_id = id;
            damage.region = region.row.name;
            damage.block = static_cast<std::int64_t>(d.block);
            damage.problem = restorer.describe(d);
            out.damage.push_back(damage);
          }
      }
    } catch (const std::exception &e) {
      out.problem += (out.problem.empty() ? "" : "; ") + std::string("rank ") +
                     std::to_string(rank) + ": " + e.what();
    }
  }
  out.ok = out.problem.empty() && out.damaged_blocks == 0;
  return out;
}

std::string header_text(const VersionResult &r) {
  std::string out = "version " + std::to_string(r.version);
  if (r.record) {
    out += " (" + kind_text(r.record->base, r.record->base_version());
    if (!r.record->base) {
      out += ", chain";
      for (std::int64_t v : r.chain)
        out += " " + std::to_string(v);
    }
    out += ", step " + std::to_string(r.record->step) + ", " + std::to_string(r.record->nranks) +
           " rank(s))";
  }
  return out;
}

void print_text(const std::vector<VersionResult> &results) {
  std::size_t failed = 0;
  for (const VersionResult &r : results) {
    if (r.ok) {
      std::cout << header_text(r) << ": OK, " << r.regions << " region(s), " << r.blocks
                << " block(s), " << human_bytes(double(r.bytes)) << " verified\n";
      continue;
    }
    ++failed;
    std::cout << header_text(r) << ": FAILED";
    if (r.damaged_blocks)
      std::cout << ", " << r.damaged_blocks << " of " << r.blocks << " block(s) damaged";
    std::cout << "\n";
    if (!r.problem.empty()) std::cout << "  " << r.problem << "\n";
    for (const Damage &d : r.damage)
      std::cout << "  " << d.describe() << "\n";
    if (r.damaged_blocks > r.damage.size() && !r.damage.empty())
      std::cout << "  ... and " << r.damaged_blocks - r.damage.size()
                << " more damaged block(s) (raise --max-report to list them)\n";
  }
  if (failed == 0)
    std::cout << "all " << results.size() << " version(s) verified: every block matches its hash\n";
  else
    std::cout << failed << " of " << results.size() << " version(s) failed verification\n";
}

void print_json(const std::string &dir, const std::string &prefix,
                const std::vector<VersionResult> &results) {
  bool all_ok = true;
  for (const VersionResult &r : results)
    all_ok = all_ok && r.ok;
  JsonWriter json(std::cout);
  json.begin_object();
  json.field("dir", dir);
  json.field("prefix", prefix);
  json.field("ok", all_ok);
  json.key("versions");
  json.begin_array();
  for (const VersionResult &r : results) {
    json.begin_object();
    json.field("version", r.version);
    json.field("state", r.state);
    json.field("ok", r.ok);
    json.field("chain", r.chain);
    json.field("regions", r.regions);
    json.field("blocks", r.blocks);
    json.field("bytes", r.bytes);
    json.field("damaged_blocks", r.damaged_blocks);
    json.key("problem");
    if (r.problem.empty())
      json.null();
    else
      json.value(r.problem);
    json.key("damage");
    json.begin_array();
    for (const Damage &d : r.damage) {
      json.begin_object();
      json.field("file", d.file);
      json.field("file_version", d.file_version);
      json.field("rank", static_cast<std::int64_t>(d.rank));
      json.field("region_id", static_cast<std::int64_t>(d.region_id));
      json.field("region", d.region);
      json.key("block");
      if (d.block >= 0)
        json.value(d.block);
      else
        json.null();
      json.field("problem", d.problem);
      json.end_object();
    }
    json.end_array();
    json.end_object();
  }
  json.end_array();
  json.end_object();
  json.finish();
}

/// Prints the results and returns the exit status (1 when any failed).
int report(const CommandLine &cli, const Location &where,
           const std::vector<VersionResult> &results) {
  if (cli.json())
    print_json(where.dir, where.prefix, results);
  else
    print_text(results);
  std::cout.flush();
  for (const VersionResult &r : results) {

    if (r.ok) continue;
    std::string first = !r.problem.empty()  ? r.problem
                        : !r.damage.empty() ? r.damage.front().describe()
                                            : std::string("damaged blocks");
    std::cerr << "ckpt verify: verification failed: version " << r.version << ": "
              << one_line(first) << "\n";
    return k_exit_damage;
  }
  return k_exit_ok;
}

int verify_local(const CommandLine &cli, const Location &location, bool partner) {
  const LocalHoldings holdings = scan_local_level(location);
  const auto &held = partner ? holdings.partner : holdings.own;
  std::vector<std::int64_t> versions;
  if (cli.has("all")) {
    for (const auto &[v, ranks] : held)
      versions.push_back(v);
  } else if (!cli.operands().empty()) {
    versions.push_back(parse_version(cli.operands()[0]));
  } else if (!held.empty()) {
    versions.push_back(held.rbegin()->first);
  }
  if (versions.empty())
    throw damage_found(std::string("no version on the ") + (partner ? "partner" : "local") +
                       " level in " + (location.local_dir.empty() ? "(none)" : location.local_dir));
  const std::size_t max_reported = cli.get<std::size_t>("max-report");
  std::vector<VersionResult> results;
  results.reserve(versions.size());
  for (std::int64_t v : versions)
    results.push_back(verify_local_version(location, holdings, partner, v, max_reported));
  return report(cli, Location{location.local_dir, location.prefix, location.local_dir}, results);
}

} // namespace

int run_verify(const Arguments &args) {
  CommandLine cli(
      "ckpt verify [options] [DIR] [VERSION | --all]",
      "Verifies a checkpoint version (default: the newest committed one, the one restart would "
      "use) or, with --all, every version in DIR: checks its commit record and delta chain, "
      "rebuilds every region of every rank from the chain's files in memory (one region at a "
      "time, as restart does) and compares the XXH3-64 hash of every block with the hash "
      "recorded in the newest file. Exits 0 only when everything is valid; otherwise names "
      "each damaged file, rank, region and block and exits 1. With --all, incomplete and "
      "corrupt versions count as failures.");
  cli.add_location_options();
  cli.add_json_option();
  cli.options().add_options()("level", po::value<std::string>()->default_value("global"),
                              "the level to verify: global (DIR), local (the ranks' own files "
                              "on this node's local level) or partner (the copies kept on this "
                              "node)");
  cli.options().add_options()("all", "verify every version in DIR")(
      "max-report", po::value<std::size_t>()->default_value(20)->value_name("N"),
      "list at most N damaged blocks per version");
  cli.set_operands({"VERSION"});
  if (!cli.parse(args)) return k_exit_ok;
  if (cli.has("all") && !cli.operands().empty())
    throw bad_input("give either a VERSION or --all, not both");
  const std::string level = cli.get<std::string>("level");
  if (level != "global" && level != "local" && level != "partner")
    throw bad_input("--level takes global, local or partner, not '" + level + "'");
  const Location location = resolve_location(cli);
  if (level != "global") return verify_local(cli, location, level == "partner");
  const detail::Catalog catalog = open_catalog(location);
  std::vector<std::int64_t> versions;
  if (cli.has("all")) {
    for (const auto &[v, e] : catalog.entries())
      versions.push_back(v);
  } else if (!cli.operands().empty()) {
    versions.push_back(parse_version(cli.operands()[0]));
    require_version(catalog, versions.back());
  } else if (auto newest = catalog.newest_committed()) {
    versions.push_back(*newest);
  } else {
    throw damage_found("no committed version in " + catalog.dir() +
                       " (versions: " + describe_versions(catalog) + ")");
  }

  MpiScope mpi;
  const std::size_t max_reported = cli.get<std::size_t>("max-report");
  std::vector<VersionResult> results;
  results.reserve(versions.size());
  for (std::int64_t v : versions)
    results.push_back(verify_version(catalog, v, max_reported));
  return report(cli, Location{catalog.dir(), catalog.prefix(), location.local_dir}, results);
}

} // namespace ckpt::tool
