// The subcommands of the ckpt tool. Each takes its arguments (after the
// subcommand name) and returns the exit status; errors are thrown as
// ToolError (or ckpt::Error) and reported by main as one line.
#ifndef CKPT_TOOL_COMMANDS_HPP
#define CKPT_TOOL_COMMANDS_HPP

#include <string>
#include <vector>

namespace ckpt::tool {

using Arguments = std::vector<std::string>;

int run_list(const Arguments &args);
int run_inspect(const Arguments &args);
int run_verify(const Arguments &args);
int run_merge(const Arguments &args);
int run_extract(const Arguments &args);
int run_prune(const Arguments &args);
int run_stats(const Arguments &args);
int run_config(const Arguments &args);

struct Subcommand {
  const char *name;
  const char *summary;
  int (*run)(const Arguments &args);
};

/// Every subcommand, in the order `ckpt --help` lists them.
const std::vector<Subcommand> &subcommands();

} // namespace ckpt::tool

#endif
