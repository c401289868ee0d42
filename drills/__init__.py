"""Fault drills: break one component at a time under load and prove no chat message is lost.

Each drill builds a throwaway world (cluster, gateway, fake model, workers, API as child
processes on loopback), runs a load of conversations while it kills or restarts something, then
audits the database: every question has exactly one final answer, nothing acknowledged is missing
and nothing refused was stored. `python -m drills [--short]` runs them all.
"""
