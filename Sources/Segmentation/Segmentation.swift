// Segmentation: content segments, label propagation, J/F metrics.
