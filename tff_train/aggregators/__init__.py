"""Model-update aggregators: options, DP, robust mean, Krum, compression, client faults."""
