// Unit tests of the PMPI layer's plain classes: no MPI library is called.
#include "channel_counts.hpp"
#include "comm_identity.hpp"
#include "drain.hpp"
#include "drained_store.hpp"
#include "request_table.hpp"
#include "snapshot.hpp"

#include <gtest/gtest.h>

#include <deque>
#include <map>
#include <set>

using namespace ckpt::detail::pmpi;

TEST(ChannelCounts, CountsPerPeerAndResets) {
  ChannelCounts c(3);
  c.on_send(2);
  c.on_send(2);
  c.on_receive(0);
  c.on_send(1);
  c.on_send_cancelled(1);
  EXPECT_EQ(c.sent(2), 2u);
  EXPECT_EQ(c.sent(1), 0u);
  EXPECT_EQ(c.received(0), 1u);
  EXPECT_TRUE(c.any_traffic());
  c.reset();
  EXPECT_FALSE(c.any_traffic());
}

TEST(CommId, IdsFollowIdentityNotCreationOrder) {
  const std::uint32_t dup = call_kind_of("Comm_dup"), split = call_kind_of("Comm_split");
  const auto all = members_hash({0, 1, 2, 3}), evens = members_hash({0, 2});
  const auto a = identity_id(comm_id::world, split, evens, 0);
  EXPECT_EQ(a, identity_id(comm_id::world, split, evens, 0)); // same identity: same id
  EXPECT_NE(a, identity_id(comm_id::world, split, members_hash({1, 3}), 0)); // other members
  EXPECT_NE(a, identity_id(comm_id::world, dup, evens, 0));                  // another kind of call
  EXPECT_NE(a, identity_id(comm_id::self, split, evens, 0));                 // another parent
  EXPECT_NE(a, identity_id(comm_id::world, split, evens, 1)); // a later identical sibling
  EXPECT_NE(members_hash({0, 2}), members_hash({2, 0}));      // rank order matters
  EXPECT_GE(a, 16u);                                          // never a reserved id
  EXPECT_NE(create_group_kind(1), create_group_kind(2));
  // Ordinals count only identical siblings: a split made first does not
  // change the ordinal of the dup made after it.
  SiblingOrdinals o;
  EXPECT_EQ(o.next(comm_id::world, split, evens), 0u);
  EXPECT_EQ(o.next(comm_id::world, dup, all), 0u);
  EXPECT_EQ(o.next(comm_id::world, dup, all), 1u);
  EXPECT_EQ(o.next(comm_id::world, split, members_hash({1, 3})), 0u);
}

namespace {
CommDescriptor desc(std::uint64_t parent, const char *call, std::vector<int> members,
                    std::uint64_t ordinal, std::string name = {}) {
  CommDescriptor d;
  d.parent = parent;
  d.kind = call_kind_of(call);
  d.members = std::move(members);
  d.ordinal = ordinal;
  d.id = identity_id(parent, d.kind, members_hash(d.members), ordinal);
  d.name = std::move(name);
  return d;
}
} // namespace

TEST(CommMatch, SwappedOrderAndAnExtraCommunicatorMatchByIdentity) {
  const auto dup = desc(comm_id::world, "Comm_dup", {0, 1}, 0);
  const auto row = desc(comm_id::world, "Comm_split", {0}, 0);
  const auto sub = desc(dup.id, "Comm_split", {0}, 0);
  const std::vector<CommDescriptor> saved = {dup, row, sub};
  // Restarted: a library's Cart_create first, then the split, then the dup.
  const auto extra = desc(comm_id::world, "Cart_create", {0, 1}, 0);
  const std::vector<CommDescriptor> live = {extra, row, dup, sub};
  const auto map = match_communicators(saved, live, {dup.id, row.id, sub.id});
  EXPECT_EQ(map.at(dup.id), dup.id);
  EXPECT_EQ(map.at(row.id), row.id);
  EXPECT_EQ(map.at(sub.id), sub.id);
}

