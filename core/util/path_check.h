// Checking the paths a user names before a long run starts, so that a flag given a file where it
// expects a directory (or the reverse), or an output that cannot be created, is one clear line
// (duo::Error) at once rather than a failure after the model has loaded or training has run.
// `flag` names where the path came from as the user wrote it: "--model", or a config key such
// as "model.path". An empty path is refused by each check ("--model is empty; it expects a
// checkpoint directory").
#pragma once
#include <filesystem>
#include <string_view>

namespace duo {

// Throws unless `path` is an existing directory (a link to one counts); `what` says what it
// should be, e.g. require_directory(p, "--model", "a checkpoint directory"):
//   "--model expects a checkpoint directory; m/model.safetensors is a file"
//   "--model expects a checkpoint directory; m/nowhere does not exist"
void require_directory(const std::filesystem::path& path, std::string_view flag, std::string_view what);

// Throws unless `path` exists and is not a directory (a device or a pipe counts as a file):
//   "--random-config expects a config.json file; models/tiny is a directory"
//   "--random-config expects a config.json file; models/none.json does not exist"
void require_file(const std::filesystem::path& path, std::string_view flag, std::string_view what);

// An output directory: an existing writable directory, or one that can be created, which it then
// is (with its missing parents). Otherwise throws, naming the path:
//   "--out expects a directory; runs/a.h5 is a file"
//   "--out runs/a.h5/plots: cannot be created: runs/a.h5 is a file"
//   "--out /ro/plots: cannot be created: /ro is not writable (Permission denied)"
//   "--out /ro: not writable (Permission denied)"
void prepare_output_directory(const std::filesystem::path& dir, std::string_view flag);

// An output file: not a directory, and in a directory that is writable or can be created, which
// it then is. An existing file that is not a regular one (/dev/null, a pipe) need only be
// writable itself. Otherwise throws, naming the path:
//   "--out expects a file; runs/x is a directory"
//   "--out runs/a.h5/pattern.json: cannot be created: runs/a.h5 is a file"
//   "--dump /ro/dump.h5: cannot be created: /ro is not writable (Permission denied)"
void prepare_output_file(const std::filesystem::path& file, std::string_view flag);

}  // namespace duo
