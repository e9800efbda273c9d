"""Procedural 48x48 grayscale driver faces whose geometry encodes the 7 FER expressions.

Pure numpy. A face is drawn in canonical coordinates (u, v) in [-1, 1] (v points down) as
soft-edged shapes: head ellipse, hair, eyes (sclera + pupil), brows, nose, mouth lips and
mouth opening. Seven expression parameters (EXPRESSION_PARAMS) move them:
  mouth_curve  + corners up (smile) / - corners down     mouth_open   lip gap at the centre
  mouth_width  relative mouth width                       brow_angle   + inner ends down (V)
  brow_raise   + brows up                                 eye_open     relative eye height
  wrinkle      nose-side wrinkle lines (disgust, a little anger)
Each image blends the neutral parameters towards its class prototype by a random strength,
adds parameter jitter, then applies a per-image pose (rotation, shift, scale), a lighting
gain and gradient, sensor noise and, sometimes, an occluder (sunglasses bar or hand patch).
Fear/surprise and angry/disgust have close prototypes on purpose; weak expressions drift
towards neutral, so the task is learnable without being trivial.
"""

from __future__ import annotations

import dataclasses

import numpy as np

from emocore.label_spaces import FER7

FACE_SIZE = 48
EXPRESSION_PARAMS: tuple[str, ...] = (
    "mouth_curve", "mouth_open", "mouth_width", "brow_angle", "brow_raise", "eye_open", "wrinkle",
)  # fmt: skip
# Prototype parameters per FER7 class (rows follow FER7.labels).
_PROTOTYPES: dict[str, tuple[float, ...]] = {
    "angry": (-0.45, 0.05, 0.90, 1.00, -0.45, 0.80, 0.35),
    "disgust": (-0.60, 0.15, 0.90, 0.60, -0.35, 0.65, 1.00),
    "fear": (-0.35, 0.55, 1.10, -0.55, 0.70, 1.35, 0.00),
    "happy": (1.00, 0.25, 1.20, 0.00, 0.05, 0.75, 0.00),
    "sad": (-0.80, 0.00, 0.95, -0.90, 0.15, 0.80, 0.00),
    "surprise": (0.00, 1.00, 0.65, 0.00, 1.00, 1.45, 0.00),
    "neutral": (0.00, 0.00, 1.00, 0.00, 0.00, 1.00, 0.00),
}
PROTOTYPES = np.array([_PROTOTYPES[name] for name in FER7.labels], dtype=np.float64)
_NEUTRAL = PROTOTYPES[FER7.index("neutral")]
_JITTER = np.array([0.25, 0.12, 0.10, 0.25, 0.20, 0.12, 0.25])
_CHUNK = 256


@dataclasses.dataclass(frozen=True)
class FaceIdentity:
    """One driver's face: shape, tones and feature placement (canonical units, grey levels)."""

    face_w: float
    face_h: float
    skin: float
    background: float
    hair: float
    hairline: float
    eye_y: float
    eye_dx: float
    eye_size: float
    brow_gap: float
    nose_len: float
    mouth_y: float
    mouth_w: float
    line_width: float
    expressiveness: float


@dataclasses.dataclass(frozen=True)
class RenderSettings:
    """Per-image variation; the defaults give a learnable but not trivial task."""

    min_strength: float = 0.5
    jitter: float = 0.8
    zoom: float = 1.2
    max_rotation_deg: float = 10.0
    max_shift: float = 0.08
    max_scale_change: float = 0.08
    noise_std: tuple[float, float] = (3.0, 10.0)
    sunglasses_prob: float = 0.06
    hand_prob: float = 0.06

    def __post_init__(self) -> None:
        if not 0.0 <= self.min_strength <= 1.0:
            raise ValueError(
                f"RenderSettings.min_strength must lie in [0, 1]; got {self.min_strength!r}"
            )
        if not self.zoom > 0:
            raise ValueError(f"RenderSettings.zoom must be > 0; got {self.zoom!r}")
        for name in ("jitter", "max_rotation_deg", "max_shift", "max_scale_change"):
            if not getattr(self, name) >= 0:
                raise ValueError(f"RenderSettings.{name} must be >= 0; got {getattr(self, name)!r}")
        lo, hi = self.noise_std
        if not 0 <= lo <= hi:
            raise ValueError(
                f"RenderSettings.noise_std must be (low, high) with 0 <= low <= high; got "
                f"{self.noise_std!r}"
            )
        for name in ("sunglasses_prob", "hand_prob"):
            if not 0.0 <= getattr(self, name) <= 1.0:
                raise ValueError(
                    f"RenderSettings.{name} must lie in [0, 1]; got {getattr(self, name)!r}"
                )