TEST(CommMatch, NamesBreakTiesBetweenIdenticalSiblings) {
  // Saved: the application's dup named "app", then a library's unnamed dup.
  const auto app = desc(comm_id::world, "Comm_dup", {0, 1}, 0, "app");
  const auto lib = desc(comm_id::world, "Comm_dup", {0, 1}, 1);
  const auto child = desc(app.id, "Comm_split", {1}, 0);
  // Restarted: the library's dup first.
  const auto lib2 = desc(comm_id::world, "Comm_dup", {0, 1}, 0);
  const auto app2 = desc(comm_id::world, "Comm_dup", {0, 1}, 1, "app");
  const auto child2 = desc(app2.id, "Comm_split", {1}, 0);
  const auto map = match_communicators({app, lib, child}, {lib2, app2, child2}, {app.id, child.id});
  EXPECT_EQ(map.at(app.id), app2.id);
  EXPECT_EQ(map.at(lib.id), lib2.id);
  EXPECT_EQ(map.at(child.id), child2.id); // the parent's mapping carries over
  // Without names, creation order breaks the tie.
  const auto plain = match_communicators({lib2, app2}, {lib2, app2}, {});
  EXPECT_EQ(plain.at(lib2.id), lib2.id);
}

TEST(CommMatch, AnUnmatchedCommunicatorIsNamed) {
  const auto rows = desc(comm_id::world, "Comm_split", {0, 2}, 0, "rows");
  const auto other = desc(comm_id::world, "Comm_split", {0, 1}, 0);
  try {
    match_communicators({rows}, {other}, {rows.id});
    FAIL() << "no error";
  } catch (const CommMatchError &e) {
    const std::string what = e.what();
    EXPECT_NE(what.find("'rows'"), std::string::npos) << what;
    EXPECT_NE(what.find("MPI_Comm_split of MPI_COMM_WORLD"), std::string::npos) << what;
    EXPECT_NE(what.find("0,2"), std::string::npos) << what;
  }
  // Not required: no error, no mapping.
  EXPECT_FALSE(match_communicators({rows}, {other}, {}).count(rows.id));
  // A different name is a different communicator.
  EXPECT_THROW(match_communicators({rows}, {desc(comm_id::world, "Comm_split", {0, 2}, 0, "cols")},
                                   {rows.id}),
               CommMatchError);
}

TEST(RequestTable, HandlesRoundTripAndNeverLookReal) {
  RequestTable t(2);
  const auto a = t.allocate();
  const auto b = t.allocate();
  const auto c = t.allocate(); // grows
  EXPECT_NE(a, b);
  EXPECT_TRUE(t.contains(c));
  for (auto i : {a, b, c}) {
    EXPECT_TRUE(RequestTable::is_virtual(RequestTable::handle_of(i)));
    EXPECT_EQ(RequestTable::index_of(RequestTable::handle_of(i)), i);
    EXPECT_TRUE(RequestTable::is_virtual_fortran(RequestTable::fortran_of(i)));
    EXPECT_EQ(RequestTable::index_of_fortran(RequestTable::fortran_of(i)), i);
  }
  // Aligned pointers and non-negative Fortran handles are the implementation's.
  alignas(16) static int object;
  EXPECT_FALSE(RequestTable::is_virtual(reinterpret_cast<std::uintptr_t>(&object)));
  EXPECT_FALSE(RequestTable::is_virtual_fortran(0));
  EXPECT_FALSE(RequestTable::is_virtual_fortran(12345));
  t.release(b);
  EXPECT_FALSE(t.contains(b));
  EXPECT_EQ(t.in_use(), 2u);
  EXPECT_TRUE(t.claim(b));
  EXPECT_FALSE(t.claim(b));
  EXPECT_TRUE(t.claim(100)); // restoring a slot beyond the current size
  EXPECT_NE(t.allocate(), 100u);
}

