"""Datasets, augmentations and the batches the training loop and the kNN monitor consume.

datasets.py: each dataset as one object, which the preflight asks to check and training asks to
build (build_data); pipeline.py: what the loop sees of a dataset (DataPipeline), in memory or
(imagefolder.py) an image at a time; augment.py: the augmentations. This package's top imports no
torch: planning's preflight asks the datasets.
"""

from harness.data.datasets import Dataset, build_data, dataset

__all__ = ["Dataset", "build_data", "dataset"]
