"""Grading a class: what ``facekit submit`` (students), ``facekit grade`` and ``facekit gradescope``
(instructors) do. The commands themselves are facekit/cli/submit.py, grade.py and gradescope.py.

sources reads a submission; workspace builds its copy of the kit; runner runs its tests in a
process of their own (plugin records them); grade puts it together (plan -> prepare -> run ->
score -> write); records holds the typed results every writer takes; report scores and writes;
gradebook merges runs; classreport draws the class from grades.json (report.html).
"""
