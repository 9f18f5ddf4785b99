#include "drained_store.hpp"

#include <utility>

namespace ckpt::detail::pmpi {

void DrainedStore::push(DrainedMessage message) { m_messages.push_back({std::move(message), 0}); }

std::optional<std::size_t> DrainedStore::find(const MatchSpec &spec) const noexcept {
  for (std::size_t i = 0; i < m_messages.size(); ++i) {
    const Entry &e = m_messages[i];
    if (e.ticket != 0 || e.message.comm_id != spec.comm_id) continue;
    if (!spec.any_source && e.message.source != spec.source) continue;
    if (!spec.any_tag && e.message.tag != spec.tag) continue;
    return i;
  }
  return std::nullopt;
}

DrainedMessage DrainedStore::take(std::size_t pos) {
  DrainedMessage m = std::move(m_messages[pos].message);
  if (m_messages[pos].ticket != 0) --m_reserved;
  m_messages.erase(m_messages.begin() + static_cast<std::ptrdiff_t>(pos));
  return m;
}

std::uint64_t DrainedStore::reserve(std::size_t pos) {
  m_messages[pos].ticket = m_next_ticket++;
  ++m_reserved;
  return m_messages[pos].ticket;
}

void DrainedStore::push_reserved(DrainedMessage message, std::uint64_t ticket) {
  m_messages.push_back({std::move(message), ticket});
  ++m_reserved;
  if (ticket >= m_next_ticket) m_next_ticket = ticket + 1;
}

std::vector<std::uint64_t> DrainedStore::tickets() const {
  std::vector<std::uint64_t> out;
  out.reserve(m_messages.size());
  for (const Entry &e : m_messages)
    out.push_back(e.ticket);
  return out;
}

std::optional<DrainedMessage> DrainedStore::take_reserved(std::uint64_t ticket) {
  for (std::size_t i = 0; i < m_messages.size(); ++i)
    if (m_messages[i].ticket == ticket) return take(i);
  return std::nullopt;
}

std::vector<DrainedMessage> DrainedStore::all() const {
  std::vector<DrainedMessage> out;
  out.reserve(m_messages.size());
  for (const Entry &e : m_messages)
    out.push_back(e.message);
  return out;
}

void DrainedStore::clear() noexcept {
  m_messages.clear();
  m_reserved = 0;
}

} // namespace ckpt::detail::pmpi