def sample_identity(rng: np.random.Generator) -> FaceIdentity:
    """A random driver face identity drawn from `rng`."""
    skin = rng.uniform(95.0, 215.0)
    background = rng.uniform(25.0, 230.0)
    if abs(background - skin) < 30.0:  # keep the head visible against the cabin
        background = skin - 45.0 if skin > 130.0 else skin + 45.0
    return FaceIdentity(
        face_w=rng.uniform(0.56, 0.70),
        face_h=rng.uniform(0.74, 0.86),
        skin=skin,
        background=background,
        hair=rng.uniform(10.0, 0.7 * skin),
        hairline=rng.uniform(-0.62, -0.42),
        eye_y=rng.uniform(-0.20, -0.08),
        eye_dx=rng.uniform(0.22, 0.30),
        eye_size=rng.uniform(0.09, 0.12),
        brow_gap=rng.uniform(0.13, 0.19),
        nose_len=rng.uniform(0.16, 0.24),
        mouth_y=rng.uniform(0.36, 0.46),
        mouth_w=rng.uniform(0.22, 0.30),
        line_width=rng.uniform(0.9, 1.4),
        expressiveness=rng.uniform(0.8, 1.1),
    )


def render_faces(
    identity: FaceIdentity,
    expressions: np.ndarray,
    rng: np.random.Generator,
    settings: RenderSettings = RenderSettings(),
) -> np.ndarray:
    """Draw one face per FER7 label of `expressions: int[N]` -> `uint8[N, 48, 48]`."""
    if not isinstance(identity, FaceIdentity):
        raise ValueError(f"identity must be a FaceIdentity; got {type(identity).__name__}")
    expressions = np.asarray(expressions)
    if expressions.ndim != 1 or expressions.dtype.kind not in "iu":
        raise ValueError(
            f"expressions must be a 1-D integer array; got shape {expressions.shape} "
            f"dtype {expressions.dtype}"
        )
    if expressions.size and (expressions.min() < 0 or expressions.max() >= FER7.num_classes):
        raise ValueError(
            f"expressions must lie in [0, {FER7.num_classes}) (FER7 ids); got range "
            f"[{expressions.min()}, {expressions.max()}]"
        )
    n = expressions.shape[0]
    params = _expression_params(identity, expressions, rng, settings)
    pose = _pose(n, rng, settings)
    look = _look(n, rng, settings)
    template = _head_template(identity)
    out = np.empty((n, FACE_SIZE, FACE_SIZE), dtype=np.uint8)
    for lo in range(0, n, _CHUNK):
        sl = slice(lo, min(lo + _CHUNK, n))
        canvas = _draw_features(
            template, identity, {k: v[sl] for k, v in params.items()},
            {k: v[sl] for k, v in look.items()},
        )  # fmt: skip
        img = _warp(canvas, {k: v[sl] for k, v in pose.items()})
        out[sl] = _light(img, {k: v[sl] for k, v in look.items()})
    return out


def _expression_params(
    identity: FaceIdentity,
    expressions: np.ndarray,
    rng: np.random.Generator,
    settings: RenderSettings,
) -> dict[str, np.ndarray]:
    n = expressions.shape[0]
    strength = rng.uniform(settings.min_strength, 1.0, size=n) * identity.expressiveness
    values = _NEUTRAL + strength[:, None] * (PROTOTYPES[expressions] - _NEUTRAL)
    values = values + settings.jitter * _JITTER * rng.standard_normal((n, _JITTER.shape[0]))
    values = np.clip(values, _PARAM_MIN, _PARAM_MAX).astype(np.float32)
    return {name: values[:, i] for i, name in enumerate(EXPRESSION_PARAMS)}


