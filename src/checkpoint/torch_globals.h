#pragma once
// The allowlist that makes unpickling a torch.save file safe, and the hooks that rebuild
// its objects as data: storages (from persistent ids), tensors (views of storages),
// parameters (their tensor), OrderedDict. Mirrors what torch.load(weights_only=True)
// accepts, minus everything a model checkpoint does not need.
#include <map>
#include <string>

#include "checkpoint/unpickler.h"

namespace coughkit::checkpoint {

// Storages met so far, by key, so tensors sharing a storage share one Storage object.
using StorageTable = std::map<std::string, Object*>;

// Hooks for Unpickler. Persistent ids are torch's ('storage', torch.XStorage, key,
// location, numel[, view_metadata]) tuples; `storages` collects them.
UnpicklerHooks torch_unpickler_hooks(StorageTable& storages);

}  // namespace coughkit::checkpoint
