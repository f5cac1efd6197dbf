// Tests of the common room: atomic writes, errors and exit codes, the main guard.
#include <gtest/gtest.h>

#include <filesystem>

#include "dcgan/common/atomic_file.h"
#include "dcgan/common/errors.h"
#include "dcgan/common/main_guard.h"
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
