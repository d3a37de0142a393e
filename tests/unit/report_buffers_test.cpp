#include <gtest/gtest.h>

#include <cstring>
#include <thread>

#include "taskfarm/farm/protocol.hpp"
#include "taskfarm/farm/report_buffers.hpp"

namespace taskfarm::farm {
namespace {

constexpr std::size_t KiB = 1024;
constexpr std::size_t MiB = 1024 * KiB;

std::vector<std::byte> buffer(std::size_t capacity) {
  std::vector<std::byte> b;
  b.reserve(capacity);
  b.resize(capacity / 2);
  return b;
}

TEST(ReportBuffersTest, a_new_buffer_is_rounded_up_to_64_KiB_and_a_given_back_one_is_reused) {
  ReportBuffers pool(8, 8 * MiB);
  std::vector<std::byte> a = pool.take(MiB + 100);
  EXPECT_EQ(a.size(), MiB + 100);
  EXPECT_EQ(a.capacity(), MiB + 64 * KiB);  // 17 blocks of 64 KiB
  const std::byte* memory = a.data();
  pool.give(std::move(a));
  EXPECT_EQ(pool.kept_buffers(), 1U);
  EXPECT_EQ(pool.kept_bytes(), MiB + 64 * KiB);

  const std::vector<std::byte> b = pool.take(MiB + 60 * KiB);  // a slightly larger report fits
  EXPECT_EQ(b.data(), memory);
  EXPECT_EQ(b.size(), MiB + 60 * KiB);
  EXPECT_EQ(pool.kept_buffers(), 0U);
  EXPECT_EQ(pool.kept_bytes(), 0U);
}

TEST(ReportBuffersTest, growing_a_reused_buffer_keeps_its_old_contents) {
  ReportBuffers pool(8, 8 * MiB);
  std::vector<std::byte> a = pool.take(100 * KiB);
  std::memset(a.data(), 0x5a, a.size());
  pool.give(std::move(a));
  const std::vector<std::byte> b = pool.take(120 * KiB);
  EXPECT_EQ(b[100 * KiB - 1], std::byte{0x5a});  // not zero-filled again: the receive overwrites it
  EXPECT_EQ(b[100 * KiB], std::byte{0});          // the part it grew by is value-initialised
}

TEST(ReportBuffersTest, takes_the_smallest_buffer_that_fits) {
  ReportBuffers pool(8, 8 * MiB);
  pool.give(buffer(MiB));
  pool.give(buffer(128 * KiB));
  pool.give(buffer(256 * KiB));
  EXPECT_EQ(pool.take(100 * KiB).capacity(), 128 * KiB);
  EXPECT_EQ(pool.take(200 * KiB).capacity(), 256 * KiB);
  EXPECT_EQ(pool.take(2 * MiB).capacity(), 2 * MiB);  // none fits: a new one
  EXPECT_EQ(pool.kept_buffers(), 1U);
  EXPECT_EQ(pool.kept_bytes(), MiB);
}

TEST(ReportBuffersTest, keeps_at_most_its_count_and_bytes_preferring_large_buffers) {
  ReportBuffers pool(2, 3 * MiB);
  pool.give(buffer(256 * KiB));
  pool.give(buffer(MiB));
  pool.give(buffer(512 * KiB));  // the third: displaces the 256 KiB one
  EXPECT_EQ(pool.kept_buffers(), 2U);
  EXPECT_EQ(pool.kept_bytes(), MiB + 512 * KiB);
  pool.give(buffer(128 * KiB));  // smaller than everything kept: freed
  EXPECT_EQ(pool.kept_bytes(), MiB + 512 * KiB);
  pool.give(buffer(2 * MiB));  // the 512 KiB one goes (count); 1 + 2 MiB is within the bytes
  EXPECT_EQ(pool.kept_buffers(), 2U);
  EXPECT_EQ(pool.kept_bytes(), 3 * MiB);
  pool.give(buffer(MiB + 512 * KiB));  // dropping the 1 MiB one is not room enough: not kept
  EXPECT_EQ(pool.kept_buffers(), 2U);
  EXPECT_EQ(pool.kept_bytes(), 3 * MiB);
  pool.give(buffer(2 * MiB));  // the 1 MiB one goes, 2 + 2 > 3 MiB: not kept either
  EXPECT_EQ(pool.kept_bytes(), 3 * MiB);
  pool.give(buffer(4 * MiB));  // larger than the whole limit: never kept
  EXPECT_EQ(pool.kept_bytes(), 3 * MiB);
  ReportBuffers room(3, 3 * MiB);
  room.give(buffer(MiB));
  room.give(buffer(512 * KiB));
  room.give(buffer(256 * KiB));
  room.give(buffer(2 * MiB));  // needs both small ones dropped (count, then bytes): kept
  EXPECT_EQ(room.kept_buffers(), 2U);
  EXPECT_EQ(room.kept_bytes(), 3 * MiB);
}

TEST(ReportBuffersTest, small_buffers_are_not_kept) {
  ReportBuffers pool(8, 8 * MiB);
  pool.give(buffer(ReportBuffers::kMinBytes - 1));
  pool.give({});
  EXPECT_EQ(pool.kept_buffers(), 0U);
  pool.give(buffer(ReportBuffers::kMinBytes));
  EXPECT_EQ(pool.kept_buffers(), 1U);
}

TEST(ReportBuffersTest, a_report_builder_builds_its_next_report_in_a_given_back_buffer) {
  ReportBuffers pool(8, 8 * MiB);
  ReportBuilder report({8}, &pool);
  const TaskIndex n = 20000;  // 20000 * (8 + 8 + 1) bytes: a 332 KiB report
  report.add_piece({0, n});
  std::vector<std::byte> first = report.take(0, 0);
  ASSERT_GT(first.size(), ReportBuffers::kMinBytes);
  const std::byte* memory = first.data();
  pool.give(std::move(first));  // what rank 0's writer does once it has written the report

  // take() left the builder a fresh buffer (the pool was empty); the next take() hands that one out
  // and refills from the pool: the first report's memory, which the third report is built in.
  report.add_piece({n, 2 * n});
  std::vector<std::byte> second = report.take(0, 0);
  EXPECT_NE(second.data(), memory);
  EXPECT_EQ(pool.kept_buffers(), 0U);
  pool.give(std::move(second));
  report.add_piece({2 * n, 3 * n});
  const std::vector<std::byte> third = report.take(0, 0);
  EXPECT_EQ(third.data(), memory);
  const std::vector<std::size_t> widths{8};
  const Report r = decode_report(third, widths);
  ASSERT_EQ(r.pieces.size(), 1U);
  EXPECT_EQ(r.pieces[0].range, (TaskRange{2 * n, 3 * n}));
  EXPECT_EQ(pool.kept_buffers(), 0U);  // the second report's buffer is the builder's now
}

TEST(ReportBuffersTest, threads_taking_and_giving_back_keep_the_accounts_straight) {
  ReportBuffers pool(4, 4 * MiB);
  auto churn = [&](std::size_t base) {
    for (std::size_t i = 0; i < 2000; ++i) {
      std::vector<std::byte> b = pool.take(base + (i % 7) * 16 * KiB);
      b.back() = std::byte{1};
      pool.give(std::move(b));
    }
  };
  std::thread other(churn, 300 * KiB);
  churn(500 * KiB);
  other.join();
  EXPECT_LE(pool.kept_buffers(), 4U);
  EXPECT_LE(pool.kept_bytes(), 4 * MiB);
  std::size_t sum = 0;
  while (pool.kept_buffers() > 0) {
    sum += pool.take(0).capacity();
  }
  EXPECT_EQ(pool.kept_bytes(), 0U);
  EXPECT_GT(sum, 0U);
}

}  // namespace
}  // namespace taskfarm::farm
