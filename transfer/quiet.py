"""Third-party notices that every segmentation run printed and that say nothing about the run.

They are hidden with `warnings` filters narrowed to the warning's words, category and the module
that warns, so the same words from anywhere else, and every other warning, still show. The log
file of a `mae` run names what is hidden (`note()`). mmseg's "Could not import OneDL" is not a
warning: mmseg prints it (twice, on stdout) while its packages import, so those imports go through
`quiet_import`.
"""
import contextlib
import importlib
import io
import re
import warnings

# (opening words, category, module that warns, why it is harmless here)
KNOWN_HARMLESS = (
    ("Fail to import ``MultiScaleDeformableAttention``", UserWarning,
     r"mmcv\.cnn\.bricks\.transformer",
     "mmcv-lite has no compiled ops; no model here uses deformable attention"),
    ("Default ``avg_non_ignore`` is False", UserWarning,
     r"mmseg\.models\.losses\.cross_entropy_loss",
     "a reminder of mmseg's default, which the MAE / UperNet recipe keeps"),
    ("`reduce_zero_label` will be deprecated", UserWarning, r"mmseg\.datasets\.transforms\.loading",
     "mmseg's own ADE20K pipeline sets it; mmseg checks that it agrees with the dataset's"),
    ("The draw is False", UserWarning, r"mmseg\.engine\.hooks\.visualization_hook",
     "pictures are opt-in: default_hooks.visualization.draw=True"),
)


def hide_known_warnings() -> None:
    """Install the filters (again is harmless: `warnings` keeps one copy of each)."""
    for words, category, module, _ in KNOWN_HARMLESS:
        warnings.filterwarnings("ignore", message=re.escape(words), category=category,
                                module=module)


def note() -> str:
    """One line for the log file: what is hidden and why."""
    return "known-harmless third-party notices hidden: " + "; ".join(
        f"{words!r} ({why})" for words, _, _, why in KNOWN_HARMLESS)


def quiet_import(name: str):
    """`importlib.import_module(name)` with what the import prints on stdout dropped."""
    with contextlib.redirect_stdout(io.StringIO()):
        return importlib.import_module(name)
