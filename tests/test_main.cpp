// main() of every test binary: exports where the independent references and the built programs
// are (unless the caller already set them), then runs GoogleTest. Tests and the processes they
// start read these variables; see tests/CMakeLists.txt.
#include <gtest/gtest.h>

#include <cstdlib>

int main(int argc, char** argv) {
  const char* defaults[][2] = {
      {"DUO_PYTHON", DUO_TEST_PYTHON},
      {"DUO_SOURCE_DIR", DUO_TEST_SOURCE_DIR},
      {"DUO_FIXTURES_DIR", DUO_TEST_FIXTURES_DIR},
      {"DUO_BIN_DIR", DUO_TEST_BIN_DIR},
      {"PYTHONHASHSEED", "0"},
      {"TOKENIZERS_PARALLELISM", "false"},
      // ctest runs tests side by side on few cores: one thread each avoids oversubscription.
      {"OMP_NUM_THREADS", "1"},
  };
  for (const auto& [name, value] : defaults) setenv(name, value, /*overwrite=*/0);
  testing::InitGoogleTest(&argc, argv);
  return RUN_ALL_TESTS();
}
