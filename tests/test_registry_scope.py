"""Our registry scope is 'pretrain', named after the package whose registry.py defines it, so
mmengine finds it by itself (no module patched in); configs that still name it 'mae', its earlier
name, run through the `mae` command; no run logs a scope warning."""
import glob
import os
import subprocess
import sys

import pytest
from mmengine.config import Config

from pretrain.registry import SCOPE, rename_old_scope
from tools.train import train

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
SCOPE_WARNINGS = ("Failed to import", "Failed to search registry", "Cannot auto import",
                  "mae.registry")

# mmengine alone, in a fresh interpreter: nothing of ours is imported before the builds
BUILD = '''
import sys
import mmengine.hooks  # registers mmengine's hooks in its root registry
from mmengine.registry import HOOKS, MODELS, DefaultScope
DefaultScope.get_instance("test", scope_name={scope!r})
hook = HOOKS.build(dict(type="IterTimerHook"))  # mmengine's own, reached from our scope
print(type(hook).__name__)
if {ours}:
    model = MODELS.build(dict(type="MaskedAutoencoder", img_size=32, patch_size=8, embed_dim=32,
                              depth=1, num_heads=2, decoder_embed_dim=32, decoder_depth=1,
                              decoder_num_heads=2))
    export = HOOKS.build(dict(type="pretrain.OfficialCheckpointHook"))  # a scoped name
    print(type(model).__module__, type(export).__module__, "mae.registry" in sys.modules)
'''


def fresh(scope: str, ours: bool) -> str:
    r = subprocess.run([sys.executable, "-c", BUILD.format(scope=scope, ours=ours)], cwd=ROOT,
                       capture_output=True, text=True, timeout=300)
    assert r.returncode == 0, r.stderr[-3000:]
    return r.stdout + r.stderr


def test_mmengine_finds_the_scope_by_itself():
    out = fresh(SCOPE, ours=True)
    assert "IterTimerHook" in out and "pretrain.mae pretrain.checkpoint.write False" in out, out
    assert not [w for w in SCOPE_WARNINGS if w in out], out
    # the same check sees mmengine's warnings for a scope that has no package behind it
    control = fresh("nosuchscope", ours=False)
    assert "Failed to import `nosuchscope.registry`" in control, control


def test_old_scope_name_is_read_as_the_new_one():
    cfg = Config(dict(
        default_scope="mae", load_from="mae.pth", experiment_name="mae",
        model=dict(type="mae.MaskedAutoencoder", data_preprocessor=dict(type="mae.Preprocessor")),
        optim_wrapper=dict(constructor="mae.LayerDecayOptimWrapperConstructor"),
        custom_hooks=[dict(type="mae.OfficialCheckpointHook"),
                      dict(type="LossCurveHook", _scope_="mae")],
        decode_head=dict(type="mmseg.UPerHead", name="mae.head")))
    assert rename_old_scope(cfg) is cfg
    assert cfg.default_scope == "pretrain" and cfg.model.type == "pretrain.MaskedAutoencoder"
    assert cfg.model.data_preprocessor.type == "pretrain.Preprocessor"
    assert cfg.optim_wrapper.constructor == "pretrain.LayerDecayOptimWrapperConstructor"
    assert cfg.custom_hooks[0].type == "pretrain.OfficialCheckpointHook"
    assert cfg.custom_hooks[1] == dict(type="LossCurveHook", _scope_="pretrain")
    # other scopes, and strings that are not scoped names, stay as written
    assert cfg.decode_head == dict(type="mmseg.UPerHead", name="mae.head")
    assert cfg.load_from == "mae.pth" and cfg.experiment_name == "mae"


@pytest.mark.parametrize("scope", ["pretrain", "mae"])
def test_a_run_in_either_scope_name_logs_no_scope_warning(scope, demo_config, tiny_options,
                                                          tmp_path, capfd):
    """The demo config in the scope's name and in the old one ('mae', with scoped type names):
    both train through the launcher (the old model name still gets the pretraining recipe), and
    neither the console nor the run's log holds a scope warning."""
    hooks = ("[dict(type='{0}.NonFiniteLossHook'), dict(type='{0}.OfficialCheckpointHook')]"
             .format(scope))
    path = tmp_path / "config.py"
    path.write_text(f"_base_ = [{demo_config!r}]\ndefault_scope = {scope!r}\n"
                    f"model = dict(type='{scope}.MaskedAutoencoder')\ncustom_hooks = {hooks}\n")
    runner = train(str(path), work_dir=str(tmp_path / "run"),
                   options=dict(tiny_options, max_epochs=1, warmup_epochs=0))
    assert runner.cfg.default_scope == "pretrain"
    assert runner.cfg.model.type == "pretrain.MaskedAutoencoder"
    batch = runner.cfg.train_dataloader.batch_size
    assert runner.cfg.optim_wrapper.optimizer.lr == pytest.approx(runner.cfg.base_lr * batch / 256)
    assert (tmp_path / "run" / "checkpoint-final.pth").exists()
    (log,) = glob.glob(str(tmp_path / "run" / "*" / "*.log"))
    text = open(log).read()
    console = "".join(capfd.readouterr())
    assert "Epoch(train) [1][" in text  # the log holds mmengine's own lines
    assert not [w for w in SCOPE_WARNINGS if w in text + console], (text + console)[-3000:]