TEST(RequestTable, ClaimedSlotsAreNeverHandedOutAgain) {
  RequestTable t(8);
  // A restart claims scattered slots, then the program allocates: every
  // slot is handed out once, claimed ones never.
  std::set<std::uint32_t> used;
  for (std::uint32_t i : {5u, 0u, 7u, 3u, 20u}) {
    ASSERT_TRUE(t.claim(i));
    used.insert(i);
  }
  for (int k = 0; k < 40; ++k)
    EXPECT_TRUE(used.insert(t.allocate()).second);
  EXPECT_EQ(t.in_use(), used.size());
  // Released and claimed again, then allocation goes on without duplicates.
  t.release(7);
  t.release(21);
  EXPECT_TRUE(t.claim(21));
  used.erase(7);
  EXPECT_EQ(t.allocate(), 7u);
  EXPECT_FALSE(t.claim(7));
}

namespace {
DrainedMessage msg(std::uint64_t comm, int src, int tag, unsigned char byte) {
  return DrainedMessage{comm, src, tag, {byte}};
}
} // namespace

TEST(DrainedStore, MatchesOldestFirstWithWildcards) {
  DrainedStore s;
  s.push(msg(5, 1, 10, 'a'));
  s.push(msg(5, 2, 11, 'b'));
  s.push(msg(5, 1, 12, 'c'));
  s.push(msg(6, 1, 10, 'd'));
  MatchSpec any{5, 0, 0, true, true};
  EXPECT_EQ(s.at(*s.find(any)).data[0], 'a');
  MatchSpec from2{5, 2, 0, false, true};
  EXPECT_EQ(s.at(*s.find(from2)).data[0], 'b');
  MatchSpec tag12{5, 0, 12, true, false};
  EXPECT_EQ(s.at(*s.find(tag12)).data[0], 'c');
  MatchSpec other_comm{6, 1, 10, false, false};
  EXPECT_EQ(s.at(*s.find(other_comm)).data[0], 'd');
  EXPECT_FALSE(s.find(MatchSpec{7, 0, 0, true, true}));
  // Non-overtaking: taking from source 1 with any tag yields a, then c.
  MatchSpec from1{5, 1, 0, false, true};
  EXPECT_EQ(s.take(*s.find(from1)).data[0], 'a');
  EXPECT_EQ(s.take(*s.find(from1)).data[0], 'c');
}

TEST(DrainedStore, ReservedMessagesAreInvisibleToOtherReceives) {
  DrainedStore s;
  s.push(msg(5, 1, 10, 'a'));
  s.push(msg(5, 1, 10, 'b'));
  const auto ticket = s.reserve(*s.find(MatchSpec{5, 1, 10, false, false}));
  EXPECT_EQ(s.at(*s.find(MatchSpec{5, 1, 10, false, false})).data[0], 'b');
  EXPECT_EQ(s.reserved(), 1u);
  auto m = s.take_reserved(ticket);
  ASSERT_TRUE(m);
  EXPECT_EQ(m->data[0], 'a');
  EXPECT_FALSE(s.take_reserved(ticket));
  EXPECT_EQ(s.reserved(), 0u);
}

TEST(DrainedStore, NonOvertakingPerSelectionAfterInterleavedTakes) {
  // Two sources, two tags, interleaved: every kind of receive gets the
  // oldest message it matches, also after others were taken out of order.
  DrainedStore s;
  s.push(msg(5, 0, 1, 'a'));
  s.push(msg(5, 1, 2, 'b'));
  s.push(msg(5, 0, 2, 'c'));
  s.push(msg(5, 1, 1, 'd'));
  s.push(msg(5, 0, 1, 'e'));
  EXPECT_EQ(s.take(*s.find(MatchSpec{5, 0, 2, false, false})).data[0], 'c');
  EXPECT_EQ(s.take(*s.find(MatchSpec{5, 0, 1, true, false})).data[0], 'a');
  EXPECT_EQ(s.take(*s.find(MatchSpec{5, 0, 0, true, true})).data[0], 'b');
  EXPECT_EQ(s.take(*s.find(MatchSpec{5, 1, 0, false, true})).data[0], 'd');
  EXPECT_EQ(s.size(), 1u);
  EXPECT_FALSE(s.find(MatchSpec{5, 1, 0, false, true}));
  EXPECT_EQ(s.take(*s.find(MatchSpec{5, 0, 0, true, true})).data[0], 'e');
  EXPECT_TRUE(s.empty());
  EXPECT_FALSE(s.find(MatchSpec{5, 0, 0, true, true}));
}

