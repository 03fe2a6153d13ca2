"""The populate stage: a consistent domain database from a spec, a size and a seed.

Everything comes from the spec's generators and consistency rules; no domain has Python of its own.
"""
