"""Synthetic weight-bearing CT of the foot with exact ground truth (``footalign simulate``).

Modules, in pipeline order: ``templates`` (real bone surfaces in LPS), ``shape`` (size and
smooth warps), ``pose`` (joint rotations, standing on the floor, bone separation),
``mesh_landmarks`` (the 22 landmarks from bone surfaces or label maps), ``voxelize`` (label
maps), ``render`` (CT image formation), ``case`` (one scan), ``dataset`` (a data set folder
with ``dataset.json``), ``preview`` and ``realism`` (pictures and comparison with a real scan).
"""

from __future__ import annotations
