"""Our registry scope ('mae'): one child of every mmengine root registry, so configs with
`default_scope = 'mae'` find our components and still reach mmengine's own (optimisers,
schedulers, hooks, visualisers) without scope warnings."""
import sys

from mmengine import registry as root
from mmengine.registry import Registry

_ROOTS = ["RUNNERS", "RUNNER_CONSTRUCTORS", "LOOPS", "HOOKS", "STRATEGIES", "DATASETS", "DATA_SAMPLERS",
          "TRANSFORMS", "MODELS", "MODEL_WRAPPERS", "WEIGHT_INITIALIZERS", "OPTIMIZERS", "OPTIM_WRAPPERS",
          "OPTIM_WRAPPER_CONSTRUCTORS", "PARAM_SCHEDULERS", "METRICS", "EVALUATOR", "TASK_UTILS",
          "VISUALIZERS", "VISBACKENDS", "LOG_PROCESSORS", "INFERENCERS", "FUNCTIONS"]

# the modules that register components: mmengine imports them on the first lookup in this scope
LOCATIONS = ["pretrain.data", "pretrain.hooks", "pretrain.checkpoint.write", "pretrain.mae", "pretrain.optim", "pretrain.resilience", "pretrain.pca",
             "pretrain.tokenizers.dvae", "pretrain.tokenizers.vq", "pretrain.tokenizers.hooks", "pretrain.schedule"]

_children = {name: Registry(getattr(root, name).name, parent=getattr(root, name), scope="mae",
                            locations=LOCATIONS) for name in _ROOTS}

MODELS = _children["MODELS"]
DATASETS = _children["DATASETS"]
DATA_SAMPLERS = _children["DATA_SAMPLERS"]
HOOKS = _children["HOOKS"]
LOOPS = _children["LOOPS"]
OPTIM_WRAPPERS = _children["OPTIM_WRAPPERS"]
OPTIM_WRAPPER_CONSTRUCTORS = _children["OPTIM_WRAPPER_CONSTRUCTORS"]
PARAM_SCHEDULERS = _children["PARAM_SCHEDULERS"]
OPTIMIZERS = _children["OPTIMIZERS"]
METRICS = _children["METRICS"]
# for task packages (transfer/*): their transforms and loops register in the same scope
TRANSFORMS = _children["TRANSFORMS"]
LOOPS = _children["LOOPS"]

# mmengine imports `<scope>.registry` whenever a component is built in a scope, and warns "Failed to
# import `mae.registry`" when there is no such module. Our scope's registry module is this one.
sys.modules.setdefault("mae.registry", sys.modules[__name__])
