// `coughkit`: the command-line front end. Subcommands live in their own files.
#include <cstdio>
#include <exception>
#include <map>

#include <spdlog/sinks/stdout_color_sinks.h>
#include <spdlog/spdlog.h>

#include "cli/commands.h"
#include "common/error.h"
#include "common/version.h"

int main(int argc, char** argv) {
  using namespace coughkit::cli;
  CLI::App app{"coughkit: cough detection for audio recordings (attention-MIL ResNet-18 on log-mel images).",
               "coughkit"};
  app.footer(
      "Exit codes: 0 ok; 1 internal error (a bug or a failure of the system, not of your input); 2 usage error;\n"
      "3 input error (a file or model could not be used, or exceeds a limit — the message names it and the\n"
      "reason; with several files the others are still processed).\n"
      "Run `coughkit COMMAND --help` for a command's flags.");
  app.set_version_flag("--version", coughkit::version_string());
  app.require_subcommand(1);
  std::string log_level = "info";
  app.add_option("--log-level", log_level, "Logging threshold: trace, debug, info, warn, error, off")
      ->envname("COUGHKIT_LOG_LEVEL")
      ->check(CLI::IsMember({"trace", "debug", "info", "warn", "error", "off"}))
      ->capture_default_str();

  std::map<CLI::App*, CommandRunner> runners;
  auto add = [&](CommandRunner (*reg)(CLI::App&)) {
    const std::size_t before = app.get_subcommands({}).size();
    CommandRunner runner = reg(app);
    runners[app.get_subcommands({}).at(before)] = std::move(runner);
  };
  add(register_detect);
  add(register_monitor);
  add(register_evaluate);
  add(register_features);
  add(register_bench);
  add(register_export);
  add(register_compare);
  add(register_serve);
  add(register_precompute);
  add(register_train);
  add(register_dataset);

  try {
    app.parse(argc, argv);
  } catch (const CLI::CallForHelp& e) {
    return app.exit(e);
  } catch (const CLI::CallForAllHelp& e) {
    return app.exit(e);
  } catch (const CLI::CallForVersion& e) {
    return app.exit(e);
  } catch (const CLI::ParseError& e) {
    app.exit(e);
    return kExitUsage;
  }

  auto logger = spdlog::stderr_color_mt("coughkit");
  logger->set_pattern("%^coughkit: %l:%$ %v");
  spdlog::set_default_logger(logger);
  spdlog::set_level(spdlog::level::from_str(log_level));

  for (auto& [sub, run] : runners) {
    if (sub->parsed()) {
      // The one place where errors become exit codes: commands let them through unless
      // they carry on (one bad file among many) or clean up first.
      try {
        return run();
      } catch (const std::exception& e) {
        spdlog::error("{}", e.what());
        return exit_code_for(coughkit::kind_of(e));
      }
    }
  }
  return kExitUsage;
}