TEST(DrainedStore, AgreesWithALinearScanOnRandomTraffic) {
  // Reference: the oldest unreserved match in push order.
  struct Ref {
    DrainedMessage m;
    bool reserved = false;
    std::uint64_t ticket = 0;
  };
  std::vector<Ref> ref;
  DrainedStore s;
  std::uint32_t x = 12345;
  auto rnd = [&](std::uint32_t n) {
    x = x * 1664525u + 1013904223u;
    return (x >> 8) % n;
  };
  unsigned char next = 0;
  for (int step = 0; step < 20000; ++step) {
    if (rnd(3) != 0) {
      const DrainedMessage m{
          5 + rnd(2), static_cast<int>(rnd(3)), static_cast<int>(rnd(4)), {next++}};
      ref.push_back({m});
      s.push(m);
      continue;
    }
    const MatchSpec spec{5 + rnd(2), static_cast<int>(rnd(3)), static_cast<int>(rnd(4)),
                         rnd(2) == 0, rnd(2) == 0};
    std::size_t want = ref.size();
    for (std::size_t i = 0; i < ref.size() && want == ref.size(); ++i) {
      const DrainedMessage &m = ref[i].m;
      if (!ref[i].reserved && m.comm_id == spec.comm_id &&
          (spec.any_source || m.source == spec.source) && (spec.any_tag || m.tag == spec.tag))
        want = i;
    }
    const auto got = s.find(spec);
    ASSERT_EQ(got.has_value(), want != ref.size()) << "step " << step;
    if (!got) continue;
    ASSERT_EQ(s.at(*got).data, ref[want].m.data) << "step " << step;
    if (rnd(8) == 0) { // a matched probe, redeemed later
      ref[want].reserved = true;
      ref[want].ticket = s.reserve(*got);
    } else {
      ASSERT_EQ(s.take(*got).data, ref[want].m.data);
      ref.erase(ref.begin() + static_cast<std::ptrdiff_t>(want));
    }
    if (rnd(4) == 0)
      for (std::size_t i = 0; i < ref.size(); ++i)
        if (ref[i].reserved) {
          auto m = s.take_reserved(ref[i].ticket);
          ASSERT_TRUE(m);
          ASSERT_EQ(m->data, ref[i].m.data);
          ref.erase(ref.begin() + static_cast<std::ptrdiff_t>(i));
          break;
        }
    ASSERT_EQ(s.size(), ref.size());
  }
  const auto all = s.all();
  ASSERT_EQ(all.size(), ref.size());
  for (std::size_t i = 0; i < all.size(); ++i)
    EXPECT_EQ(all[i].data, ref[i].m.data);
}

TEST(DrainedStore, MessagesReceivedForAMatchedProbeKeepTheirTicket) {
  DrainedStore s;
  const auto ticket = s.new_ticket(); // Mprobe of a message still in MPI
  s.push(DrainedMessage{5, 1, 10, {1}});
  s.push_reserved(DrainedMessage{5, 1, 10, {2}}, ticket); // received at the checkpoint
  EXPECT_EQ(s.tickets(), (std::vector<std::uint64_t>{0, ticket}));
  EXPECT_EQ(s.reserved(), 1u);
  // Invisible to other receives, redeemed by its ticket.
  EXPECT_EQ(*s.find(MatchSpec{5, 1, 10, false, false}), 0u);
  EXPECT_EQ(s.take_reserved(ticket)->data, (std::vector<unsigned char>{2}));
  // A restored ticket moves the counter past it.
  s.push_reserved(DrainedMessage{5, 1, 10, {3}}, 40);
  EXPECT_GT(s.new_ticket(), 40u);
}

