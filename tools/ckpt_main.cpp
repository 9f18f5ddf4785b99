// ckpt: lists, inspects, verifies, merges and prunes libckpt checkpoints, and
// shows the statistics and configuration of a run. See docs/TOOL.md.
#include "commands.hpp"
#include "tool_cli.hpp"

#include <ckpt/ckpt.hpp>

#include <iostream>
#include <new>

#ifndef CKPT_VERSION_STRING
#define CKPT_VERSION_STRING "unknown"
#endif

namespace ckpt::tool {

const std::vector<Subcommand> &subcommands() {
  static const std::vector<Subcommand> list = {
      {"list", "versions in a checkpoint directory and their state", run_list},
      {"inspect", "header, topology, regions per rank and hashes of one version", run_inspect},
      {"verify", "recompute and compare every block hash (exit 1 on damage)", run_verify},
      {"extract", "one region of a version as a typed HDF5 dataset or .npy file", run_extract},
      {"merge", "fold the delta chain of a version into a new base version", run_merge},
      {"prune", "delete old versions, keeping the N newest and their chains", run_prune},
      {"stats", "bytes, dirty ratio, time and bandwidth of every checkpoint", run_stats},
      {"config", "the effective configuration and where each value comes from", run_config},
  };
  return list;
}

namespace {

void print_overview(std::ostream &out) {
  out << "Usage: ckpt COMMAND [options] [DIR] [...]\n\n"
         "Manages the checkpoints libckpt writes (<DIR>/<PREFIX>.v<NNNNNN>.h5 and .commit).\n\n"
         "Commands:\n";
  for (const Subcommand &c : subcommands())
    out << "  " << c.name << std::string(10 - std::string(c.name).size(), ' ') << c.summary << "\n";
  out << "\n`ckpt COMMAND --help` describes a command's options. The read-only commands take "
         "--json.\nExit status: 0 success, 1 verification failed or damaged checkpoint data, "
         "2 bad command line or input.\n";
}

} // namespace
} // namespace ckpt::tool

int main(int argc, char **argv) {
  using namespace ckpt::tool;
  const std::vector<std::string> args(argv + 1, argv + argc);
  if (args.empty()) {
    std::cerr << "ckpt: no command given (list, inspect, verify, merge, prune, stats, config; "
                 "see ckpt --help)\n";
    return k_exit_usage;
  }
  const std::string &name = args[0];
  if (name == "--help" || name == "-h" || name == "help") {
    if (args.size() > 1 && name == "help") {
      for (const Subcommand &c : subcommands())
        if (args[1] == c.name) return c.run({"--help"});
    }
    print_overview(std::cout);
    return k_exit_ok;
  }
  if (name == "--version") {
    std::cout << "ckpt (libckpt) " << CKPT_VERSION_STRING << "\n";
    return k_exit_ok;
  }
  const Subcommand *command = nullptr;
  for (const Subcommand &c : subcommands())
    if (name == c.name) command = &c;
  if (!command) {
    std::string names;
    for (const Subcommand &c : subcommands())
      names += (names.empty() ? "" : ", ") + std::string(c.name);
    std::cerr << "ckpt: unknown command '" << name << "' (commands: " << names
              << "; see ckpt --help)\n";
    return k_exit_usage;
  }
  const std::string label = "ckpt " + std::string(command->name) + ": error: ";
  try {
    return command->run(Arguments(args.begin() + 1, args.end()));
  } catch (const ToolError &e) {
    std::cerr << label << one_line(e.what()) << "\n";
    return e.exit_status();
  } catch (const ckpt::Error &e) {
    std::cerr << label << one_line(e.what()) << "\n";
    return e.status() == CKPT_ERR_CORRUPT ? k_exit_damage : k_exit_usage;
  } catch (const std::bad_alloc &) {
    std::cerr << label << "out of memory\n";
    return k_exit_usage;
  } catch (const std::exception &e) {
    std::cerr << label << one_line(e.what()) << "\n";
    return k_exit_usage;
  }
}
