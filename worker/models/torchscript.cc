#include "worker/models/torchscript.h"

#include <torch/script.h>

#include <filesystem>
#include <set>
#include <sstream>

#include "common/error.h"

namespace hpo::models {

namespace {

std::string ShapeText(const std::vector<int64_t>& shape) {
  std::string out = "[";
  for (size_t i = 0; i < shape.size(); ++i) {
    out += (i ? ", " : "") + std::to_string(shape[i]);
  }
  return out + "]";
}

// A name nn::Module accepts ('.' is its separator): the index keeps names
// distinct.
std::string Slot(size_t index, const std::string& name) {
  std::string out = std::to_string(index) + "_" + name;
  for (char& c : out) {
    if (c == '.') c = '_';
  }
  return out;
}

class TorchScriptModel : public Model {
 public:
  TorchScriptModel(torch::jit::Module module, const std::string& path)
      : module_(std::move(module)), path_(path) {
    // The same tensors as the module's: what the optimizer steps, to()
    // moves (set_data) and load() fills (set_) is what forward() uses.
    // A tensor shared by two submodules (tied weights) is registered once,
    // or the optimizer would step it twice.
    std::set<const void*> seen;
    size_t i = 0;
    for (const auto& p : module_.named_parameters(/*recurse=*/true)) {
      if (!seen.insert(p.value.unsafeGetTensorImpl()).second) continue;
      register_parameter(Slot(i++, p.name), p.value, p.value.requires_grad());
    }
    i = 0;
    for (const auto& b : module_.named_buffers(/*recurse=*/true)) {
      if (!b.value.defined() ||
          !seen.insert(b.value.unsafeGetTensorImpl()).second) {
        continue;
      }
      register_buffer(Slot(i++, b.name), b.value);
    }
  }

  torch::Tensor forward(torch::Tensor x) override {
    c10::IValue out = module_.forward({x});
    if (!out.isTensor()) {
      throw BadInput("module " + path_ +
                     ": forward() must return one tensor of logits (got " +
                     out.tagKind() + ")");
    }
    return out.toTensor();
  }

  void train(bool on = true) override {
    Model::train(on);
    module_.train(on);
  }

 private:
  torch::jit::Module module_;
  std::string path_;
};

}  // namespace

std::shared_ptr<Model> LoadTorchScript(const std::string& path,
                                       const InputSpec& input) {
  if (!std::filesystem::is_regular_file(path)) {
    throw BadInput("module " + path +
                   " does not exist on this worker (trainer.module is "
                   "relative to the worker's --data)");
  }
  torch::jit::Module module;
  try {
    module = torch::jit::load(path, torch::kCPU);
  } catch (const std::exception& e) {
    std::string what = e.what();
    what = what.substr(0, what.find('\n'));
    throw BadInput("module " + path +
                   " is not a TorchScript file (save it with "
                   "torch.jit.script(net).save(path)): " +
                   what);
  }
  auto model = std::make_shared<TorchScriptModel>(std::move(module), path);
  std::vector<int64_t> shape = {2};
  shape.insert(shape.end(), input.sample_shape.begin(),
               input.sample_shape.end());
  const std::string expected = "input " + ShapeText(shape) + " -> logits " +
                               ShapeText({2, input.classes});
  torch::Tensor logits;
  {
    torch::NoGradGuard no_grad;
    model->eval();
    try {
      logits = model->forward(torch::zeros(shape));
    } catch (const Error& e) {
      throw;
    } catch (const std::exception& e) {
      std::string what = e.what();
      // TorchScript's errors run over many lines: the first says what.
      std::istringstream lines(what);
      std::string line, first;
      while (std::getline(lines, line)) {
        if (line.find_first_not_of(" \t") == std::string::npos) continue;
        if (line.rfind("The following operation failed", 0) == 0) continue;
        if (line.rfind("Traceback", 0) == 0) continue;
        if (line.find("RuntimeError:") != std::string::npos || first.empty()) {
          first = line;
          if (line.find("RuntimeError:") != std::string::npos) break;
        }
      }
      model->train();
      throw BadInput("module " + path + " does not fit the shards: expected " +
                     expected + ", but forward() failed: " + first);
    }
    model->train();
  }
  if (logits.dim() != 2 || logits.size(0) != 2 ||
      logits.size(1) != input.classes) {
    throw BadInput("module " + path + " does not fit the shards: expected " +
                   expected + ", got logits " +
                   ShapeText(logits.sizes().vec()) + " (" +
                   std::to_string(input.classes) + " classes in the manifest)");
  }
  return model;
}

}  // namespace hpo::models
