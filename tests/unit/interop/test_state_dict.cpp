// PyTorch state_dict files in C++: the writer's output read back bit-identically (names, order,
// dtypes, shapes, values), module names in state_dict order, the strict copy's refusals, and the
// reader's refusals of what is not a state_dict. PyTorch's own reader and writer are checked
// against these in tests/scripts/test_export.sh.
#include <gtest/gtest.h>

#include <caffe2/serialize/inline_container.h>
#include <torch/csrc/jit/serialization/pickle.h>

#include <string>

#include "dcgan/common/atomic_file.h"
#include "dcgan/common/errors.h"
#include "dcgan/interop/state_dict.h"
#include "support/test_support.h"

namespace dcgan::interop {
namespace {

using namespace std::string_literals;

// The message of the Error `body` throws, and that it is of type E.
template <class E, class F>
std::string error_of(F&& body) {
  try {
    body();
  } catch (const E& e) {
    return e.what();
  }
  ADD_FAILURE() << "no exception";
  return "";
}

// A zip archive like torch.save's holding only `pickle` as data.pkl.
std::string archive_with_pickle(const std::string& pickle) {
  std::string out;
  caffe2::serialize::PyTorchStreamWriter writer([&out](const void* data, size_t size) {
    out.append(static_cast<const char*>(data), size);
    return size;
  });
  writer.writeRecord("data.pkl", pickle.data(), pickle.size());
  writer.writeEndOfFile();
  return out;
}

TEST(StateDict, RoundTripKeepsNamesOrderDtypesShapesAndValues) {
  test::ScratchDir dir("state_dict");
  torch::manual_seed(3);
  const StateDict saved = {
      {"main.0.weight", torch::randn({4, 3, 2, 2})},
      {"z.transposed", torch::randn({3, 5}).t()},            // not contiguous: written contiguous
      {"a.num_batches_tracked", torch::tensor(int64_t{7})},  // 0-dim int64
      {"b.half", torch::randn({6}).to(torch::kBFloat16)},
      {"c.double", torch::randn({2, 2}, torch::kDouble)},
      {"d.flags", torch::tensor({true, false, true})},
      {"e.empty", torch::empty({0, 4})},
      {"f.big", torch::full({70000}, 0.5f)},  // sizes past BININT2, an int32 element count
  };
  save_state_dict(dir / "s.pt", saved);
  const StateDict loaded = load_state_dict(dir / "s.pt");
  ASSERT_EQ(loaded.size(), saved.size());
  for (size_t i = 0; i < saved.size(); ++i) {
    SCOPED_TRACE(saved[i].first);
    EXPECT_EQ(loaded[i].first, saved[i].first);
    EXPECT_EQ(loaded[i].second.scalar_type(), saved[i].second.scalar_type());
    EXPECT_EQ(loaded[i].second.sizes(), saved[i].second.sizes());
    EXPECT_TRUE(torch::equal(loaded[i].second, saved[i].second));
  }
  EXPECT_EQ(loaded[1].second.strides(), (std::vector<int64_t>{3, 1}));
  // The same tensors give the same bytes: the file is a function of the state.
  EXPECT_EQ(state_dict_bytes(saved), read_file(dir / "s.pt"));
}

// Why this room has its own reader (state_dict.h): libtorch's refuses every state_dict file
// torch.save writes, since its unpickler turns the OrderedDict into None. When a libtorch upgrade
// makes this test fail, torch::pickle_load may replace the project's reader.
TEST(StateDict, LibtorchsPickleLoadStillRefusesAStateDictFile) {
  const std::string bytes = state_dict_bytes({{"main.0.weight", torch::ones({2, 3})}});
  const std::string message = error_of<c10::Error>(
      [&] { torch::pickle_load(std::vector<char>(bytes.begin(), bytes.end())); });
  EXPECT_NE(message.find("Expected GenericDict but got None"), std::string::npos) << message;
}

// A Sequential called "main" like the DCGAN nets: Conv, BatchNorm, ReLU, Conv.
struct Net : torch::nn::Module {
  Net() {
    main = register_module(
        "main",
        torch::nn::Sequential(torch::nn::Conv2d(torch::nn::Conv2dOptions(3, 4, 3).bias(false)),
                              torch::nn::BatchNorm2d(4), torch::nn::ReLU(),
                              torch::nn::Conv2d(torch::nn::Conv2dOptions(4, 2, 3).bias(false))));
  }
  torch::nn::Sequential main{nullptr};
};

TEST(StateDict, ModuleStateDictListsEachModulesParametersThenBuffersInPyTorchOrder) {
  Net net;
  const StateDict state = module_state_dict(net);
  std::vector<std::string> names;
  for (const auto& [name, tensor] : state) names.push_back(name);
  EXPECT_EQ(names, (std::vector<std::string>{"main.0.weight", "main.1.weight", "main.1.bias",
                                             "main.1.running_mean", "main.1.running_var",
                                             "main.1.num_batches_tracked", "main.3.weight"}));
  EXPECT_EQ(state[5].second.scalar_type(), torch::kLong);
  EXPECT_FALSE(state[0].second.requires_grad());
}

TEST(StateDict, CopyIntoAModuleIsExactAndKeepsItsLayout) {
  Net from, to;
  torch::manual_seed(1);
  {
    torch::NoGradGuard no_grad;
    for (auto& p : from.parameters()) p.normal_();
  }
  torch::Tensor& target = to.main[0]->as<torch::nn::Conv2d>()->weight;
  target.set_data(target.contiguous(torch::MemoryFormat::ChannelsLast));
  copy_state_dict(module_state_dict(from), to, "f.pt");
  EXPECT_TRUE(torch::equal(to.main[0]->as<torch::nn::Conv2d>()->weight,
                           from.main[0]->as<torch::nn::Conv2d>()->weight));
  EXPECT_TRUE(
      to.main[0]->as<torch::nn::Conv2d>()->weight.is_contiguous(torch::MemoryFormat::ChannelsLast));
}

TEST(StateDict, CopyRefusesMissingMisshapenAndUnknownTensorsAndChangesNothing) {
  Net net;
  const torch::Tensor before = net.main[0]->as<torch::nn::Conv2d>()->weight.clone();
  StateDict state = module_state_dict(net);
  for (auto& [name, t] : state) t = t.zero_();  // would be visible if anything were copied

  StateDict missing(state.begin() + 1, state.end());
  EXPECT_EQ(error_of<UsageError>([&] { copy_state_dict(missing, net, "f.pt"); }),
            "f.pt: has no tensor 'main.0.weight' (shape [4, 3, 3, 3] in the model)");
  StateDict misshapen = state;
  misshapen.back().second = torch::zeros({2, 4, 2, 2});
  EXPECT_EQ(error_of<UsageError>([&] { copy_state_dict(misshapen, net, "f.pt"); }),
            "f.pt: tensor 'main.3.weight' has shape [2, 4, 2, 2] in the file but [2, 4, 3, 3] in "
            "the model");
  StateDict extra = state;
  extra.emplace_back("main.9.weight", torch::zeros({1}));
  extra.emplace_back("main.8.weight", torch::zeros({1}));
  EXPECT_EQ(error_of<UsageError>([&] { copy_state_dict(extra, net, "f.pt"); }),
            "f.pt: tensor 'main.8.weight' is not in the model (nor are 1 more) HINT: the file "
            "must be the state_dict of the same architecture");
  StateDict twice = state;
  twice.push_back(state.front());
  EXPECT_EQ(error_of<UsageError>([&] { copy_state_dict(twice, net, "f.pt"); }),
            "f.pt: tensor 'main.0.weight' appears twice");
  EXPECT_TRUE(torch::equal(net.main[0]->as<torch::nn::Conv2d>()->weight, before));
}

TEST(StateDict, LoadRefusesWhatIsNotAStateDictNamingTheFile) {
  test::ScratchDir dir("state_dict");
  const std::string f = dir / "f.pt";
  // A global outside the state_dict set is refused before anything could call it.
  write_file_atomic(f, archive_with_pickle("\x80\x02"
                                           "cos\nsystem\n."s));
  EXPECT_EQ(error_of<DataError>([&] { load_state_dict(f); }),
            f + ": global 'os.system' is not allowed in a state_dict (data.pkl byte 2) HINT: save "
                "model.state_dict() with torch.save");
  write_file_atomic(f, archive_with_pickle("\x80\x02]."s));  // an empty list
  EXPECT_EQ(error_of<DataError>([&] { load_state_dict(f); }),
            f + ": holds a pickled value, not a state_dict (a dict of tensors)");
  write_file_atomic(f, archive_with_pickle("\x80\x02}(X\x01\x00\x00\x00kK\x01u."s));  // {'k': 1}
  EXPECT_EQ(error_of<DataError>([&] { load_state_dict(f); }),
            f + ": entry 0 'k' is not a named tensor, so this is not a state_dict");
  write_file_atomic(f, archive_with_pickle("\x80\x02}(X\x05\x00\x00\x00"s));  // cut short
  EXPECT_EQ(error_of<DataError>([&] { load_state_dict(f); }),
            f + ": the pickle ends early (data.pkl byte 9) HINT: save model.state_dict() with "
                "torch.save");
  // The legacy (pre-zip) torch.save format starts with a pickle, not a zip header.
  write_file_atomic(f, "\x80\x02\x8a\x0a"s);
  EXPECT_EQ(error_of<DataError>([&] { load_state_dict(f); }),
            f + ": not a zip-format torch.save file (it is the legacy format) HINT: save it again "
                "with torch.save's default format");
  // A truncated archive.
  const std::string whole = state_dict_bytes({{"w", torch::ones({1000})}});
  write_file_atomic(f, whole.substr(0, whole.size() / 2));
  EXPECT_EQ(error_of<DataError>([&] { load_state_dict(f); }).rfind(f + ": damaged archive: ", 0),
            0u);
  EXPECT_NE(error_of<DataError>([&] { load_state_dict(dir / "none.pt"); }).find(dir / "none.pt"),
            std::string::npos);
}

}  // namespace
}  // namespace dcgan::interop
