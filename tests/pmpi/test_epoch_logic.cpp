// Unit tests of the nonblocking protocol's plain classes: per-tag sequence
// numbers (TagCounts), one rank's side of an epoch (EpochCut), early messages
// (SendLog, Suppressor, check_cut). No MPI.
#include "early_messages.hpp"
#include "epoch_cut.hpp"
#include "tag_counts.hpp"

#include <gtest/gtest.h>

using namespace ckpt::detail::pmpi;

namespace {
std::vector<unsigned char> bytes(std::size_t n, unsigned char v) {
  return std::vector<unsigned char>(n, v);
}
CutChannel ch(int from, int tag) { return {from, 1, from, tag}; }
} // namespace

TEST(TagCounts, SequenceNumbersPerPeerAndTag) {
  TagCounts t;
  EXPECT_EQ(t.on_send(1, 5), 1u);
  EXPECT_EQ(t.on_send(1, 5), 2u);
  EXPECT_EQ(t.on_send(1, 6), 1u);
  EXPECT_EQ(t.on_receive(1, 5), 1u);
  EXPECT_EQ(t.sent(1, 5), 2u);
  EXPECT_EQ(t.received(1, 5), 1u);
  EXPECT_EQ(t.sent(2, 5), 0u);
  t.on_send_cancelled(1, 6);
  EXPECT_EQ(t.sent(1, 6), 0u);
  t.on_send_cancelled(3, 3); // nothing to cancel: no change, no underflow
  EXPECT_EQ(t.sent(3, 3), 0u);
  EXPECT_EQ(t.all().size(), 2u); // lookups do not add entries
  t.reset();
  EXPECT_TRUE(t.all().empty());
}

TEST(TagCounts, NegativeTagsAndLargePeersDoNotCollide) {
  TagCounts t;
  t.on_send(0, -1);
  t.on_send(-1, 0);
  EXPECT_EQ(t.sent(0, -1), 1u);
  EXPECT_EQ(t.sent(-1, 0), 1u);
  EXPECT_EQ(t.sent(0, 0), 0u);
}

TEST(EpochCut, LateMessagesBeforeTheMarkerAreKeptUpToTheSentCount) {
  EpochCut cut;
  cut.open(1, {{ch(1, 7), 2}}, 2, 1 << 20);
  // Self marker: nothing sent to ourselves.
  cut.on_marker(0, {});
  // Rank 1's messages 3 and 4 on tag 7 arrive before its marker.
  ASSERT_TRUE(cut.on_receive(ch(1, 7), 3));
  cut.record(ch(1, 7), 3, bytes(8, 3));
  ASSERT_TRUE(cut.on_receive(ch(1, 7), 4));
  cut.record(ch(1, 7), 4, bytes(8, 4));
  EXPECT_FALSE(cut.complete());
  // Rank 1 had sent 3 on tag 7 at its checkpoint: message 4 is ordinary.
  cut.on_marker(1, {{1, 1, 7, 3}});
  EXPECT_TRUE(cut.problem().empty());
  EXPECT_TRUE(cut.complete());
  const auto late = cut.late_messages();
  ASSERT_EQ(late.size(), 1u);
  EXPECT_EQ(late[0].data, bytes(8, 3));
  EXPECT_EQ(cut.recorded_bytes(), 8u);
  // After the marker, later messages are not recorded.
  EXPECT_FALSE(cut.on_receive(ch(1, 7), 5));
}

TEST(EpochCut, DeficitsNameTheMessagesStillInFlight) {
  EpochCut cut;
  cut.open(1, {}, 2, 1 << 20);
  cut.on_marker(0, {});
  cut.on_marker(1, {{1, 1, 7, 2}, {1, 1, 8, 1}});
  auto d = cut.deficits();
  ASSERT_EQ(d.size(), 2u);
  EXPECT_FALSE(cut.complete());
  ASSERT_TRUE(cut.on_receive(ch(1, 8), 1)); // drained
  cut.record(ch(1, 8), 1, bytes(1, 8));
  ASSERT_TRUE(cut.on_receive(ch(1, 7), 1));
  cut.record(ch(1, 7), 1, bytes(1, 1));
  ASSERT_TRUE(cut.on_receive(ch(1, 7), 2));
  cut.record(ch(1, 7), 2, bytes(1, 2));
  EXPECT_TRUE(cut.deficits().empty());
  EXPECT_TRUE(cut.complete());
  // Received order is kept: per (source, tag) it is the send order.
  const auto late = cut.late_messages();
  ASSERT_EQ(late.size(), 3u);
  EXPECT_EQ(late[0].tag, 8);
  EXPECT_EQ(late[1].data, bytes(1, 1));
  EXPECT_EQ(late[2].data, bytes(1, 2));
}

