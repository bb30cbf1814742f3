// Replay driver: runs a fuzz target's LLVMFuzzerTestOneInput over every file of a corpus
// directory (or single files). Used when the build is not a libFuzzer build, so the harnesses
// are compiled and their seed corpora exercised by ctest in every configuration.
#include <cstdint>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <vector>

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size);

static int run_file(const std::filesystem::path& p) {
  std::ifstream in(p, std::ios::binary);
  std::vector<uint8_t> buf((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  LLVMFuzzerTestOneInput(buf.data(), buf.size());
  return 1;
}

int main(int argc, char** argv) {
  int n = 0;
  for (int i = 1; i < argc; ++i) {
    std::filesystem::path p(argv[i]);
    if (std::filesystem::is_directory(p)) {
      for (auto& e : std::filesystem::recursive_directory_iterator(p))
        if (e.is_regular_file()) n += run_file(e.path());
    } else if (std::filesystem::exists(p)) {
      n += run_file(p);
    }
  }
  // Always also feed a few degenerate inputs.
  const uint8_t zeros[64] = {};
  for (size_t len = 0; len <= sizeof zeros; ++len) LLVMFuzzerTestOneInput(zeros, len);
  std::printf("replayed %d corpus inputs\n", n);
  return 0;
}
