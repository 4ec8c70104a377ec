"""Reading and writing images and landmark files."""
