"""Pythia 8 + FastJet: events of one hls4ml class -> one matched anti-kT R=0.8 jet per event.

Recipe (../shared/README.md): pp at 13 TeV, 950 < p̂T < 1100 GeV, K0S/Λ stable (τ0 > 10 mm),
final state = status > 0 without neutrinos, anti-kT R = 0.8 on `Pythia.nextBatch(k)` events
through fastjet's awkward interface; keep jets with 800 < pT < 1300 GeV and |η| < 2 that lie
within ΔR < 0.8 of an outgoing hard-process particle of the class (event-record rows 5 and 6).
Of several such jets in one event only the hardest is kept: one jet per event, so no
correlated pairs.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass

import numpy as np

from saltjet.data.kinematics import delta_r, pt_eta_phi
from saltjet.errors import ConfigError

BEAM_SETTINGS = [
    "Beams:eCM = 13000",
    "PhaseSpace:pTHatMin = 950",
    "PhaseSpace:pTHatMax = 1100",
    "ParticleDecays:limitTau0 = on",
    "ParticleDecays:tau0Max = 10",
]
_W_HADRONIC = ["24:onMode = off", "24:onIfAny = 1 2 3 4 5"]
_Z_HADRONIC = ["23:onMode = off", "23:onIfAny = 1 2 3 4 5"]


@dataclass(frozen=True)
class ClassRecipe:
    """How one jet class is made: Pythia processes and the |PDG id| of the object to match."""

    name: str
    processes: tuple[str, ...]
    match_ids: tuple[int, ...]


# In hls4ml label order (g, q, W, Z, t).
RECIPES = (
    ClassRecipe("g", ("HardQCD:gg2gg = on", "HardQCD:qqbar2gg = on", "HardQCD:qg2qg = on"), (21,)),
    ClassRecipe(
        "q",
        ("HardQCD:qg2qg = on", "HardQCD:qq2qq = on", "HardQCD:qqbar2qqbarNew = on", "HardQCD:gg2qqbar = on"),
        (1, 2, 3, 4),
    ),
    ClassRecipe("W", ("WeakBosonAndParton:qqbar2Wg = on", "WeakBosonAndParton:qg2Wq = on", *_W_HADRONIC), (24,)),
    ClassRecipe(
        "Z",
        ("WeakBosonAndParton:qqbar2gmZg = on", "WeakBosonAndParton:qg2gmZq = on", "WeakZ0:gmZmode = 2", *_Z_HADRONIC),
        (23,),
    ),
    ClassRecipe("t", ("Top:gg2ttbar = on", "Top:qqbar2ttbar = on", *_W_HADRONIC), (6,)),
)

JET_R = 0.8
JET_PT_MIN, JET_PT_MAX, JET_ABS_ETA_MAX = 800.0, 1300.0, 2.0
MATCH_DR = 0.8
HARD_ROWS = (5, 6)  # event-record rows of the two outgoing hard-process particles
_NEUTRINOS = (12, 14, 16)
_MAX_SEED = 900_000_000  # Pythia's Random:seed accepts 1 .. 900,000,000


@dataclass
class JetSample:
    """Jets of one class, one per accepted event.

    constituents: (N, 4) awkward-free ragged storage: `p4` (M, 4) float64 (px, py, pz, E) of all
    constituents back to back, `counts` (N,) int64 constituents per jet (order as clustered);
    jet_p4: (N, 4) the jet four-momenta; n_events: events generated to find them.
    """

    p4: np.ndarray
    counts: np.ndarray
    jet_p4: np.ndarray
    n_events: int


def pythia_seed(seed: int, class_index: int, chunk_index: int) -> int:
    """A Pythia seed (1..900,000,000) derived from the user seed, the class and the chunk."""
    state = np.random.SeedSequence(entropy=seed, spawn_key=(class_index, chunk_index)).generate_state(1)[0]
    return int(state) % _MAX_SEED + 1


def pythia_settings(recipe: ClassRecipe, seed: int, mpi: bool = True) -> list[str]:
    """The Pythia `readString` lines for one class; `mpi=False` switches multiparton interactions off."""
    return [
        "Print:quiet = on",
        *BEAM_SETTINGS,
        *recipe.processes,
        f"PartonLevel:MPI = {'on' if mpi else 'off'}",
        "Random:setSeed = on",
        f"Random:seed = {seed}",
    ]


def make_pythia(recipe: ClassRecipe, seed: int, mpi: bool = True):
    """An initialised `pythia8mc.Pythia` for one class."""
    import pythia8mc

    pythia = pythia8mc.Pythia("", False)
    for line in pythia_settings(recipe, seed, mpi):
        if not pythia.readString(line):
            raise ConfigError(f"Pythia rejected the setting {line!r}")
    if not pythia.init():
        raise ConfigError(f"Pythia failed to initialise for class {recipe.name}")
    return pythia


def _silence_fastjet() -> None:
    import fastjet

    fastjet._swig.ClusterSequence.set_fastjet_banner_stream(None)  # no banner on stdout
    warnings.filterwarnings("ignore", message="dcut and exclusive jets", category=UserWarning)


def select_jets(events, recipe: ClassRecipe):
    """Cluster a batch of Pythia events and keep at most one matched jet per event.

    events: the awkward array of `Pythia.nextBatch`. Returns (p4 (M, 4), counts (K,), jet_p4 (K, 4))
    for the K events that have a jet passing the pT/η window and the hard-process match.
    """
    import awkward as ak
    import fastjet
    import vector

    vector.register_awkward()
    prt = events["prt"]
    absid = abs(prt.id)
    final = prt[(prt.status > 0) & (absid != _NEUTRINOS[0]) & (absid != _NEUTRINOS[1]) & (absid != _NEUTRINOS[2])]
    momenta = ak.zip(
        {"px": final.p.px, "py": final.p.py, "pz": final.p.pz, "E": final.p.e}, with_name="Momentum4D"
    )
    cs = fastjet.ClusterSequence(momenta, fastjet.JetDefinition(fastjet.antikt_algorithm, JET_R))
    jets = cs.inclusive_jets(min_pt=JET_PT_MIN)
    index = cs.constituent_index(min_pt=JET_PT_MIN)  # (events, jets, constituents) -> particle index

    counts = ak.to_numpy(ak.num(jets))
    jp4 = np.stack([ak.to_numpy(ak.flatten(jets[f])) for f in ("px", "py", "pz", "E")], axis=-1)
    jpt, jeta, jphi = pt_eta_phi(jp4[:, 0], jp4[:, 1], jp4[:, 2])
    event_of_jet = np.repeat(np.arange(len(counts)), counts)

    hard = prt[:, list(HARD_ROWS)]  # (events, 2)
    hid = np.abs(ak.to_numpy(hard.id))
    _, heta, hphi = pt_eta_phi(ak.to_numpy(hard.p.px), ak.to_numpy(hard.p.py), ak.to_numpy(hard.p.pz))
    is_target = np.isin(hid, recipe.match_ids)[event_of_jet]  # (jets, 2)
    dr = delta_r(jeta[:, None] - heta[event_of_jet], jphi[:, None] - hphi[event_of_jet])
    matched = np.any(is_target & (dr < MATCH_DR), axis=1)
    ok = matched & (jpt > JET_PT_MIN) & (jpt < JET_PT_MAX) & (np.abs(jeta) < JET_ABS_ETA_MAX)

    # hardest passing jet per event
    candidates = np.flatnonzero(ok)
    order = np.lexsort((-jpt[candidates], event_of_jet[candidates]))
    candidates = candidates[order]
    first = np.ones(len(candidates), dtype=bool)
    first[1:] = event_of_jet[candidates][1:] != event_of_jet[candidates][:-1]
    chosen = candidates[first]  # flat jet indices, ordered by event

    flat_index = ak.flatten(index, axis=1)[chosen]  # (K, constituents) particle indices
    chosen_events = event_of_jet[chosen]
    parts = momenta[chosen_events][flat_index]
    n_const = ak.to_numpy(ak.num(parts))
    p4 = np.stack([ak.to_numpy(ak.flatten(parts[f])) for f in ("px", "py", "pz", "E")], axis=-1)
    return p4, n_const.astype(np.int64), jp4[chosen]


def generate_class_jets(
    class_index: int, n_jets: int, seed: int, mpi: bool = True, max_events_per_jet: int = 50
) -> JetSample:
    """Generate `n_jets` jets of class `RECIPES[class_index]` with Pythia seed `seed`.

    Events come in batches sized from the acceptance seen so far, so the result depends only
    on (class, n_jets, seed, mpi). Raises `ConfigError` if more than `max_events_per_jet * n_jets`
    events give too few jets.
    """
    if n_jets < 1:
        raise ConfigError(f"need at least one jet, got {n_jets}")
    _silence_fastjet()
    recipe = RECIPES[class_index]
    pythia = make_pythia(recipe, seed, mpi)
    p4s, counts, jets = [], [], []
    have = n_events = 0
    while have < n_jets:
        if n_events > max_events_per_jet * n_jets:
            raise ConfigError(f"class {recipe.name}: only {have} jets from {n_events} events")
        # acceptance is 0.89 (g) to 0.99 (t): size batches to need few calls and waste few events
        efficiency = max(have / n_events, 0.2) if n_events else 0.9
        batch = int(np.clip(np.ceil((n_jets - have) / efficiency), 4, 400))
        events = pythia.nextBatch(batch)
        n_events += batch
        p4, c, j = select_jets(events, recipe)
        p4s.append(p4)
        counts.append(c)
        jets.append(j)
        have += len(c)
    counts_all = np.concatenate(counts)[:n_jets]
    p4_all = np.concatenate(p4s)[: counts_all.sum()]
    return JetSample(p4=p4_all, counts=counts_all, jet_p4=np.concatenate(jets)[:n_jets], n_events=n_events)