def _pose(n: int, rng: np.random.Generator, settings: RenderSettings) -> dict[str, np.ndarray]:
    return {
        "angle": np.deg2rad(rng.uniform(-1, 1, n) * settings.max_rotation_deg),
        "dx": rng.uniform(-1, 1, n) * settings.max_shift,
        "dy": rng.uniform(-1, 1, n) * settings.max_shift,
        "scale": settings.zoom * (1.0 + rng.uniform(-1, 1, n) * settings.max_scale_change),
    }


def _look(n: int, rng: np.random.Generator, settings: RenderSettings) -> dict[str, np.ndarray]:
    occluder = rng.uniform(size=n)
    return {
        "gain": rng.uniform(0.7, 1.2, n),
        "grad_angle": rng.uniform(0, 2 * np.pi, n),
        "grad": rng.uniform(0.0, 45.0, n),
        "noise": rng.uniform(*settings.noise_std, n),
        "sunglasses": occluder < settings.sunglasses_prob,
        "hand": (occluder >= settings.sunglasses_prob)
        & (occluder < settings.sunglasses_prob + settings.hand_prob),
        "hand_u": rng.uniform(-0.5, 0.5, n),
        "hand_v": rng.uniform(0.1, 0.7, n),
        "hand_tone": rng.uniform(0.8, 1.1, n),
        "pixel_noise": rng.standard_normal((n, FACE_SIZE, FACE_SIZE), dtype=np.float32),
    }


# Faces are drawn upright on a canonical canvas (same pixel pitch as the image, a margin
# wider so rotations never reach its edge), then posed by bilinear resampling.
_PX = FACE_SIZE / 2.0  # pixels per canonical unit
_CANVAS = 56
_AXIS = ((np.arange(_CANVAS) + 0.5 - _CANVAS / 2.0) / _PX).astype(np.float32)
_IMAGE_AXIS = ((np.arange(FACE_SIZE) + 0.5 - FACE_SIZE / 2.0) / _PX).astype(np.float32)
# Parameter bounds (they also bound where features can appear on the canvas).
_PARAM_MIN = np.array([-1.6, 0.0, 0.5, -1.8, -1.5, 0.2, 0.0])
_PARAM_MAX = np.array([1.6, 1.6, 1.5, 1.8, 1.8, 1.8, 1.5])


def _soft(distance_px: np.ndarray) -> np.ndarray:
    """Coverage in [0, 1] of a shape from a signed distance in pixels (inside < 0)."""
    return np.minimum(np.maximum(0.5 - distance_px, 0.0), 1.0)


def _ellipse(u: np.ndarray, v: np.ndarray, cu: float | np.ndarray, cv: float | np.ndarray,
             ru: float | np.ndarray, rv: float | np.ndarray) -> np.ndarray:  # fmt: skip
    """Soft coverage of an axis-aligned ellipse (approximate signed distance)."""
    rv = np.maximum(rv, 1e-3)
    r = np.sqrt(((u - cu) / ru) ** 2 + ((v - cv) / rv) ** 2)
    return _soft((r - 1.0) * np.minimum(ru, rv) * _PX)


def _segment(u: np.ndarray, v: np.ndarray, u0: float | np.ndarray, v0: float | np.ndarray,
             u1: float | np.ndarray, v1: float | np.ndarray, half_width: float) -> np.ndarray:
    """Soft coverage of a thick line segment."""  # fmt: skip
    du, dv = u1 - u0, v1 - v0
    t = np.clip(((u - u0) * du + (v - v0) * dv) / (du * du + dv * dv), 0.0, 1.0)
    dist = np.sqrt((u - u0 - t * du) ** 2 + (v - v0 - t * dv) ** 2)
    return _soft((dist - half_width) * _PX)


def _paint(img: np.ndarray, coverage: np.ndarray, tone: float | np.ndarray) -> None:
    img += coverage * (tone - img)


def _col(a: np.ndarray) -> np.ndarray:
    return a[:, None, None]


