// Tests of the common room: atomic writes, file locks, SHA-256, errors and exit codes, the main
// guard.
#include <gtest/gtest.h>

#include <unistd.h>

#include <chrono>
#include <filesystem>

#include "dcgan/common/atomic_file.h"
#include "dcgan/common/errors.h"
#include "dcgan/common/file_lock.h"
#include "dcgan/common/hash.h"
#include "dcgan/common/main_guard.h"
#include "dcgan/common/sha256.h"
#include "dcgan/common/str.h"
#include "support/test_support.h"

namespace dcgan {
namespace {

TEST(AtomicFile, WritesAndReplacesWholeFile) {
  test::ScratchDir dir;
  const auto path = dir / "f.txt";
  write_file_atomic(path, "first");
  write_file_atomic(path, "second version");
  EXPECT_EQ(read_file(path), "second version");
  // No temp file is left beside it.
  int entries = 0;
  for (const auto& e : std::filesystem::directory_iterator(dir.path())) entries += e.exists();
  EXPECT_EQ(entries, 1);
}

TEST(AtomicFile, MissingDirectoryNamesThePath) {
  test::ScratchDir dir;
  const auto path = dir / "no/such/dir/f.txt";
  try {
    write_file_atomic(path, "x");
    FAIL() << "expected an error";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find(path + ".tmp."), std::string::npos) << e.what();
    EXPECT_EQ(e.code(), ExitCode::kRuntime);
  }
}

TEST(ReadFile, MissingFileIsADataError) {
  try {
    read_file("/nonexistent/dcgan/file");
    FAIL() << "expected an error";
  } catch (const DataError& e) {
    EXPECT_EQ(e.code(), ExitCode::kData);
    EXPECT_NE(std::string(e.what()).find("/nonexistent/dcgan/file"), std::string::npos);
  }
}

// flock locks belong to open file descriptions, so two FileLocks in one process exclude each other.
TEST(FileLock, SecondHolderIsBusyAndNamesTheFirst) {
  test::ScratchDir dir;
  const std::string path = dir / "run.lock";
  FileLock first;
  ASSERT_EQ(first.acquire(path, 0), FileLock::Result::kAcquired);
  char host[256] = {};
  ::gethostname(host, sizeof(host) - 1);
  EXPECT_EQ(read_file(path), str("host ", host, " pid ", ::getpid(), "\n"));
  FileLock second;
  const auto start = std::chrono::steady_clock::now();
  EXPECT_EQ(second.acquire(path, 0.3), FileLock::Result::kBusy);
  EXPECT_GE(std::chrono::steady_clock::now() - start, std::chrono::milliseconds(300));
  EXPECT_EQ(second.holder(), str("host ", host, " pid ", ::getpid()));
  EXPECT_FALSE(second.held());
  first = FileLock();  // released with its descriptor
  EXPECT_EQ(second.acquire(path, 0), FileLock::Result::kAcquired);
  EXPECT_TRUE(second.held());
}

TEST(FileLock, UnopenablePathIsAnErrorNamingIt) {
  FileLock lock;
  try {
    lock.acquire("/nonexistent/dcgan/run.lock", 0);
    FAIL() << "expected an error";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("cannot open lock file /nonexistent/dcgan/run.lock"),
              std::string::npos);
  }
}

// The word-wise FNV-style hash: the offset basis for no bytes, one 8-byte word, then a tail byte
// (values worked out by hand in Python: ((basis ^ word) * prime) mod 2^64).
TEST(Hash, KnownValues) {
  EXPECT_EQ(hash_bytes("", 0), 14695981039346656037ULL);
  EXPECT_EQ(hash_bytes("abcdefgh", 8), 0x3919eeb00ee1e68cULL);
  EXPECT_EQ(hash_bytes("abcdefghi", 9), 0xe8f77a2949db571fULL);
  EXPECT_EQ(hash_bytes("i", 1, hash_bytes("abcdefgh", 8)), hash_bytes("abcdefghi", 9));
}

TEST(Sha256, KnownDigests) {
  EXPECT_EQ(sha256_hex(""), "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
  EXPECT_EQ(sha256_hex("abc"), "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
  test::ScratchDir dir;
  write_file_atomic(dir / "abc", "abc");
  EXPECT_EQ(sha256_file(dir / "abc"), sha256_hex("abc"));
}

TEST(MainGuard, MapsExceptionsToDocumentedCodes) {
  EXPECT_EQ(run_guarded("t", [] { return 0; }), 0);
  EXPECT_EQ(run_guarded("t", []() -> int { throw UsageError("--x: bad"); }), 2);
  EXPECT_EQ(run_guarded("t", []() -> int { throw DataError("shard-00001.h5: bad"); }), 3);
  EXPECT_EQ(run_guarded("t", []() -> int { throw Error("x"); }), 1);
  EXPECT_EQ(run_guarded("t", []() -> int { throw std::runtime_error("x"); }), 1);
  EXPECT_EQ(static_cast<int>(ExitCode::kPreempted), 75);
}

TEST(Str, ConcatenatesStreamables) { EXPECT_EQ(str("a", 1, '-', 2.5), "a1-2.5"); }

}  // namespace
}  // namespace dcgan
