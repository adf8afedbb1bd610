"""Our registry scope, 'pretrain': one child of every mmengine root registry, so configs with
`default_scope = 'pretrain'` find our components (transfer/'s register here too) and still reach
mmengine's own (optimisers, schedulers, hooks, visualisers) without scope warnings.

The scope is named after this package because that is how mmengine finds a scope: to build in
scope S (or a name 'S.Type') it imports `S.registry`, this module, and looks for the registries
whose scope is S; on their first lookup they import the modules in `LOCATIONS`, which register
our components. Nothing has to be imported or patched in beforehand.

Configs written before the scope had this name say 'mae': `rename_old_scope` (called by the config
loader of the `mae` command) reads them as 'pretrain'.
"""
from mmengine import registry as root
from mmengine.registry import Registry

SCOPE = "pretrain"
OLD_SCOPE = "mae"  # the scope's earlier name, still accepted in configs

_ROOTS = ["RUNNERS", "RUNNER_CONSTRUCTORS", "LOOPS", "HOOKS", "STRATEGIES", "DATASETS",
          "DATA_SAMPLERS", "TRANSFORMS", "MODELS", "MODEL_WRAPPERS", "WEIGHT_INITIALIZERS",
          "OPTIMIZERS", "OPTIM_WRAPPERS", "OPTIM_WRAPPER_CONSTRUCTORS", "PARAM_SCHEDULERS",
          "METRICS", "EVALUATOR", "TASK_UTILS", "VISUALIZERS", "VISBACKENDS", "LOG_PROCESSORS",
          "INFERENCERS", "FUNCTIONS"]

# the modules that register components: mmengine imports them on the first lookup in this scope
LOCATIONS = ["pretrain.data", "pretrain.hooks", "pretrain.checkpoint.write", "pretrain.mae",
             "pretrain.optim", "pretrain.resilience", "pretrain.pca", "pretrain.tokenizers.dvae",
             "pretrain.tokenizers.vq", "pretrain.tokenizers.hooks", "pretrain.schedule"]

_children = {name: Registry(getattr(root, name).name, parent=getattr(root, name), scope=SCOPE,
                            locations=LOCATIONS) for name in _ROOTS}

# the ones components register in; transfer/'s task packages use TRANSFORMS and LOOPS too
DATASETS = _children["DATASETS"]
DATA_SAMPLERS = _children["DATA_SAMPLERS"]
HOOKS = _children["HOOKS"]
LOOPS = _children["LOOPS"]
METRICS = _children["METRICS"]
MODELS = _children["MODELS"]
OPTIMIZERS = _children["OPTIMIZERS"]
OPTIM_WRAPPERS = _children["OPTIM_WRAPPERS"]
OPTIM_WRAPPER_CONSTRUCTORS = _children["OPTIM_WRAPPER_CONSTRUCTORS"]
PARAM_SCHEDULERS = _children["PARAM_SCHEDULERS"]
TRANSFORMS = _children["TRANSFORMS"]

# config keys whose string value may name a component with a scope prefix ('mae.Type')
_SCOPED_KEYS = ("type", "constructor")
_OLD_PREFIX = OLD_SCOPE + "."


def rename_old_scope(cfg):
    """The config with the old scope name 'mae' read as 'pretrain', in place: `default_scope`,
    `_scope_` keys, and 'mae.Type' names under `type` / `constructor` keys at any depth (an
    mmengine Config or plain dicts and lists). Other scopes and other strings are left alone."""
    if hasattr(cfg, "items"):
        for key, value in list(cfg.items()):
            if key in ("default_scope", "_scope_") and value == OLD_SCOPE:
                cfg[key] = SCOPE
            elif key in _SCOPED_KEYS and isinstance(value, str) and value.startswith(_OLD_PREFIX):
                cfg[key] = SCOPE + value[len(OLD_SCOPE):]
            else:
                rename_old_scope(value)
    elif isinstance(cfg, (list, tuple)):
        for item in cfg:
            rename_old_scope(item)
    return cfg
