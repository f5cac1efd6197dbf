// One rank's outcome as a small JSON status, and one outcome for the job from every rank's: each
// distinct error once, naming the ranks that hit it (Note [Errors under mpirun], below).
#pragma once

#include <functional>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "pack.h"

// Note [Errors under mpirun]
// Under a launcher every rank runs the same command line, so most errors (a bad option, a
// missing --input, a non-empty --out) would print once per rank, and one that a single rank hits
// (a corrupt image in its shards, a failed write) would not say which rank. So when an MPI
// launcher started the process (started_by_mpi_launcher), MPI starts before the command line is
// parsed, and run_guarded_on_ranks collects every rank's outcome on rank 0 twice: after parsing
// and after running. Rank 0 prints each distinct error once, prefixed with the ranks that hit it
// ("rank 1: ...") unless every rank did, and only then releases the others: a launcher ends the
// job as soon as one rank exits non-zero, which could kill rank 0 before it printed. Every rank
// exits with the first error's documented code. No rank may wait forever on the way: the first
// agreement stops every rank before pack when one failed to parse (a --config that one node
// lacks), pack brings every rank, failed or not, to each of its collectives and ends with the
// same status on all of them, and an MPI call that fails on one rank ends the job from there
// (MpiPackComm). Without a launcher dcgan-prep is a single process that prints its own errors.

namespace dcgan::prep {

// {"code": 0}, or {"code": <exit code>, "error": <message>}; a failed shard adds "shard".
nlohmann::json error_status(int code, const std::string& message);

// Runs `body`; an exception becomes an error status with its documented exit code.
nlohmann::json run_guarded_json(const std::function<nlohmann::json()>& body);

// Throws a failed status as its typed error (UsageError, DataError, Error); nothing for code 0.
void throw_status(const nlohmann::json& status);

// The statuses PackComm::gather brought to rank 0, parsed (index = rank).
std::vector<nlohmann::json> parse_statuses(const std::vector<std::string>& parts);

// "rank 3", "ranks 0,2", "ranks 0-5,7" (ranks ascending).
std::string rank_list(const std::vector<int>& ranks);

// The job's status from every rank's (index = rank): {"code": 0} when none failed. Ranks that
// failed with the same message share one line, "rank 1: <message>", without the prefix when
// every rank hit it. Lines go in source order of their earliest failing shard (errors outside
// any shard first), at most kMaxErrorLines of them; the code is the first line's.
nlohmann::json merge_statuses(const std::vector<nlohmann::json>& by_rank);
constexpr size_t kMaxErrorLines = 8;

// run_guarded for every rank of `comm` (a collective: every rank calls it once). Each rank runs
// `body`; rank 0 gathers the outcomes, prints each distinct error once (report_error) and only
// then releases the others, since a launcher ends the whole job as soon as one rank exits
// non-zero. Returns the job's exit code on every rank.
int run_guarded_on_ranks(const char* tool, PackComm& comm, const std::function<int()>& body);

}  // namespace dcgan::prep
