"""Two-stage 3D heatmap landmark model: preprocess, train, cross-validate, predict, model bundle.

Stage 1 finds all 22 landmarks on a coarse grid around the foot; stage 2 refines each one in a
fine patch centred on the coarse estimate. Left feet are mirrored to right before the networks.
"""