TEST(Snapshot, EncodedFromTheStoreAsFromACopy) {
  DrainedStore store;
  store.push(DrainedMessage{5, 1, 10, {1, 2, 3}});
  store.push_reserved(DrainedMessage{6, 0, 4, {9}}, store.new_ticket());
  ChannelSnapshot copy;
  copy.request_null = 7;
  copy.requests.push_back({3, RequestKind::receive, Envelope{1, 10, 3, false, 0}});
  ChannelSnapshot without_messages = copy;
  copy.messages = store.all();
  copy.tickets = store.tickets();
  EXPECT_EQ(encode_snapshot(without_messages, store), encode_snapshot(copy));
}

TEST(Snapshot, RoundTripsAndRejectsDamage) {
  ChannelSnapshot s;
  s.request_null = 0x1234;
  s.messages.push_back(DrainedMessage{99, 3, -7, {1, 2, 3}});
  s.messages.push_back(DrainedMessage{100, 0, 0, {}});
  s.tickets = {0, 17};
  s.requests.push_back({42, RequestKind::receive, Envelope{3, 8, 24, false, 0}});
  s.requests.push_back({7, RequestKind::send, Envelope{0, 0, 0, true, 15}});
  s.comms.push_back(desc(comm_id::world, "Comm_split", {4, 2, 0}, 3, "rows"));
  PendingRequest p;
  p.index = 9;
  p.kind = RequestKind::persistent_receive;
  p.state = SlotState::completed;
  p.comm_id = s.comms[0].id;
  p.peer = -1;
  p.tag = 12;
  p.count = 100;
  p.datatype = 14;
  p.call = 0;
  p.buffer = BufferRef{3, 4096};
  p.send_buffer = BufferRef{BufferRef::in_place, 0};
  p.op = 2;
  p.order = 77;
  p.result = Envelope{2, 12, 800, false, 0};
  s.pending.push_back(p);
  const auto bytes = encode_snapshot(s);
  const ChannelSnapshot r = decode_snapshot(bytes.data(), bytes.size());
  EXPECT_EQ(r.request_null, 0x1234u);
  ASSERT_EQ(r.messages.size(), 2u);
  EXPECT_EQ(r.messages[0].comm_id, 99u);
  EXPECT_EQ(r.messages[0].tag, -7);
  EXPECT_EQ(r.messages[0].data, (std::vector<unsigned char>{1, 2, 3}));
  EXPECT_TRUE(r.messages[1].data.empty());
  EXPECT_EQ(r.tickets, (std::vector<std::uint64_t>{0, 17}));
  ASSERT_EQ(r.requests.size(), 2u);
  EXPECT_EQ(r.requests[0].index, 42u);
  EXPECT_EQ(r.requests[0].result.bytes, 24u);
  EXPECT_TRUE(r.requests[1].result.cancelled);
  EXPECT_EQ(r.requests[1].result.error, 15);
  ASSERT_EQ(r.comms.size(), 1u);
  EXPECT_EQ(r.comms[0].id, s.comms[0].id);
  EXPECT_EQ(r.comms[0].members, (std::vector<int>{4, 2, 0}));
  EXPECT_EQ(r.comms[0].name, "rows");
  EXPECT_EQ(r.comms[0].ordinal, 3u);
  ASSERT_EQ(r.pending.size(), 1u);
  EXPECT_EQ(r.pending[0].index, 9u);
  EXPECT_EQ(r.pending[0].kind, RequestKind::persistent_receive);
  EXPECT_EQ(r.pending[0].state, SlotState::completed);
  EXPECT_EQ(r.pending[0].peer, -1);
  EXPECT_EQ(r.pending[0].buffer.region, 3);
  EXPECT_EQ(r.pending[0].buffer.offset, 4096u);
  EXPECT_EQ(r.pending[0].send_buffer.region, BufferRef::in_place);
  EXPECT_EQ(r.pending[0].op, 2u);
  EXPECT_EQ(r.pending[0].order, 77u);
  EXPECT_EQ(r.pending[0].result.bytes, 800u);

  auto truncated = bytes;
  truncated.pop_back();
  EXPECT_THROW(decode_snapshot(truncated.data(), truncated.size()), SnapshotFormatError);
  auto bad_magic = bytes;
  bad_magic[0] = 'X';
  EXPECT_THROW(decode_snapshot(bad_magic.data(), bad_magic.size()), SnapshotFormatError);
  auto trailing = bytes;
  trailing.push_back(0);
  EXPECT_THROW(decode_snapshot(trailing.data(), trailing.size()), SnapshotFormatError);
  // Every proper prefix is rejected, never read past.
  for (std::size_t n = 0; n < bytes.size(); ++n)
    EXPECT_THROW(decode_snapshot(bytes.data(), n), SnapshotFormatError) << n;
}

