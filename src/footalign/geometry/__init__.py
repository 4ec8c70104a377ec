"""Foot frame and the alignment measurements of ANATOMY.md."""
