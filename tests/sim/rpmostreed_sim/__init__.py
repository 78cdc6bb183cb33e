"""The simulated rpm-ostreed (see ../rpm-ostreed-sim.py and docs/simulator.md)."""