namespace {
/// Offset of the first count field (after magic, version, request null).
constexpr std::size_t k_first_count = 8 + 4 + 8;
} // namespace

TEST(Snapshot, RejectsVersionOneAndHostileCountsAndValues) {
  ChannelSnapshot s;
  s.comms.push_back(desc(comm_id::world, "Comm_dup", {0, 1}, 0));
  PendingRequest p;
  p.kind = RequestKind::receive;
  s.pending.push_back(p);
  const auto bytes = encode_snapshot(s);
  auto v1 = bytes;
  v1[8] = 1; // the version that predates communicator identities
  EXPECT_THROW(decode_snapshot(v1.data(), v1.size()), SnapshotFormatError);
  // A huge communicator count must fail at once, not allocate.
  auto huge = bytes;
  for (std::size_t i = 0; i < 8; ++i)
    huge[k_first_count + i] = 0xff;
  EXPECT_THROW(decode_snapshot(huge.data(), huge.size()), SnapshotFormatError);
  // A huge member count inside the communicator (id, parent, kind, ordinal first).
  auto members = bytes;
  for (std::size_t i = 0; i < 8; ++i)
    members[k_first_count + 8 + 8 + 8 + 4 + 8 + i] = 0x7f;
  EXPECT_THROW(decode_snapshot(members.data(), members.size()), SnapshotFormatError);
  // A negative world rank.
  auto negative = bytes;
  negative[k_first_count + 8 + 8 + 8 + 4 + 8 + 8 + 3] = 0x80;
  EXPECT_THROW(decode_snapshot(negative.data(), negative.size()), SnapshotFormatError);
  // Pending requests of kinds that are never saved, or with a bad state.
  for (RequestKind k : {RequestKind::send, RequestKind::matched_receive}) {
    ChannelSnapshot t = s;
    t.pending[0].kind = k;
    const auto b = encode_snapshot(t);
    EXPECT_THROW(decode_snapshot(b.data(), b.size()), SnapshotFormatError);
  }
  ChannelSnapshot t = s;
  t.pending[0].state = SlotState::free;
  const auto b = encode_snapshot(t);
  EXPECT_THROW(decode_snapshot(b.data(), b.size()), SnapshotFormatError);
}

