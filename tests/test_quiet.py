"""Third-party noise: the known-harmless notices are hidden (and only those), importing the
segmentation package prints nothing, and a prediction picture without boxes draws no warning."""
import os
import subprocess
import sys
import warnings

import torch

from transfer.detection.draw import draw_predictions
from transfer.quiet import KNOWN_HARMLESS, hide_known_warnings, note

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def warn_from(module: str, message: str) -> None:
    warnings.warn_explicit(message, UserWarning, f"{module.replace('.', '/')}.py", 1, module=module)


def test_only_the_known_notices_from_their_own_modules_are_hidden():
    with warnings.catch_warnings(record=True) as seen:
        warnings.simplefilter("always")
        hide_known_warnings()
        hide_known_warnings()  # twice is once
        for words, _, module, _ in KNOWN_HARMLESS:
            warn_from(module.replace("\\", ""), words + " and the rest of the sentence")
        assert seen == []
        warn_from("mmseg.models.losses.cross_entropy_loss", "loss weights do not sum to one")
        warn_from("mypackage.loss", "Default ``avg_non_ignore`` is False, says someone else")
    assert [str(w.message) for w in seen] == [
        "loss weights do not sum to one", "Default ``avg_non_ignore`` is False, says someone else"]
    assert note().startswith("known-harmless third-party notices hidden: ")


def test_importing_the_segmentation_package_is_silent():
    env = dict(os.environ, PYTHONPATH=ROOT, OMP_NUM_THREADS="1")
    r = subprocess.run([sys.executable, "-W", "always", "-c", "import transfer.segmentation"],
                       capture_output=True, text=True, cwd=ROOT, env=env, timeout=300)
    assert r.returncode == 0, r.stderr[-2000:]
    assert r.stdout == "" and r.stderr == ""  # no "Could not import OneDL", no mmcv notice


def test_a_picture_with_nothing_above_the_threshold_is_the_image_without_warnings():
    img = torch.randint(0, 255, (3, 16, 16), dtype=torch.uint8)
    pred = dict(boxes=torch.tensor([[1.0, 1.0, 8.0, 8.0]]), labels=torch.tensor([1]),
                scores=torch.tensor([0.2]), masks=torch.ones(1, 16, 16, dtype=torch.bool))
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert torch.equal(draw_predictions(img, pred, ["cat"], score_thr=0.5), img)
        drawn = draw_predictions(img, pred, ["cat"], score_thr=0.1)
    assert drawn.shape == img.shape and not torch.equal(drawn, img)
