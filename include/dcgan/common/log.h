// One logging set-up for every tool: "[r0/2]" in every line, rank 0 on the console, every rank
// into <run>/logs/rank-N.log. spdlog stays inside log.cpp so torch TUs never include it.
#pragma once

#include <string>
#include <string_view>

namespace dcgan::log {

struct LogConfig {
  int rank = 0;
  int world_size = 1;
  std::string log_dir;             // empty: console only; else <log_dir>/rank-N.log for this rank
  bool verbose = false;            // debug-level lines too
  bool console_all_ranks = false;  // every rank on the console (warnings and errors always are)
  bool force_progress = false;     // rank 0's progress line where stderr is no terminal (mpirun)
};

// Replaces the logger; may be called again once the rank or the run dir is known.
void init(const LogConfig& config);

void debug(std::string_view message);
void info(std::string_view message);
void warn(std::string_view message);
void error(std::string_view message);
void flush();

// A progress line on a terminal: on rank 0 with stderr a TTY or with force_progress (dcgan-train
// --progress: mpirun's ranks write into a pipe), and DCGAN_NO_PROGRESS unset, each
// call replaces the previous line in place ("\r", then clear to the end of the line), and the
// next log line clears it first. Elsewhere (files, pipes, Slurm, CI, other ranks) it writes
// nothing and the log lines stay as they are.
bool progress_enabled();
void progress(std::string_view line);

// Rank prefix of this process, e.g. "[r1/8]". Also used in exception messages.
const std::string& rank_tag();

}  // namespace dcgan::log