TEST(CountExchange, PlansRecordsPerDestinationAndSums) {
  const std::vector<SentChannel> sent = {{5, 1, 2}, {6, 1, 1}, {0, 2, 1}, {0, 2, 3}, {5, 0, 0}};
  const auto plan = plan_count_records(sent, 3);
  ASSERT_EQ(plan.size(), 3u);
  EXPECT_TRUE(plan[0].empty()); // empty channels are omitted
  ASSERT_EQ(plan[1].size(), 2u);
  ASSERT_EQ(plan[2].size(), 1u);
  EXPECT_EQ(plan[2][0].sent, 4u); // two untracked communicators summed
  EXPECT_THROW(plan_count_records({{5, 3, 1}}, 3), DrainError);
  const auto exp = expectations_from({{}, {{5, 2}}, {{5, 1}, {6, 4}}});
  ASSERT_EQ(exp.size(), 3u);
  EXPECT_EQ(exp[0].source, 1);
  EXPECT_EQ(exp[2].comm_id, 6u);
  EXPECT_EQ(exp[2].sent, 4u);
}

namespace {

// A simulated MPI matching engine for one receiving rank: messages arrive
// over time on (comm, source) channels in FIFO order; a posted receive takes
// a matching message on arrival; Iprobe sees only unexpected messages.
struct Message {
  std::uint64_t comm;
  int source;
  int tag;
  int id;
};
struct PostedReceive {
  std::uint64_t comm;
  int source; // -1: any
  int tag;    // -1: any
  int got = -1;
};

class SimulatedTransport final : public DrainTransport {
public:
  std::deque<Message> in_transit; // arrives one per progress call
  std::deque<Message> unexpected; // arrived, matched no posted receive
  std::vector<PostedReceive> posted;
  std::vector<int> drained_ids;
  std::map<std::pair<std::uint64_t, int>, std::uint64_t> recv_count;
  int idle_rounds = 0;

  void arrive_one() {
    if (in_transit.empty()) return;
    Message m = in_transit.front();
    in_transit.pop_front();
    for (PostedReceive &r : posted)
      if (r.got < 0 && r.comm == m.comm && (r.source < 0 || r.source == m.source) &&
          (r.tag < 0 || r.tag == m.tag)) {
        r.got = m.id;
        return; // matched: the application's completion is seen on the next test
      }
    unexpected.push_back(m);
  }
  void progress_application_receives() override {
    arrive_one();
    for (PostedReceive &r : posted)
      if (r.got >= 0 && !m_accounted.count(&r)) {
        m_accounted.insert(&r);
        ++recv_count[{r.comm, source_of(r.got)}];
      }
  }
  bool drain_one(std::uint64_t comm) override {
    for (auto it = unexpected.begin(); it != unexpected.end(); ++it)
      if (it->comm == comm) {
        drained_ids.push_back(it->id);
        ++recv_count[{comm, it->source}];
        unexpected.erase(it);
        return true;
      }
    return false;
  }
  std::uint64_t received(std::uint64_t comm, int source) const override {
    auto it = recv_count.find({comm, source});
    return it == recv_count.end() ? 0 : it->second;
  }
  void idle() override { ++idle_rounds; }

  std::map<int, int> sources; // message id -> source
  int source_of(int id) const { return sources.at(id); }
  void send(std::uint64_t comm, int source, int tag, int id) {
    in_transit.push_back({comm, source, tag, id});
    sources[id] = source;
  }

private:
  std::set<const PostedReceive *> m_accounted;
};

} // namespace

TEST(Drain, ReceivesEverythingInFlightInChannelOrder) {
  SimulatedTransport t;
  t.send(5, 1, 0, 100);
  t.send(5, 2, 0, 200);
  t.send(5, 1, 1, 101);
  t.send(6, 1, 0, 102);
  const std::vector<Expectation> exp = {{5, 1, 2}, {5, 2, 1}, {6, 1, 1}};
  EXPECT_EQ(drain_channels(t, exp, comm_id::untracked), 4u);
  EXPECT_TRUE(t.in_transit.empty());
  // Per channel, drained in the order sent.
  std::vector<int> from1;
  for (int id : t.drained_ids)
    if (t.source_of(id) == 1 && id != 102) from1.push_back(id);
  EXPECT_EQ(from1, (std::vector<int>{100, 101}));
}

