#include <gtest/gtest.h>

#include <cstring>

#include "taskfarm/core/error.hpp"
#include "taskfarm/farm/protocol.hpp"

namespace taskfarm::farm {
namespace {

TEST(ReportTest, round_trips_pieces_chunks_and_failures) {
  const std::vector<std::size_t> widths{4 * 3, 8};  // a (3,) uint32 field and a float64 field
  ReportBuilder b(widths);
  {
    PieceSlots p = b.add_piece({10, 12});
    auto* u = reinterpret_cast<std::uint32_t*>(p.fields[0]);
    for (int i = 0; i < 6; ++i) {
      u[i] = static_cast<std::uint32_t>(100 + i);
    }
    reinterpret_cast<double*>(p.fields[1])[1] = 2.5;
    p.seconds[0] = 0.125;
    p.state[0] = 1;
    p.state[1] = 2;
  }
  b.add_piece({20, 21}).seconds[0] = 7.0;
  b.add_chunk({{10, 12}, 1.0, 2.0, 3.0, 1.0, 0.5, 0.25});
  b.add_failure(Position{11}, 1, "boom: bad input");
  const std::vector<std::byte> bytes = b.take(3, ReportHeader::kFinal);
  EXPECT_TRUE(b.empty());

  const Report r = decode_report(bytes, widths);
  EXPECT_EQ(r.header.want, 3U);
  EXPECT_EQ(r.header.flags, ReportHeader::kFinal);
  ASSERT_EQ(r.pieces.size(), 2U);
  EXPECT_EQ(r.pieces[0].range, (TaskRange{10, 12}));
  const auto* u = reinterpret_cast<const std::uint32_t*>(r.pieces[0].fields[0]);
  EXPECT_EQ(u[5], 105U);
  EXPECT_EQ(reinterpret_cast<const double*>(r.pieces[0].fields[1])[1], 2.5);
  EXPECT_EQ(r.pieces[0].seconds[0], 0.125);
  EXPECT_EQ(r.pieces[0].state[1], 2);
  EXPECT_EQ(r.pieces[1].range, (TaskRange{20, 21}));
  EXPECT_EQ(r.pieces[1].seconds[0], 7.0);
  ASSERT_EQ(r.chunks.size(), 1U);
  EXPECT_EQ(r.chunks[0].task_variance, 0.25);
  ASSERT_EQ(r.failures.size(), 1U);
  EXPECT_EQ(r.failures[0].position, Position{11});
  EXPECT_EQ(r.failures[0].message, "boom: bad input");
  for (const PieceView& p : r.pieces) {  // columns stay 8-byte aligned for in-place computing
    for (const std::byte* f : p.fields) {
      EXPECT_EQ(reinterpret_cast<std::uintptr_t>(f) % 8, 0U);
    }
  }
}

TEST(ReportTest, truncating_a_piece_keeps_its_computed_prefix) {
  const std::vector<std::size_t> widths{8};
  ReportBuilder b(widths);
  PieceSlots p = b.add_piece({0, 10});
  for (int i = 0; i < 10; ++i) {
    reinterpret_cast<double*>(p.fields[0])[i] = i;
    p.seconds[i] = 10.0 + i;
    p.state[i] = 1;
  }
  b.truncate_last_piece(3);
  const std::vector<std::byte> bytes = b.take(0, 0);
  const Report r = decode_report(bytes, widths);
  ASSERT_EQ(r.pieces.size(), 1U);
  EXPECT_EQ(r.pieces[0].range, (TaskRange{0, 3}));
  EXPECT_EQ(reinterpret_cast<const double*>(r.pieces[0].fields[0])[2], 2.0);
  EXPECT_EQ(r.pieces[0].seconds[2], 12.0);
  EXPECT_EQ(r.pieces[0].state[2], 1);
}

TEST(ReportTest, truncating_to_nothing_drops_the_piece) {
  ReportBuilder b({8});
  b.add_piece({0, 4});
  b.truncate_last_piece(0);
  EXPECT_TRUE(b.empty());
}

TEST(ReportTest, malformed_reports_are_rejected) {
  std::vector<std::byte> junk(8, std::byte{0x7f});
  EXPECT_THROW((void)peek_header(junk), Error);
  ReportBuilder b({8});
  b.add_piece({0, 100});
  std::vector<std::byte> bytes = b.take(0, 0);
  bytes.resize(bytes.size() / 2);  // cut in the middle of the piece
  const std::vector<std::size_t> widths{8};
  EXPECT_THROW((void)decode_report(bytes, widths), Error);
}

TEST(AssignMessageTest, round_trips) {
  AssignMessage m;
  m.flags = AssignMessage::kNoMoreWork;
  m.chunks = {{{0, 5}, 0.5}, {{5, 6}, 0.75}};
  const auto words = encode_assign(m);
  EXPECT_EQ(words.size(), assign_words(2));
  const AssignMessage back = decode_assign(words);
  EXPECT_EQ(back.flags, m.flags);
  ASSERT_EQ(back.chunks.size(), 2U);
  EXPECT_EQ(back.chunks[1].range, (TaskRange{5, 6}));
  EXPECT_EQ(back.chunks[1].assigned, 0.75);
  EXPECT_THROW((void)decode_assign(std::vector<std::uint64_t>{0, 2, 1}), Error);
}

}  // namespace
}  // namespace taskfarm::farm
