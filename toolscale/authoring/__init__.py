"""Domain authoring: a new domain written by a language model from a description, one checked stage at a time."""