TEST(Drain, NeverTakesWhatAPostedReceiveMatches) {
  // Two receives on the same (source, tag) were posted before the
  // checkpoint; three messages are in flight. The first two belong to the
  // application's receives, in order; only the third is drained.
  SimulatedTransport t;
  t.posted.push_back({5, 1, 7});
  t.posted.push_back({5, 1, 7});
  t.send(5, 1, 7, 1);
  t.send(5, 1, 7, 2);
  t.send(5, 1, 7, 3);
  EXPECT_EQ(drain_channels(t, {{5, 1, 3}}, comm_id::untracked), 1u);
  EXPECT_EQ(t.posted[0].got, 1);
  EXPECT_EQ(t.posted[1].got, 2);
  EXPECT_EQ(t.drained_ids, (std::vector<int>{3}));
}

TEST(Drain, WildcardReceiveKeepsItsMessage) {
  SimulatedTransport t;
  t.posted.push_back({5, -1, -1}); // MPI_ANY_SOURCE, MPI_ANY_TAG
  t.send(5, 2, 9, 1);
  t.send(5, 1, 3, 2);
  EXPECT_EQ(drain_channels(t, {{5, 1, 1}, {5, 2, 1}}, comm_id::untracked), 1u);
  EXPECT_EQ(t.posted[0].got, 1);
  EXPECT_EQ(t.drained_ids, (std::vector<int>{2}));
}

TEST(Drain, ManyWaitingMessagesTakeFewRounds) {
  // 100,000 messages already waiting: drained in a constant number of
  // rounds, so the application's receives are tested a few times, not once
  // per message (that made the drain quadratic).
  SimulatedTransport t;
  const int n = 100000;
  for (int i = 0; i < n; ++i)
    t.unexpected.push_back({5, i % 3, i % 7, i});
  int rounds = 0;
  struct Counting final : DrainTransport {
    SimulatedTransport &inner;
    int &rounds;
    Counting(SimulatedTransport &t, int &r) : inner(t), rounds(r) {}
    void progress_application_receives() override {
      ++rounds;
      inner.progress_application_receives();
    }
    bool drain_one(std::uint64_t comm) override {
      if (inner.unexpected.empty() || inner.unexpected.front().comm != comm) return false;
      inner.drained_ids.push_back(inner.unexpected.front().id);
      ++inner.recv_count[{comm, inner.unexpected.front().source}];
      inner.unexpected.pop_front();
      return true;
    }
    std::uint64_t received(std::uint64_t comm, int source) const override {
      return inner.received(comm, source);
    }
  } counting(t, rounds);
  const std::uint64_t per = n / 3 + 1;
  EXPECT_EQ(
      drain_channels(counting, {{5, 0, per}, {5, 1, per - 1}, {5, 2, per - 1}}, comm_id::untracked),
      static_cast<std::uint64_t>(n));
  EXPECT_LE(rounds, 2);
  ASSERT_EQ(t.drained_ids.size(), static_cast<std::size_t>(n));
  for (int i = 0; i < n; ++i)
    ASSERT_EQ(t.drained_ids[i], i);
}

TEST(Drain, EmptyChannelsFinishAtOnce) {
  SimulatedTransport t;
  EXPECT_EQ(drain_channels(t, {}, comm_id::untracked), 0u);
  EXPECT_EQ(t.idle_rounds, 0);
}

TEST(Drain, FailsOnInconsistentCountsAndUntrackedTraffic) {
  SimulatedTransport t;
  t.recv_count[{5, 1}] = 3;
  EXPECT_THROW(drain_channels(t, {{5, 1, 2}}, comm_id::untracked), DrainError);
  SimulatedTransport u;
  u.send(comm_id::untracked, 1, 0, 1);
  EXPECT_THROW(drain_channels(u, {{comm_id::untracked, 1, 1}}, comm_id::untracked), DrainError);
}
