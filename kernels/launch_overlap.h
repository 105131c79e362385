// Overlapped launches of the decode kernels (programmatic dependent launch, sm_90 and later):
// each kernel may start while the one before it is still running and waits for its results
// inside (kernels/cuda/common.cuh describes the protocol), so a decode step of ~10 short
// launches per layer loses less time between them. On by default; off gives ordinary stream
// order, for comparison (duo-bench-decode --launch-overlap false). A no-op without CUDA.
#pragma once

namespace duo::kernels {

void set_launch_overlap(bool on);
// Whether launches are overlapped now (false without CUDA or on GPUs before sm_90).
bool launch_overlap();

}  // namespace duo::kernels
