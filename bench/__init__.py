"""The benchmark and its dataset: not part of the package, the wheel or the image."""
