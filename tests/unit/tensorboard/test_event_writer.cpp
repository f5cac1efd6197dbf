// TensorBoard event files: CRC-32C against its published check values, and the record framing
// read back field by field (the events themselves are read by TensorBoard's own reader in
// tests/scripts/test_tensorboard.sh).
#include <gtest/gtest.h>

#include <cstring>
#include <filesystem>
#include <string>
#include <vector>

#include "dcgan/common/atomic_file.h"
#include "dcgan/common/errors.h"
#include "dcgan/tensorboard/event_writer.h"
#include "support/test_support.h"

namespace dcgan::tensorboard {
namespace {

uint64_t u64_at(const std::string& s, size_t at) {
  uint64_t v = 0;
  for (int i = 7; i >= 0; --i) v = (v << 8) | static_cast<unsigned char>(s[at + i]);
  return v;
}

uint32_t u32_at(const std::string& s, size_t at) {
  uint32_t v = 0;
  for (int i = 3; i >= 0; --i) v = (v << 8) | static_cast<unsigned char>(s[at + i]);
  return v;
}

TEST(EventWriter, Crc32cMatchesThePublishedCheckValues) {
  EXPECT_EQ(crc32c("123456789", 9), 0xE3069283u);  // the CRC catalogue's check value
  const std::vector<unsigned char> zeros(32, 0), ones(32, 0xff);
  EXPECT_EQ(crc32c(zeros.data(), zeros.size()), 0x8A9136AAu);  // RFC 3720, B.4
  EXPECT_EQ(crc32c(ones.data(), ones.size()), 0x62A8AB43u);
  // Continuing a CRC over a second part equals the CRC of the whole.
  EXPECT_EQ(crc32c("6789", 4, crc32c("12345", 5)), 0xE3069283u);
  const uint32_t crc = crc32c("123456789", 9);
  EXPECT_EQ(masked_crc32c("123456789", 9), ((crc >> 15) | (crc << 17)) + 0xa282ead8u);
}

// Every record: length (u64 LE), masked CRC of those 8 bytes, the event, masked CRC of the event;
// the first event names the file version; the file's name is what TensorBoard globs for.
TEST(EventWriter, RecordsAreFramedAsTensorBoardReadsThem) {
  test::ScratchDir dir("dcgan-tb");
  std::string path;
  {
    EventWriter writer(dir / "tb");
    writer.start_session(5, 1.0e9);
    writer.add_scalar("loss_d", 6, 0.25, 1.0e9 + 1);
    writer.add_image("samples", 8, std::string("\x89PNG fake", 9), 2, 3, 3, 1.0e9 + 2);
    writer.flush();
    path = writer.path();
  }
  EXPECT_NE(std::filesystem::path(path).filename().string().find("events.out.tfevents."),
            std::string::npos);
  const std::string bytes = read_file(path);
  std::vector<std::string> events;
  size_t at = 0;
  while (at < bytes.size()) {
    ASSERT_LE(at + 12, bytes.size());
    const uint64_t length = u64_at(bytes, at);
    EXPECT_EQ(u32_at(bytes, at + 8), masked_crc32c(bytes.data() + at, 8));
    ASSERT_LE(at + 12 + length + 4, bytes.size());
    const std::string event = bytes.substr(at + 12, length);
    EXPECT_EQ(u32_at(bytes, at + 12 + length), masked_crc32c(event.data(), event.size()));
    events.push_back(event);
    at += 12 + length + 4;
  }
  ASSERT_EQ(events.size(), 4u);
  EXPECT_NE(events[0].find("brain.Event:2"), std::string::npos);
  EXPECT_NE(events[2].find("loss_d"), std::string::npos);
  EXPECT_NE(events[3].find("\x89PNG fake"), std::string::npos);
}

TEST(EventWriter, AnUnwritableDirectoryIsAnErrorNamingIt) {
  test::ScratchDir dir("dcgan-tb-bad");
  write_file_atomic(dir / "file", "x");
  try {
    EventWriter writer(dir / "file/tb");
    FAIL() << "no error";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find(dir / "file/tb"), std::string::npos) << e.what();
  }
}

}  // namespace
}  // namespace dcgan::tensorboard
