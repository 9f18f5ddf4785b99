// ckpt config: the effective libckpt configuration and where each value
// comes from (flag > CKPT_<KEY> environment > INI file > default).
#include "commands.hpp"
#include "config.hpp"
#include "json_writer.hpp"
#include "text_format.hpp"
#include "tool_cli.hpp"

#include <iostream>
#include <map>

namespace ckpt::tool {
namespace {

const char *kind_name(detail::OptionKind kind) {
  switch (kind) {
  case detail::OptionKind::String: return "STRING";
  case detail::OptionKind::Bool: return "BOOL";
  case detail::OptionKind::Integer: return "INT";
  case detail::OptionKind::Size: return "SIZE";
  case detail::OptionKind::Choice: return "CHOICE";
  }
  return "VALUE";
}

std::string env_name(const std::string &key) {
  std::string var = "CKPT_";
  for (const char c : key)
    var += static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
  return var;
}

} // namespace

int run_config(const Arguments &args) {
  CommandLine cli(
      "ckpt config [options] [--config FILE] [--set KEY=VALUE ...] [--KEY VALUE ...]",
      "Prints the effective libckpt configuration, as a job started now would see it, and where "
      "each value comes from. Precedence: flag (--set KEY=VALUE or --KEY VALUE) > environment "
      "variable CKPT_<KEY> > configuration file (--config FILE, INI: `key = value` lines, "
      "optionally under a [ckpt] section) > built-in default. Unknown keys and bad values are "
      "errors that name the key and where it came from.");
  cli.add_json_option();
  cli.options().add_options()("config", po::value<std::string>()->value_name("FILE"),
                              "libckpt configuration (INI) file")(
      "set", po::value<std::vector<std::string>>()->composing()->value_name("KEY=VALUE"),
      "set a key as a flag (repeatable)");
  po::options_description keys("Configuration keys (each also a flag --KEY VALUE)");
  for (const detail::OptionSpec &spec : detail::option_table()) {
    std::string help = std::string(spec.help) + " [default " + spec.default_value + "; " +
                       env_name(spec.key) + "]";
    if (spec.kind == detail::OptionKind::Choice)
      help += " (one of " + std::string(spec.choices) + ")";
    keys.add_options()(spec.key, po::value<std::string>()->value_name(kind_name(spec.kind)),
                       help.c_str());
  }
  cli.options().add(keys);
  if (!cli.parse(args)) return k_exit_ok;

  std::map<std::string, std::string> flags;
  for (const detail::OptionSpec &spec : detail::option_table())
    if (cli.has(spec.key)) flags[spec.key] = cli.get<std::string>(spec.key);
  if (cli.has("set")) {
    for (const std::string &item : cli.get<std::vector<std::string>>("set")) {
      const auto eq = item.find('=');
      if (eq == std::string::npos || eq == 0)
        throw bad_input("--set '" + item + "': expected KEY=VALUE");
      const std::string key = item.substr(0, eq), value = item.substr(eq + 1);
      if (!detail::find_option(key))
        throw bad_input("unknown configuration key '" + key + "' (from --set)");
      const auto [it, fresh] = flags.emplace(key, value);
      if (!fresh && it->second != value)
        throw bad_input("key '" + key + "' is set twice on the command line ('" + it->second +
                        "' and '" + value + "')");
    }
  }
  const std::string file = cli.has("config") ? cli.get<std::string>("config") : std::string();
  const detail::Config config = detail::Config::resolve(file, flags);

  if (cli.json()) {
    JsonWriter json(std::cout);
    json.begin_object();
    json.key("config_file");
    if (file.empty())
      json.null();
    else
      json.value(file);
    json.field("precedence", std::vector<std::string>{"flag", "environment", "file", "default"});
    json.key("options");
    json.begin_object();
    for (const detail::OptionSpec &spec : detail::option_table()) {
      const detail::Config::Entry &e = config.entry(spec.key);
      json.key(spec.key);
      json.begin_object();
      json.field("value", e.value);
      json.field("source", detail::to_string(e.source));
      json.field("origin", e.origin);
      json.field("default", spec.default_value);
      json.field("environment_variable", env_name(spec.key));
      json.field("help", spec.help);
      json.end_object();
    }
    json.end_object();
    json.end_object();
    json.finish();
    return k_exit_ok;
  }
  std::cout << "effective libckpt configuration (precedence: flag > CKPT_<KEY> environment > "
               "file > default)\n";
  if (!file.empty()) std::cout << "configuration file: " << file << "\n";
  std::cout << "\n";
  TextTable table({{"KEY"}, {"VALUE"}, {"SOURCE"}, {"ORIGIN"}});
  for (const detail::OptionSpec &spec : detail::option_table()) {
    const detail::Config::Entry &e = config.entry(spec.key);
    table.add_row({spec.key, e.value, detail::to_string(e.source),
                   e.source == detail::ValueSource::Flag ? std::string("command line") : e.origin});
  }
  table.print(std::cout);
  return k_exit_ok;
}

} // namespace ckpt::tool
