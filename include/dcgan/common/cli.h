// What every tool's command line shares. CLI11 stays in the mains: only they include this.
#pragma once

#include <CLI/CLI.hpp>
#include <optional>

#include "dcgan/common/errors.h"
#include "dcgan/common/log.h"
#include "dcgan/common/main_guard.h"
#include "dcgan/common/str.h"

namespace dcgan::cli {

// Every option shows its default in --help. An option given twice takes its last value, as
// argparse and most tools do, so a script can append overrides to a base command. Subcommands
// made after this call inherit both.
inline void set_defaults(CLI::App& app) {
  app.option_defaults()->always_capture_default()->multi_option_policy(
      CLI::MultiOptionPolicy::TakeLast);
}

// Parses the command line: true to go on, false after --help (printed; end with 0). A bad option
// throws UsageError naming it ("... (see <tool> --help)"), for a caller that reports errors itself.
inline bool parse_or_throw(CLI::App& app, int argc, char** argv, const char* tool) {
  try {
    app.parse(argc, argv);
    return true;
  } catch (const CLI::ParseError& e) {
    if (e.get_exit_code() != 0) throw UsageError(str(e.what(), " (see ", tool, " --help)"));
    app.exit(e);  // --help
    return false;
  }
}

// Parses the command line. Returns nothing to go on, or the exit code to end with: 0 after
// --help, 2 after one error line naming the option ("<tool>: error: ... (see <tool> --help)").
inline std::optional<int> parse(CLI::App& app, int argc, char** argv, const char* tool) {
  try {
    if (parse_or_throw(app, argc, argv, tool)) return std::nullopt;
    return 0;
  } catch (const UsageError& e) {
    log::init({});
    return run_guarded(tool, [&]() -> int { throw e; });
  }
}

}  // namespace dcgan::cli
