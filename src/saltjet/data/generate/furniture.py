"""The ten ModelNet10 classes as assemblies of trimesh primitives (z up, floor at z = 0).

Each builder takes a `Parts` collector and adds boxes, cylinders, cones, ellipsoids, rods and a
torus with randomly drawn dimensions (in metres, roughly real furniture sizes). Classes share
parts and overlapping proportions on purpose (see `saltjet.data.generate.shapes`).
"""

from __future__ import annotations

from functools import lru_cache

import numpy as np

CLASS_NAMES = ("bathtub", "bed", "chair", "desk", "dresser",
               "monitor", "night_stand", "sofa", "table", "toilet")


@lru_cache(maxsize=None)
def _template(kind: str, resolution: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """Unit primitive (vertices (V, 3), triangles (T, 3)) from trimesh, built once per kind.

    box: unit cube; cylinder: radius 1, height 1, centred; cone: radius 1, height 1, base at z=0;
    sphere: unit icosphere; torus: major radius 1, minor 0.12, in the xy plane.
    """
    from saltjet.extras import require

    creation = require("trimesh.creation", extra="formats", purpose="the shapes generator")

    mesh = {
        "box": lambda: creation.box(extents=(1.0, 1.0, 1.0)),
        "cylinder": lambda: creation.cylinder(radius=1.0, height=1.0, sections=resolution),
        "cone": lambda: creation.cone(radius=1.0, height=1.0, sections=resolution),
        "sphere": lambda: creation.icosphere(subdivisions=resolution),
        "torus": lambda: creation.torus(1.0, 0.12, major_sections=resolution, minor_sections=6),
    }[kind]()
    vertices = np.asarray(mesh.vertices, dtype=np.float64)
    faces = np.asarray(mesh.faces, dtype=np.int64)
    vertices.flags.writeable = faces.flags.writeable = False
    return vertices, faces


_AXES = {"x": [2, 1, 0], "y": [0, 2, 1], "z": [0, 1, 2]}  # z-aligned template -> given axis


class Parts:
    """Collects the primitive parts of one object (z up, floor at z = 0); `g` draws every choice."""

    def __init__(self, g: np.random.Generator):
        self.g = g
        self.parts: list[tuple[np.ndarray, np.ndarray]] = []

    def u(self, lo: float, hi: float) -> float:
        return float(self.g.uniform(lo, hi))

    def chance(self, p: float) -> bool:
        return bool(self.g.random() < p)

    def _add(self, kind, resolution, scale, at, axis="z"):
        vertices, faces = _template(kind, resolution)
        vertices = vertices[:, _AXES[axis]] * np.asarray(scale, dtype=np.float64) + np.asarray(at)
        self.parts.append((vertices, faces))

    def _sections(self) -> int:
        return int(self.g.integers(8, 20))

    def box(self, size, at):
        self._add("box", 0, size, at)

    def cylinder(self, radius, height, at, axis="z"):
        size = {"x": (height, radius, radius), "y": (radius, height, radius)}.get(
            axis, (radius, radius, height))
        self._add("cylinder", self._sections(), size, at, axis)

    def cone(self, radius, height, at):
        self._add("cone", self._sections(), (radius, radius, height), at)

    def ellipsoid(self, radii, at):
        self._add("sphere", int(self.g.integers(1, 3)), radii, at)

    def capsule(self, radius, length, at, axis="x"):
        """A rod with round ends: a cylinder and two spheres."""
        offset = np.zeros(3)
        offset["xyz".index(axis)] = length / 2
        self.cylinder(radius, length, at, axis)
        self.ellipsoid((radius,) * 3, np.asarray(at) + offset)
        self.ellipsoid((radius,) * 3, np.asarray(at) - offset)

    def torus(self, at, scale):
        self._add("torus", int(self.g.integers(12, 24)), scale, at)

    def legs(self, length, width, height, inset, z0=0.0):
        """Four legs under a length x width footprint, round or square."""
        r = self.u(0.015, 0.04)
        round_legs = self.chance(0.5)
        for sx in (-1, 1):
            for sy in (-1, 1):
                at = (sx * (length / 2 - inset), sy * (width / 2 - inset), z0 + height / 2)
                if round_legs:
                    self.cylinder(r, height, at)
                else:
                    self.box((2 * r, 2 * r, height), at)

    def handles(self, x_span, z_rows, y_front, cols):
        """Drawer knobs or bars on the front face y = y_front."""
        knobs = self.chance(0.5)
        for z in z_rows:
            for c in range(cols):
                x = (c + 0.5) / cols * x_span - x_span / 2
                if knobs:
                    self.ellipsoid((0.02, 0.02, 0.02), (x, y_front + 0.015, z))
                else:
                    self.box((min(0.12, x_span / cols * 0.5), 0.02, 0.02), (x, y_front + 0.01, z))


def _bathtub(p: Parts):
    L, W, H, t = p.u(1.2, 1.9), p.u(0.6, 0.95), p.u(0.4, 0.7), p.u(0.04, 0.12)
    z0 = p.u(0.08, 0.18) if p.chance(0.4) else 0.0
    if z0:
        for sx in (-1, 1):
            for sy in (-1, 1):
                p.ellipsoid((0.05, 0.05, z0 / 2), (sx * (L / 2 - 0.12), sy * (W / 2 - 0.1), z0 / 2))
    p.box((L, W, t), (0, 0, z0 + t / 2))
    for sy in (-1, 1):
        p.box((L, t, H), (0, sy * (W - t) / 2, z0 + H / 2))
    for sx in (-1, 1):
        p.box((t, W, H), (sx * (L - t) / 2, 0, z0 + H / 2))
    if p.chance(0.5):
        p.capsule(0.025, p.u(0.1, 0.2), (-L / 2 + 0.05, 0, z0 + H + 0.06), axis="x")


def _bed(p: Parts):
    L, W = p.u(1.9, 2.2), p.u(0.9, 1.9)
    hb, hm = p.u(0.15, 0.35), p.u(0.15, 0.3)
    z0 = p.u(0.05, 0.2) if p.chance(0.4) else 0.0
    if z0:
        p.legs(L, W, z0, 0.06)
    p.box((L, W, hb), (0, 0, z0 + hb / 2))
    p.box((L * 0.97, W * 0.97, hm), (0, 0, z0 + hb + hm / 2))
    t, top = p.u(0.04, 0.1), z0 + hb + hm + p.u(0.3, 0.8)
    p.box((t, W, top), (-L / 2 - t / 2, 0, top / 2))
    if p.chance(0.5):
        foot = z0 + hb + hm + p.u(0.0, 0.25)
        p.box((t, W, foot), (L / 2 + t / 2, 0, foot / 2))
    for i in range(int(p.g.integers(0, 3))):
        y = 0 if W < 1.2 else (i - 0.5) * W / 2
        p.ellipsoid((0.15, min(0.3, W / 4), 0.07), (-L / 2 + 0.25, y, z0 + hb + hm + 0.05))


def _chair(p: Parts):
    w, d, hs, ts = p.u(0.4, 0.55), p.u(0.4, 0.55), p.u(0.4, 0.5), p.u(0.03, 0.08)
    p.legs(d, w, hs, 0.03)
    p.box((d, w, ts), (0, 0, hs + ts / 2))
    hback, tb = p.u(0.35, 0.6), p.u(0.03, 0.07)
    base = hs + ts
    if p.chance(0.3):
        n = int(p.g.integers(3, 6))
        for i in range(n):
            p.box((tb, w / (2 * n), hback), (-d / 2 + tb / 2, (i + 0.5) / n * w - w / 2, base + hback / 2))
        p.box((tb, w, 0.06), (-d / 2 + tb / 2, 0, base + hback))
    else:
        p.box((tb, w, hback), (-d / 2 + tb / 2, 0, base + hback / 2))
    if p.chance(0.3):
        ha = p.u(0.18, 0.28)
        for sy in (-1, 1):
            p.box((d * 0.9, 0.05, 0.04), (0, sy * w / 2, base + ha))
            p.cylinder(0.015, ha, (d / 2 - 0.04, sy * w / 2, base + ha / 2))


def _desk(p: Parts):
    L, D, H, t = p.u(1.0, 1.6), p.u(0.55, 0.8), p.u(0.7, 0.78), p.u(0.03, 0.06)
    p.box((L, D, t), (0, 0, H - t / 2))
    if p.chance(0.25):  # writing desk: a drawer under the top, four legs, like a table
        hd = p.u(0.1, 0.18)
        p.legs(L, D, H - t, 0.04)
        p.box((L * p.u(0.4, 0.9), D * 0.9, hd), (0, 0, H - t - hd / 2))
        p.handles(L * 0.5, [H - t - hd / 2], D * 0.45, int(p.g.integers(1, 3)))
        return
    wp = p.u(0.35, 0.5)
    sides = (-1, 1) if p.chance(0.35) else (int(p.g.choice([-1, 1])),)
    for sx in sides:
        x = sx * (L / 2 - wp / 2)
        p.box((wp, D * 0.95, H - t), (x, 0, (H - t) / 2))
        n = int(p.g.integers(2, 5))
        p.handles(wp, [(H - t) * (i + 0.5) / n for i in range(n)], D * 0.95 / 2, 1)
    if len(sides) == 1:
        x = -sides[0] * (L / 2 - 0.04)
        for sy in (-1, 1):
            p.box((0.05, 0.05, H - t), (x, sy * (D / 2 - 0.04), (H - t) / 2))
    if p.chance(0.6):
        p.box((L * 0.9, 0.02, (H - t) * p.u(0.3, 0.7)), (0, -D / 2 + 0.03, H - t - 0.2))


def _dresser(p: Parts):
    W, D, H = p.u(0.6, 1.6), p.u(0.4, 0.6), p.u(0.6, 1.3)
    feet = p.u(0.03, 0.15)
    p.legs(W, D, feet, 0.05)
    p.box((W, D, H - feet), (0, 0, feet + (H - feet) / 2))
    p.box((W + 0.04, D + 0.03, 0.03), (0, 0, H + 0.015))
    rows = int(p.g.integers(3, 7))
    cols = int(p.g.integers(1, 4))
    p.handles(W, [feet + (H - feet) * (i + 0.5) / rows for i in range(rows)], D / 2, cols)
    if p.chance(0.25):
        hm = p.u(0.5, 0.9)
        p.box((W * 0.8, 0.03, hm), (0, -D / 2 + 0.05, H + hm / 2))


def _night_stand(p: Parts):
    W, D, H = p.u(0.4, 0.7), p.u(0.35, 0.5), p.u(0.45, 0.8)
    legs = p.u(0.05, 0.25) if p.chance(0.7) else 0.0
    if legs:
        p.legs(W, D, legs, 0.03)
    body = H - legs
    if p.chance(0.4):  # open shelf: top, bottom, sides and back, no front
        t = 0.025
        p.box((W, D, t), (0, 0, legs + t / 2))
        p.box((W, D, t), (0, 0, H - t / 2))
        for sx in (-1, 1):
            p.box((t, D, body), (sx * (W - t) / 2, 0, legs + body / 2))
        p.box((W, t, body), (0, -(D - t) / 2, legs + body / 2))
        p.handles(W, [H - body * 0.2], D / 2, 1)
    else:
        p.box((W, D, body), (0, 0, legs + body / 2))
        n = int(p.g.integers(1, 3))
        p.handles(W, [legs + body * (i + 0.5) / n for i in range(n)], D / 2, 1)
    p.box((W + 0.03, D + 0.03, 0.025), (0, 0, H + 0.0125))


def _monitor(p: Parts):
    W = p.u(0.45, 0.75)
    Hs, T = W * p.u(0.5, 0.7), p.u(0.02, 0.06)
    neck = p.u(0.08, 0.25)
    if p.chance(0.5):
        p.cylinder(p.u(0.1, 0.18), 0.02, (0, 0, 0.01))
    else:
        p.box((p.u(0.15, 0.3), p.u(0.15, 0.22), 0.02), (0, 0, 0.01))
    p.box((0.04, 0.03, neck + Hs / 2), (0, -T, (neck + Hs / 2) / 2))
    p.box((W, T, Hs), (0, 0, neck + Hs / 2))
    if p.chance(0.2):  # CRT
        p.box((W * 0.7, Hs * 0.9, Hs * 0.7), (0, -T / 2 - Hs * 0.35, neck + Hs / 2))
    elif p.chance(0.5):
        p.box((W * 0.5, 0.04, Hs * 0.5), (0, -T / 2 - 0.02, neck + Hs / 2))


def _sofa(p: Parts):
    L, D, hs = p.u(1.5, 2.4), p.u(0.75, 1.0), p.u(0.35, 0.48)
    feet = p.u(0.03, 0.1) if p.chance(0.5) else 0.0
    if feet:
        p.legs(L, D, feet, 0.06)
    base = hs * 0.6
    p.box((L, D, base), (0, 0, feet + base / 2))
    tb, hb = p.u(0.15, 0.3), p.u(0.35, 0.55)
    p.box((L, tb, hs + hb - base), (0, -D / 2 + tb / 2, feet + base + (hs + hb - base) / 2))
    ta = p.u(0.1, 0.25)
    if p.chance(0.85):
        ha = p.u(0.15, 0.3)
        for sx in (-1, 1):
            p.box((ta, D, hs + ha - base), (sx * (L / 2 - ta / 2), 0, feet + base + (hs + ha - base) / 2))
    n = int(p.g.integers(1, 4))
    inner = L - 2 * ta
    for i in range(n):
        x = (i + 0.5) / n * inner - inner / 2
        p.box((inner / n * 0.96, D - tb, hs - base), (x, tb / 2, feet + base + (hs - base) / 2))


def _table(p: Parts):
    H, t = (p.u(0.35, 0.5) if p.chance(0.25) else p.u(0.65, 0.78)), p.u(0.03, 0.07)
    if p.chance(0.3):
        R = p.u(0.4, 0.7)
        p.cylinder(R, t, (0, 0, H - t / 2))
        if p.chance(0.6):
            p.cylinder(p.u(0.04, 0.08), H - t, (0, 0, (H - t) / 2))
            p.cylinder(R * p.u(0.3, 0.6), 0.03, (0, 0, 0.015))
        else:
            p.legs(R * 1.2, R * 1.2, H - t, 0.03)
        return
    L, D = p.u(0.6, 2.0), p.u(0.5, 1.0)
    p.box((L, D, t), (0, 0, H - t / 2))
    p.legs(L, D, H - t, p.u(0.03, 0.12))
    if p.chance(0.5):
        ha = p.u(0.06, 0.12)
        for sy in (-1, 1):
            p.box((L * 0.9, 0.02, ha), (0, sy * D * 0.43, H - t - ha / 2))
        for sx in (-1, 1):
            p.box((0.02, D * 0.86, ha), (sx * L * 0.45, 0, H - t - ha / 2))


def _toilet(p: Parts):
    rx, ry, rz = p.u(0.18, 0.25), p.u(0.15, 0.2), p.u(0.12, 0.18)
    hb = p.u(0.3, 0.4)
    if p.chance(0.5):
        p.cylinder(p.u(0.09, 0.14), hb, (0.02, 0, hb / 2))
    else:
        p.cone(p.u(0.14, 0.2), hb + rz, (0.02, 0, 0))
    p.ellipsoid((rx, ry, rz), (0, 0, hb))
    p.torus((0, 0, hb + rz * 0.6), scale=(rx * 1.05, ry * 1.05, 0.2))
    if p.chance(0.8):
        w, d, h = p.u(0.35, 0.5), p.u(0.15, 0.22), p.u(0.3, 0.45)
        p.box((d, w, h), (-rx - d / 2 + 0.03, 0, hb + h / 2 - 0.05))
    if p.chance(0.5):
        p.box((0.02, ry * 2, rx * 1.8), (-rx + 0.02, 0, hb + rz * 0.6 + rx * 0.9))


BUILDERS = dict(zip(CLASS_NAMES, (_bathtub, _bed, _chair, _desk, _dresser,
                                  _monitor, _night_stand, _sofa, _table, _toilet)))
