"""The published hls4ml LHC jet data set layout (files `jetImage_*_150p_*.h5`), shared by its reader
and by the built-in generator, which writes the same layout so one reader serves both.

Datasets in each file:
    jetConstituentList  (N, 150, 16) float, zero-padded, columns = PARTICLE_FEATURES
    jets                (N, 59) float, columns = JET_FEATURES; one-hot labels in columns -6..-2
    jetFeatureNames     59 byte strings
    particleFeatureNames 17 byte strings: the 16 columns plus a trailing "j1_pdgid" with no column
    jetImage, jetImageECAL, jetImageHCAL   images (ignored by saltjet, not written by the generator)
"""

from __future__ import annotations

N_SLOTS = 150
JETS_PER_FILE = 10_000

PARTICLE_FEATURES = [
    "j1_px", "j1_py", "j1_pz", "j1_e", "j1_erel", "j1_pt", "j1_ptrel", "j1_eta", "j1_etarel",
    "j1_etarot", "j1_phi", "j1_phirel", "j1_phirot", "j1_deltaR", "j1_costheta", "j1_costhetarel",
]  # fmt: skip
# The published particleFeatureNames has one name more than there are columns.
PARTICLE_FEATURE_NAMES_AS_PUBLISHED = PARTICLE_FEATURES + ["j1_pdgid"]

JET_FEATURES = [
    "j_ptfrac", "j_pt", "j_eta", "j_mass", "j_tau1_b1", "j_tau2_b1", "j_tau3_b1", "j_tau1_b2",
    "j_tau2_b2", "j_tau3_b2", "j_tau32_b1", "j_tau32_b2", "j_zlogz", "j_c1_b0", "j_c1_b1", "j_c1_b2",
    "j_c2_b1", "j_c2_b2", "j_d2_b1", "j_d2_b2", "j_d2_a1_b1", "j_d2_a1_b2", "j_m2_b1", "j_m2_b2",
    "j_n2_b1", "j_n2_b2", "j_tau1_b1_mmdt", "j_tau2_b1_mmdt", "j_tau3_b1_mmdt", "j_tau1_b2_mmdt",
    "j_tau2_b2_mmdt", "j_tau3_b2_mmdt", "j_tau32_b1_mmdt", "j_tau32_b2_mmdt", "j_c1_b0_mmdt",
    "j_c1_b1_mmdt", "j_c1_b2_mmdt", "j_c2_b1_mmdt", "j_c2_b2_mmdt", "j_d2_b1_mmdt", "j_d2_b2_mmdt",
    "j_d2_a1_b1_mmdt", "j_d2_a1_b2_mmdt", "j_m2_b1_mmdt", "j_m2_b2_mmdt", "j_n2_b1_mmdt",
    "j_n2_b2_mmdt", "j_mass_trim", "j_mass_mmdt", "j_mass_prun", "j_mass_sdb2", "j_mass_sdm1",
    "j_multiplicity", "j_g", "j_q", "j_w", "j_z", "j_t", "j_undef",
]  # fmt: skip
assert len(JET_FEATURES) == 59 and len(PARTICLE_FEATURES) == 16

# Label columns, in the data set's order; the last column (j_undef) is not a class.
LABEL_COLUMNS = ["j_g", "j_q", "j_w", "j_z", "j_t"]
CLASS_NAMES = ["g", "q", "W", "Z", "t"]
LABEL_SLICE = slice(-6, -1)

# The paper's 3-feature input: pT, η and φ relative to the jet axis.
INPUT_COLUMNS = {"pt": PARTICLE_FEATURES.index("j1_pt"), "eta_rel": PARTICLE_FEATURES.index("j1_etarel"),
                 "phi_rel": PARTICLE_FEATURES.index("j1_phirel")}  # fmt: skip
