"""bluefire host tooling: SqueezeNet, data, transfer training, pruning, export."""
