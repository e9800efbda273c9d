"""Decision forests as data: `TreeEnsemble` (numpy, ensemble), its TensorFlow graph (graph) and
extraction from TF-DF / sklearn models (extraction). Used by training and the converters."""
