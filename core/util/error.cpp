#include "util/error.h"

namespace duo {

Error::Error(const std::filesystem::path& path, const std::string& problem)
    : std::runtime_error(path.string() + ": " + problem) {}

}  // namespace duo
