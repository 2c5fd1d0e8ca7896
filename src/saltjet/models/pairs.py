"""Particle 4-vectors from a run's features, and SAL-T's linear-cost pair features.

ParT (arXiv:2202.03772) adds to every attention logit an embedding of four features of the particle
pair (i, j): ln Δ, ln kT, ln z and ln m². That costs n² pairs. Here each particle is paired with only
p anchors, so the same four features cost n·p: linear in n, like the rest of SAL-T. The anchors are
the p highest-pT particles of the jet ("leading": close to a top jet's prongs), the p − 1 highest-pT
particles and the whole jet ("leading_jet", `salt_pair`'s default: the pair mass with the jet carries
the jet mass), or each kT-ordered partition's summed 4-vector ("partitions", which measured no gain:
`reports/salt_pair`).
`AnchorPairs` embeds the features into each particle's embedding and/or into one additive bias per
head on SAL-T's n × p logits (`saltjet.models.salt_pair`).

    x (B, n, F) features, mask (B, n) bool
      -> v (B, n, 4): massless (px, py, pz, E) in the jet frame from pT, η_rel, φ_rel
      -> A (B, p, 4): the anchors (leading particles [and the jet], or partition sums)
      -> f (B, n, p, 4): ln Δ_ic, ln kT_ic, ln z_ic, ln m²_ic   (ParT's definitions), standardised
      -> inputs: Linear(4·p -> d) of each particle's p pairs    (B, n, d), added to its embedding
      -> bias: MLP 4 -> hidden -> H, ReLU between  (B, n, p, H) -> (B, H·p, n), row (head, anchor)

with Δ = √(Δy² + Δφ²) (rapidity y of A_c, η of the massless particle), kT = min(pT_i, pT_c)·Δ,
z = min(pT_i, pT_c)/(pT_i + pT_c), m² = (v_i + A_c)² computed without cancellation (a particle
paired with itself gives exactly 0). Logarithms take max(·, `PAIR_EPS`), as weaver's do. A missing
anchor (an empty partition, a jet with fewer than p particles) is the fixed 4-vector pT 1 at
y = φ = 0, so no feature is NaN. Padded particles are zeroed before the sums (by selection); their
own rows are never read (the attention zeroes them, the pooling skips them).
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from saltjet.data.feature_module import wrap_phi
from saltjet.data.features import expand_features
from saltjet.errors import ConfigError
from saltjet.models.layers import is_tracing
from saltjet.models.tagger import choice

PAIR_EPS = 1e-8  # floor of the logarithms' arguments (weaver's `eps`)
PAIR_FEATURES = ("ln_delta", "ln_kt", "ln_z", "ln_m2")


def feature_names(features) -> list[str]:
    """A feature set name ("log") or a list of feature names -> the list of names; else `ConfigError`."""
    if isinstance(features, (list, tuple)) and all(isinstance(f, str) and f for f in features) and features:
        return expand_features(list(features))
    if isinstance(features, str) and features:
        return expand_features(features)
    raise ConfigError(f"features must be a feature set name or a list of feature names, got {features!r}")


def check_pair_options(features, anchors, count: int, count_name: str, model: str,
                       choices: tuple[str, ...] | None = None) -> tuple[tuple[str, ...], str]:
    """The checked (feature names, anchors) of a pair model's config; `ConfigError` in one line for an
    unknown anchor set, "leading_jet" with fewer than 2 anchors (`count`, the option `count_name`),
    or features without pT, η_rel and φ_rel. choices: the allowed anchor sets (default all)."""
    anchors = choice(anchors, choices or PAIR_ANCHORS, "pair_anchors")
    if anchors == "leading_jet" and count < 2:
        raise ConfigError(f"pair_anchors leading_jet pairs with {count_name} − 1 leading particles and the jet: "
                          f"it needs {count_name} ≥ 2, got {count}")
    names = tuple(feature_names(features))
    MomentumColumns(names, model)
    return names, anchors


class MomentumColumns:
    """Which of a run's F feature columns give pT (`pt`, or `log_pt` exponentiated), η_rel and φ_rel.

    model: the model's name, for the error message. n_features: the model's input width, checked
    against the number of names when given (a model building itself). `ConfigError` in one line when
    a column is missing or the count differs.
    """

    def __init__(self, features: list[str] | tuple[str, ...], model: str, n_features: int | None = None):
        names = list(features)
        have = set(names)
        if not ({"pt", "log_pt"} & have and {"eta_rel", "phi_rel"} <= have):
            raise ConfigError(f"model {model!r} builds 4-vectors from pT, eta_rel and phi_rel: its features need "
                              f"pt or log_pt, eta_rel and phi_rel, got {', '.join(names)}")
        if n_features is not None and len(names) != n_features:
            raise ConfigError(f"model {model!r} has {len(names)} feature names ({', '.join(names)}) for "
                              f"n_features={n_features}; set its features to the run's "
                              "(e.g. --set model.features=log)")
        self.pt = names.index("pt") if "pt" in have else None
        self.log_pt = None if self.pt is not None else names.index("log_pt")
        self.eta, self.phi = names.index("eta_rel"), names.index("phi_rel")

    def pt_eta_phi(self, x: torch.Tensor, mask: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """x (B, n, F) with padded slots zeroed, mask (B, n) -> pT, η, φ (B, n) each; padded slots
        get pT 1 (never a zero vector, whose φ would be atan2(0, 0)), η = φ = 0."""
        # ln pT is clipped at 20 (pT 4.9e8, far beyond any collider): exp of a larger value would
        # overflow float32 in the pair masses and turn one absurd particle into NaN features
        pt = x[..., self.pt] if self.pt is not None else torch.exp(x[..., self.log_pt].clamp(max=20.0))
        return torch.where(mask, pt, torch.ones_like(pt)), x[..., self.eta], x[..., self.phi]


def massless_four_vectors(pt: torch.Tensor, eta: torch.Tensor, phi: torch.Tensor, energy_scale: float = 1.0,
                          dim: int = -1) -> torch.Tensor:
    """pT, η, φ (B, n) -> (px, py, pz, E) stacked on a new axis `dim`: (B, n, 4) by default, (B, 4, n)
    with dim=1 (weaver's layout); E·`energy_scale`. sinh/cosh through exp, which every ONNX runtime has."""
    up, down = 0.5 * pt * torch.exp(eta), 0.5 * pt * torch.exp(-eta)
    return torch.stack([pt * torch.cos(phi), pt * torch.sin(phi), up - down, (up + down) * energy_scale], dim=dim)


def partition_sums(v: torch.Tensor, mask: torch.Tensor, partitions: int, block: int) -> tuple[torch.Tensor, torch.Tensor]:
    """v (B, n, 4), mask (B, n), n ≤ partitions·block -> P (B, p, 4) summed real 4-vectors of the p
    contiguous blocks of `block` slots, and occupied (B, p) bool (a real particle in the block)."""
    n = v.shape[1]
    pad = partitions * block - n
    v = torch.where(mask.unsqueeze(-1), v, 0.0)
    if not (isinstance(pad, int) and pad == 0):
        v, mask = F.pad(v, (0, 0, 0, pad)), F.pad(mask, (0, pad))
    sums = v.reshape(v.shape[0], partitions, block, 4).sum(dim=2)
    return sums, mask.reshape(-1, partitions, block).any(dim=-1)


def _sinh(x: torch.Tensor) -> torch.Tensor:
    """sinh without cancellation near 0 (a Taylor series to x⁷ for |x| < 0.5, relative error < 1e-9),
    from exp beyond: the TorchScript ONNX exporter has no Sinh."""
    x2 = x * x
    series = x * (1 + x2 / 6 * (1 + x2 / 20 * (1 + x2 / 42)))
    return torch.where(x.abs() < 0.5, series, 0.5 * (torch.exp(x) - torch.exp(-x)))


def leading_particles(v: torch.Tensor, pt: torch.Tensor, mask: torch.Tensor, k: int) -> tuple[torch.Tensor, torch.Tensor]:
    """v (B, n, 4), pt, mask (B, n) -> the 4-vectors of the k highest-pT real particles (B, k, 4), in
    falling pT, and occupied (B, k) bool (False where the jet has fewer than k particles)."""
    key = torch.where(mask, pt, float("-inf"))
    n = v.shape[1]
    if isinstance(n, int) and n < k:
        key, v = F.pad(key, (0, k - n), value=float("-inf")), F.pad(v, (0, 0, 0, k - n))
    top = key.topk(k, dim=1)
    return v.gather(1, top.indices.unsqueeze(-1).expand(-1, -1, 4)), top.values > float("-inf")


PAIR_ANCHORS = ("partitions", "leading", "leading_jet")


def jet_sum(v: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    """v (B, n, 4), mask (B, n) -> the jet's 4-vector (B, 1, 4): the sum over its real particles."""
    return torch.where(mask.unsqueeze(-1), v, 0.0).sum(dim=1, keepdim=True)


def anchor_pair_features(pt, eta, phi, mask, partitions: int, block: int, anchors: str = "partitions") -> torch.Tensor:
    """Particle i (pT, η, φ, each (B, n)) against anchor c -> (B, n, p, 4): ln Δ, ln kT, ln z, ln m²
    (module docstring). mask (B, n) bool. anchors "partitions": partition c's summed 4-vector;
    "leading": the c-th highest-pT particle; "leading_jet": the p − 1 highest-pT particles, then the
    whole jet's summed 4-vector (whose pair mass with particle i carries the jet mass, the floor's
    strongest observable). p anchors in every case, so the cost is n·p."""
    v = massless_four_vectors(pt, eta, phi)  # (B, n, 4)
    if anchors == "leading":
        total, occupied = leading_particles(v, pt, mask, partitions)
    elif anchors == "leading_jet":
        lead, occupied = leading_particles(v, pt, mask, partitions - 1)
        total = torch.cat([lead, jet_sum(v, mask)], dim=1)  # (B, p, 4); a jet has a real particle
        occupied = torch.cat([occupied, torch.ones_like(occupied[:, :1])], dim=1)
    else:
        total, occupied = partition_sums(v, mask, partitions, block)
    fixed = torch.tensor([1.0, 0.0, 0.0, 1.0], dtype=v.dtype, device=v.device)
    total = torch.where(occupied.unsqueeze(-1), total, fixed)  # (B, p, 4)
    px, py, pz, e = total.unbind(-1)
    pt_c = torch.sqrt(px * px + py * py).clamp(min=PAIR_EPS)
    rap_c = 0.5 * torch.log((e + pz).clamp(min=PAIR_EPS) / (e - pz).clamp(min=PAIR_EPS))
    phi_c = torch.atan2(py, px)
    pt_i, pt_p = pt.unsqueeze(2), pt_c.unsqueeze(1)  # (B, n, 1), (B, 1, p)
    d_rap = eta.unsqueeze(2) - rap_c.unsqueeze(1)
    d_phi = wrap_phi(phi.unsqueeze(2) - phi_c.unsqueeze(1))
    ln_delta = 0.5 * torch.log((d_rap * d_rap + d_phi * d_phi).clamp(min=PAIR_EPS))
    ln_low = torch.log(torch.minimum(pt_i, pt_p).clamp(min=PAIR_EPS))
    ln_kt = ln_low + ln_delta
    ln_z = ln_low - torch.log((pt_i + pt_p).clamp(min=PAIR_EPS))
    # m² = m_c² + 2 pT_i (mT_c cosh Δy − pT_c cos Δφ), written without cancellation (E² − p² in float32
    # leaves rounding noise of ~1e-7·E², whose log differs between backends; a particle paired with
    # itself must give exactly 0): mT_c − pT_c = m_c²/(mT_c + pT_c), cosh a − cos b = 2 sinh²(a/2) + 2 sin²(b/2).
    # An anchor's m_c² under 1e-5·E_c² is rounding noise of a (near-)massless anchor: 0.
    m2_c = e * e - px * px - py * py - pz * pz
    m2_c = torch.where(m2_c > 1e-5 * e * e, m2_c, torch.zeros_like(m2_c))
    excess = (m2_c / (torch.sqrt(m2_c + pt_c * pt_c) + pt_c)).unsqueeze(1)  # mT_c − pT_c, (B, 1, p)
    angular = 2 * (_sinh(0.5 * d_rap) ** 2 + torch.sin(0.5 * d_phi) ** 2)  # cosh Δy − cos Δφ
    cosh = 0.5 * (torch.exp(d_rap) + torch.exp(-d_rap))
    m2 = m2_c.unsqueeze(1) + 2 * pt_i * (excess * cosh + pt_p * angular)
    return torch.stack([ln_delta, ln_kt, ln_z, torch.log(m2.clamp(min=PAIR_EPS))], dim=-1)


PAIR_MODES = ("bias", "inputs", "both")


class AnchorPairs(nn.Module):
    """`anchor_pair_features` (pairs with the p anchors), standardised, as particle inputs and/or
    an attention bias.

    Standardisation: per (partition, feature), x' = (x − median) / IQR over the real particles of the
    first training batch the module sees (a data-dependent initialisation; buffers `center`, `scale`
    (p, 4), saved with the weights and constant in exported graphs). Unfitted: identity.

    mode "bias": MLP 4 -> hidden -> H on every pair, an additive logit bias (B, H·p, n);
    "inputs": Linear(4·p -> d) of each particle's p pairs, added to its embedding (B, n, d);
    "both": the two. Parameters: bias 5·hidden + hidden·H (no output bias: a constant per head is
    the same for every partition, which the softmax over partitions ignores); inputs (4·p + 1)·d.
    """

    def __init__(self, columns: MomentumColumns, partitions: int, block: int, n_heads: int, d_model: int,
                 hidden: int, mode: str, anchors: str):
        super().__init__()
        self.columns, self.partitions, self.block, self.anchors = columns, partitions, block, anchors
        k = len(PAIR_FEATURES)
        self.register_buffer("center", torch.zeros(partitions, k))
        self.register_buffer("scale", torch.ones(partitions, k))
        self.register_buffer("fitted", torch.tensor(False))
        self._seen_fitted = False  # `fitted` read True once: no device sync on later training steps
        self.bias_embed = (nn.Sequential(nn.Linear(k, hidden), nn.ReLU(), nn.Linear(hidden, n_heads, bias=False))
                           if mode in ("bias", "both") else None)
        self.input_embed = nn.Linear(k * partitions, d_model) if mode in ("inputs", "both") else None

    def features(self, x: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        """x (B, n, F) raw features with padded slots zeroed, mask (B, n) -> standardised (B, n, p, 4)."""
        pt, eta, phi = self.columns.pt_eta_phi(x, mask)
        f = anchor_pair_features(pt, eta, phi, mask, self.partitions, self.block, self.anchors)
        if self.training and not self._seen_fitted and not is_tracing():
            if not bool(self.fitted):
                self.fit(f.detach(), mask)
            self._seen_fitted = True
        return (f - self.center) / self.scale

    def _load_from_state_dict(self, *args, **kwargs):
        """Loaded buffers may be unfitted: read `fitted` again on the next training step."""
        super()._load_from_state_dict(*args, **kwargs)
        self._seen_fitted = False

    @torch.no_grad()
    def fit(self, f: torch.Tensor, mask: torch.Tensor) -> None:
        """Median and interquartile range per (partition, feature) over the real particles of f (B, n, p, 4)."""
        real = f[mask].flatten(1)  # (N, p·4)
        q = torch.quantile(real, torch.tensor([0.25, 0.5, 0.75], dtype=real.dtype, device=real.device), dim=0)
        self.center.copy_(q[1].view_as(self.center))
        self.scale.copy_((q[2] - q[0]).clamp(min=1e-3).view_as(self.scale))
        self.fitted.fill_(True)

    def bias(self, f: torch.Tensor) -> torch.Tensor:
        """Standardised features (B, n, p, 4) -> logit bias (B, H·p, n)."""
        b = self.bias_embed(f)  # (B, n, p, H)
        return b.permute(0, 3, 2, 1).reshape(b.shape[0], -1, b.shape[1])

    def inputs(self, f: torch.Tensor) -> torch.Tensor:
        """Standardised features (B, n, p, 4) -> a term (B, n, d) for each particle's embedding."""
        return self.input_embed(f.flatten(2))
