"""Tiny, runnable versions of three things CNNs do beyond classifying images, on generated data:

- ``segmentation``: a fully convolutional net labels every pixel (down- and up-sampling);
- ``detection``: a one-stage detector in the spirit of YOLO, one prediction per grid cell;
- ``dna``: DeepBind-style 1-D convolutions that find a motif in DNA sequences.
"""
