// The `tide` program: parses the command line and runs one subcommand. This is the only
// place that catches tide::Error: it prints one line and returns a non-zero status.
#include <csignal>
#include <cstdio>
#include <filesystem>
#include <new>
#include <system_error>

#include <fmt/format.h>
#include <fmt/ranges.h>

#include "tide/cli/commands.hpp"
#include "tide/core/error.hpp"
#include "tide/distributed/communicator.hpp"

namespace {

// "rank 1 of 4: " under mpirun, so that the failing rank is named; empty otherwise.
std::string rank_tag() {
  if (!tide::Communicator::launched_by_mpi()) return "";
  const tide::Communicator& w = tide::Communicator::world();
  return w.size() > 1 ? fmt::format("rank {} of {}: ", w.rank(), w.size()) : "";
}

// "unknown subcommand 'frobnicate' of `tide experiment`; its subcommands are ...", when the
// parse stopped at a word where a subcommand was needed; empty otherwise. CLI11's own message
// ("The following arguments were not expected") names neither the word's role nor the choices.
std::string unknown_subcommand(const CLI::App& app) {
  const CLI::App* at = &app;
  std::string path = app.get_name();
  for (std::vector<CLI::App*> chosen = at->get_subcommands(); !chosen.empty();
       chosen = at->get_subcommands()) {
    at = chosen.front();
    path += " " + at->get_name();
  }
  const std::vector<std::string> rest = at->remaining();
  if (at->get_require_subcommand_min() == 0 || rest.empty() || rest.front().starts_with("-"))
    return "";
  std::vector<std::string> names;
  for (const CLI::App* sub : at->get_subcommands([](const CLI::App*) { return true; }))
    names.push_back(sub->get_name());
  return fmt::format("unknown subcommand '{}' of `{}`; its subcommands are {}", rest.front(), path,
                     fmt::join(names, ", "));
}

}  // namespace

int main(int argc, char** argv) {
  // A file-size limit (ulimit -f) makes writes fail with EFBIG, reported like a full disk,
  // instead of killing the process.
  std::signal(SIGXFSZ, SIG_IGN);
  CLI::App app{"Tide: training machine-learning models in C++, on one machine or many", "tide"};
  app.require_subcommand(1);
  // Parse errors in one line, naming the option; --help still prints the full help.
  app.failure_message([](const CLI::App*, const CLI::Error& e) {
    return fmt::format("tide: error: {}; run with --help for usage\n", e.what());
  });
  tide::cli::add_train_command(app);
  tide::cli::add_predict_command(app);
  tide::cli::add_evaluate_command(app);
  tide::cli::add_export_command(app);
  tide::cli::add_convolve_command(app);
  tide::cli::add_plot_command(app);
  tide::cli::add_profile_command(app);
  tide::cli::add_experiment_command(app);
  tide::cli::add_fit_command(app);
  tide::cli::add_kmeans_command(app);
  tide::cli::add_timeseries_command(app);
  tide::cli::add_number_checks(app);
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    if (const std::string unknown = unknown_subcommand(app); !unknown.empty()) {
      fmt::print(stderr, "tide: error: {}; run with --help for usage\n", unknown);
      return 2;
    }
    // Every usage error exits 2, as other command-line tools do (CLI11's own codes, 101 to
    // 117, tell a script nothing more); --help exits 0.
    return app.exit(e) == 0 ? 0 : 2;
  } catch (const tide::Error& e) {
    // A rank that fails ends the whole job (MPI_Abort): the others would otherwise wait in
    // their next collective for ever.
    std::fflush(stdout);
    fmt::print(stderr, "tide: error: {}{}\n", rank_tag(), e.what());
    tide::Communicator::abort_job(1);
    return 1;
  } catch (const std::bad_alloc&) {
    // Where the library can name what it allocates (a tensor, a file's contents) it throws
    // tide::Error; this is what remains, such as a container growing.
    std::fflush(stdout);
    fmt::print(stderr,
               "tide: error: {}out of memory; try a smaller --batch-size or model, fewer "
               "--threads, or more memory per rank\n",
               rank_tag());
    tide::Communicator::abort_job(1);
    return 1;
  } catch (const std::filesystem::filesystem_error& e) {
    std::fflush(stdout);  // names the path and the system's reason
    fmt::print(stderr, "tide: error: {}{}\n", rank_tag(), e.what());
    tide::Communicator::abort_job(1);
    return 1;
  } catch (const std::system_error& e) {
    std::fflush(stdout);  // the system refused a thread, a lock or a file: its reason
    fmt::print(stderr, "tide: error: {}the system refused: {}\n", rank_tag(), e.what());
    tide::Communicator::abort_job(1);
    return 1;
  } catch (const std::exception& e) {
    // The last guard: an input that reaches here is a bug to report, with this message.
    std::fflush(stdout);
    fmt::print(stderr, "tide: internal error: {}{}\n", rank_tag(), e.what());
    tide::Communicator::abort_job(3);
    return 3;
  }
  tide::Communicator::finalize();
  return tide::cli::exit_status();
}
