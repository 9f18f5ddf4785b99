// What a rank keeps of the chain it restarted from, until its next
// checkpoint: its share of the chain and the open files, so that a region
// protected after restart() is restored when it is protected.
#ifndef CKPT_DETAIL_RESTART_SOURCE_HPP
#define CKPT_DETAIL_RESTART_SOURCE_HPP

#include "chain_model.hpp"
#include "chain_restore.hpp"

#include <memory>
#include <set>

namespace ckpt::detail {

struct RestartSource {
  explicit RestartSource(RankChain share) : chain(std::move(share)), restorer(chain) {}
  RestartSource(const RestartSource &) = delete;
  RestartSource &operator=(const RestartSource &) = delete;

  RankChain chain;        // this rank's share of the chain
  ChainRestorer restorer; // refers to `chain`
  std::set<int> restored; // region ids already restored from it
};

} // namespace ckpt::detail

#endif
