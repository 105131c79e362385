#include "train_state.h"

#include <torch/serialize.h>

#include <sstream>

#include "util/error.h"
#include "util/text_file.h"

namespace duo {

void save_train_state(const std::filesystem::path& path, const TrainState& state,
                      torch::optim::AdamW& optimizer) {
  torch::serialize::OutputArchive archive;
  archive.write("version", torch::tensor(kTrainStateVersion));
  archive.write("steps_done", torch::tensor(state.steps_done));
  archive.write("wall_time", torch::tensor(state.wall_time, torch::kDouble));
  archive.write("gates", state.gates.detach().cpu());
  torch::serialize::OutputArchive optimizer_archive;
  optimizer.save(optimizer_archive);
  archive.write("optimizer", optimizer_archive);
  // Serialized in memory, then written by write_text_file (a temporary file renamed into place):
  // a full disk is one error naming the file, and no temporary file is left behind.
  std::ostringstream bytes;
  archive.save_to(bytes);
  write_text_file(path, bytes.str());
}

namespace {

// Runs `read` on the opened archive of the checkpoint at `path`, turning libtorch's errors into a
// duo::Error naming the file; checks the version first.
template <typename Read>
auto with_archive(const std::filesystem::path& path, Read&& read) {
  if (!std::filesystem::exists(path)) throw Error(path, "no checkpoint to resume from");
  try {
    torch::serialize::InputArchive archive;
    archive.load_from(path.string());
    at::Tensor version;
    archive.read("version", version);
    if (version.item<int64_t>() > kTrainStateVersion)
      throw Error(path, "checkpoint version " + std::to_string(version.item<int64_t>()) +
                            " is newer than this duo-train understands (" +
                            std::to_string(kTrainStateVersion) + ")");
    return read(archive);
  } catch (const Error&) {
    throw;
  } catch (const std::exception& e) {
    // libtorch's messages carry a C++ backtrace; the first line says what went wrong.
    std::string what = e.what();
    throw Error(path, "corrupt or unreadable checkpoint: " + what.substr(0, what.find('\n')));
  }
}

}  // namespace

int64_t read_train_state_steps(const std::filesystem::path& path) {
  return with_archive(path, [](torch::serialize::InputArchive& archive) {
    at::Tensor steps;
    archive.read("steps_done", steps);
    return steps.item<int64_t>();
  });
}

int64_t load_train_state(const std::filesystem::path& path, TrainState& state,
                         torch::optim::AdamW& optimizer) {
  return with_archive(path, [&](torch::serialize::InputArchive& archive) {
    at::Tensor steps, wall_time, gates;
    archive.read("steps_done", steps);
    archive.read("wall_time", wall_time);
    archive.read("gates", gates);
    if (gates.sizes() != state.gates.sizes())
      throw Error(path, "checkpoint gates have shape " + c10::str(gates.sizes()) +
                            " but the model needs " + c10::str(state.gates.sizes()));
    {
      torch::NoGradGuard no_grad;
      state.gates.copy_(gates);
    }
    torch::serialize::InputArchive optimizer_archive;
    archive.read("optimizer", optimizer_archive);
    optimizer.load(optimizer_archive);
    state.steps_done = steps.item<int64_t>();
    state.wall_time = wall_time.item<double>();
    return state.steps_done;
  });
}

}  // namespace duo
