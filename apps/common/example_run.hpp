// What every libckpt example application does the same way, written once:
// the common command-line options (--steps, --checkpoint-every, --dir,
// --config, --restart, --sleep-ms, --print-every), the restart at start-up,
// the checkpoint at the end of a step (when due, or when a signal asked for
// one), and a main() that agrees on failures across the ranks before
// finalizing. Only the public API is used, as a user's application would.
//
// Exit codes: 0 done, 85 (CKPT_EXIT_REQUEUE) checkpointed on a signal and
// should be requeued, 1 runtime error, 2 usage error.
#ifndef CKPT_APPS_EXAMPLE_RUN_HPP
#define CKPT_APPS_EXAMPLE_RUN_HPP

#include <ckpt/ckpt.hpp>

#include <boost/program_options.hpp>
#include <mpi.h>

#include <chrono>
#include <cinttypes>
#include <cstdint>
#include <cstdio>
#include <map>
#include <optional>
#include <sstream>
#include <stdexcept>
#include <string>
#include <thread>

namespace ckpt_example {

constexpr int exit_ok = 0;
constexpr int exit_runtime_error = 1;
constexpr int exit_usage = 2;

/// A bad command line: reported by rank 0, exit code 2.
class UsageError : public std::runtime_error {
public:
  using std::runtime_error::runtime_error;
};

inline void check_mpi(int rc, const char *call) {
  if (rc == MPI_SUCCESS) return;
  char text[MPI_MAX_ERROR_STRING];
  int length = 0;
  MPI_Error_string(rc, text, &length);
  throw std::runtime_error(std::string(call) + " failed: " + std::string(text, length));
}

inline bool mpi_finalized() noexcept {
  int finalized = 0;
  MPI_Finalized(&finalized);
  return finalized != 0;
}

inline std::int64_t parse_count(const boost::program_options::variables_map &vm, const char *name,
                                std::int64_t min) {
  const auto value = vm[name].as<std::int64_t>();
  if (value < min)
    throw UsageError("--" + std::string(name) + " must be at least " + std::to_string(min) +
                     ", got " + std::to_string(value));
  return value;
}

enum class RestartMode { no, yes, automatic };

/// The options every example takes: how long to run, when to checkpoint,
/// where, and whether to restart.
struct RunOptions {
  std::int64_t steps = 1000;
  std::int64_t checkpoint_every = 100;
  std::int64_t print_every = 0;
  std::int64_t sleep_ms = 0;
  std::string dir;    // empty: libckpt's configured directory
  std::string config; // libckpt INI file, optional
  RestartMode restart = RestartMode::no;

  /// Adds --steps, --checkpoint-every, --dir, --config, --restart,
  /// --sleep-ms and --print-every with the defaults of *this.
  void add_to(boost::program_options::options_description &desc) const {
    namespace po = boost::program_options;
    // clang-format off
    desc.add_options()
      ("steps", po::value<std::int64_t>()->default_value(steps),
       "total number of time steps of the run (a restarted run continues up to it)")
      ("checkpoint-every", po::value<std::int64_t>()->default_value(checkpoint_every),
       "checkpoint every N steps (0: only when a checkpoint signal arrives)")
      ("dir", po::value<std::string>(),
       "checkpoint directory (default: libckpt's configured `dir`)")
      ("config", po::value<std::string>(), "libckpt configuration (INI) file")
      ("restart", po::value<std::string>()->default_value("no")->implicit_value("yes"),
       "no: start fresh; yes (also `--restart` alone): restart from the newest valid "
       "checkpoint, fail if there is none; auto: restart if a checkpoint exists")
      ("sleep-ms", po::value<std::int64_t>()->default_value(sleep_ms),
       "sleep this many milliseconds per step (lets tests kill the run at a chosen moment)")
      ("print-every", po::value<std::int64_t>()->default_value(print_every),
       "print `step N` every N steps (0: never)");
    // clang-format on
  }