def _band(lo: float, hi: float) -> slice:
    """Canvas index range covering canonical coordinates [lo, hi]."""
    a = int(np.clip(np.floor(lo * _PX + _CANVAS / 2.0), 0, _CANVAS))
    b = int(np.clip(np.ceil(hi * _PX + _CANVAS / 2.0), 0, _CANVAS))
    return slice(a, b)


def _head_template(idt: FaceIdentity) -> np.ndarray:
    """The expression-free canvas `float32[C, C]`: background, hair, head, nose."""
    v, u = np.meshgrid(_AXIS, _AXIS, indexing="ij")
    img = np.full((_CANVAS, _CANVAS), idt.background, dtype=np.float32)
    _paint(img, _ellipse(u, v, 0.0, 0.05, idt.face_w + 0.06, idt.face_h + 0.02)
           * (v < idt.hairline + 0.25), idt.hair)  # fmt: skip
    _paint(img, _ellipse(u, v, 0.0, 0.05, idt.face_w, idt.face_h), idt.skin)
    _paint(img, _ellipse(u, v, 0.0, -0.35, idt.face_w + 0.02, 0.5) * (v < idt.hairline), idt.hair)
    nose = _segment(u, v, 0.0, idt.eye_y + 0.05, 0.03, idt.eye_y + 0.05 + idt.nose_len,
                    0.7 * idt.line_width / _PX)  # fmt: skip
    _paint(img, nose, 0.65 * idt.skin)
    return img


def _draw_features(
    template: np.ndarray,
    idt: FaceIdentity,
    p: dict[str, np.ndarray],
    look: dict[str, np.ndarray],
) -> np.ndarray:
    """Eyes, brows, wrinkles, mouth and occluders on copies of `template` -> float32[n, C, C]."""
    n = p["mouth_curve"].shape[0]
    canvas = np.repeat(template[None], n, axis=0)
    lw = idt.line_width / _PX  # line half-width in canonical units
    dark = 0.3 * idt.skin
    cols = _band(-(idt.face_w + 0.08), idt.face_w + 0.08)
    # Eye band: brows (raised/angled up to the parameter bounds) down to the wrinkles.
    rows = _band(idt.eye_y - idt.brow_gap - 0.35, idt.eye_y + 0.27)
    v, u = np.meshgrid(_AXIS[rows], _AXIS[cols], indexing="ij")
    band = canvas[:, rows, cols]
    eye_rv = _col(idt.eye_size * 0.6 * p["eye_open"])
    base = idt.eye_y - idt.brow_gap - 0.08 * _col(p["brow_raise"])
    wrinkle = _col(np.minimum(p["wrinkle"], 1.0))
    for side in (-1.0, 1.0):
        cu = side * idt.eye_dx
        _paint(band, _ellipse(u, v, cu, idt.eye_y, idt.eye_size, eye_rv),
               min(idt.skin + 60.0, 250.0))  # fmt: skip
        _paint(band, _ellipse(u, v, cu, idt.eye_y, 0.5 * idt.eye_size,
                              np.minimum(eye_rv, 0.5 * idt.eye_size)), 20.0)  # fmt: skip
        # Brows: inner end lowered by brow_angle, whole brow raised by brow_raise.
        inner_v = base + 0.07 * _col(p["brow_angle"])
        outer_v = base - 0.025 * _col(p["brow_angle"])
        brow = _segment(u, v, side * (idt.eye_dx - 0.12), inner_v,
                        side * (idt.eye_dx + 0.13), outer_v, 1.3 * lw)  # fmt: skip
        _paint(band, brow, dark)
        wu = side * 0.09
        seg = _segment(u, v, wu, idt.eye_y + 0.12, wu + side * 0.07, idt.eye_y + 0.2, 0.6 * lw)
        _paint(band, seg * wrinkle, 0.6 * idt.skin)
    glasses = _soft((np.abs(v - idt.eye_y) - 0.11) * _PX) * _soft(
        (np.abs(u) - (idt.eye_dx + 0.17)) * _PX
    )
    _paint(band, _col(look["sunglasses"].astype(np.float32)) * glasses, 15.0)
    canvas[:, rows, cols] = band
    # Mouth band: upper lip v_c(u) = my - 0.04 wrinkle + 0.12 curve (0.5 - (u/w)^2), opening
    # of height 0.22 open (1 - (u/w)^2) below it, two lip lines.
    rows = _band(idt.mouth_y - 0.25, idt.mouth_y + 0.55)
    v, u = np.meshgrid(_AXIS[rows], _AXIS[cols], indexing="ij")
    band = canvas[:, rows, cols]
    mw = idt.mouth_w * _col(p["mouth_width"])
    rel2 = (u / mw) ** 2
    inside = _soft((np.sqrt(rel2) - 1.0) * mw * _PX)
    curve = idt.mouth_y - 0.04 * _col(p["wrinkle"]) + 0.12 * _col(p["mouth_curve"]) * (0.5 - rel2)
    gap = 0.22 * _col(p["mouth_open"]) * np.maximum(1.0 - rel2, 0.0)
    _paint(band, _soft(np.maximum(curve - v, v - curve - gap) * _PX) * inside, 25.0)
    lips = _soft((np.abs(v - curve) - lw) * _PX) + _soft((np.abs(v - curve - gap) - lw) * _PX)
    _paint(band, np.minimum(lips, 1.0) * inside, dark)
    canvas[:, rows, cols] = band
    # Hand patch (only on the images that have one).
    hand = np.flatnonzero(look["hand"])
    if hand.size:
        v, u = np.meshgrid(_AXIS, _AXIS, indexing="ij")
        sub = canvas[hand]
        cover = _ellipse(u, v, _col(look["hand_u"][hand]), _col(look["hand_v"][hand]), 0.32, 0.26)
        _paint(sub, cover, _col(look["hand_tone"][hand]).astype(np.float32) * idt.skin)
        canvas[hand] = sub
    return canvas


