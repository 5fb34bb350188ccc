"""Running the course's tests and reading what they did: one recorder, one record, one runner.

- ``record``: the record's event schema (one JSON line per event), its one parser, and the
  typed record every reader gets (``RunRecord``, ``TestResult``);
- ``failure``: how a failure reads (the message the catalogue of mistakes matches);
- ``plugin``: the one recorder, a pytest plugin that writes each event as it happens, so a
  test process that dies leaves the record of what ran before;
- ``forking``: fork-and-wait for a process that imported torch once;
- ``run``: pytest in-process, in a fork or in a subprocess, with one child prologue;
- ``warm``: the quick re-runs of ``facekit watch`` and the warm worker (forks);
- ``planted``: a scratch copy of the kit for a planted change (a mistake, a mutant);
- ``catalogue_run``: the catalogue of mistakes planted one by one (``facekit verify``).
"""