  /// Reads back what add_to() declared; throws UsageError.
  void read(const boost::program_options::variables_map &vm) {
    steps = parse_count(vm, "steps", 0);
    checkpoint_every = parse_count(vm, "checkpoint-every", 0);
    sleep_ms = parse_count(vm, "sleep-ms", 0);
    print_every = parse_count(vm, "print-every", 0);
    if (vm.count("dir") != 0) {
      dir = vm["dir"].as<std::string>();
      if (dir.empty()) throw UsageError("--dir must not be empty");
    }
    if (vm.count("config") != 0) config = vm["config"].as<std::string>();
    const auto mode = vm["restart"].as<std::string>();
    if (mode == "no")
      restart = RestartMode::no;
    else if (mode == "yes")
      restart = RestartMode::yes;
    else if (mode == "auto")
      restart = RestartMode::automatic;
    else
      throw UsageError("--restart must be no, yes or auto, got '" + mode + "'");
  }

  /// "every N steps" or "on signal only".
  [[nodiscard]] std::string checkpoint_text() const {
    return checkpoint_every > 0 ? "every " + std::to_string(checkpoint_every) + " steps"
                                : std::string("on signal only");
  }

  /// Opens the libckpt session of the run (collective).
  void open(std::optional<ckpt::Session> &session) const {
    std::map<std::string, std::string> ckpt_options;
    if (!dir.empty()) ckpt_options["dir"] = dir;
    session.emplace(MPI_COMM_WORLD, config, ckpt_options);
  }
};

/// Parses the command line into `vm`; false after --help (printed by rank 0
/// when `print`). Throws UsageError.
inline bool parse_command_line(int argc, char **argv,
                               const boost::program_options::options_description &desc, bool print,
                               boost::program_options::variables_map &vm) {
  namespace po = boost::program_options;
  try {
    const po::positional_options_description no_positionals;
    po::store(po::command_line_parser(argc, argv).options(desc).positional(no_positionals).run(),
              vm);
    po::notify(vm);
  } catch (const po::error &e) {
    throw UsageError(e.what());
  }
  if (vm.count("help") == 0) return true;
  if (print) {
    std::ostringstream text;
    text << desc << '\n';
    std::fputs(text.str().c_str(), stdout);
    std::fflush(stdout);
  }
  return false;
}

inline void print_line(int rank, const std::string &line) {
  if (rank != 0) return;
  std::printf("%s\n", line.c_str());
  std::fflush(stdout);
}

/// Collective. Restores every protected region (including `step`) when
/// --restart asks for it and a checkpoint exists, and says what it did.
inline void restart_if_asked(ckpt::Session &session, const RunOptions &opts,
                             const std::int64_t &step, int rank) {
  if (opts.restart == RestartMode::no) return;
  if (!session.latest()) {
    if (opts.restart == RestartMode::yes)
      throw std::runtime_error("--restart: no committed checkpoint in " +
                               (opts.dir.empty()
                                    ? std::string("the configured checkpoint directory")
                                    : "'" + opts.dir + "'") +
                               " (use --restart=auto to start fresh when there is none)");
    print_line(rank, "no checkpoint found, starting at step 0");
    return;
  }
  const ckpt::CheckpointId id = session.restart();
  if (step != id.step)
    throw std::runtime_error("restored step counter " + std::to_string(step) +
                             " differs from the checkpoint's step label " +
                             std::to_string(id.step));
  if (step > opts.steps)
    throw std::runtime_error("the checkpoint is at step " + std::to_string(step) +
                             ", past --steps " + std::to_string(opts.steps));
  print_line(rank, "restarted from version " + std::to_string(id.version) + " at step " +
                       std::to_string(id.step));
}

/// Sleeps --sleep-ms before a step (tests use it to kill at a chosen moment).
inline void pace(const RunOptions &opts) {
  if (opts.sleep_ms > 0) std::this_thread::sleep_for(std::chrono::milliseconds(opts.sleep_ms));
}

/// Collective, at the end of every step: checkpoints when due or when a
/// signal asked for it. True when the run must stop for a requeue (the
/// session is then finalized and the caller returns CKPT_EXIT_REQUEUE).
inline bool checkpoint_after_step(ckpt::Session &session, const RunOptions &opts, std::int64_t step,
                                  int rank) {
  const bool requested = session.need_checkpoint(); // collective: every rank, every step
  const bool due = opts.checkpoint_every > 0 && step % opts.checkpoint_every == 0;
  if (requested || due) session.checkpoint(step);
  // A signal during the last step: the run is complete, nothing to requeue.
  if (session.should_exit() && step < opts.steps) {
    print_line(rank, "checkpointed at step " + std::to_string(step) +
                         " on a signal; exiting for requeue (" + std::to_string(CKPT_EXIT_REQUEUE) +
                         ")");
    session.finalize();
    return true;
  }
  if (opts.print_every > 0 && step % opts.print_every == 0)
    print_line(rank, "step " + std::to_string(step));
  return false;
}

/// Collective over WORLD: how many ranks failed. A rank that failed waits at
/// most `patience` for the others: if some ranks are still busy (stuck in a
/// collective the failed rank left), it returns -1.
inline int count_failures(bool failed, std::chrono::seconds patience) {
  int local = failed ? 1 : 0;
  int total = 0;
  MPI_Request request = MPI_REQUEST_NULL;
  MPI_Iallreduce(&local, &total, 1, MPI_INT, MPI_SUM, MPI_COMM_WORLD, &request);
  if (!failed) {
    MPI_Wait(&request, MPI_STATUS_IGNORE);
    return total;
  }
  const auto deadline = std::chrono::steady_clock::now() + patience;
  for (;;) {
    int done = 0;
    MPI_Test(&request, &done, MPI_STATUS_IGNORE);
    if (done != 0) return total;
    if (std::chrono::steady_clock::now() > deadline) return -1;
    std::this_thread::sleep_for(std::chrono::milliseconds(1));
  }
}

/// The whole main() of an example called `name`: MPI start-up (asking for
/// MPI_THREAD_MULTIPLE, see below); on every rank
/// (so that all agree on usage errors) `parse(argc, argv, print)`, which
/// returns the options or std::nullopt after --help (printed by rank 0);
/// then `run(options, rank, size, session)`, which returns the exit code
/// (`session` lives here so that a failure can be agreed on before it is
/// finalized); then errors reported once and MPI shut down.
template <class Parse, class Run>
int example_main(const char *name, int argc, char **argv, Parse parse, Run run) {
  // MPI_THREAD_MULTIPLE lets libckpt write the global level in the
  // background (its flush thread makes MPI calls on its own communicator);
  // with less, checkpoints still work and flush inside the call.
  int provided = MPI_THREAD_SINGLE;
  MPI_Init_thread(&argc, &argv, MPI_THREAD_MULTIPLE, &provided);
  int rank = 0;
  int size = 1;
  MPI_Comm_rank(MPI_COMM_WORLD, &rank);
  MPI_Comm_size(MPI_COMM_WORLD, &size);

  int code = exit_ok;
  std::string error;
  std::optional<ckpt::Session> session;
  try {
    const auto opts = parse(argc, argv, rank == 0);
    if (opts) code = run(*opts, rank, size, session);
  } catch (const UsageError &e) {
    code = exit_usage;
    error = e.what();
  } catch (const ckpt::Error &e) {
    code = exit_runtime_error;
    error = std::string(e.what()) + " [" + ckpt_status_name(e.status()) + "]";
  } catch (const std::exception &e) {
    code = exit_runtime_error;
    error = e.what();
  }

  if (code == exit_usage) {
    if (rank == 0) std::fprintf(stderr, "%s: %s (see %s --help)\n", name, error.c_str(), name);
  } else {
    const int failures = count_failures(code == exit_runtime_error, std::chrono::seconds(10));
    if (failures != 0 && failures != size) {
      // Some ranks failed alone: the others cannot finish collectively.
      if (code == exit_runtime_error)
        std::fprintf(stderr, "%s: [rank %d] error: %s\n", name, rank, error.c_str());
      std::fflush(stderr);
      MPI_Abort(MPI_COMM_WORLD, exit_runtime_error);
    }
    if (failures == size && rank == 0) std::fprintf(stderr, "%s: error: %s\n", name, error.c_str());
  }
  session.reset(); // collective finalize, if run() did not finalize already
  MPI_Finalize();
  return code;
}

} // namespace ckpt_example

#endif // CKPT_APPS_EXAMPLE_RUN_HPP