def _warp(canvas: np.ndarray, pose: dict[str, np.ndarray]) -> np.ndarray:
    """Bilinear resampling of canvases `float32[n, C, C]` under the per-image pose."""
    n = canvas.shape[0]
    y, x = np.meshgrid(_IMAGE_AXIS, _IMAGE_AXIS, indexing="ij")
    cos = _col(np.cos(pose["angle"]).astype(np.float32))
    sin = _col(np.sin(pose["angle"]).astype(np.float32))
    scale = _col(pose["scale"].astype(np.float32))
    xs, ys = x[None] - _col(pose["dx"].astype(np.float32)), y[None] - _col(
        pose["dy"].astype(np.float32)
    )
    # Canonical coordinates -> continuous canvas indices.
    ju = (cos * xs + sin * ys) / scale * _PX + (_CANVAS / 2.0 - 0.5)
    jv = (-sin * xs + cos * ys) / scale * _PX + (_CANVAS / 2.0 - 0.5)
    ju = np.clip(ju, 0.0, _CANVAS - 1.0)
    jv = np.clip(jv, 0.0, _CANVAS - 1.0)
    u0 = np.minimum(np.floor(ju), _CANVAS - 2).astype(np.int64)
    v0 = np.minimum(np.floor(jv), _CANVAS - 2).astype(np.int64)
    fu, fv = ju - u0, jv - v0
    flat = canvas.reshape(-1)
    idx = v0 * _CANVAS + u0 + (np.arange(n) * (_CANVAS * _CANVAS))[:, None, None]
    c00, c01 = flat[idx], flat[idx + 1]
    c10, c11 = flat[idx + _CANVAS], flat[idx + _CANVAS + 1]
    top = c00 + fu * (c01 - c00)
    bottom = c10 + fu * (c11 - c10)
    return top + fv * (bottom - top)


def _light(img: np.ndarray, look: dict[str, np.ndarray]) -> np.ndarray:
    """Gain, linear lighting gradient, sensor noise, rounding -> uint8[n, 48, 48]."""
    y, x = np.meshgrid(_IMAGE_AXIS, _IMAGE_AXIS, indexing="ij")
    ga = look["grad_angle"]
    ramp = _col(look["grad"]) * (_col(np.cos(ga)) * x + _col(np.sin(ga)) * y)
    img = img * _col(look["gain"]) + ramp + _col(look["noise"]) * look["pixel_noise"]
    return np.clip(np.rint(img), 0, 255).astype(np.uint8)