TEST(EpochCut, TagsKeepMessagesApartThatAChannelCountWouldConfuse) {
  // Rank 1 sent m1 (tag 1) before its checkpoint and m2 (tag 2) after; this
  // rank receives m2 first, then m1, both after its own checkpoint. A count
  // per channel would call m2 late and m1 ordinary.
  EpochCut cut;
  cut.open(1, {}, 2, 1 << 20);
  cut.on_marker(0, {});
  cut.on_marker(1, {{1, 1, 1, 1}});
  EXPECT_FALSE(cut.on_receive(ch(1, 2), 1));
  EXPECT_TRUE(cut.on_receive(ch(1, 1), 1));
  cut.record(ch(1, 1), 1, bytes(2, 1));
  EXPECT_TRUE(cut.complete());
  ASSERT_EQ(cut.late_messages().size(), 1u);
  EXPECT_EQ(cut.late_messages()[0].tag, 1);
}

TEST(EpochCut, EarlyMessagesAreCounted) {
  EpochCut cut;
  // At its checkpoint this rank had received 3 messages on (1, tag 7)...
  cut.open(4, {{ch(1, 7), 3}}, 2, 1 << 20);
  cut.on_marker(0, {});
  // ...of which rank 1 had sent only 2 at its own: one early message.
  cut.on_marker(1, {{1, 1, 7, 2}});
  EXPECT_TRUE(cut.problem().empty());
  ASSERT_EQ(cut.early().size(), 1u);
  EXPECT_EQ(cut.early().begin()->second, 1u);
  EXPECT_TRUE(cut.complete());
  EXPECT_TRUE(cut.late_messages().empty());
}

TEST(EpochCut, TheByteBoundFailsTheEpochInsteadOfGrowing) {
  EpochCut cut;
  cut.open(1, {}, 2, 10);
  ASSERT_TRUE(cut.on_receive(ch(1, 7), 1));
  cut.record(ch(1, 7), 1, bytes(8, 1));
  ASSERT_TRUE(cut.on_receive(ch(1, 7), 2));
  cut.record(ch(1, 7), 2, bytes(8, 2));
  EXPECT_NE(cut.problem().find("message_log_bytes"), std::string::npos);
  EXPECT_EQ(cut.recorded_bytes(), 0u);
}

TEST(EpochCut, DuplicateAndOutOfRangeMarkersAreIgnored) {
  EpochCut cut;
  cut.open(1, {}, 2, 100);
  cut.on_marker(1, {{1, 1, 7, 1}});
  cut.on_marker(1, {{1, 1, 7, 5}}); // a duplicate does not change the count
  cut.on_marker(9, {});
  cut.on_marker(-1, {});
  EXPECT_EQ(cut.deficits().size(), 1u);
  EXPECT_EQ(cut.deficits()[0].second, 1u);
}

TEST(EpochCut, MemoryIsReleasedAtEveryCloseOverManyEpochs) {
  EpochCut cut;
  for (std::uint64_t e = 1; e <= 1000; ++e) {
    cut.open(e, {{ch(1, 1), e}}, 2, 1 << 20);
    ASSERT_TRUE(cut.on_receive(ch(1, 1), e + 1));
    cut.record(ch(1, 1), e + 1, bytes(1000, 1));
    cut.on_marker(0, {});
    cut.on_marker(1, {{1, 1, 1, e + 1}});
    ASSERT_TRUE(cut.complete());
    ASSERT_EQ(cut.late_messages().size(), 1u);
    cut.close();
    ASSERT_EQ(cut.recorded_bytes(), 0u);
    ASSERT_TRUE(cut.late_messages().empty());
  }
}

TEST(EpochCut, MarkersRoundTripAndRejectTornBytes) {
  const std::vector<MarkerEntry> in = {{7, 1, -3, 9}, {8, 0, 2, 1}};
  const auto b = encode_marker(in);
  const auto out = decode_marker(b.data(), b.size());
  ASSERT_EQ(out.size(), 2u);
  EXPECT_EQ(out[0].tag, -3);
  EXPECT_EQ(out[1].sent, 1u);
  EXPECT_THROW(decode_marker(b.data(), b.size() - 1), std::invalid_argument);
  EXPECT_TRUE(decode_marker(nullptr, 0).empty());
}

