// Fuzz target: the gate-history HDF5 file (core/history), read whole and its last step taken as
// duo-analyze does.
#include "analysis/gate_set.h"
#include "fuzz_input.h"
#include "history/history_reader.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  try {
    const auto path = duo::fuzz::scratch_file("run.h5", duo::fuzz::as_text(data, size));
    const duo::HistoryReader history(path);
    duo::analysis::gates_from_history(history, std::nullopt);
  } catch (const duo::Error&) {
  }
  return 0;
}
