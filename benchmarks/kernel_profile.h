// Where a GPU's time goes in one call: runs it under libtorch's Kineto profiler and prints the
// CUDA kernels grouped by name, the longest first, with their share of all kernel time. What the
// benchmarks use in place of Nsight Systems, which the GPU host lacks.
#pragma once
#include <torch/csrc/autograd/profiler_kineto.h>

#include <algorithm>
#include <cstdio>
#include <map>
#include <string>
#include <utility>
#include <vector>

namespace duo::bench {

template <class F>
void print_kernel_profile(F&& run, int top = 25) {
  namespace prof = torch::autograd::profiler;
  using torch::profiler::impl::ActivityType;
  const prof::ProfilerConfig config(torch::profiler::impl::ProfilerState::KINETO);
  const std::set<ActivityType> activities{ActivityType::CPU, ActivityType::CUDA};
  prof::prepareProfiler(config, activities);
  prof::enableProfiler(config, activities);
  run();
  const auto result = prof::disableProfiler();
  std::map<std::string, std::pair<double, int>> by_name;  // name -> (ms, launches)
  double total = 0;
  for (const auto& e : result->events()) {
    if (e.deviceType() != c10::DeviceType::CUDA) continue;
    const double ms = double(e.durationNs()) / 1e6;
    auto& slot = by_name[e.name().substr(0, 100)];
    slot.first += ms, slot.second += 1;
    total += ms;
  }
  std::vector<std::pair<std::string, std::pair<double, int>>> rows(by_name.begin(), by_name.end());
  std::sort(rows.begin(), rows.end(), [](const auto& a, const auto& b) { return a.second.first > b.second.first; });
  std::printf("GPU kernel time %.1f ms in %zu kinds of kernel; the longest:\n", total, rows.size());
  for (int i = 0; i < top && i < int(rows.size()); ++i)
    std::printf("  %9.1f ms %5.1f%% %6d x  %s\n", rows[i].second.first, 100 * rows[i].second.first / total,
                rows[i].second.second, rows[i].first.c_str());
}

}  // namespace duo::bench
