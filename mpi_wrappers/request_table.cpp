#include "request_table.hpp"

#include <algorithm>

namespace ckpt::detail::pmpi {

RequestTable::RequestTable(std::uint32_t initial_slots) { grow(initial_slots); }

void RequestTable::grow(std::uint32_t slots) {
  const auto first = static_cast<std::uint32_t>(m_slots.size());
  m_slots.resize(first + slots);
  m_free.reserve(m_slots.size());
  m_free_position.resize(m_slots.size(), no_position);
  // Hand out low indices first.
  for (std::uint32_t i = first + slots; i > first; --i) {
    m_free_position[i - 1] = static_cast<std::uint32_t>(m_free.size());
    m_free.push_back(i - 1);
  }
}

std::uint32_t RequestTable::allocate() {
  if (m_free.empty()) grow(static_cast<std::uint32_t>(std::max<std::size_t>(m_slots.size(), 64)));
  const std::uint32_t index = m_free.back();
  m_free.pop_back();
  m_free_position[index] = no_position;
  m_slots[index] = RequestSlot{};
  m_slots[index].state = SlotState::active;
  ++m_in_use;
  return index;
}

void RequestTable::release(std::uint32_t index) noexcept {
  m_slots[index].state = SlotState::free;
  m_free_position[index] = static_cast<std::uint32_t>(m_free.size());
  m_free.push_back(index); // capacity reserved in grow(): never allocates
  --m_in_use;
}

bool RequestTable::claim(std::uint32_t index) {
  while (index >= m_slots.size())
    grow(static_cast<std::uint32_t>(m_slots.size()));
  if (m_slots[index].state != SlotState::free) return false;
  // Swap the last free slot into its place in the free list.
  const std::uint32_t position = m_free_position[index];
  const std::uint32_t last = m_free.back();
  m_free[position] = last;
  m_free_position[last] = position;
  m_free.pop_back();
  m_free_position[index] = no_position;
  m_slots[index] = RequestSlot{};
  m_slots[index].state = SlotState::active;
  ++m_in_use;
  return true;
}

} // namespace ckpt::detail::pmpi
