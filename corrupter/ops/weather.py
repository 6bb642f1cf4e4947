"""Weather corruptions of ImageNet-C (Hendrycks & Dietterich 2019): fog, frost, snow, spatter.

Each follows the original make_imagenet_c.py (hendrycks/robustness) on 224x224 images. Deliberate
deviations, all outside the reference's reach or below its statistical resolution:

- Other image sizes: fog crops the next-power-of-two plasma (as imagecorruptions); frost enlarges a
  texture smaller than the image (bilinear, just enough to crop; the reference fails there); snow
  and spatter keep their pixel-unit parameters (zoom, blur radii, Canny, 20 px distance cap), as
  imagecorruptions does; snow's centred clipped-zoom trim is applied per axis.
- frost: textures decoded by PIL (the reference uses cv2.imread; JPEG decoders may differ by one
  level on a few pixels).
- snow: ImageMagick's motion blur is ``_imagemagick.directional_motion_blur`` (imagecorruptions' numpy
  re-implementation of its kernel, edge pixels replicated); snow noise is drawn only for the
  central window that clipped_zoom reads (same distribution).
- spatter (water): OpenCV's Canny, equalizeHist and 3x3 filters are reproduced exactly on uint8
  levels; the distance transform is the exact Euclidean one where OpenCV's DIST_L2 5x5 mask is a
  chamfer approximation (differences below 0.4 px at the 20 px cap). A liquid layer with no drops
  adds nothing (the reference divides by zero there).
- Float32 arithmetic where the reference uses float64 (the plasma fractal is float64 as there).
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence

import torch
import torch.nn.functional as F

from ._common import next_power_of_two, plasma_draw_count, plasma_fractal
from ._imagemagick import directional_motion_blur
from ._opencv import box_blur3x3, canny_edges, correlate3x3, equalize_hist, truncated_distance
from ._registry import Draws, register_corruption
from ._scipy import clipped_zoom_geometry, gaussian_blur_nearest, zoom_crop

RGB2GRAY = (0.299, 0.587, 0.114)  # cv2.COLOR_RGB2GRAY weights

# (strength c0, wibble decay d), make_imagenet_c.py fog, 224x224 table.
FOG_SEVERITIES = tuple({"strength": s, "decay": d}
                       for s, d in ((1.5, 2.0), (2.0, 2.0), (2.5, 1.7), (2.5, 1.5), (3.0, 1.4)))


def sample_fog(generator: torch.Generator, height: int, width: int, **_: object) -> Draws:
    """The U(-1, 1) draws of one plasma fractal covering the image."""
    count = plasma_draw_count(next_power_of_two(max(height, width, 2)))
    return {"plasma_uniform": torch.rand(count, generator=generator, dtype=torch.float64) * 2 - 1}


@register_corruption("fog", family="weather", levels=FOG_SEVERITIES, sample=sample_fog,
                     tags=("imagenet-c",), reference="hendrycks/robustness make_imagenet_c.py fog")
def fog(images: torch.Tensor, draws: Draws, *, strength: float, decay: float) -> torch.Tensor:
    """Grey plasma-fractal fog with ImageNet-C's global contrast renormalisation.

    x + c0 * P[:H, :W] (top-left crop of the fractal, the same for all channels), then scaled by
    max / (max + c0) where max is the clean image's single global maximum (all pixels, all channels).
    Shape: (B, C, H, W) -> (B, C, H, W). Stochastic (the fractal).
    """
    height, width = images.shape[-2:]
    mapsize = next_power_of_two(max(height, width, 2))
    plasma = plasma_fractal(draws["plasma_uniform"], mapsize, float(decay), height, width)[:, None]
    max_val = images.amax(dim=(1, 2, 3), keepdim=True)
    fogged = images + float(strength) * plasma
    return fogged.mul_(max_val).div_(max_val + float(strength)).clamp_(0, 1)


# ----------------------------------------------------------------------------------------------- frost

# (image weight a, frost weight b), make_imagenet_c.py frost, 224x224 table.
FROST_SEVERITIES = tuple({"image_weight": a, "frost_weight": b}
                         for a, b in ((1.0, 0.4), (0.8, 0.6), (0.7, 0.7), (0.65, 0.7), (0.6, 0.75)))
FROST_TEXTURE_COUNT = 5  # the reference draws randint(5): frost1..frost5


def sample_frost(generator: torch.Generator, height: int, width: int, **_: object) -> Draws:
    """Which texture (uniform over the five) and where to crop it (two U(0, 1), rows then columns)."""
    texture = torch.randint(FROST_TEXTURE_COUNT, (), generator=generator)
    return {"texture": texture, "crop": torch.rand(2, generator=generator, dtype=torch.float64)}


def frost_crop(texture: torch.Tensor, crop: tuple[float, float], height: int, width: int) -> torch.Tensor:
    """A height x width float crop (0..255) of a uint8 (3, h, w) texture at fractional position ``crop``.

    The reference's ``randint(0, h - height)`` start row is floor(u * (h - height)) for u ~ U(0, 1).
    A texture too small for the image (the reference only ever saw 224 px) is first enlarged,
    bilinearly, just enough to leave one start position per axis.
    """
    tex_h, tex_w = texture.shape[-2:]
    if tex_h <= height or tex_w <= width:
        factor = max((height + 1) / tex_h, (width + 1) / tex_w)
        size = (math.ceil(tex_h * factor), math.ceil(tex_w * factor))
        texture = F.interpolate(texture[None].to(torch.float32), size=size, mode="bilinear",
                                align_corners=False)[0]
        tex_h, tex_w = size
    top = int(crop[0] * (tex_h - height))
    left = int(crop[1] * (tex_w - width))
    return texture[:, top:top + height, left:left + width].to(torch.float32)


@register_corruption("frost", family="weather", levels=FROST_SEVERITIES, sample=sample_frost,
                     tags=("imagenet-c",), assets=("frost",), distortion_order=(1, 2, 4, 3, 5),
                     reference="hendrycks/robustness make_imagenet_c.py frost")
def frost(images: torch.Tensor, draws: Draws, *, image_weight: float, frost_weight: float,
          assets: Mapping[str, Sequence[torch.Tensor]]) -> torch.Tensor:
    """Blend a random crop of a frost photograph over the image: a * x + b * frost, clipped.

    The crop is taken at the texture's native resolution (no 1.1 rescale, unlike imagecorruptions).
    As in the reference, severity 4 (a=.65, b=.7) is milder than 3 (a=.7, b=.7) by mean absolute
    difference; 3 and 5 tie there (.3288 vs .3287 on the reference photos), 5 is kept last.
    Shape: (B, C, H, W) -> (B, C, H, W). Stochastic (texture and crop position).
    """
    height, width = images.shape[-2:]
    textures = assets["frost"]
    # Crop positions are slice bounds: read once on the CPU (a single small device sync).
    indices = draws["texture"].reshape(-1).tolist()
    crops = draws["crop"].reshape(-1, 2).tolist()
    layers = [frost_crop(textures[i], (u, v), height, width) for i, (u, v) in zip(indices, crops)]
    layer = torch.stack(layers).to(device=images.device, dtype=images.dtype)
    return (images * float(image_weight)).add_(layer, alpha=float(frost_weight) / 255).clamp_(0, 1)


def _just_below(threshold: float, dtype: torch.dtype) -> float:
    """The ``dtype`` number just below ``threshold``: ``F.threshold(x, it, 0)`` keeps x >= threshold.

    The references zero values below a threshold (keep x >= t, t rounded to x's dtype as a
    comparison does); F.threshold keeps x > its argument, and x > prev(t) is x >= t in that dtype.
    On the CPU, F.threshold is about 6x faster than a comparison mask and a product (torch's float
    comparisons are not vectorised there).
    """
    limit = torch.tensor(float(threshold), dtype=dtype)
    return torch.nextafter(limit, torch.tensor(-math.inf, dtype=dtype)).item()


# ------------------------------------------------------------------------------------------------ snow

# (flake mean, flake std, zoom, threshold, blur radius, blur sigma, image blend), make_imagenet_c.py snow.
SNOW_SEVERITIES = tuple(
    {"mean": m, "std": s, "zoom": z, "threshold": t, "radius": r, "sigma": g, "blend": b}
    for m, s, z, t, r, g, b in ((0.1, 0.3, 3, 0.5, 10, 4, 0.8), (0.2, 0.3, 2, 0.5, 12, 4, 0.7),
                                (0.55, 0.3, 4, 0.9, 12, 8, 0.7), (0.55, 0.3, 4.5, 0.85, 12, 8, 0.65),
                                (0.55, 0.3, 2.5, 0.85, 12, 12, 0.55)))


def sample_snow(generator: torch.Generator, height: int, width: int, *, zoom: float, **_: object) -> Draws:
    """Standard-normal flake noise for the central window clipped_zoom reads, then the blur angle.

    The reference draws a full H x W field and zooms into its centre; drawing only that window gives
    the same distribution for less work. The angle is U(-135, -45) degrees.
    """
    _, rows, _, _ = clipped_zoom_geometry(height, float(zoom))
    _, cols, _, _ = clipped_zoom_geometry(width, float(zoom))
    flakes = torch.randn(rows, cols, generator=generator)
    angle = torch.rand(1, generator=generator, dtype=torch.float64) * 90 - 135
    return {"flakes": flakes, "angle": angle}


def snow_layer(draws: Draws, height: int, width: int, *, mean: float, std: float, zoom: float,
               threshold: float, radius: float, sigma: float) -> torch.Tensor:
    """The (B, 1, H, W) falling-snow layer: zoomed noise, thresholded, 8-bit, motion-blurred, 8-bit."""
    window = draws["flakes"][:, None].to(torch.float32) * float(std) + float(mean)
    layer = zoom_crop(window, height, width, float(zoom))
    layer = F.threshold(layer, _just_below(threshold, layer.dtype), 0.0).clamp_(0, 1)
    layer = layer.mul_(255).floor_().div_(255)  # the reference's uint8 PNG handed to ImageMagick
    layer = directional_motion_blur(layer, float(radius), float(sigma), draws["angle"].reshape(-1))
    return layer.mul_(255).round_().div_(255)  # ImageMagick writes an 8-bit PNG back


@register_corruption("snow", family="weather", levels=SNOW_SEVERITIES, sample=sample_snow,
                     tags=("imagenet-c",),
                     reference="hendrycks/robustness make_imagenet_c.py snow (ImageMagick motion blur as "
                               "re-implemented by imagecorruptions 1.1.2)")
def snow(images: torch.Tensor, draws: Draws, *, mean: float, std: float, zoom: float, threshold: float,
         radius: float, sigma: float, blend: float) -> torch.Tensor:
    """Streaks of falling snow over a whitened image.

    The snow layer L is zoomed Gaussian noise, zeroed below ``threshold``, motion-blurred along a
    U(-135, -45) degree direction; the base is blend * x + (1 - blend) * max(x, 1.5 * gray(x) + 0.5)
    (gray = OpenCV's RGB2GRAY weights); out = clip(base + L + rot180(L)).
    Shape: (B, C, H, W) -> (B, C, H, W). Stochastic (flake noise and direction).
    """
    height, width = images.shape[-2:]
    layer = snow_layer(draws, height, width, mean=mean, std=std, zoom=zoom, threshold=threshold,
                       radius=radius, sigma=sigma).to(images.dtype)
    red, green, blue = RGB2GRAY
    whitened = images[:, 0:1] * red
    whitened.add_(images[:, 1:2], alpha=green).add_(images[:, 2:3], alpha=blue).mul_(1.5).add_(0.5)
    base = torch.maximum(images, whitened).mul_(1 - float(blend)).add_(images, alpha=float(blend))
    return base.add_(layer.add_(layer.flip(-2, -1))).clamp_(0, 1)


# --------------------------------------------------------------------------------------------- spatter

# (liquid mean, liquid std, liquid blur sigma, threshold, amount, mode), make_imagenet_c.py spatter.
# ``amount``: peak opacity of the water layer (water) or sigma of the mud mask blur (mud).
SPATTER_SEVERITIES = tuple(
    {"mean": m, "std": s, "blur_sigma": b, "threshold": t, "amount": k, "mode": mode}
    for m, s, b, t, k, mode in ((0.65, 0.3, 4, 0.69, 0.6, "water"), (0.65, 0.3, 3, 0.68, 0.6, "water"),
                                (0.65, 0.3, 2, 0.68, 0.5, "water"), (0.65, 0.3, 1, 0.65, 1.5, "mud"),
                                (0.67, 0.4, 1, 0.65, 1.5, "mud")))
WATER_RGB = (175 / 255, 238 / 255, 238 / 255)  # pale turquoise
MUD_RGB = (63 / 255, 42 / 255, 20 / 255)  # brown
EMBOSS = ((-2.0, -1.0, 0.0), (-1.0, 1.0, 1.0), (0.0, 1.0, 2.0))
CANNY_LOW, CANNY_HIGH, DISTANCE_CAP = 50, 150, 20
MUD_COVER = 0.8  # mud replaces the pixel where its blurred mask is at least this


def sample_spatter(generator: torch.Generator, height: int, width: int, **_: object) -> Draws:
    """The standard-normal field (H, W) that becomes the liquid layer."""
    return {"liquid": torch.randn(height, width, generator=generator)}


def water_texture(liquid: torch.Tensor) -> torch.Tensor:
    """The embossed ripple pattern of the water drops, from their 8-bit liquid layer.

    Canny edges of the drops, distance to them (capped at 20 px), 3x3 blur, histogram equalisation,
    3x3 emboss, 3x3 blur, with the reference's uint8 truncations and roundings in between.
    Shape: (B, 1, H, W) levels 0..255 -> (B, 1, H, W) levels 0..255.
    """
    edges = canny_edges(liquid, CANNY_LOW, CANNY_HIGH)
    distance = box_blur3x3(truncated_distance(edges, DISTANCE_CAP)).floor_()
    levels = equalize_hist(distance)
    embossed = correlate3x3(levels, EMBOSS, "reflect").clamp_(0, 255)  # filter2D to CV_8U saturates
    return box_blur3x3(embossed).round_()  # blur of a uint8 image stays uint8 (rounded)


def water_spatter(images: torch.Tensor, liquid: torch.Tensor, amount: float) -> torch.Tensor:
    """Add pale-turquoise drops whose opacity is the liquid layer times its water texture."""
    liquid_levels = (liquid * 255).floor_().clamp_(0, 255)  # astype(uint8); liquid stays below 1
    opacity = liquid_levels * water_texture(liquid_levels)
    # Normalised by its own maximum; a layer without drops (max 0, NaN in the reference) adds nothing.
    peak = opacity.amax(dim=(-2, -1), keepdim=True).clamp(min=1e-12)
    opacity = opacity.div_(peak).mul_(float(amount))
    colour = torch.tensor(WATER_RGB, dtype=images.dtype, device=images.device)[:, None, None]
    return torch.addcmul(images, opacity, colour).clamp_(0, 1)


def mud_spatter(images: torch.Tensor, liquid: torch.Tensor, threshold: float, amount: float) -> torch.Tensor:
    """Cover the image with brown mud where the blurred liquid mask is at least 0.8."""
    # 0/1 floats straight from the comparison (a bool mask and its cast cost ~8x more on the CPU).
    mask = gaussian_blur_nearest(torch.gt(liquid, threshold, out=torch.empty_like(liquid)), float(amount))
    mask = F.threshold(mask, _just_below(MUD_COVER, mask.dtype), 0.0)
    colour = torch.tensor(MUD_RGB, dtype=images.dtype, device=images.device)[:, None, None]
    return (images * (1 - mask)).addcmul_(mask, colour).clamp_(0, 1)


@register_corruption("spatter", family="weather", levels=SPATTER_SEVERITIES, sample=sample_spatter,
                     tags=("imagenet-c-extra",), distortion_order=(1, 2, 4, 3, 5),
                     reference="hendrycks/robustness make_imagenet_c.py spatter")
def spatter(images: torch.Tensor, draws: Draws, *, mean: float, std: float, blur_sigma: float,
            threshold: float, amount: float, mode: str) -> torch.Tensor:
    """Splash water drops (severities 1-3) or mud (4-5) onto the image.

    The liquid layer is N(mean, std) noise, Gaussian-blurred (sigma ``blur_sigma``) and zeroed below
    ``threshold``. Water adds a turquoise, embossed-ripple layer; mud replaces pixels by brown where
    a blurred mask of the liquid is at least 0.8. Distortion is not monotonic: severity 4 (mud) is
    milder than 3 by mean absolute difference, as in the reference.
    Shape: (B, C, H, W) -> (B, C, H, W). Stochastic (the liquid noise).
    """
    if mode not in ("water", "mud"):
        raise ValueError(f"spatter mode must be 'water' or 'mud', got {mode!r}")
    liquid = (draws["liquid"][:, None].to(images.dtype) * float(std)).add_(float(mean))
    liquid = gaussian_blur_nearest(liquid, float(blur_sigma))
    liquid = F.threshold(liquid, _just_below(threshold, liquid.dtype), 0.0)
    if mode == "water":
        return water_spatter(images, liquid, amount)
    return mud_spatter(images, liquid, threshold, amount)
