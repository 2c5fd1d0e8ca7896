"""Which per-particle features a reader returns: always pT, Δη, Δφ first, then optional extras."""

from __future__ import annotations

from saltjet.data.particles import CORE_FEATURES  # noqa: F401  (defined once, with ParticleData)
from saltjet.errors import ConfigError


def select_extras(features, available: list[str], fmt: str) -> list[str]:
    """Extra feature names requested on top of the three core ones.

    Args:
        features: None (core only), "all" (every available extra), a comma-separated string or a
            list of names; core names may appear and are ignored (they always come first).
        available: the extras this format offers, in its order.
    Returns:
        The requested extras, in the requested order, without duplicates.
    """
    if features is None:
        return []
    if isinstance(features, str):
        if features == "all":
            return list(available)
        features = [f.strip() for f in features.split(",") if f.strip()]
    chosen: list[str] = []
    for name in features:
        name = str(name)
        if name in CORE_FEATURES or name in chosen:
            continue
        if name not in available:
            offered = ", ".join(CORE_FEATURES + list(available))
            raise ConfigError(f"{fmt} has no particle feature {name!r}; available: {offered}")
        chosen.append(name)
    return chosen
