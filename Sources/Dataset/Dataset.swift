// Dataset: preprocessing unlabeled video into WebDataset shards for self-supervised training.
