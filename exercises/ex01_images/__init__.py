"""Exercise 01 (your code): from an image file to a model-ready tensor."""

from .images import BACKGROUND, CROP_PCT, IMAGENET_MEAN, IMAGENET_STD, INPUT_SIZE, load_image, preprocess

__all__ = ["BACKGROUND", "CROP_PCT", "IMAGENET_MEAN", "IMAGENET_STD", "INPUT_SIZE", "load_image",
           "preprocess"]
