#include "drained_store.hpp"

#include <climits>
#include <utility>

namespace ckpt::detail::pmpi {

namespace {
constexpr int k_any = INT_MIN; // a wildcard in a Key (no rank or tag has this value)
} // namespace

std::size_t DrainedStore::KeyHash::operator()(const Key &k) const noexcept {
  std::uint64_t h = k.comm_id * 0x9E3779B97F4A7C15ULL;
  h ^= static_cast<std::uint64_t>(static_cast<std::uint32_t>(k.source)) + 0x632BE59BD9B4E019ULL +
       (h << 6) + (h >> 2);
  h ^= static_cast<std::uint64_t>(static_cast<std::uint32_t>(k.tag)) * 0xBF58476D1CE4E5B9ULL;
  return static_cast<std::size_t>(h ^ (h >> 29));
}

void DrainedStore::push(DrainedMessage message) {
  const Id id = m_first + m_entries.size();
  const Key keys[] = {{message.comm_id, message.source, message.tag},
                      {message.comm_id, message.source, k_any},
                      {message.comm_id, k_any, message.tag},
                      {message.comm_id, k_any, k_any}};
  for (const Key &k : keys)
    m_queues[k].ids.push_back(id);
  m_entries.push_back({std::move(message), 0, false});
  ++m_live;
}

bool DrainedStore::matchable(Id id) const noexcept {
  if (id < m_first) return false; // taken, and gone from the front
  const Entry &e = entry(id);
  return !e.taken && e.ticket == 0;
}

std::optional<DrainedStore::Id> DrainedStore::find(const MatchSpec &spec) const noexcept {
  const Key key{spec.comm_id, spec.any_source ? k_any : spec.source,
                spec.any_tag ? k_any : spec.tag};
  const auto it = m_queues.find(key);
  if (it == m_queues.end()) return std::nullopt;
  Queue &q = it->second;
  // Taken and reserved messages never become matchable again: drop them.
  while (q.head < q.ids.size() && !matchable(q.ids[q.head]))
    ++q.head;
  if (q.head == q.ids.size()) {
    m_queues.erase(it);
    return std::nullopt;
  }
  if (q.head > 64 && q.head * 2 > q.ids.size()) { // compact: amortised O(1)
    q.ids.erase(q.ids.begin(), q.ids.begin() + static_cast<std::ptrdiff_t>(q.head));
    q.head = 0;
  }
  return q.ids[q.head];
}

DrainedMessage DrainedStore::take(Id id) {
  Entry &e = entry(id);
  DrainedMessage m = std::move(e.message);
  e.message.data = {}; // release the payload now, whatever the moved-from state
  e.taken = true;
  if (e.ticket != 0) m_tickets.erase(e.ticket);
  e.ticket = 0;
  --m_live;
  while (!m_entries.empty() && m_entries.front().taken) {
    m_entries.pop_front();
    ++m_first;
  }
  if (m_live == 0) m_queues.clear(); // every queue holds only taken ids now
  return m;
}

std::uint64_t DrainedStore::reserve(Id id) {
  const std::uint64_t ticket = m_next_ticket++;
  m_tickets.emplace(ticket, id);
  entry(id).ticket = ticket;
  return ticket;
}

std::optional<DrainedMessage> DrainedStore::take_reserved(std::uint64_t ticket) {
  const auto it = m_tickets.find(ticket);
  if (it == m_tickets.end()) return std::nullopt;
  return take(it->second);
}

void DrainedStore::push_reserved(DrainedMessage message, std::uint64_t ticket) {
  const Id id = m_first + m_entries.size();
  push(std::move(message)); // queued like any message, never matched while reserved
  entry(id).ticket = ticket;
  m_tickets.emplace(ticket, id);
  if (ticket >= m_next_ticket) m_next_ticket = ticket + 1;
}

std::vector<std::uint64_t> DrainedStore::tickets() const {
  std::vector<std::uint64_t> out;
  out.reserve(m_live);
  for (const Entry &e : m_entries)
    if (!e.taken) out.push_back(e.ticket);
  return out;
}

std::vector<DrainedMessage> DrainedStore::all() const {
  std::vector<DrainedMessage> out;
  out.reserve(m_live);
  for (const Entry &e : m_entries)
    if (!e.taken) out.push_back(e.message);
  return out;
}

void DrainedStore::clear() noexcept {
  m_entries.clear();
  m_first = 0;
  m_live = 0;
  m_queues.clear();
  m_tickets.clear();
}

} // namespace ckpt::detail::pmpi
