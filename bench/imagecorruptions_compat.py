"""imagecorruptions 1.1.2 made to run on the scikit-image of its pinned environment.

Imported by the scripts that run in that environment (bench/time_imagecorruptions.py,
bench/make_imagecorruptions_reference.py; set it up as their docstrings say), never by corrupter.
imagecorruptions 1.1.2 passes ``multichannel`` to ``skimage.filters.gaussian``, which
scikit-image >= 0.19 no longer accepts; the shim below translates it to ``channel_axis``.
"""
import warnings

warnings.filterwarnings("ignore")
import imagecorruptions.corruptions as _ic  # noqa: E402
from imagecorruptions import corrupt, get_corruption_names  # noqa: E402,F401  (re-exported)
from skimage.filters import gaussian as _gaussian  # noqa: E402


def _gaussian_compat(x, *args, multichannel=None, **kw):
    if multichannel:
        kw["channel_axis"] = -1
    return _gaussian(x, *args, **kw)


_ic.gaussian = _gaussian_compat