TEST(SendLog, HashesOnlyTheDeterministicPrefix) {
  SendLog log;
  log.open({{{1, 2, 7}, 5, {}}});
  log.sent({1, 2, 7}, 11);
  log.sent({1, 3, 7}, 12); // a channel without sends at the checkpoint
  log.nondeterministic();
  log.sent({1, 2, 7}, 13); // after an ANY_SOURCE match: not replayable
  const auto channels = log.channels();
  ASSERT_EQ(channels.size(), 2u);
  EXPECT_EQ(channels[0].at_checkpoint, 5u);
  EXPECT_EQ(channels[0].hashes, (std::vector<std::uint64_t>{11}));
  EXPECT_EQ(channels[1].at_checkpoint, 0u);
  log.close();
  EXPECT_TRUE(log.channels().empty());
  EXPECT_TRUE(log.deterministic());
}

TEST(Suppressor, SkipsExactlyTheEarlyMessagesAndChecksThem) {
  Suppressor s;
  // The sender had sent 5 on (1, 2, 7) at its checkpoint, then 3 more; the
  // receiver had 7 at its own: messages 6 and 7 are early.
  s.arm({{{1, 2, 7}, 5, {61, 71, 81}}}, {{{1, 2, 7}, 7}, {{1, 3, 7}, 0}});
  EXPECT_TRUE(s.active());
  EXPECT_EQ(s.remaining(), 2u);
  EXPECT_FALSE(s.skip({1, 3, 7}, 1)); // another channel: sent
  EXPECT_TRUE(s.skip({1, 2, 7}, 61));
  EXPECT_THROW(s.skip({1, 2, 7}, 99), std::runtime_error); // not what the receiver got
  EXPECT_TRUE(s.skip({1, 2, 7}, 71));
  EXPECT_FALSE(s.active());
  EXPECT_FALSE(s.skip({1, 2, 7}, 81)); // message 8: sent
}

TEST(Suppressor, RefusesMoreEarlyMessagesThanTheLogVouchesFor) {
  Suppressor s;
  EXPECT_THROW(s.arm({{{1, 2, 7}, 5, {61}}}, {{{1, 2, 7}, 8}}), std::runtime_error);
  EXPECT_THROW(s.arm({}, {{{1, 2, 7}, 1}}), std::runtime_error);
}

TEST(EpochLog, RoundTripAndCorruption) {
  EpochLogSnapshot snap;
  snap.sent = {{{1, 2, -7}, 5, {1, 2, 3}}};
  snap.received = {{3, 9, 1, 0, 4, 17}};
  const auto b = encode_epoch_log(snap);
  const auto d = decode_epoch_log(b.data(), b.size());
  ASSERT_EQ(d.sent.size(), 1u);
  EXPECT_EQ(d.sent[0].channel.tag, -7);
  EXPECT_EQ(d.sent[0].hashes.size(), 3u);
  ASSERT_EQ(d.received.size(), 1u);
  EXPECT_EQ(d.received[0].received, 17u);
  for (std::size_t n : {std::size_t{0}, std::size_t{9}, b.size() - 1})
    EXPECT_THROW(decode_epoch_log(b.data(), n), std::invalid_argument) << n;
  auto longer = b;
  longer.push_back(0);
  EXPECT_THROW(decode_epoch_log(longer.data(), longer.size()), std::invalid_argument);
}

TEST(CheckCut, CollectivesAndEarlyMessages) {
  EpochReport r0, r1;
  r0.collectives = {{1, 4}};
  r1.collectives = {{1, 4}};
  EXPECT_EQ(check_cut({r0, r1}), "");
  r1.collectives = {{1, 5}};
  EXPECT_NE(check_cut({r0, r1}).find("collective calls cross the cut"), std::string::npos);
  r1.collectives = {{1, 4}};
  // Rank 1 got 2 early messages from rank 0 on (comm 1, dest 1, tag 3)...
  r1.early = {{0, 1, 1, 3, 2}};
  EXPECT_NE(check_cut({r0, r1}).find("nondeterministic"), std::string::npos);
  // ...which rank 0 can send again identically.
  r0.prefix = {{1, 1, 3, 2}};
  EXPECT_EQ(check_cut({r0, r1}), "");
  const auto b = encode_report(r1);
  const auto d = decode_report(b.data(), b.size());
  EXPECT_EQ(d.early.size(), 1u);
  EXPECT_EQ(d.collectives.size(), 1u);
  EXPECT_THROW(decode_report(b.data(), b.size() - 1), std::invalid_argument);
}
