#include "launch_overlap.h"

#ifdef DUO_WITH_CUDA
#include "cuda/launch.h"
#endif

namespace duo::kernels {

#ifdef DUO_WITH_CUDA
void set_launch_overlap(bool on) { cuda::set_launch_overlap(on); }
bool launch_overlap() { return cuda::launch_overlap(); }
#else
void set_launch_overlap(bool) {}
bool launch_overlap() { return false; }
#endif

}  // namespace duo::kernels
