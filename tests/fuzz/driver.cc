// SPDX-License-Identifier: Apache-2.0
// Replay driver for fuzz targets under g++ (no libFuzzer): runs every corpus file, then a fixed
// number of seeded mutations of them (bit flips, truncation, splices, random bytes). Deterministic,
// so a failure reproduces; under ASan/UBSan a bad access aborts the run.
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <random>
#include <string>
#include <vector>

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size);

namespace {

using Bytes = std::vector<std::uint8_t>;

void add_file(std::vector<Bytes>& corpus, const std::filesystem::path& path) {
  std::ifstream in(path, std::ios::binary);
  corpus.emplace_back(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
}

Bytes mutate(const std::vector<Bytes>& corpus, std::mt19937_64& rng) {
  std::uniform_int_distribution<std::size_t> pick(0, corpus.size() - 1);
  Bytes input = corpus[pick(rng)];
  int edits = 1 + static_cast<int>(rng() % 8);
  for (int e = 0; e < edits; ++e) {
    switch (rng() % 6) {
      case 0:  // flip a bit
        if (!input.empty()) input[rng() % input.size()] ^= static_cast<std::uint8_t>(1u << (rng() % 8));
        break;
      case 1:  // set a byte to an interesting value
        if (!input.empty()) {
          static constexpr std::uint8_t kValues[] = {0, 1, 0x7f, 0x80, 0xff, 0xfe, 3, 8, 9, 0x11};
          input[rng() % input.size()] = kValues[rng() % std::size(kValues)];
        }
        break;
      case 2:  // truncate
        if (!input.empty()) input.resize(rng() % input.size());
        break;
      case 3: {  // splice in a piece of another input
        const Bytes& other = corpus[pick(rng)];
        if (other.empty()) break;
        std::size_t from = rng() % other.size();
        std::size_t len = 1 + rng() % (other.size() - from);
        std::size_t at = input.empty() ? 0 : rng() % input.size();
        input.insert(input.begin() + static_cast<std::ptrdiff_t>(at), other.begin() + static_cast<std::ptrdiff_t>(from),
                     other.begin() + static_cast<std::ptrdiff_t>(from + len));
        break;
      }
      case 4: {  // append random bytes
        std::size_t len = 1 + rng() % 64;
        for (std::size_t i = 0; i < len; ++i) input.push_back(static_cast<std::uint8_t>(rng()));
        break;
      }
      default:  // duplicate a range (repeated structures)
        if (input.size() > 1) {
          std::size_t from = rng() % input.size();
          std::size_t len = 1 + rng() % std::min<std::size_t>(input.size() - from, 256);
          Bytes piece(input.begin() + static_cast<std::ptrdiff_t>(from),
                      input.begin() + static_cast<std::ptrdiff_t>(from + len));
          input.insert(input.end(), piece.begin(), piece.end());
        }
    }
  }
  return input;
}

}  // namespace

int main(int argc, char** argv) {
  long runs = 10000;
  std::vector<Bytes> corpus;
  for (int i = 1; i < argc; ++i) {
    if (std::strncmp(argv[i], "--runs=", 7) == 0) {
      runs = std::strtol(argv[i] + 7, nullptr, 10);
      continue;
    }
    std::filesystem::path path(argv[i]);
    if (std::filesystem::is_directory(path)) {
      for (const auto& entry : std::filesystem::directory_iterator(path))
        if (entry.is_regular_file()) add_file(corpus, entry.path());
    } else {
      add_file(corpus, path);
    }
  }
  for (const Bytes& input : corpus) LLVMFuzzerTestOneInput(input.data(), input.size());
  if (corpus.empty()) corpus.push_back(Bytes{});
  std::mt19937_64 rng(0x5745495233ull);  // fixed seed: a failure reproduces
  for (long i = 0; i < runs; ++i) {
    Bytes input = mutate(corpus, rng);
    LLVMFuzzerTestOneInput(input.data(), input.size());
  }
  std::printf("fuzz replay: %zu corpus inputs, %ld mutations, no crash\n", corpus.size(), runs);
  return 0;
}
