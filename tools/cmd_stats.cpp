// ckpt stats: the per-checkpoint statistics the runtime appends to
// <dir>/<prefix>.stats: bytes, dirty ratio, time and bandwidth.
#include "commands.hpp"
#include "fs.hpp"
#include "json_writer.hpp"
#include "stats_file.hpp"
#include "stats_svg.hpp"
#include "text_format.hpp"
#include "tool_cli.hpp"

#include <ckpt/ckpt.hpp>

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <iostream>
#include <optional>
#include <unistd.h>

namespace ckpt::tool {
namespace {

struct Totals {
  std::uint64_t checkpoints = 0, state_bytes = 0, written_bytes = 0, blocks = 0, dirty = 0;
  double seconds = 0;
};

Totals totals_of(const StatsFile &stats) {
  Totals t;
  for (const StatsEntry &e : stats.entries) {
    ++t.checkpoints;
    t.state_bytes += e.state_bytes;
    t.written_bytes += e.written_bytes;
    t.blocks += e.blocks;
    t.dirty += e.dirty_blocks;
    t.seconds += e.seconds;
  }
  return t;
}

std::optional<double> ratio(std::uint64_t part, std::uint64_t whole) {
  if (whole == 0) return std::nullopt;
  return double(part) / double(whole);
}

void print_json(const Location &where, const std::string &path, const StatsFile &stats) {
  const Totals t = totals_of(stats);
  JsonWriter json(std::cout);
  json.begin_object();
  json.field("dir", where.dir);
  json.field("prefix", where.prefix);
  json.field("file", path);
  json.key("checkpoints");
  json.begin_array();
  for (const StatsEntry &e : stats.entries) {
    json.begin_object();
    json.field("version", e.version);
    json.field("step", e.step);
    json.field("kind", e.base ? "base" : "delta");
    json.field("base_version", e.base_version);
    json.field("nranks", static_cast<std::int64_t>(e.nranks));
    json.field("state_bytes", e.state_bytes);
    json.field("written_bytes", e.written_bytes);
    json.field("blocks", e.blocks);
    json.field("dirty_blocks", e.dirty_blocks);
    json.field("dirty_ratio", ratio(e.dirty_blocks, e.blocks));
    json.field("seconds", e.seconds);
    json.field("bandwidth_bytes_per_second", e.bandwidth());
    json.field("time_unix", e.time_unix);
    json.field("time", utc_time(e.time_unix));
    json.end_object();
  }
  json.end_array();
  json.key("skipped_lines");
  json.begin_array();
  for (const StatsProblem &p : stats.problems) {
    json.begin_object();
    json.field("line", static_cast<std::uint64_t>(p.line));
    json.field("problem", p.problem);
    json.end_object();
  }
  json.end_array();
  json.key("totals");
  json.begin_object();
  json.field("checkpoints", t.checkpoints);
  json.field("state_bytes", t.state_bytes);
  json.field("written_bytes", t.written_bytes);
  json.field("dirty_ratio", ratio(t.dirty, t.blocks));
  json.field("seconds", t.seconds);
  json.field("bandwidth_bytes_per_second",
             t.seconds > 0 ? double(t.written_bytes) / t.seconds : 0.0);
  json.end_object();
  json.end_object();
  json.finish();
}

void print_text(const std::string &path, const StatsFile &stats) {
  std::cout << "checkpoint statistics from " << path << "\n\n";
  TextTable table({{"VERSION", true},
                   {"STEP", true},
                   {"KIND"},
                   {"RANKS", true},
                   {"STATE", true},
                   {"WRITTEN", true},
                   {"DIRTY", true},
                   {"TIME", true},
                   {"BANDWIDTH", true},
                   {"WHEN"}});
  for (const StatsEntry &e : stats.entries)
    table.add_row({std::to_string(e.version), std::to_string(e.step),
                   kind_text(e.base, e.base_version), e.nranks > 0 ? std::to_string(e.nranks) : "-",
                   human_bytes(double(e.state_bytes)), human_bytes(double(e.written_bytes)),
                   percent(e.dirty_blocks, e.blocks), seconds_text(e.seconds),
                   human_bytes(e.bandwidth()) + "/s", local_time(e.time_unix)});
  table.print(std::cout);
  const Totals t = totals_of(stats);
  std::cout << "\n"
            << t.checkpoints << " checkpoint(s): " << human_bytes(double(t.written_bytes))
            << " written of " << human_bytes(double(t.state_bytes)) << " of state ("
            << percent(t.written_bytes, t.state_bytes) << "), dirty ratio "
            << percent(t.dirty, t.blocks) << ", " << seconds_text(t.seconds) << " in total, "
            << human_bytes(t.seconds > 0 ? double(t.written_bytes) / t.seconds : 0.0)
            << "/s on average\n";
}

/// Writes the SVG picture to `file` (bad_input when it cannot be written;
/// a partial file is removed).
void write_svg(const std::string &file, const Location &where, const StatsFile &stats) {
  if (file.empty()) throw bad_input("--svg needs a file name");
  std::ofstream out(file, std::ios::binary | std::ios::trunc);
  if (!out) {
    const int err = errno;
    throw bad_input("cannot write " + file + ": " + std::strerror(err));
  }
  const std::string source =
      where.prefix == "ckpt" ? where.dir : where.dir + " (prefix " + where.prefix + ")";
  write_stats_svg(out, stats.entries, source);
  out.close();
  if (!out) {
    std::remove(file.c_str());
    throw bad_input("cannot write " + file + ": write failed");
  }
}

} // namespace

int run_stats(const Arguments &args) {
  CommandLine cli("ckpt stats [options] [DIR]",
                  "Shows the statistics of every checkpoint the runs in DIR wrote, from the "
                  "stats file <DIR>/<PREFIX>.stats that the runtime appends to at each commit "
                  "(one JSON object per line): version, step, kind, ranks, state size, bytes "
                  "written, dirty ratio (blocks written / blocks), time from entry to commit, "
                  "bandwidth (bytes written / time) and commit time. Lines that cannot be read "
                  "(a run killed while appending) are skipped with a warning. --svg FILE also "
                  "draws the history as one SVG picture: bytes written against the state size, "
                  "dirty ratio and time of every checkpoint, bases and deltas in their own "
                  "colours.");
  cli.add_location_options();
  cli.add_json_option();
  cli.options().add_options()("svg", po::value<std::string>()->value_name("FILE"),
                              "also draw the history as an SVG picture into FILE");
  if (!cli.parse(args)) return k_exit_ok;
  const Location where = resolve_location(cli);
  if (!detail::is_directory(where.dir))
    throw bad_input(detail::path_exists(where.dir) ? where.dir + " is not a directory"
                                                   : "no such checkpoint directory: " + where.dir);
  const std::string path = detail::join_path(where.dir, where.prefix + ".stats");
  if (!detail::path_exists(path))
    throw bad_input("no statistics file " + path +
                    " (the runtime writes it at each checkpoint; wrong --prefix?)");
  if (::access(path.c_str(), R_OK) != 0) {
    const int err = errno;
    throw bad_input("cannot read " + path + ": " + std::strerror(err));
  }
  StatsFile stats;
  try {
    stats = read_stats_file(path);
  } catch (const Error &e) {
    throw bad_input(one_line(e.what()));
  }
  for (const StatsProblem &p : stats.problems)
    std::cerr << "ckpt stats: warning: " << path << " line " << p.line << " skipped: " << p.problem
              << "\n";
  if (cli.has("svg")) write_svg(cli.get<std::string>("svg"), where, stats);
  if (cli.json()) {
    print_json(where, path, stats);
  } else {
    print_text(path, stats);
    if (cli.has("svg"))
      std::cout << "\nhistory drawn in " << cli.get<std::string>("svg") << " (SVG)\n";
  }
  return k_exit_ok;
}

} // namespace ckpt::tool
