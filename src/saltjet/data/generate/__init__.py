"""Built-in data generators: Pythia 8 + FastJet jets (`jets`, `pythia`) and procedural shapes (`shapes`).

Import the submodules directly (e.g. `from saltjet.data.generate.jets import ensure_dataset`);
they import Pythia and FastJet only when used.
"""
